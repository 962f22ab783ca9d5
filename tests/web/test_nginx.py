"""deploy/nginx.conf, as shipped, in front of the production server: Debian's nginx on a free
port (``.ci/setup.d/50-nginx.sh`` installs it), proxying to ``python -m app.web.serve`` which
believes X-Forwarded-For from the loopback only because ``ARCHCALC_TRUSTED_PROXIES`` says so.

Clients are told apart by address: a socket bound to 127.0.0.2 is one client, 127.0.0.3
another. The test changes only what a test must: the listening port, the upstream's address,
the ``user`` line (Debian has no ``nginx`` user) and where nginx keeps its temporary files.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest

from app.engine.limits import LIMITS
from app.web.settings import Settings
from tests import rawhttp
from tests.liveserver import REPO_ROOT, free_port, live_server, stop

CONF = REPO_ROOT / "deploy" / "nginx.conf"
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
BURST = 5
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
#: without nginx the tests skip, except under CI, where a missing nginx is a failure
pytestmark = pytest.mark.skipif(NGINX is None and not IN_CI,
                                reason="nginx is not installed (.ci/setup.d/50-nginx.sh)")


@dataclass(frozen=True)
class Proxied:
    port: int
    log: Path


def _directives(name: str) -> list[str]:
    """The values of a directive of the shipped configuration, in order."""
    return [str(v) for v in re.findall(rf"^\s*{name}\s+([^;]+);", CONF.read_text(),
                                       re.MULTILINE)]


def _directive(name: str) -> str:
    """The value of a directive that appears once."""
    found = _directives(name)
    assert len(found) == 1, (name, found)
    return found[0]


def _bytes(size: str) -> int:
    return int(size[:-1]) * {"k": 2**10, "m": 2**20}[size[-1]]


def _seconds(name: str) -> float:
    return float(_directive(name).removesuffix("s"))


def _test_config(tmp: Path, listen: int, upstream: int) -> Path:
    text = CONF.read_text()
    swaps = {"user nginx;\n": "", "server web:8000;": f"server 127.0.0.1:{upstream};",
             "listen 80;": f"listen 127.0.0.1:{listen};"}
    for old, new in swaps.items():
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    temp = " ".join(f"{kind}_temp_path {tmp / kind};"
                    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    text = text.replace("http {", f"http {{\n    {temp}\n    access_log {tmp / 'access.log'};", 1)
    path = tmp / "nginx.conf"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxied]:
    tmp = tmp_path_factory.mktemp("nginx")
    app_port, port = free_port(), free_port()
    env = os.environ | {"ARCHCALC_TRUSTED_PROXIES": "127.0.0.1",
                        "ARCHCALC_RATE_PER_SECOND": "0.01", "ARCHCALC_RATE_BURST": str(BURST)}
    with live_server(["app.web.serve", "--port", str(app_port)], tmp / "app.log", app_port,
                     env=env, ready="/openapi.json"):
        conf = _test_config(tmp, port, app_port)
        main = f"daemon off; pid {tmp / 'nginx.pid'}; error_log {tmp / 'error.log'};"
        if os.geteuid() == 0:
            main += " user root;"  # the workers write into this test's private folder
        assert NGINX is not None, "nginx is missing under CI; .ci/setup.d/50-nginx.sh installs it"
        with (tmp / "nginx.out").open("wb") as out:
            proc = subprocess.Popen([NGINX, "-c", str(conf), "-p", str(tmp), "-g", main],
                                    stdout=out, stderr=subprocess.STDOUT)
        try:
            _wait_for(port, proc, tmp)
            yield Proxied(port, tmp)
        finally:
            stop(proc)


def _wait_for(port: int, proc: subprocess.Popen[bytes], tmp: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    logs = [(tmp / n).read_text(errors="replace") for n in ("nginx.out", "error.log")
            if (tmp / n).exists()]
    raise RuntimeError(f"nginx did not start: {logs}")


def _connect(port: int, source: str) -> socket.socket:
    return rawhttp.connect(port, source, timeout=20)


def _ask(port: int, source: str, path: str = "/api/models/alexnet/spec",
         headers: str = "") -> tuple[int, dict[str, str], bytes]:
    """One GET through nginx from ``source``; by default an answer the app makes."""
    return rawhttp.ask(port, source, path, headers, timeout=20)


# -- the rate limit sees the client nginx sees -------------------------------------------------

def test_the_rate_limit_sees_each_client_behind_nginx(proxied: Proxied) -> None:
    first = [_ask(proxied.port, "127.0.0.2")[0] for _ in range(BURST + 1)]
    assert first == [200] * BURST + [429], first
    assert _ask(proxied.port, "127.0.0.3")[0] == 200  # another client, its own bucket


def test_a_forwarded_for_the_client_writes_itself_changes_nothing(proxied: Proxied) -> None:
    statuses = [_ask(proxied.port, "127.0.0.4",
                     headers=f"X-Forwarded-For: 198.51.100.{n}\r\nX-Real-IP: 198.51.100.{n}\r\n")[0]
                for n in range(BURST + 3)]
    assert statuses == [200] * BURST + [429] * 3, statuses


# -- slow clients are nginx's to wait for ------------------------------------------------------

def test_a_slow_loris_is_cut_by_nginx_while_others_are_served(proxied: Proxied) -> None:
    """Fifty sockets sending a request head a byte at a time: each is closed by nginx's
    client_header_timeout, and the app answers another client all along."""
    timeout = _seconds("client_header_timeout")
    slow = [_connect(proxied.port, "127.0.0.5") for _ in range(50)]
    started = time.monotonic()
    try:
        for sock in slow:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n")
        assert _ask(proxied.port, "127.0.0.6")[0] == 200
        while time.monotonic() - started < timeout / 2:
            for sock in slow:
                sock.sendall(b"X")
            time.sleep(1)
        assert _ask(proxied.port, "127.0.0.6")[0] == 200
        assert all(rawhttp.closed_within(sock, timeout + 5 - (time.monotonic() - started))
                   for sock in slow)
        assert time.monotonic() - started < timeout + 5
    finally:
        for sock in slow:
            sock.close()


def test_requests_in_progress_per_client_are_capped(proxied: Proxied) -> None:
    """Requests whose body never comes hold nginx, not the app: past limit_conn, 429 in the
    error shape, while another client is served."""
    cap = int(_directives("limit_conn")[0].split()[1])
    held = [_connect(proxied.port, "127.0.0.7") for _ in range(cap)]
    try:
        for sock in held:
            sock.sendall(b"POST /api/analyze HTTP/1.1\r\nHost: t\r\n"
                         b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
        time.sleep(0.5)
        status, headers, body = _ask(proxied.port, "127.0.0.7", "/healthz")
        assert status == 429 and headers["retry-after"] == "1", (status, body)
        assert json.loads(body)["errors"][0]["limit"] == "limit_conn"
        assert _ask(proxied.port, "127.0.0.8", "/healthz")[0] == 200
    finally:
        for sock in held:
            sock.close()


def test_a_halls_event_streams_do_not_use_up_its_requests_in_progress(proxied: Proxied) -> None:
    """With every general place of an address held, a live session's stream from the same
    address still reaches the app (which answers 404: there is no such session)."""
    cap = int(_directives("limit_conn")[0].split()[1])
    held = [_connect(proxied.port, "127.0.0.10") for _ in range(cap)]
    try:
        for sock in held:
            sock.sendall(b"POST /api/analyze HTTP/1.1\r\nHost: t\r\n"
                         b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
        time.sleep(0.5)
        assert _ask(proxied.port, "127.0.0.10", "/healthz")[0] == 429
        status, _, body = _ask(proxied.port, "127.0.0.10", "/live/K7PX3M/events")
        assert status == 404 and b"no live session" in body, (status, body)
    finally:
        for sock in held:
            sock.close()


# -- the limits agree with the app's ------------------------------------------------------------

def test_a_body_past_the_apps_limit_is_refused_by_nginx_in_the_error_shape(
        proxied: Proxied) -> None:
    assert _bytes(_directives("client_max_body_size")[0]) == LIMITS.max_body_bytes
    with _connect(proxied.port, "127.0.0.9") as sock:
        sock.sendall(b"POST /api/analyze HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
                     b"Content-Type: application/json\r\nContent-Length: 70000\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), head
    assert json.loads(body)["errors"][0]["limit"] == "max_body_bytes"


def test_the_calculator_form_with_a_long_spec_gets_through(proxied: Proxied) -> None:
    spec = "input 8x8x3\nrelu\n" + ("# " + "é" * 900 + "\n") * 30
    # an address of its own: nginx may still count the connections the test above closed
    status, _, body = _ask(proxied.port, "127.0.0.11", "/?spec=" + quote(spec))
    assert status == 200 and b"8x8x3" in body


def test_the_shipped_timeouts_are_the_apps() -> None:
    settings = Settings()
    assert _seconds("client_header_timeout") == settings.header_seconds
    assert _seconds("client_body_timeout") == settings.body_seconds
    assert _bytes(_directive("large_client_header_buffers").split()[1]) >= \
        settings.max_header_bytes
    everywhere, uploads = map(_bytes, _directives("client_max_body_size"))
    assert (everywhere, uploads) == (settings.max_body_bytes, settings.max_import_bytes)
