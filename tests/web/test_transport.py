"""Transport limits through a real uvicorn, started as docs/operations.md says production runs it.

What this holds: a large body sent as urllib sends it (the whole body, then read) reads the 413
instead of a reset connection; a client that declares a body and never sends it, or sends half
a request line, loses its connection at a deadline; no answer carries a ``server`` banner.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from uvicorn.server import ServerState

from app.engine.limits import LIMITS
from app.web.app import create_app
from app.web.middleware import BodyLimitMiddleware
from app.web.serve import Gate, command_line, head_bytes, uvicorn_options
from app.web.settings import Settings
from tests.liveserver import free_port, live_server
from tests.rawhttp import closed_within, connect, read_answer

Items = Callable[[Any], list[dict[str, Any]]]
ROOT = Path(__file__).resolve().parents[2]
OPERATIONS = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
SPEC = "input 32x32x3\nconv 8 3x3\n"
#: the server's deadlines, short so that the tests wait little
HEAD_S, BODY_S, KEEP_S, CONNECTIONS = 1.0, 1.0, 1, 6
SECURITY = ("content-security-policy", "x-content-type-options", "referrer-policy")


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    log: Path

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    port, log = free_port(), tmp_path_factory.mktemp("uvicorn") / "log.txt"
    env = os.environ | {"ARCHCALC_HEADER_SECONDS": str(HEAD_S),
                        "ARCHCALC_BODY_SECONDS": str(BODY_S),
                        "ARCHCALC_KEEP_ALIVE_SECONDS": str(KEEP_S),
                        "ARCHCALC_LIMIT_CONCURRENCY": str(CONNECTIONS),
                        "ARCHCALC_RATE_PER_SECOND": "100000", "ARCHCALC_RATE_BURST": "100000"}
    settings = Settings(header_seconds=HEAD_S, body_seconds=BODY_S,
                        keep_alive_seconds=KEEP_S, limit_concurrency=CONNECTIONS)
    command = command_line(settings, port=port)
    assert command[0] == "uvicorn"
    with live_server([*command, "--log-level", "warning"], log, port, env=env):
        yield Server("127.0.0.1", port, log)


def _head(method: str, path: str, extra: str = "") -> bytes:
    return f"{method} {path} HTTP/1.1\r\nHost: test\r\n{extra}\r\n".encode()


def _served_normally(server: Server) -> None:
    with urllib.request.urlopen(f"{server.base}/api/models/alexnet/spec", timeout=10) as answer:
        assert answer.status == 200 and b"\ninput " in answer.read()


# -- 413: whatever way the client sends, it reads the answer ---------------------------------

@pytest.mark.parametrize("megabytes", [2, 10])
def test_urllib_sending_a_large_body_reads_the_413(server: Server, error_items: Items,
                                                   megabytes: int) -> None:
    body = b'{"spec": "' + b" " * (megabytes * 1_000_000) + b'"}'
    request = urllib.request.Request(f"{server.base}/api/analyze", data=body,
                                     headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=30)
    answer = caught.value
    assert answer.code == 413
    assert answer.headers["Content-Type"] == "application/json"
    item = error_items(json.loads(answer.read()))[0]
    assert item["limit"] == "max_body_bytes" and item["parameter"] == "body", item
    assert f"{len(body):,}" in item["message"]
    _served_normally(server)


def test_a_raw_socket_that_sends_everything_first_reads_the_413(server: Server,
                                                                error_items: Items) -> None:
    body = b"x" * (4 * LIMITS.max_body_bytes)
    with connect(server.port, host=server.host) as sock:
        sock.sendall(_head("POST", "/api/analyze", f"Content-Type: application/json\r\n"
                                                   f"Content-Length: {len(body)}\r\n") + body)
        status, headers, answer = read_answer(sock)
        assert status == 413 and headers["connection"] == "close"
        assert all(name in headers for name in SECURITY) and "server" not in headers
        assert error_items(json.loads(answer))[0]["limit"] == "max_body_bytes"
        assert closed_within(sock, 5)


def test_a_streamed_body_past_the_limit_reads_the_413(server: Server, error_items: Items) -> None:
    chunk = b"x" * 8192
    with connect(server.port, host=server.host) as sock:
        sock.sendall(_head("POST", "/api/analyze", "Content-Type: application/json\r\n"
                                                   "Transfer-Encoding: chunked\r\n"))
        for _ in range(3 * LIMITS.max_body_bytes // len(chunk)):
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        sock.sendall(b"0\r\n\r\n")
        status, _, answer = read_answer(sock)
    assert status == 413
    assert error_items(json.loads(answer))[0]["limit"] == "max_body_bytes"


def test_a_body_past_the_drain_limit_is_refused_before_it_is_sent(server: Server) -> None:
    """Declared larger than drain_bytes: answered at once, nothing read."""
    declared = Settings().drain_bytes + 1
    with connect(server.port, host=server.host) as sock:
        sock.sendall(_head("POST", "/api/analyze", f"Content-Length: {declared}\r\n"))
        started = time.monotonic()
        status, _, _ = read_answer(sock)
        assert status == 413 and time.monotonic() - started < 5
        assert closed_within(sock, 5)


def test_expect_100_continue_gets_the_413_instead_of_continue(server: Server) -> None:
    with connect(server.port, host=server.host) as sock:
        sock.sendall(_head("POST", "/api/analyze", "Content-Type: application/json\r\n"
                                                   "Content-Length: 5000000\r\n"
                                                   "Expect: 100-continue\r\n"))
        status, _, _ = read_answer(sock)
    assert status == 413


# -- 408: too slow --------------------------------------------------------------------------

def test_a_declared_body_that_never_comes_is_a_408(server: Server, error_items: Items) -> None:
    with connect(server.port, host=server.host) as sock:
        sock.sendall(_head("POST", "/api/analyze", "Content-Type: application/json\r\n"
                                                   "Content-Length: 100\r\n") + b'{"spec": ')
        started = time.monotonic()
        status, headers, answer = read_answer(sock, timeout=BODY_S + 10)
        waited = time.monotonic() - started
        assert status == 408 and BODY_S * 0.8 < waited < BODY_S + 6, waited
        item = error_items(json.loads(answer))[0]
        assert item["limit"] == "body_seconds" and item["parameter"] == "body", item
        assert all(name in headers for name in SECURITY), headers
        assert closed_within(sock, 5)
    _served_normally(server)


def test_a_body_sent_a_byte_at_a_time_is_cut_off_at_the_deadline(server: Server) -> None:
    """Each byte resets no timer: the deadline is for the whole body."""
    with connect(server.port, host=server.host) as sock:
        sock.sendall(_head("POST", "/api/analyze", "Content-Type: application/json\r\n"
                                                   "Content-Length: 1000\r\n"))
        started = time.monotonic()
        sock.settimeout(0.2)
        status = 0
        while time.monotonic() - started < BODY_S + 10:
            try:
                sock.sendall(b" ")
                data = sock.recv(65536)
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
            status = int(data.split()[1]) if data.startswith(b"HTTP/1.1") else status
            break
        assert status == 408 and time.monotonic() - started < BODY_S + 6


def test_half_a_request_head_is_a_408(server: Server, error_items: Items) -> None:
    with connect(server.port, host=server.host) as sock:
        sock.sendall(b"POST /api/analyze HTTP/1.1\r\nHost: te")
        started = time.monotonic()
        status, headers, answer = read_answer(sock, timeout=HEAD_S + 10)
        assert status == 408 and time.monotonic() - started < HEAD_S + 6
        item = error_items(json.loads(answer))[0]
        assert item["limit"] == "header_seconds", item
        assert all(name in headers for name in SECURITY), headers
        assert "server" not in headers
        assert closed_within(sock, 2)
    _served_normally(server)


def test_a_connection_that_sends_nothing_is_closed(server: Server) -> None:
    with connect(server.port, host=server.host) as sock:
        started = time.monotonic()
        assert closed_within(sock, HEAD_S + 10)
        assert time.monotonic() - started < HEAD_S + 6


def test_an_idle_keep_alive_connection_is_closed(server: Server) -> None:
    with connect(server.port, host=server.host) as sock:
        sock.sendall(_head("GET", "/api/models/alexnet/spec"))
        status, headers, _ = read_answer(sock)
        assert status == 200 and headers.get("connection") != "close"
        sock.sendall(_head("GET", "/api/models/alexnet/spec"))  # the same connection, again
        assert read_answer(sock)[0] == 200
        started = time.monotonic()
        assert closed_within(sock, KEEP_S + HEAD_S + 10)
        assert time.monotonic() - started < KEEP_S + 6


def test_connections_past_limit_concurrency_get_503_in_the_error_shape(
        server: Server, error_items: Items) -> None:
    held = [connect(server.port, host=server.host) for _ in range(CONNECTIONS)]
    try:
        time.sleep(0.2)
        with connect(server.port, host=server.host) as sock:
            sock.sendall(_head("GET", "/api/models/alexnet/spec"))
            status, headers, body = read_answer(sock)
            assert closed_within(sock, 2)
        assert status == 503, body
        assert headers["content-type"] == "application/json" and headers["retry-after"] == "1"
        assert all(name in headers for name in SECURITY) and "server" not in headers, headers
        item = error_items(json.loads(body))[0]
        assert item["limit"] == "limit_concurrency" and f" {CONNECTIONS} " in item["message"]
    finally:
        for sock in held:
            sock.close()
    time.sleep(0.3)
    _served_normally(server)


def test_the_concurrency_gate_counts_as_uvicorn_does() -> None:
    """uvicorn refuses when connections >= limit or tasks >= limit before the request's task
    exists; the gate runs inside that task, so it counts one task more."""
    state = ServerState()
    gate = Gate(_served_normally, state, limit=3, max_head=1024)  # type: ignore[arg-type]
    state.connections.update({object(), object()})  # type: ignore[arg-type]
    state.tasks.update({object(), object(), object()})  # type: ignore[arg-type]
    assert not gate.over()  # two connections, and two tasks besides this one
    state.tasks.add(object())  # type: ignore[arg-type]
    assert gate.over()
    state.tasks.clear()
    state.connections.add(object())  # type: ignore[arg-type]
    assert gate.over()


# -- what h11 cannot read is a 400 in the error shape ----------------------------------------

@pytest.mark.parametrize("request_bytes", [
    b"GARBAGE\r\n\r\n",
    b"GET /api/models HTTP/1.1 extra\r\nHost: test\r\n\r\n",
    b"GET /api/models HTTP/1.1\r\nHost: test\r\nno colon here\r\n\r\n",
    b"GET /api/models HTTP/1.1\r\nHost: test\r\nX-Bad\x00: nul\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(32)) + b"\r\n\r\n",  # TLS
], ids=["garbage-line", "four-words", "header-without-colon", "nul-in-header", "tls-hello"])
def test_a_malformed_request_is_a_400_in_the_error_shape(server: Server, error_items: Items,
                                                         request_bytes: bytes) -> None:
    with connect(server.port, host=server.host) as sock:
        sock.sendall(request_bytes)
        status, headers, body = read_answer(sock)
        assert closed_within(sock, 2)
    assert status == 400, body
    assert headers["content-type"] == "application/json", headers
    assert all(name in headers for name in SECURITY) and "server" not in headers, headers
    item = error_items(json.loads(body))[0]
    assert item["line"] == 0 and "not valid HTTP/1.1" in item["message"], item
    _served_normally(server)


def test_garbage_after_a_good_request_on_one_connection_is_a_400(server: Server,
                                                                 error_items: Items) -> None:
    with connect(server.port, host=server.host) as sock:
        sock.sendall(_head("GET", "/api/models/alexnet/spec"))
        assert read_answer(sock)[0] == 200
        sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        status, headers, body = read_answer(sock)
    assert status == 400 and headers["content-type"] == "application/json", body
    assert "not valid HTTP/1.1" in error_items(json.loads(body))[0]["message"]


@pytest.mark.parametrize("pieces", [1, 2], ids=["at-once", "in-two-reads"])
def test_a_request_head_over_max_header_bytes_is_a_400_naming_it(server: Server,
                                                                 error_items: Items,
                                                                 pieces: int) -> None:
    """Whole in one read (h11 alone let it through: it measures only incomplete heads), or
    split, so that h11 holds more than the limit unfinished."""
    limit = Settings().max_header_bytes
    head = _head("GET", "/api/models", f"X-Big: {'a' * (limit + 100)}\r\n")
    with connect(server.port, host=server.host) as sock:
        if pieces == 2:
            sock.sendall(head[:limit + 50])
            time.sleep(0.3)
        sock.sendall(head[limit + 50 if pieces == 2 else 0:])
        status, headers, body = read_answer(sock)
    assert status == 400 and headers["content-type"] == "application/json", body
    assert all(name in headers for name in SECURITY), headers
    item = error_items(json.loads(body))[0]
    assert item["limit"] == "max_header_bytes" and str(limit) in item["message"], item
    _served_normally(server)


def test_a_request_head_just_inside_max_header_bytes_is_served(server: Server) -> None:
    limit = Settings().max_header_bytes
    base = _head("GET", "/api/models/alexnet/spec", "X-Pad: \r\n")
    head = _head("GET", "/api/models/alexnet/spec", f"X-Pad: {'a' * (limit - len(base))}\r\n")
    assert len(head) == limit
    with connect(server.port, host=server.host) as sock:
        sock.sendall(head)
        assert read_answer(sock)[0] == 200


def test_head_bytes_is_the_size_of_what_was_sent() -> None:
    sent = b"GET /a%20b?x=1 HTTP/1.1\r\nhost: test\r\nx-pad: abc\r\n\r\n"
    scope = {"type": "http", "method": "GET", "raw_path": b"/a%20b", "query_string": b"x=1",
             "headers": [(b"host", b"test"), (b"x-pad", b"abc")]}
    assert head_bytes(scope) == len(sent)  # type: ignore[arg-type]


# -- headers on every answer, no banner ------------------------------------------------------

@pytest.mark.parametrize("path", ["/", "/static/app.css", "/openapi.json", "/docs", "/nowhere",
                                  "/api/models/nope", "/api/analyze?spec=conv"])
def test_security_headers_and_no_server_banner_on_every_answer(server: Server,
                                                               path: str) -> None:
    with connect(server.port, host=server.host) as sock:
        sock.sendall(_head("GET", path))
        status, headers, _ = read_answer(sock)
    assert status in {200, 404, 422}, (path, status)
    assert "server" not in headers, headers
    assert all(name in headers for name in SECURITY), (path, headers)
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"


# -- the same limits in process --------------------------------------------------------------

def test_the_test_client_gets_413_with_the_limit(error_items: Items) -> None:
    with TestClient(create_app(Settings(max_body_bytes=100))) as client:
        response = client.post("/api/analyze", content=b"x" * 101,
                               headers={"Content-Type": "application/json"})
        assert response.status_code == 413 and response.headers["connection"] == "close"
        assert error_items(response.json())[0]["limit"] == "max_body_bytes"
        assert client.post("/api/analyze", json={"spec": "input 8x8x3"}).status_code == 200


def test_a_body_that_stops_coming_is_a_408_in_process(error_items: Items) -> None:
    parts = [{"type": "http.request", "body": b'{"spec"', "more_body": True}]
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if parts:
            return parts.pop(0)
        await asyncio.Event().wait()  # the client never sends the rest
        return {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    async def app_behind(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("a body that did not arrive never reaches the app")

    scope = {"type": "http", "method": "POST", "path": "/api/analyze", "headers": []}
    guarded = BodyLimitMiddleware(app_behind, max_bytes=100, body_seconds=0.2)
    asyncio.run(asyncio.wait_for(guarded(scope, receive, send), timeout=3))
    assert sent[0]["status"] == 408
    assert error_items(json.loads(sent[1]["body"]))[0]["limit"] == "body_seconds"


def test_draining_a_refused_body_stops_at_its_time_bound() -> None:
    """A client that declares a body within drain_bytes and trickles it is not waited for."""
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        await asyncio.sleep(0.05)
        return {"type": "http.request", "body": b"x", "more_body": True}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    async def app_behind(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("never reached")

    scope = {"type": "http", "method": "POST", "path": "/api/analyze",
             "headers": [(b"content-length", b"5000")]}
    guarded = BodyLimitMiddleware(app_behind, max_bytes=100, drain_seconds=0.3)
    started = time.monotonic()
    asyncio.run(asyncio.wait_for(guarded(scope, receive, send), timeout=3))
    assert sent[0]["status"] == 413 and time.monotonic() - started < 1.5


# -- the settings and the production command are documented -----------------------------------

def test_the_operations_document_lists_every_setting() -> None:
    for name in Settings.model_fields:
        assert f"| `ARCHCALC_{name.upper()}` |" in OPERATIONS, name


def test_the_operations_document_shows_the_production_command() -> None:
    command = " ".join(command_line(Settings(), host="0.0.0.0", port=8000))
    line = re.sub(r"--workers \d+", "--workers 4", command)
    assert line in OPERATIONS, line


def test_uvicorn_options_are_the_settings() -> None:
    settings = Settings(limit_concurrency=77, keep_alive_seconds=9, workers=3,
                        max_header_bytes=4096)
    options = uvicorn_options(settings)
    assert options["limit_concurrency"] == 77 and options["timeout_keep_alive"] == 9
    assert options["workers"] == 3 and options["h11_max_incomplete_event_size"] == 4096
    assert options["server_header"] is False and options["http"].endswith(":TimedH11Protocol")
    import uvicorn

    config = uvicorn.Config("app.main:app", **options)  # uvicorn accepts every option
    config.load()
    assert config.http_protocol_class.__name__ == "TimedH11Protocol"


def test_the_web_image_runs_the_production_command() -> None:
    """The container serves with the production command, which reads every option (the
    trusted proxies among them) from the ARCHCALC_* environment."""
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    web = dockerfile[dockerfile.index(" AS web"):dockerfile.index(" AS worker")]
    cmd = json.loads(next(line for line in web.splitlines() if line.startswith("CMD "))[4:])
    assert cmd == ["python", "-m", "app.web.serve", "--host", "0.0.0.0", "--port", "8000"], cmd
