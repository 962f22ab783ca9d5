"""Refuse oversized request bodies before anything parses them (a pure ASGI middleware)."""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.web.schemas import ErrorItem, ErrorResponse

LIMIT_NAME = "max_body_bytes"
#: after refusing a body, read and discard at most this much more of it, so that a client that
#: is still sending finishes and reads the answer instead of finding the connection reset
DRAIN_BYTES = 1024 * 1024


class _TooLarge(Exception):
    """The streamed body passed the limit."""


class BodyLimitMiddleware:
    """Answer 422 naming ``max_body_bytes`` when a request body is larger than ``max_bytes``.

    The declared Content-Length is checked first; then the bytes actually streamed are
    counted (a client may send no length, or a wrong one). A body within the limit is
    buffered (it is small) and replayed to the app unchanged. A refused body is never parsed;
    up to ``DRAIN_BYTES`` more of it is read and dropped before answering.
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
        except _TooLarge:
            await _drain(receive, DRAIN_BYTES)
            await self._refuse(scope, receive, send, f"is more than {self.max_bytes:,} bytes")
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
                raise _TooLarge
            if not message.get("more_body", False):
                return messages

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, size: str) -> None:
        message = (f"the request body {size}; the limit is {self.max_bytes:,} bytes "
                   f"({LIMIT_NAME})")
        body = ErrorResponse(errors=[ErrorItem(line=0, message=message, limit=LIMIT_NAME)])
        response = JSONResponse(body.model_dump(exclude_none=True), status_code=422,
                                headers={"Connection": "close"})
        await response(scope, receive, send)


async def _drain(receive: Receive, budget: int) -> None:
    """Read and drop the rest of a request body, at most ``budget`` bytes of it."""
    while budget > 0:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return
        budget -= len(message.get("body", b""))


def _content_length(scope: Scope) -> int | None:
    """The declared body length, or None when absent or unreadable."""
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A receive that hands out the buffered messages, then defers to the real one."""
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed
