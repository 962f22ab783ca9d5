"""How archcalc is served: uvicorn's options from the settings, and a protocol with a header
deadline.

uvicorn bounds what a request may cost once its headers are in (the app's middleware bounds the
body), but on its own it waits for the headers for ever: a client that opens a connection and
sends half a request line holds it until it goes. :class:`TimedH11Protocol` is uvicorn's h11
protocol with a deadline for each request's head (``header_seconds``): past it, the client gets
408 in the error shape and the connection is closed. The other bounds are uvicorn's own:
``limit_concurrency`` connections a process (503 past it), ``timeout_keep_alive`` for idle
connections, ``h11_max_incomplete_event_size`` for the head (400 past it), no ``server`` header.

``python -m app.web.serve [--host H] [--port P]`` runs the production server with these;
``uvicorn_options(settings)`` gives the same as keyword arguments of ``uvicorn.run`` (the CLI's
``archcalc serve`` uses it), and ``command_line(settings)`` as the ``uvicorn`` command.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from functools import cache
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from app.web.security import COMMON_HEADERS, PAGE_CSP
from app.web.settings import Settings

APP = "app.main:app"
PROTOCOL = "app.web.serve:TimedH11Protocol"


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments of ``uvicorn.run(APP, host=..., port=..., **options)``."""
    return {
        "http": PROTOCOL,
        "workers": settings.workers,
        "limit_concurrency": settings.limit_concurrency,
        "timeout_keep_alive": settings.keep_alive_seconds,
        "h11_max_incomplete_event_size": settings.max_header_bytes,
        "server_header": False,
    }


def command_line(settings: Settings, host: str = "127.0.0.1", port: int = 8000) -> list[str]:
    """The same server as a ``uvicorn`` command (what the README shows)."""
    options = uvicorn_options(settings)
    return ["uvicorn", APP, "--host", host, "--port", str(port), "--http", options["http"],
            "--workers", str(options["workers"]),
            "--limit-concurrency", str(options["limit_concurrency"]),
            "--timeout-keep-alive", str(options["timeout_keep_alive"]),
            "--h11-max-incomplete-event-size", str(options["h11_max_incomplete_event_size"]),
            "--no-server-header"]


@cache
def _header_seconds() -> float:
    """The deadline for a request's head, from the environment (each worker reads it once)."""
    return Settings().header_seconds


def _timeout_answer(seconds: float) -> bytes:
    """The whole 408 answer, as bytes: no request was read, so h11 cannot write it."""
    body = json.dumps({"errors": [{"line": 0, "limit": "header_seconds", "message": (
        f"the request's headers did not arrive within {seconds:g} s (header_seconds)")}]})
    headers = {"Content-Type": "application/json", "Content-Length": str(len(body)),
               "Connection": "close", "Content-Security-Policy": PAGE_CSP, **COMMON_HEADERS}
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return f"HTTP/1.1 408 Request Timeout\r\n{head}\r\n{body}".encode()


class TimedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, with ``header_seconds`` to send each request's head."""

    header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]
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
