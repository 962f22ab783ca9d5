"""The app as people run it: a real uvicorn server, and an import that leaves torch alone."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.liveserver import free_port, live_server

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    port = free_port()
    log = tmp_path_factory.mktemp("uvicorn") / "log.txt"
    with live_server(["uvicorn", "app.main:app", "--host", "127.0.0.1", "--port", str(port),
                      "--log-level", "warning"], log, port):
        yield "127.0.0.1", port


def _post(host: str, port: int, path: str, payload: object) -> tuple[int, Any]:
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        conn.request("POST", path, body=json.dumps(payload),
                     headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def test_alexnet_slide_through_a_real_server(server: tuple[str, int], alexnet_slide: str) -> None:
    status, body = _post(*server, "/api/analyze", {"spec": alexnet_slide})
    assert status == 200, body
    conv1 = next(row for row in body["layers"] if row["name"].lower() == "conv1")
    assert (conv1["output"]["h"], conv1["output"]["w"], conv1["output"]["c"]) == (55, 55, 96)
    assert conv1["weights"] == 11 * 11 * 3 * 96
    assert conv1["biases"] == 96
    assert conv1["macs"] == 55 * 55 * 96 * 11 * 11 * 3


def test_pages_through_a_real_server(server: tuple[str, int]) -> None:
    host, port = server
    with urllib.request.urlopen(f"http://{host}:{port}/", timeout=10) as response:
        assert response.status == 200
        assert b'method="get" action="/"' in response.read()


def test_chunked_body_over_the_limit(server: tuple[str, int]) -> None:
    """No Content-Length: the server must count the streamed bytes itself."""
    from app.engine.limits import LIMITS

    chunk = b" " * 8192
    chunks = [b'{"spec": "input 8x8x3', *([chunk] * (2 * LIMITS.max_body_bytes // len(chunk))),
              b'"}']
    conn = http.client.HTTPConnection(*server, timeout=10)
    try:
        conn.request("POST", "/api/analyze", body=iter(chunks), encode_chunked=True,
                     headers={"Content-Type": "application/json",
                              "Transfer-Encoding": "chunked"})
        response = conn.getresponse()
        status, body = response.status, json.loads(response.read())
    except (BrokenPipeError, ConnectionResetError):
        pytest.fail("the server should answer, not drop the connection")
    finally:
        conn.close()
    assert status == 413
    assert body["errors"][0]["limit"] == "max_body_bytes"


def test_importing_the_app_does_not_load_torch() -> None:
    code = ("import sys, app.main; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'torch'))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True,
                            text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]", result.stdout


def test_declared_body_over_the_limit(server: tuple[str, int]) -> None:
    """The client sends it all and still reads the answer (the server drops the rest)."""
    from app.engine.limits import LIMITS

    spec = "input 8x8x3\n" + "relu\n" * (2 * LIMITS.max_body_bytes // 5)
    status, body = _post(*server, "/api/analyze", {"spec": spec})
    assert status == 413
    assert body["errors"][0]["limit"] == "max_body_bytes"
