"""Refuse oversized or malformed request bodies before anything parses them (pure ASGI)."""

from __future__ import annotations

from collections.abc import Sequence
from email.message import Message as MimeHeader

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.web.errors import error_body
from app.web.jsonbody import json_body_problems
from app.web.schemas import ErrorItem

LIMIT_NAME = "max_body_bytes"
#: after refusing a body, read and discard at most this much more of it, so that a client that
#: is still sending finishes and reads the answer instead of finding the connection reset
DRAIN_BYTES = 1024 * 1024


class _TooLarge(Exception):
    """The streamed body passed the limit; ``finished`` when its last part has been read."""

    def __init__(self, finished: bool) -> None:
        super().__init__()
        self.finished = finished


class BodyLimitMiddleware:
    """Answer 422 naming ``max_body_bytes`` when a request body is larger than ``max_bytes``.

    The declared Content-Length is checked first; then the bytes actually streamed are
    counted (a client may send no length, or a wrong one). A body within the limit is
    buffered (it is small) and replayed to the app unchanged. A refused body is never parsed;
    up to ``DRAIN_BYTES`` more of it is read and dropped before answering.

    A body the app would read as JSON (declared as JSON) is then checked
    by :func:`app.web.jsonbody.json_body_problems`: bytes that are not UTF-8, nesting too deep,
    non-finite or out-of-range numbers and lone surrogates answer 422 in the one error shape
    here, instead of a 400 or a 500 further on.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            if declared <= DRAIN_BYTES:
                await _drain(receive, DRAIN_BYTES)
            await self._refuse(scope, receive, send, f"is {declared:,} bytes")
            return
        try:
            messages = await self._read_body(receive)
        except _TooLarge as exc:
            if not exc.finished:  # another receive() after the last part waits for a disconnect
                await _drain(receive, DRAIN_BYTES)
            await self._refuse(scope, receive, send, f"is more than {self.max_bytes:,} bytes")
            return
        if _reads_as_json(scope):
            problems = json_body_problems(_body_of(messages))
            if problems:
                await _answer(scope, receive, send, problems)
                return
        await self.app(scope, _replay(messages, receive), send)

    async def _read_body(self, receive: Receive) -> list[Message]:
        """Every body message up to the last one, counting bytes as they come."""
        messages: list[Message] = []
        seen = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                return messages
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise _TooLarge(finished=not message.get("more_body", False))
            if not message.get("more_body", False):
                return messages

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, size: str) -> None:
        message = (f"the request body {size}; the limit is {self.max_bytes:,} bytes "
                   f"({LIMIT_NAME})")
        item = ErrorItem(line=0, message=message, limit=LIMIT_NAME, parameter="body")
        await _answer(scope, receive, send, [item], headers={"Connection": "close"})


async def _answer(scope: Scope, receive: Receive, send: Send, items: Sequence[ErrorItem],
                  headers: dict[str, str] | None = None) -> None:
    """Answer 422 with the error list."""
    response = JSONResponse(error_body(items), status_code=422, headers=headers)
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
