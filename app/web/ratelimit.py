"""A per-client rate limit: token buckets in memory, keyed by the client's address (pure ASGI).

Two buckets a client address:

* every request draws from a generous one (``rate_per_second`` on average, ``rate_burst`` at
  once): a lecture hall of 200 students behind one NAT address typing into the calculator stays
  well inside 50 requests a second with a burst of 200;
* starting a real run (``POST /api/runs``, ``POST /runs``: a job on the GPU worker) also draws
  from a strict one (``runs_per_minute``, ``runs_burst``), but only when it makes a new job:
  the middleware leaves a :class:`RunQuota` in the request's state (:data:`RUN_QUOTA`) and the
  run routes draw from it just before queueing, so an answer from the stored result of the same
  question, or the job already answering it, costs nothing;
* starting a live session (``POST /live``, ``POST /api/live``) draws from one of its own
  (``live_per_hour``, ``live_burst``).

An empty bucket answers 429 in the one error shape with ``Retry-After`` (whole seconds until a
token is back) and ``limit`` naming the setting. The buckets live in the server process: with
``--workers N`` each process keeps its own, so a client may get up to N times the rate. The
address is the socket's peer, or behind a proxy named in ``trusted_proxies`` the one it forwards
(``app.web.serve``): no header a client writes itself changes it. At most ``rate_clients`` addresses are
remembered; the least recently seen is forgotten first (it comes back with a full bucket).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import anyio
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from app.web.schemas import ErrorItem
from app.web.settings import Settings

#: the routes that start a real run on the worker, by method and path
RUN_ROUTES = frozenset({("POST", "/api/runs"), ("POST", "/runs")})
#: the request-state key of the :class:`RunQuota` a run route draws from
RUN_QUOTA = "archcalc_run_quota"
#: the routes that start a live session (each holds a row in the store for hours)
LIVE_ROUTES = frozenset({("POST", "/api/live"), ("POST", "/live")})
#: the most body a refused request is read for (so the client reads the 429, not a reset)
_DRAIN_BYTES = 64 * 1024
_DRAIN_SECONDS = 1.0


@dataclass(slots=True)
class Bucket:
    """``tokens`` of at most ``burst``, refilled at ``rate`` a second since ``stamp``."""

    rate: float
    burst: int
    tokens: float
    stamp: float

    def take(self, now: float) -> float:
        """Take a token: 0.0 when there was one, else the seconds until there is."""
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


class Buckets:
    """One bucket per key, the least recently used forgotten past ``capacity``."""

    def __init__(self, rate: float, burst: int, capacity: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self.capacity, self.clock = rate, burst, capacity, clock
        self._buckets: OrderedDict[str, Bucket] = OrderedDict()
        # the run routes draw from their thread pool, beside the event loop's draws
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """A token for ``key``: 0.0, or the seconds to wait for one."""
        with self._lock:
            return self._take(key)

    def _take(self, key: str) -> float:
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = Bucket(self.rate, self.burst, float(self.burst), now)
            self._buckets[key] = bucket
            if len(self._buckets) > self.capacity:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
        return bucket.take(now)



class QuotaExceeded(Exception):
    """A client's run quota is used up: ``item`` in the error shape, ``retry`` seconds."""

    def __init__(self, item: ErrorItem, retry: int) -> None:
        super().__init__(item.message)
        self.item, self.retry = item, retry


def refusal(settings: Settings, limit: str, wait: float) -> tuple[ErrorItem, int]:
    """The 429's error item and Retry-After for a bucket that is empty for ``wait`` s."""
    if limit == "runs_per_minute":
        what = f"{settings.runs_per_minute:g} real runs a minute (burst {settings.runs_burst})"
    elif limit == "live_per_hour":
        what = f"{settings.live_per_hour:g} live sessions an hour (burst {settings.live_burst})"
    else:
        what = f"{settings.rate_per_second:g} requests a second (burst {settings.rate_burst})"
    retry = max(1, math.ceil(wait))
    return ErrorItem(line=0, limit=limit, message=(
        f"too many requests from your address: the limit is {what} ({limit}); "
        f"try again in {retry} s")), retry


@dataclass(slots=True)
class RunQuota:
    """One client's run bucket, drawn from by a run route when it is about to make a job."""

    buckets: Buckets
    key: str
    settings: Settings

    def take(self) -> None:
        """A token, or QuotaExceeded."""
        wait = self.buckets.take(self.key)
        if wait:
            raise QuotaExceeded(*refusal(self.settings, "runs_per_minute", wait))


class RateLimitMiddleware:
    """Answer 429 with ``Retry-After`` when a client address has used up its bucket."""

    def __init__(self, app: ASGIApp, settings: Settings,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.app = app
        self.requests = Buckets(settings.rate_per_second, settings.rate_burst,
                                settings.rate_clients, clock)
        self.runs = Buckets(settings.runs_per_minute / 60, settings.runs_burst,
                            settings.rate_clients, clock)
        self.live = Buckets(settings.live_per_hour / 3600, settings.live_burst,
                            settings.rate_clients, clock)
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        key = client[0] if client else "unknown"
        wait = self.requests.take(key)
        limit = "rate_per_second"
        route = (scope["method"], scope["path"].rstrip("/") or "/")
        if not wait and route in LIVE_ROUTES:
            wait, limit = self.live.take(key), "live_per_hour"
        if not wait:
            if route in RUN_ROUTES:
                scope.setdefault("state", {})[RUN_QUOTA] = RunQuota(self.runs, key,
                                                                    self.settings)
            await self.app(scope, receive, send)
            return
        await _drain(receive)
        await self._refuse(scope, receive, send, limit, wait)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, limit: str,
                      wait: float) -> None:
        from app.web.errors import error_response  # errors imports the settings' users

        item, retry = refusal(self.settings, limit, wait)
        response = error_response(Request(scope, receive), 429, [item])
        response.headers["Retry-After"] = str(retry)
        await response(scope, receive, send)


async def _drain(receive: Receive) -> None:
    """Read what a refused request sends, a little and briefly, so the answer is read."""
    budget = _DRAIN_BYTES
    with anyio.move_on_after(_DRAIN_SECONDS):
        while budget > 0:
            message = await receive()
            if message["type"] != "http.request" or not message.get("more_body", False):
                return
            budget -= len(message.get("body", b""))
