"""Security headers on every response: pages, API, errors and static files alike.

A pure ASGI middleware (it sees the 404s, the 422s and the static files, which a route-level
hook would miss). The pages run under a strict policy: every script and style sheet comes from
our own origin, no inline script, no ``style=`` attribute, no framing. ``/docs`` (Swagger UI,
served from ``static/swagger/``) has its own policy, since Swagger UI's React code writes
inline styles.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: the pages' policy: nothing inline, nothing from elsewhere, never in a frame
PAGE_CSP = ("default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
            "form-action 'self'; frame-ancestors 'none'")

#: Swagger UI's policy: still only our origin, but it sets inline styles on its elements
DOCS_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
            "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")

COMMON_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def policy_for(path: str) -> str:
    """The Content-Security-Policy of the response to ``path``."""
    return DOCS_CSP if path == "/docs" or path.startswith("/docs/") else PAGE_CSP


class SecurityHeadersMiddleware:
    """Add the CSP, ``nosniff`` and the referrer policy to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = policy_for(scope.get("path", ""))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Content-Security-Policy"] = policy
                for name, value in COMMON_HEADERS.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
