"""How archcalc is served: uvicorn's options from the settings, and an h11 protocol that
answers as the app does.

uvicorn bounds what a request may cost once its headers are in (the app's middleware bounds the
body), but on its own it waits for the headers for ever: a client that opens a connection and
sends half a request line holds it until it goes. And the answers uvicorn writes itself, before
the app sees a request, are plain text without the security headers. :class:`TimedH11Protocol`
is uvicorn's h11 protocol with

* a deadline for each request's head (``header_seconds``): past it, the client gets 408;
* a malformed request line or header, or a head over ``max_header_bytes``
  (``h11_max_incomplete_event_size``), answered 400 instead of h11's "Invalid HTTP request
  received.";
* uvicorn's own ``limit_concurrency`` check (connections, or requests in flight, of the process),
  made at the same point with the same counts, answered 503 with ``Retry-After`` instead of
  "Service Unavailable";
* at most ``max_client_connections`` open connections from one client address (the socket's
  peer; a trusted proxy's are not counted, the proxy caps its own clients): a connection past
  it is answered 503 as it opens and closed, so that one address sending a byte a second on a
  thousand sockets cannot fill ``limit_concurrency`` for everyone;

each in the error shape, with the security headers, and the connection closed. The other bounds
are uvicorn's own: ``timeout_keep_alive`` for idle connections, no ``server`` header.

``X-Forwarded-For`` and ``X-Forwarded-Proto`` are believed only from ``trusted_proxies``
(empty by default: uvicorn's proxy headers are turned off, and the client is the socket's peer).

``python -m app.web.serve [--host H] [--port P]`` runs the production server with these;
``uvicorn_options(settings)`` gives the same as keyword arguments of ``uvicorn.run`` (the CLI's
``archcalc serve`` uses it), and ``command_line(settings)`` as the ``uvicorn`` command.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import logging
import weakref
from collections import Counter
from functools import cache
from typing import Any

import h11
from h11._connection import DEFAULT_MAX_INCOMPLETE_EVENT_SIZE  # what uvicorn falls back to
from uvicorn._types import ASGI3Application, ASGIReceiveCallable, ASGISendCallable, HTTPScope, Scope
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from app.web.security import COMMON_HEADERS, PAGE_CSP, policy_for
from app.web.settings import Settings

APP = "app.main:app"
PROTOCOL = "app.web.serve:TimedH11Protocol"


#: how long a worker process may take to answer the supervisor's health check
WORKER_HEALTHCHECK_SECONDS = 60


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments of ``uvicorn.run(APP, host=..., port=..., **options)``."""
    return {
        "http": PROTOCOL,
        "workers": settings.workers,
        "limit_concurrency": settings.limit_concurrency,
        "timeout_keep_alive": settings.keep_alive_seconds,
        "h11_max_incomplete_event_size": settings.max_header_bytes,
        "server_header": False,
        "proxy_headers": bool(settings.trusted_proxies),
        "forwarded_allow_ips": settings.trusted_proxies or None,
        # a worker process imports the app before it answers the supervisor's first ping: on a
        # busy small machine that takes longer than uvicorn's 5 s, and the worker would be
        # killed and started again for ever
        "timeout_worker_healthcheck": WORKER_HEALTHCHECK_SECONDS,
    }


def command_line(settings: Settings, host: str = "127.0.0.1", port: int = 8000) -> list[str]:
    """The same server as a ``uvicorn`` command (what docs/operations.md shows)."""
    options = uvicorn_options(settings)
    return ["uvicorn", APP, "--host", host, "--port", str(port), "--http", options["http"],
            "--workers", str(options["workers"]),
            "--limit-concurrency", str(options["limit_concurrency"]),
            "--timeout-keep-alive", str(options["timeout_keep_alive"]),
            "--h11-max-incomplete-event-size", str(options["h11_max_incomplete_event_size"]),
            "--timeout-worker-healthcheck", str(options["timeout_worker_healthcheck"]),
            "--no-server-header", *_proxy_arguments(settings)]


def _proxy_arguments(settings: Settings) -> list[str]:
    if not settings.trusted_proxies:
        return ["--no-proxy-headers"]
    return ["--proxy-headers", "--forwarded-allow-ips", settings.trusted_proxies]


@cache
def _settings() -> Settings:
    """The server's settings, from the environment (each worker reads them once)."""
    return Settings()


def _header_seconds() -> float:
    """The deadline for a request's head."""
    return _settings().header_seconds


def _error_body(message: str, limit: str | None = None) -> bytes:
    item: dict[str, Any] = {"line": 0, "message": message}
    if limit is not None:
        item["limit"] = limit
    return json.dumps({"errors": [item]}).encode()


def _error_headers(body: bytes, policy: str = PAGE_CSP) -> list[tuple[str, str]]:
    """What every answer the protocol writes itself carries: the type, the length, the security
    headers, and ``Connection: close`` (each of them ends the connection)."""
    return [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
            ("Connection", "close"), ("Content-Security-Policy", policy),
            *COMMON_HEADERS.items()]


def _raw_answer(status: int, reason: str, body: bytes, *extra: tuple[str, str]) -> bytes:
    """A whole answer as bytes, for when h11 has no request to answer (or has given up on it)."""
    head = "".join(f"{name}: {value}\r\n" for name, value in [*_error_headers(body), *extra])
    return f"HTTP/1.1 {status} {reason}\r\n{head}\r\n".encode() + body


def _timeout_answer(seconds: float) -> bytes:
    """The whole 408 answer: no request was read, so h11 cannot write it."""
    return _raw_answer(408, "Request Timeout", _error_body(
        f"the request's headers did not arrive within {seconds:g} s (header_seconds)",
        "header_seconds"))


def _head_too_long(max_head: int) -> bytes:
    return _error_body(f"the request line and headers are over {max_head} bytes "
                       "(max_header_bytes)", "max_header_bytes")


def _bad_request_body(buffered: int, max_head: int) -> bytes:
    """Why h11 could not read the request: too long a head, or not HTTP/1.1 at all."""
    if buffered > max_head:
        return _head_too_long(max_head)
    return _error_body("the request is not valid HTTP/1.1: a malformed request line or header "
                       "(Method SP /path SP HTTP/1.1 CRLF, then Name: value CRLF lines)")


def head_bytes(scope: HTTPScope) -> int:
    """The size of the request line and headers as sent (give or take the spaces around header
    values, which h11 strips)."""
    line = len(scope["method"]) + len(scope["raw_path"] or b"") + len(" HTTP/1.1\r\n") + 1
    query = scope["query_string"]
    fields: int = sum(len(name) + len(value) + 4 for name, value in scope["headers"])
    return line + (len(query) + 1 if query else 0) + fields + 2


async def _send_error(send: ASGISendCallable, scope: HTTPScope, status: int, body: bytes,
                      *extra: tuple[str, str]) -> None:
    headers = [*_error_headers(body, policy_for(scope["path"])), *extra]
    await send({"type": "http.response.start", "status": status,
                "headers": [(k.lower().encode(), v.encode()) for k, v in headers]})
    await send({"type": "http.response.body", "body": body, "more_body": False})


class Gate:
    """The checks uvicorn makes of a request before the app sees it, answered in the error
    shape with the security headers.

    * ``limit_concurrency``: uvicorn counts, as a request's head is read, the process's open
      connections (this one among them) and its requests in flight, and past the limit runs its
      own plain-text 503 instead of the app. The protocol turns that check off and wraps the app
      in this gate, which makes it with the same counts when the request's task starts, where
      the task itself is already among those in flight (hence ``>`` for the tasks and ``>=`` for
      the connections, as uvicorn has).
    * ``max_header_bytes``: h11 refuses a head over its ``max_incomplete_event_size`` only while
      the head is incomplete, so one that arrives whole in one read (asyncio reads up to 256 KiB
      at a time) got through at any size; the gate measures the head it was given.

    The cap on one address's connections (:class:`ClientConnections`) is applied earlier, as a
    connection opens: a slow client never sends a whole head, so it never reaches the gate.
    """

    def __init__(self, app: ASGI3Application, state: ServerState, limit: int | None,
                 max_head: int) -> None:
        self.app, self.state, self.limit, self.max_head = app, state, limit, max_head

    def over(self) -> bool:
        """Whether uvicorn would answer 503 (called in the request's own task)."""
        if self.limit is None:
            return False
        return len(self.state.connections) >= self.limit or len(self.state.tasks) > self.limit

    async def __call__(self, scope: Scope, receive: ASGIReceiveCallable,
                       send: ASGISendCallable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if head_bytes(scope) > self.max_head:
            await _send_error(send, scope, 400, _head_too_long(self.max_head))
        elif self.over():
            logging.getLogger("uvicorn.error").warning("Exceeded concurrency limit.")
            await _send_error(send, scope, 503, _error_body(
                f"the server is at its limit of {self.limit} connections or requests at once "
                "(limit_concurrency); try again after Retry-After", "limit_concurrency"),
                ("Retry-After", "1"))
        else:
            await self.app(scope, receive, send)


class ClientConnections:
    """The open connections of one server by client address, past ``cap`` refused; a
    trusted proxy's connections are not counted."""

    def __init__(self, cap: int, exempt: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network,
                                               ...]) -> None:
        self.cap, self.exempt = cap, exempt
        self.open: Counter[str] = Counter()

    def counts(self, host: str) -> bool:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return True
        return not any(address in net for net in self.exempt)

    def enter(self, host: str) -> bool:
        """Count a new connection from ``host``; False when it is one too many (it still
        counts until :meth:`leave`)."""
        self.open[host] += 1
        return self.open[host] <= self.cap

    def leave(self, host: str) -> None:
        self.open[host] -= 1
        if self.open[host] <= 0:
            del self.open[host]


#: each server's counts (one per process; a server's protocols share its state object)
_client_counts: weakref.WeakKeyDictionary[ServerState, ClientConnections] = \
    weakref.WeakKeyDictionary()


def client_connections(state: ServerState) -> ClientConnections:
    counts = _client_counts.get(state)
    if counts is None:
        settings = _settings()
        counts = ClientConnections(settings.max_client_connections, settings.proxy_networks())
        _client_counts[state] = counts
    return counts


def _too_many_connections(cap: int) -> bytes:
    return _raw_answer(503, "Service Unavailable", _error_body(
        f"your address has {cap} connections open to this server already, the most one client "
        "may hold (max_client_connections); close some, or try again after Retry-After",
        "max_client_connections"), ("Retry-After", "1"))


class TimedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, with ``header_seconds`` to send each request's head, and its
    own 400 and 503 answered in the error shape with the security headers."""

    header_timer: asyncio.TimerHandle | None = None
    #: the client address this connection is counted under, if it is
    counted_as: str | None = None

    def __init__(self, config: Config, server_state: ServerState, app_state: dict[str, Any],
                 _loop: asyncio.AbstractEventLoop | None = None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        limit, self.limit_concurrency = self.limit_concurrency, None  # uvicorn's check: off
        self.app = Gate(self.app, server_state, limit, self._max_head())

    def _max_head(self) -> int:
        return self.config.h11_max_incomplete_event_size or DEFAULT_MAX_INCOMPLETE_EVENT_SIZE

    def send_400_response(self, msg: str) -> None:
        """h11 could not read the request (``msg`` is uvicorn's text): say why, in JSON."""
        body = _bad_request_body(len(self.conn.trailing_data[0]), self._max_head())
        if self.conn.our_state in {h11.IDLE, h11.SEND_RESPONSE}:  # no answer begun to this one
            self.transport.write(_raw_answer(400, "Bad Request", body))
        self.transport.close()  # an answer already under way is cut short

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]
        counts = client_connections(self.server_state)
        host = self.client[0] if self.client else None
        if host is not None and counts.counts(host):
            self.counted_as = host
            if not counts.enter(host):
                logging.getLogger("uvicorn.error").warning(
                    "Refused a connection from %s: over max_client_connections.", host)
                self.transport.write(_too_many_connections(counts.cap))
                self.transport.close()
                return
        self._arm()

    def handle_events(self) -> None:
        super().handle_events()
        if self.conn.their_state is not h11.IDLE:  # a whole head has been read
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self._arm()  # the next request on this connection gets its own deadline

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self.counted_as is not None:
            client_connections(self.server_state).leave(self.counted_as)
            self.counted_as = None
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self.header_timer = self.loop.call_later(_header_seconds(), self._headers_too_slow)

    def _disarm(self) -> None:
        if self.header_timer is not None:
            self.header_timer.cancel()
            self.header_timer = None

    def _headers_too_slow(self) -> None:
        self.header_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        if self.conn.trailing_data[0]:  # a head begun and not finished: say why
            self.transport.write(_timeout_answer(_header_seconds()))
        self.transport.close()


def main(argv: list[str] | None = None) -> None:
    """Run the production server: ``python -m app.web.serve --host 0.0.0.0 --port 8000``."""
    import uvicorn

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    uvicorn.run(APP, host=args.host, port=args.port, **uvicorn_options(Settings()))


if __name__ == "__main__":
    main()
