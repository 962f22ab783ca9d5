"""Live sessions shared through a real Redis by two web processes (the production command):
the instructor drives on one, a follower listens on the other, answers sent to either count."""

from __future__ import annotations

import http.client
import json
import os
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.liveserver import free_port, live_server
from tests.worker.conftest import RedisServer


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    request = urllib.request.Request(url, body, headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.fixture()
def two_servers(redis_server: RedisServer, tmp_path: Path) -> Iterator[tuple[str, str]]:
    env = os.environ | {"ARCHCALC_LIVE_REDIS_URL": redis_server.url(3),
                        "ARCHCALC_DATA_DIR": str(tmp_path / "unused")}
    with ExitStack() as stack:
        bases = []
        for name in ("a", "b"):
            port = free_port()
            bases.append(stack.enter_context(live_server(
                ["app.web.serve", "--port", str(port)], tmp_path / f"{name}.log", port,
                env=env, ready="/healthz")))
        yield bases[0], bases[1]


def _follow(base: str, code: str, events: list[tuple[float, str, str]]) -> http.client.HTTPConnection:
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=20)
    conn.request("GET", f"/live/{code}/events")
    response = conn.getresponse()
    assert response.status == 200

    def read() -> None:
        kind = ""
        try:
            while line := response.fp.readline():
                text = line.decode()
                if text.startswith("event:"):
                    kind = text[6:].strip()
                elif text.startswith("data:"):
                    events.append((time.monotonic(), kind, text[5:]))
        except (OSError, ValueError, AttributeError):  # closed by the test's end
            return

    threading.Thread(target=read, daemon=True).start()
    return conn


def test_two_web_processes_share_a_session(two_servers: tuple[str, str]) -> None:
    a, b = two_servers
    status, body = _post(f"{a}/api/live", json.dumps({"spec": "input 32x32x3\nconv 8 3x3"})
                         .encode(), {"Content-Type": "application/json"})
    assert status == 201
    made = json.loads(body)
    code, key = made["code"], made["key"]
    # the session made on a is there on b
    with urllib.request.urlopen(f"{b}/api/live/{code}", timeout=10) as r:
        assert json.loads(r.read())["code"] == code
    events: list[tuple[float, str, str]] = []
    conn = _follow(b, code, events)
    try:
        deadline = time.monotonic() + 10
        while not any(kind == "state" for _, kind, _ in events):
            assert time.monotonic() < deadline, "no first state from b"
            time.sleep(0.05)
        auth = {"Authorization": f"Bearer {key}",
                "Content-Type": "application/x-www-form-urlencoded"}
        changed = "query=" + urllib.parse.quote("spec=input+48x48x3%0Aconv+8+3x3")
        status, _ = _post(f"{a}/live/{code}/state", changed.encode(), auth)
        assert status in (200, 303)
        deadline = time.monotonic() + 10
        while not any(kind == "state" and "46x46x8" in data for _, kind, data in events):
            assert time.monotonic() < deadline, "the change on a never reached b's follower"
            time.sleep(0.05)
        # a question asked on a, answered on b, counted on a
        status, _ = _post(f"{a}/live/{code}/ask", b"row=1&field=output", auth)
        assert status in (200, 303)
        with urllib.request.urlopen(f"{b}/api/live/{code}", timeout=10) as r:
            qid = json.loads(r.read())["question"]["id"]
        for answer in ("46x46x8", "47x47x8"):
            status, _ = _post(f"{b}/api/live/{code}/answer",
                              json.dumps({"question": qid, "answer": answer}).encode(),
                              {"Content-Type": "application/json"})
            assert status == 201
        with urllib.request.urlopen(f"{a}/api/live/{code}", timeout=10) as r:
            assert json.loads(r.read())["answers"] == 2
        # and the instructor's capability is checked on b too
        status, _ = _post(f"{b}/live/{code}/reveal", b"", {})
        assert status == 403
    finally:
        conn.close()
