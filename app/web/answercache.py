"""Finished answers kept per process, so that a lecture hall's repeats cost a lookup.

Two hundred students open the same model page, type the same listing line by line and POST
the same spec. Every answer of the calculator's routes is a pure function of the request (the
engine's results are frozen values, the templates read nothing but their context), so the
finished body of an answer, JSON bytes or rendered HTML, can be sent again as it is.

:class:`CachedRoute` is the routers' ``route_class``: it wraps each route's handler, after the
middleware (the body limit, the rate limit and the security headers still see every request)
and before FastAPI parses the body, so a repeat skips validation, the engine walk and the
rendering alike. The key is a BLAKE2b digest of everything the answer can depend on: the
method, scheme, host, path and raw query string, the body bytes, and the request headers the
routes read (:data:`KEY_HEADERS`: ``Accept`` for the export formats, ``HX-Request`` and
``HX-History-Restore-Request`` for the fragment or the page, ``Content-Type`` for the body).
Nothing is normalised: two spellings of one question are two entries, never one answer for two
questions.

Only ``200`` answers with a body are kept. Errors are not: the 422 for a spec's mistakes is
cheap (limits are checked before any work, a parse error stops the walk), some error answers
are not facts about the input (503 when every analysis place is busy, the 422 naming
``analysis_seconds``), and a stream of hostile inputs must not push the lecture's answers out.

Requests for the same answer that arrive while it is being made (a hall clicking the same new
page at once) wait for it instead of making it again: one engine call per process, not two
hundred queued behind the analysis places (:meth:`AnswerCache.flight`). If the first one fails
or goes away, each of the others makes its own answer.

The cache is an LRU bounded by ``answer_cache_entries`` and ``answer_cache_bytes`` (settings;
0 turns it off), guarded by a lock. A repeat is the stored status, headers and body; only its
``Server-Timing`` says ``cache;desc=hit`` instead of the first answer's timings. A ``GET``
answer carries an ``ETag`` (a digest of its body), cached or not, and ``If-None-Match`` with
that tag answers ``304`` without a body.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.routing import APIRoute
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

#: the request headers an answer may depend on: every header the cached routes read
KEY_HEADERS = ("host", "accept", "content-type", "hx-request", "hx-history-restore-request")
#: what an entry costs beyond its body and headers (the key, the objects), counted in its size
ENTRY_OVERHEAD = 256
Handler = Callable[[Request], Coroutine[Any, Any, Response]]


@dataclass(frozen=True, slots=True)
class Answer:
    """A finished answer: status, raw headers and body, and for test clients (Starlette's
    ``http.response.debug``) the template and context it was rendered from."""

    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes
    debug: dict[str, Any] | None = None

    @property
    def size(self) -> int:
        """Bytes counted against ``answer_cache_bytes``."""
        return len(self.body) + sum(len(k) + len(v) for k, v in self.headers) + ENTRY_OVERHEAD


@dataclass(frozen=True, slots=True)
class CacheStats:
    """How the cache has done since it was made."""

    hits: int
    misses: int
    #: misses that waited for the same answer being made by another request
    joined: int
    stored: int
    evicted: int
    entries: int
    bytes: int


class AnswerCache:
    """A thread-safe LRU of answers by key, at most ``entries`` of them and ``max_bytes`` in
    all; an answer larger than ``max_bytes`` alone is not kept."""

    def __init__(self, entries: int, max_bytes: int) -> None:
        self.max_entries = entries
        self.max_bytes = max_bytes
        self._answers: OrderedDict[bytes, Answer] = OrderedDict()
        self._lock = threading.Lock()
        self._bytes = self._hits = self._misses = self._stored = self._evicted = 0
        self._joined = 0
        #: answers being made, by key, each with the event loop its future belongs to
        self._flights: dict[bytes, tuple[asyncio.AbstractEventLoop,
                                         asyncio.Future[Answer | None]]] = {}

    def get(self, key: bytes) -> Answer | None:
        """The answer kept under ``key`` (now the most recently used), or None."""
        with self._lock:
            answer = self._answers.get(key)
            if answer is None:
                self._misses += 1
                return None
            self._answers.move_to_end(key)
            self._hits += 1
            return answer

    def put(self, key: bytes, answer: Answer) -> bool:
        """Keep ``answer``, dropping the least recently used past the bounds; whether kept."""
        size = answer.size
        if size > self.max_bytes or self.max_entries < 1:
            return False
        with self._lock:
            old = self._answers.pop(key, None)
            if old is not None:
                self._bytes -= old.size
            self._answers[key] = answer
            self._bytes += size
            self._stored += 1
            while len(self._answers) > self.max_entries or self._bytes > self.max_bytes:
                _, dropped = self._answers.popitem(last=False)
                self._bytes -= dropped.size
                self._evicted += 1
            return True

    def stats(self) -> CacheStats:
        with self._lock:
            return CacheStats(self._hits, self._misses, self._joined, self._stored,
                              self._evicted, len(self._answers), self._bytes)

    def flight(self, key: bytes) -> tuple[bool, asyncio.Future[Answer | None]]:
        """(whether this request makes the answer, the future that will hold it). The maker
        must :meth:`land` it; the others await it (None: make your own)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            held = self._flights.get(key)
            if held is not None and held[0] is loop:
                self._joined += 1
                return False, held[1]
            future: asyncio.Future[Answer | None] = loop.create_future()
            self._flights[key] = (loop, future)
            return True, future

    def land(self, key: bytes, future: asyncio.Future[Answer | None],
             answer: Answer | None) -> None:
        """End the flight: hand ``answer`` (None: none kept) to those waiting for it."""
        with self._lock:
            if self._flights.get(key, (None, None))[1] is future:
                del self._flights[key]
        if not future.done():
            future.set_result(answer)

    def clear(self) -> None:
        with self._lock:
            self._answers.clear()
            self._bytes = 0


def make_cache(entries: int, max_bytes: int) -> AnswerCache | None:
    """The app's cache, or None when either bound is 0 (turned off)."""
    return AnswerCache(entries, max_bytes) if entries > 0 and max_bytes > 0 else None


def request_key(request: Request, body: bytes) -> bytes:
    """The digest of everything an answer of the cached routes depends on."""
    scope = request.scope
    digest = hashlib.blake2b(digest_size=32)
    parts = [scope["method"].encode(), scope.get("scheme", "http").encode(),
             scope.get("root_path", "").encode(), scope["path"].encode("utf-8", "surrogateescape"),
             scope.get("query_string", b"")]
    headers = request.headers
    parts += [headers.get(name, "\0").encode("utf-8", "surrogateescape") for name in KEY_HEADERS]
    for part in (*parts, body):
        digest.update(len(part).to_bytes(8, "big"))  # lengths first: no two splits collide
        digest.update(part)
    return digest.digest()


def etag_of(body: bytes) -> str:
    """A strong entity tag for a body."""
    return f'"{hashlib.blake2b(body, digest_size=16).hexdigest()}"'


def _keepable(response: Response) -> bool:
    if response.status_code != 200 or not isinstance(getattr(response, "body", None), bytes):
        return False  # errors, streams and files are never kept
    if response.background is not None or "set-cookie" in response.headers:
        return False
    return "no-store" not in response.headers.get("cache-control", "")


def _tagged(request: Request, response: Response) -> Response:
    """A GET's 200 answer with its ETag."""
    if request.method == "GET" and _keepable(response) and "etag" not in response.headers:
        response.headers["ETag"] = etag_of(bytes(response.body))
    return response


def snapshot(response: Response, debug_wanted: bool = True) -> Answer:
    """What is kept of a finished response: its bytes, and the template and context it was
    rendered from only for a test client (``debug_wanted``). A server never keeps a context:
    the objects of an analysis, thousands of them, would stay alive in the cache, and every
    full collection of the garbage collector would scan them all."""
    template = getattr(response, "template", None)
    context = getattr(response, "context", None)
    debug = ({"template": template, "context": context}
             if template is not None and debug_wanted else None)
    return Answer(response.status_code, tuple(response.raw_headers), bytes(response.body), debug)


class Replay(Response):
    """A kept answer sent again: its status, headers (``Server-Timing`` saying it was a hit)
    and body, and to a test client the template and context, with the new request."""

    def __init__(self, answer: Answer, request: Request, lookup_ms: float,
                 how: str = "hit") -> None:
        self.status_code = answer.status
        self.body = answer.body
        self.background = None
        timing = f"cache;desc={how};dur={lookup_ms:.2f}".encode()
        self.raw_headers = [(k, v) for k, v in answer.headers if k != b"server-timing"]
        self.raw_headers.append((b"server-timing", timing))
        self.debug = answer.debug
        if self.debug is not None:
            self.debug = {**self.debug, "context": {**self.debug["context"], "request": request}}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.debug is not None and "http.response.debug" in scope.get("extensions", {}):
            await send({"type": "http.response.debug", "info": self.debug})
        await super().__call__(scope, receive, send)


def not_modified(request: Request, response: Response) -> Response:
    """304 when the request's ``If-None-Match`` names the answer's ETag, else the answer."""
    tag = response.headers.get("etag")
    wanted = request.headers.get("if-none-match")
    if request.method != "GET" or tag is None or wanted is None:
        return response
    tags = {t.strip().removeprefix("W/") for t in wanted.split(",")}
    if tag not in tags and "*" not in tags:
        return response
    headers = {"ETag": tag} | ({"Vary": response.headers["vary"]}
                                if "vary" in response.headers else {})
    return Response(status_code=304, headers=headers)


def answer_cache(request: Request) -> AnswerCache | None:
    cache: AnswerCache | None = getattr(request.app.state, "answer_cache", None)
    return cache


class CachedRoute(APIRoute):
    """A route whose 200 answers are kept in the app's :class:`AnswerCache` and sent again
    to the same request; GET answers get an ETag and honour ``If-None-Match``."""

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            cache = answer_cache(request)
            if cache is None:
                return not_modified(request, _tagged(request, await handler(request)))
            started = time.perf_counter()
            key = request_key(request, await request.body())
            kept = cache.get(key)
            if kept is not None:
                lookup_ms = (time.perf_counter() - started) * 1000
                return not_modified(request, Replay(kept, request, lookup_ms))
            maker, future = cache.flight(key)
            if not maker:
                kept = await asyncio.shield(future)
                if kept is not None:
                    waited_ms = (time.perf_counter() - started) * 1000
                    return not_modified(request, Replay(kept, request, waited_ms, "joined"))
                return not_modified(request, _tagged(request, await handler(request)))
            made: Answer | None = None
            try:
                response = _tagged(request, await handler(request))
                if _keepable(response):
                    made = snapshot(response, "http.response.debug"
                                    in request.scope.get("extensions", {}))
                    cache.put(key, made)
            finally:  # an error or a cancelled request: the others make their own
                cache.land(key, future, made)
            return not_modified(request, response)

        return answer
