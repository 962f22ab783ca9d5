"""Refuse oversized, slow or malformed request bodies before anything parses them (pure ASGI)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from email.message import Message as MimeHeader
from typing import Any

import anyio
from fastapi import FastAPI
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.web.errors import error_body
from app.web.jsonbody import json_body_problems
from app.web.schemas import ErrorItem

LIMIT_NAME = "max_body_bytes"
#: the limit named by a 408 for a body that did not arrive in time
BODY_SECONDS = "body_seconds"
#: defaults of the settings of the same names (``app.web.settings``)
DRAIN_BYTES = 16 * 1024 * 1024
DRAIN_SECONDS = 10.0
BODY_SECONDS_DEFAULT = 10.0


class _TooLarge(Exception):
    """The streamed body passed the limit; ``finished`` when its last part has been read."""

    def __init__(self, finished: bool) -> None:
        super().__init__()
        self.finished = finished


class BodyLimitMiddleware:
    """Answer 413 naming ``max_body_bytes`` when a request body is larger than ``max_bytes``,
    and 408 naming ``body_seconds`` when it does not arrive within ``body_seconds``.

    The declared Content-Length is checked first; then the bytes actually streamed are
    counted (a client may send no length, or a wrong one). A body within the limit is
    buffered (it is small) and replayed to the app unchanged. A refused body is never parsed.

    Before a 413, up to ``drain_bytes`` more of the body is read and dropped, for at most
    ``drain_seconds``: a client that sends its whole body before reading (Python's urllib,
    ``curl --data``) then reads the answer instead of finding the connection reset. A body
    declared larger than ``drain_bytes``, or one sent with ``Expect: 100-continue`` (the
    client waits to be told), is answered at once. Every refusal closes the connection.

    A body the app would read as JSON (declared as JSON) is then checked
    by :func:`app.web.jsonbody.json_body_problems`: bytes that are not UTF-8, nesting too deep,
    non-finite or out-of-range numbers and lone surrogates answer 422 in the one error shape
    here, instead of a 400 or a 500 further on.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, body_seconds: float = BODY_SECONDS_DEFAULT,
                 drain_bytes: int = DRAIN_BYTES, drain_seconds: float = DRAIN_SECONDS,
                 overrides: Mapping[str, tuple[int, str]] | None = None,
                 hints: Mapping[str, str] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        #: path -> (limit, its setting's name) for routes that take larger bodies (ONNX uploads)
        self.overrides = dict(overrides or {})
        #: path -> what a 413 there adds: how to send less (an ONNX graph without its weights)
        self.hints = dict(hints or {})
        self.body_seconds = body_seconds
        self.drain_bytes = drain_bytes
        self.drain_seconds = drain_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, name = self.overrides.get(scope.get("path", ""), (self.max_bytes, LIMIT_NAME))
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            if declared <= self.drain_bytes and not _expects_continue(scope):
                await self._drain(receive)
            await self._refuse(scope, receive, send, f"is {declared:,} bytes", limit, name)
            return
        messages: list[Message] | None = None
        try:
            with anyio.move_on_after(self.body_seconds):
                messages = await self._read_body(receive, limit)
        except _TooLarge as exc:
            if not exc.finished:  # another receive() after the last part waits for a disconnect
                await self._drain(receive)
            await self._refuse(scope, receive, send, f"is more than {limit:,} bytes", limit, name)
            return
        if messages is None:
            await self._too_slow(scope, receive, send)
            return
        if _reads_as_json(scope):
            problems = json_body_problems(_body_of(messages))
            if problems:
                await _answer(scope, receive, send, problems)
                return
        await self.app(scope, _replay(messages, receive), send)

    async def _read_body(self, receive: Receive, limit: int) -> list[Message]:
        """Every body message up to the last one, counting bytes as they come."""
        messages: list[Message] = []
        seen = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                return messages
            seen += len(message.get("body", b""))
            if seen > limit:
                raise _TooLarge(finished=not message.get("more_body", False))
            if not message.get("more_body", False):
                return messages

    async def _drain(self, receive: Receive) -> None:
        """Read and drop the rest of a body: at most ``drain_bytes``, ``drain_seconds``."""
        with anyio.move_on_after(self.drain_seconds):
            await _drain(receive, self.drain_bytes)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, size: str, limit: int,
                      name: str) -> None:
        message = f"the request body {size}; the limit is {limit:,} bytes ({name})"
        hint = self.hints.get(scope.get("path", ""))
        if hint:
            message += f"; {hint}"
        item = ErrorItem(line=0, message=message, limit=name, parameter="body")
        await _answer(scope, receive, send, [item], status=413, headers=CLOSE)

    async def _too_slow(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = (f"the request body did not arrive within {self.body_seconds:g} s "
                   f"({BODY_SECONDS}); send it at once, or send less")
        item = ErrorItem(line=0, message=message, limit=BODY_SECONDS, parameter="body")
        await _answer(scope, receive, send, [item], status=408, headers=CLOSE)


#: every refusal of a body ends the connection: what is left of the body is never read
CLOSE = {"Connection": "close"}


async def _answer(scope: Scope, receive: Receive, send: Send, items: Sequence[ErrorItem],
                  status: int = 422, headers: dict[str, str] | None = None) -> None:
    """Answer ``status`` (422 unless told) with the error list."""
    response = JSONResponse(error_body(items), status_code=status, headers=headers)
    await response(scope, receive, send)


async def _drain(receive: Receive, budget: int) -> None:
    """Read and drop the rest of a request body, at most ``budget`` bytes of it."""
    while budget > 0:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return
        budget -= len(message.get("body", b""))


def _header(scope: Scope, wanted: bytes) -> bytes | None:
    for name, value in scope.get("headers", []):
        if name == wanted:
            return bytes(value)
    return None


def _expects_continue(scope: Scope) -> bool:
    """Whether the client waits for ``100 Continue`` before it sends its body."""
    value = _header(scope, b"expect")
    return value is not None and value.strip().lower() == b"100-continue"


def _reads_as_json(scope: Scope) -> bool:
    """Whether FastAPI would parse this body as JSON: declared ``application/json`` or
    ``application/*+json`` (a body declared as nothing is not: FastAPI's content types are
    strict)."""
    declared = _header(scope, b"content-type")
    if declared is None:
        return False
    header = MimeHeader()
    header["content-type"] = declared.decode("latin-1")
    subtype = header.get_content_subtype()
    return header.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json"))


def _body_of(messages: list[Message]) -> bytes:
    return b"".join(m.get("body", b"") for m in messages if m["type"] == "http.request")


def _content_length(scope: Scope) -> int | None:
    """The declared body length, or None when absent or unreadable."""
    value = _header(scope, b"content-length")
    try:
        return None if value is None else int(value)
    except ValueError:
        return None


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A receive that hands out the buffered messages, then defers to the real one."""
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed


class HeadAsGetMiddleware:
    """Answer ``HEAD`` as the ``GET`` of the same URL would be answered, without its body.

    FastAPI's routes answer only the methods they name, so every page and every GET of the API
    answered ``HEAD`` with 405. HTTP has every GET resource answer HEAD with the GET's status
    and headers (``Content-Length`` included); the routes run as for a GET (and the answer
    cache serves the GET's answer). The answer ends as soon as its headers are sent, and the
    route is then told the client has gone, so that a stream (the live sessions' server-sent
    events) stops instead of running for nobody.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        headers_sent = anyio.Event()

        async def head_only(message: Message) -> None:
            if message["type"] == "http.response.start" and not headers_sent.is_set():
                await send(message)
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                headers_sent.set()
            elif message["type"] != "http.response.body":
                await send(message)

        async def until_answered() -> Message:
            if headers_sent.is_set():
                return {"type": "http.disconnect"}
            return await receive()

        await self.app({**scope, "method": "GET"}, until_answered, head_only)


#: the answers any operation may get from the transport limits and the rate limit
TRANSPORT_RESPONSES = {
    "408": "the request body or head did not arrive in time (body_seconds, header_seconds)",
    "429": "too many requests from this address (rate_per_second, runs_per_minute); "
           "try again after Retry-After",
}
BODY_RESPONSES = {"413": "the request body is larger than max_body_bytes"}
_ERROR_REF = {"$ref": "#/components/schemas/ErrorResponse"}


def document_transport(schema: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI description with the answers the middleware gives: 408 and 429 on every
    operation, 413 on those that take a body, and every 4xx/5xx documented as the error shape
    in JSON (a route whose success is text still answers its errors in JSON)."""
    for methods in schema.get("paths", {}).values():
        for operation in methods.values():
            responses = operation.setdefault("responses", {})
            extra = TRANSPORT_RESPONSES | (BODY_RESPONSES if "requestBody" in operation else {})
            for status, description in extra.items():
                responses.setdefault(status, {"description": description})
            for status, response in responses.items():
                if status[0] in "45":
                    response["content"] = {"application/json": {"schema": _ERROR_REF}}
    return schema


def install_openapi_docs(app: FastAPI) -> None:
    """Make ``app.openapi()`` (and /openapi.json) document the transport answers."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_transport(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
