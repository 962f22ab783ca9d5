"""``archcalc serve`` starts a real uvicorn server that serves the pages' JSON and the exports."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.liveserver import free_port, live_server

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log = tmp_path_factory.mktemp("serve") / "log.txt"
    with live_server(["app", "serve", "--host", "127.0.0.1", "--port", str(port)], log,
                     port) as url:
        yield url


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
