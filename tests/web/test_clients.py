"""Who the client is, and how much of the server one client may hold, through the production
server (``python -m app.web.serve``).

Clients are told apart by address: every 127.0.0.0/8 address reaches the loopback, so a socket
bound to 127.0.0.2 is one client and one bound to 127.0.0.3 another.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from app.web.serve import ClientConnections, command_line, uvicorn_options
from app.web.settings import Settings
from tests.liveserver import free_port, live_server
from tests.rawhttp import ask, connect, read_all

BURST = 5
#: connections one address may hold, and the whole server's cap (a tenth of it)
PER_CLIENT, CONNECTIONS = 8, 40
ATTACKER, OTHER = "127.0.0.2", "127.0.0.3"


@contextmanager
def _server(tmp_path: Path, **env: str) -> Iterator[int]:
    """The production server with a small rate burst (and ``env``); yields its port."""
    port = free_port()
    with live_server(["app.web.serve", "--port", str(port)], tmp_path / "log.txt", port,
                     env=os.environ | {"ARCHCALC_RATE_PER_SECOND": "0.01",
                                       "ARCHCALC_RATE_BURST": str(BURST), **env},
                     ready="/healthz"):
        yield port


@pytest.fixture(scope="module")
def direct(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """The production server with the default proxy settings and a small burst and cap."""
    with _server(tmp_path_factory.mktemp("direct"),
                 ARCHCALC_MAX_CLIENT_CONNECTIONS=str(PER_CLIENT),
                 ARCHCALC_LIMIT_CONCURRENCY=str(CONNECTIONS),
                 ARCHCALC_HEADER_SECONDS="5") as port:
        yield port


# -- X-Forwarded-For is believed only from a trusted proxy ------------------------------------

def test_distinct_forwarded_for_values_do_not_escape_the_rate_limit(direct: int) -> None:
    """From the loopback itself, which uvicorn trusted by default (the readiness probe has
    drawn from the same bucket, hence only the last answers are certain)."""
    statuses = [ask(direct, "127.0.0.1", headers=f"X-Forwarded-For: 198.51.100.{n}\r\n")[0]
                for n in range(BURST + 5)]
    assert statuses[-5:] == [429] * 5, statuses


SPOOFS = ["X-Real-IP: 198.51.100.{n}", "Forwarded: for=198.51.100.{n}",
          "X-Forwarded-For: 198.51.100.{n}\r\nX-Forwarded-For: 203.0.113.{n}",
          "X-Forwarded-For: 127.0.0.1, 198.51.100.{n}"]


@pytest.mark.parametrize("which", range(len(SPOOFS)), ids=lambda i: SPOOFS[i].split(":")[0])
def test_no_header_of_the_clients_own_changes_its_address(direct: int, which: int) -> None:
    header, source = SPOOFS[which], f"127.0.0.{20 + which}"  # a client of its own each
    statuses = [ask(direct, source, headers=header.format(n=n) + "\r\n")[0]
                for n in range(BURST + 2)]
    assert statuses == [200] * BURST + [429] * 2, statuses


def test_no_proxy_is_trusted_unless_the_operator_names_one() -> None:
    options = uvicorn_options(Settings())
    assert options["proxy_headers"] is False
    assert "--no-proxy-headers" in command_line(Settings())
    trusted = Settings(trusted_proxies="10.0.0.0/8, 127.0.0.1")
    assert uvicorn_options(trusted)["forwarded_allow_ips"] == "10.0.0.0/8,127.0.0.1/32"
    line = command_line(trusted)
    assert line[line.index("--forwarded-allow-ips") + 1] == "10.0.0.0/8,127.0.0.1/32"


@pytest.mark.parametrize("value", ["nginx", "10.0.0.0/33", "*", "127.0.0.1;10.0.0.1"])
def test_a_trusted_proxy_that_is_not_an_address_is_refused_naming_it(value: str) -> None:
    with pytest.raises(ValueError, match="trusted_proxies"):
        Settings(trusted_proxies=value)


def test_a_trusted_proxy_passes_on_the_real_client(tmp_path: Path) -> None:
    """127.0.0.5 plays the proxy: what it forwards for two users draws from two buckets, and
    the same header from anyone else is ignored."""
    with _server(tmp_path, ARCHCALC_TRUSTED_PROXIES="127.0.0.5") as port:
        def via_proxy(user: str) -> int:
            return ask(port, "127.0.0.5", headers=f"X-Forwarded-For: {user}\r\n")[0]

        first = [via_proxy("203.0.113.1") for _ in range(BURST + 1)]
        assert first == [200] * BURST + [429], first
        assert via_proxy("203.0.113.2") == 200  # another user behind the same proxy
        spoofed = [ask(port, "127.0.0.6", headers=f"X-Forwarded-For: 203.0.113.{n}\r\n")[0]
                   for n in range(10, 10 + BURST + 1)]
        assert spoofed == [200] * BURST + [429], spoofed


# -- one address cannot hold every connection --------------------------------------------------

def test_slow_sockets_from_one_address_leave_room_for_others(direct: int) -> None:
    """More sockets than the whole server holds, from one address: those past the cap are
    refused in the error shape as they open, the others send a request head a byte at a time,
    and another client's requests are answered all along."""
    held = [connect(direct, ATTACKER) for _ in range(CONNECTIONS + 10)]
    try:
        time.sleep(0.5)
        answers = [read_all(sock, 0.05) for sock in held]
        refused = [a for a in answers if a]
        assert len(refused) == len(held) - PER_CLIENT, len(refused)
        assert all(a.startswith(b"HTTP/1.1 503 ") for a in refused), refused[:1]
        item = json.loads(refused[0].partition(b"\r\n\r\n")[2])["errors"][0]
        assert item["limit"] == "max_client_connections" and str(PER_CLIENT) in item["message"]
        assert b"\r\nretry-after: 1\r\n" in refused[0].lower()
        slow = [sock for sock, answer in zip(held, answers, strict=True) if not answer]
        for byte in (b"G", b"E", b"T"):
            for sock in slow:
                sock.sendall(byte)
            assert ask(direct, OTHER)[0] == 200
            time.sleep(0.5)
    finally:
        for sock in held:
            sock.close()
    time.sleep(0.3)
    assert ask(direct, ATTACKER)[0] in {200, 429}  # its places are given back


def test_the_connection_counts_forget_closed_connections() -> None:
    counts = ClientConnections(2, Settings(trusted_proxies="127.0.0.5").proxy_networks())
    assert counts.enter("127.0.0.2") and counts.enter("127.0.0.2")
    assert not counts.enter("127.0.0.2")
    for _ in range(3):
        counts.leave("127.0.0.2")
    assert not counts.open and counts.enter("127.0.0.2")
    assert not counts.counts("127.0.0.5") and counts.counts("127.0.0.2")
