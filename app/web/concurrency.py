"""Where engine calls run: on their own threads, a few at a time, never on the event loop.

FastAPI runs a plain ``def`` route in Starlette's shared threadpool (40 threads for every
route, static files and the docs included), so 40 slow analyses would starve them all. Routes
of the API instead ``await run(fn, ...)``:

* at most ``Settings.analysis_threads`` engine calls run at once, held by an
  ``anyio.CapacityLimiter`` of their own; a call past that waits for a free place, and
  ``/static``, ``/openapi.json`` or a health check never wait behind it;
* each call runs on a fresh *daemon* thread. anyio's worker threads (and a
  ``ThreadPoolExecutor``'s) are joined when the interpreter exits, so one runaway call would
  keep a server that got SIGTERM alive for good; a daemon thread does not;
* the place is held until the thread itself finishes, even when the client has gone and the
  request was cancelled, so runaways can never occupy more than ``analysis_threads`` threads;
* a request waits at most ``Settings.analysis_seconds`` for a place, else it answers 503
  with ``Retry-After`` (:class:`Busy`), and at most as long again for its call, else it
  answers 422 naming the limit ``analysis_seconds`` (and the call is logged: it is a bug). No
  request hangs, even behind runaways that hold every place, and a server that got SIGTERM,
  which waits for the requests in flight, stops: a runaway thread is a daemon and dies with
  the process.

``await run.json(Model, fn, ...)`` also turns the result into JSON on that thread (pydantic's
``dump_json``): FastAPI would validate and encode the returned object on the event loop, which
for a 5,000-layer analysis (megabytes of JSON) would hold up every other request. Pages
are rendered the same way: a route hands the thread a function that analyses *and* renders,
and gets back a finished response (Starlette's ``TemplateResponse`` renders as it is made).

A thread alone does not keep the event loop free: the garbage collector stops every thread of
the process while it scans, and a collection of the oldest generation scans every object,
those of a 5,000-row analysis and of its rendering among them. So each call runs
with the cyclic collector paused, as the engine's own walk does
(``app.engine.analyze.cyclic_gc_paused``): what the call builds is freed by reference counting,
never scanned on its way.

The engine bounds its own work (its limits are checked before any work is done); this is the
second line of defence, for the bug nobody has found yet.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from functools import cache, partial
from typing import Any, ParamSpec, TypeVar

import anyio
from pydantic import TypeAdapter
from starlette.responses import Response

from app.engine.analyze import cyclic_gc_paused
from app.engine.errors import LimitError

log = logging.getLogger("archcalc.web")
P = ParamSpec("P")
T = TypeVar("T")


class Busy(Exception):
    """Every analysis place stayed taken for ``analysis_seconds``: answered 503, try again."""


class AnalysisRunner:
    """Runs engine calls on daemon threads, at most ``threads`` at a time, each awaited for at
    most ``seconds``."""

    def __init__(self, threads: int, seconds: float) -> None:
        self.limiter = anyio.CapacityLimiter(threads)
        self.seconds = seconds

    async def __call__(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn(*args, **kwargs)`` on its own daemon thread, once a place is free."""
        token = object()
        with anyio.move_on_after(self.seconds) as waiting:
            await self.limiter.acquire_on_behalf_of(token)
        if waiting.cancelled_caught:
            raise Busy(f"all {self.limiter.total_tokens:g} analysis places stayed busy for "
                       f"{self.seconds:g} s (analysis_threads); try again in a moment")
        loop = asyncio.get_running_loop()
        done: asyncio.Future[T] = loop.create_future()

        def work() -> None:
            settle: Callable[[], None]
            try:
                with cyclic_gc_paused():
                    settle = partial(_set_result, done, fn(*args, **kwargs))
            except BaseException as exc:  # handed to the awaiting route, raised there
                settle = partial(_set_exception, done, exc)
            try:
                loop.call_soon_threadsafe(self._finish, token, settle)
            except RuntimeError:  # the loop has closed: the server is stopping
                pass

        try:
            threading.Thread(target=work, name=f"archcalc-{_name(fn)}", daemon=True).start()
        except BaseException:
            self.limiter.release_on_behalf_of(token)
            raise
        try:
            return await asyncio.wait_for(done, self.seconds)
        except TimeoutError:
            log.error("%s ran past %s s (analysis_seconds); its thread is left to finish",
                      _name(fn), self.seconds)
            raise LimitError("analysis_seconds", (
                f"the analysis took longer than {self.seconds:g} s, the limit "
                "(analysis_seconds); no input should take that long, so this is a bug in "
                "archcalc: please report the spec")) from None

    async def json(self, model: Any, fn: Callable[P, object], /, *args: P.args,
                   **kwargs: P.kwargs) -> Response:
        """``fn(*args, **kwargs)`` as a JSON answer of type ``model`` (the route's
        ``response_model``), computed and encoded on the thread."""
        body = await self(partial(_encoded, _adapter(model), partial(fn, *args, **kwargs)))
        return Response(body, media_type="application/json")

    def _finish(self, token: object, settle: Callable[[], None]) -> None:
        """On the event loop, once the thread is done: free its place, hand over its outcome."""
        self.limiter.release_on_behalf_of(token)
        settle()


@cache
def _adapter(model: Any) -> TypeAdapter[Any]:
    return TypeAdapter(model)


def _encoded(adapter: TypeAdapter[Any], call: Callable[[], object]) -> bytes:
    return adapter.dump_json(call())


def _set_result(done: asyncio.Future[T], value: T) -> None:
    if not done.cancelled():  # the request was cancelled (the client went away)
        done.set_result(value)


def _set_exception(done: asyncio.Future[T], error: BaseException) -> None:
    if not done.cancelled():
        done.set_exception(error)


def _name(fn: Callable[..., object]) -> str:
    """The name of the function a call runs, for its thread and the log."""
    while isinstance(fn, partial):
        fn = fn.args[-1] if fn.func is _encoded else fn.func
    return getattr(fn, "__name__", "call")
