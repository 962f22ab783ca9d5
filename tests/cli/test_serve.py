"""``archcalc serve`` starts a real uvicorn server that serves the pages' JSON and the exports."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    log = tmp_path_factory.mktemp("serve") / "stderr.txt"
    with log.open("wb") as stderr:
        proc = subprocess.Popen([sys.executable, "-m", "app", "serve", "--host", "127.0.0.1",
                                 "--port", str(port)], cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=stderr)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                pytest.fail(f"archcalc serve exited with {proc.returncode}: {log.read_text()}")
            try:
                with urllib.request.urlopen(f"{url}/openapi.json", timeout=2):
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    pytest.fail(f"archcalc serve did not answer in 30 s: {log.read_text()}")
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_serve_answers_an_export_download(base: str) -> None:
    with urllib.request.urlopen(f"{base}/api/export/models/lenet5?format=csv", timeout=10) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/csv")
        assert r.headers["Content-Disposition"] == 'attachment; filename="lenet5.csv"'
        rows = [line for line in r.read().decode().splitlines() if not line.startswith("#")]
    c1 = rows[2].split(",")  # the header, the input row, then c1
    assert c1[1] == "c1" and int(c1[5]) == 5 * 5 * 1 * 6  # weights


def test_serve_negotiates_the_format_by_accept(base: str) -> None:
    request = urllib.request.Request(f"{base}/api/models/lenet5",
                                     headers={"Accept": "text/markdown"})
    with urllib.request.urlopen(request, timeout=10) as r:
        assert r.headers["Content-Type"].startswith("text/markdown")
        assert "| 1 | c1 |" in r.read().decode()
