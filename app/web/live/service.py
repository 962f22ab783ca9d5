"""The live sessions of one web process: its store, its hub, and what it renders for them.

A change is rendered once, by the process that received it, and the same markup goes to every
follower; a follower that connects later gets the process's rendering of the current version
(made once per version, then reused), so a hall that joins at once costs one analysis.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import OrderedDict
from dataclasses import dataclass
from html import escape
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import FastAPI, Request
from pydantic import ValidationError

from app import engine
from app.engine import SpecError
from app.engine.errors import LimitError
from app.engine.result import Analysis
from app.web.concurrency import AnalysisRunner
from app.web.errors import printable, spec_error_items
from app.web.live.hub import Hub, RedisHub
from app.web.live.rooms import Histogram, Room, histogram
from app.web.live.store import RedisStore, SqliteStore, Store
from app.web.schemas import AnalyzeQuery
from app.web.settings import Settings
from app.web.templating import calc_context, get_templates

#: the calculator's fields a room follows (the rest of a URL, such as projector=1, is the
#: instructor's own view)
FOLLOWED = ("spec", "dtype", "batch", "optimizer", "aux", "flops", "allops", "reveal", "step",
            "open")
_RENDERED = 64  # versions of rooms' results kept rendered per process


def followed_query(query: str, limit: int) -> str:
    """The part of a calculator query string that the class follows, at most ``limit`` bytes."""
    pairs = [(k, v) for k, v in parse_qsl(query[: limit * 4], keep_blank_values=True)
             if k in FOLLOWED]
    return urlencode(pairs)[: limit * 4]


@dataclass(frozen=True, slots=True)
class Rendered:
    version: int
    query: str
    html: str  # the result partial, or "" when the spec has problems
    problems: str  # the problem list's markup ("" when none)
    errors: tuple[dict[str, Any], ...]
    analysis: Analysis | None


def redis_url(settings: Settings) -> str | None:
    """The Redis that shares sessions: the setting, else the job queue's broker if it is Redis."""
    url = settings.live_redis_url or os.environ.get("ARCHCALC_BROKER_URL", "")
    return url if url.startswith(("redis://", "rediss://", "unix://")) else None


class Live:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        url = redis_url(settings)
        bounds = (settings.live_rooms_max, settings.live_answers_max,
                  settings.live_idle_seconds)
        self.store: Store
        self.hub: Hub
        if url:
            import redis.asyncio as aioredis  # the worker extra brings it

            client = aioredis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
            self.store = RedisStore(client, *bounds)
            self.hub = RedisHub(aioredis.Redis.from_url(url, socket_connect_timeout=5))
        else:
            self.store = SqliteStore(settings.data_dir, *bounds)
            self.hub = Hub()
        self.rendered: OrderedDict[str, Rendered] = OrderedDict()
        self.started = False
        self.soon: set[str] = set()

    async def start(self) -> None:
        if not self.started:
            self.started = True
            await self.hub.start()

    async def close(self) -> None:
        await self.hub.stop()
        await self.store.close()

    # -- rendering ---------------------------------------------------------------------------
    async def render(self, request: Request, room: Room, run: AnalysisRunner) -> Rendered:
        cached = self.rendered.get(room.code)
        if cached is not None and cached.version == room.version:
            return cached
        # the analysis and the markup both off the event loop, under the analyses' bound
        rendered = await run(_render, request, room)
        self.rendered[room.code] = rendered
        self.rendered.move_to_end(room.code)
        while len(self.rendered) > _RENDERED:
            self.rendered.popitem(last=False)
        return rendered

    def state_event(self, rendered: Rendered) -> str:
        """One event carries the result and the problems, so a follower never shows one
        version's problems over another's table."""
        return (f'<div id="live-problems" class="live-problems">{rendered.problems}</div>'
                f'<div id="live-result" class="live-result'
                f'{" stale" if rendered.problems else ""}" data-query="{escape(rendered.query)}">'
                f'{rendered.html}</div>')

    # -- answers -----------------------------------------------------------------------------
    async def histogram(self, room: Room, reveal: Analysis | None = None) -> Histogram:
        q = room.question
        if q is None:
            return Histogram()
        answers = list((await self.store.answers(room.code, q.id)).values())
        row = reveal.layers[q.row] if reveal is not None else None
        return histogram(q.field, answers, row)

    def histogram_soon(self, request: Request, code: str) -> None:
        """Send the instructor the answers at most a few times a second, however fast they
        arrive: one rendering per burst, not one per answer."""
        if code in self.soon:
            return
        self.soon.add(code)

        async def later() -> None:
            try:
                await asyncio.sleep(0.2)
                self.soon.discard(code)
                room = await self.store.get(code)
                if room is not None and room.question is not None:
                    hist = await self.histogram(room)
                    html = get_templates(request).get_template(
                        "partials/_live_histogram.html").render(
                        {"room": room, "hist": hist, "verdicts": False})
                    await self.hub.publish(code, "answers", html)
            finally:
                self.soon.discard(code)

        asyncio.get_running_loop().create_task(later())


def _render(request: Request, room: Room) -> Rendered:
    """The calculator's result for the room's state, as the calculator would show it."""
    # rendered as a whole page's result (working inline, the diagram drawn): followers have
    # only what they are sent, whatever kind of request made the change
    scope = {**request.scope, "query_string": room.query.encode(), "path": "/", "headers": []}
    as_calc = Request(scope, request.receive)
    errors: list[dict[str, Any]] = []
    analysis: Analysis | None = None
    try:
        fields = dict(parse_qsl(room.query, keep_blank_values=True))
        raw = {k: v for k, v in fields.items() if k in AnalyzeQuery.model_fields}
        raw["aux"] = "true" if fields.get("aux", "").lower() in {"true", "on", "1"} else "false"
        query = AnalyzeQuery.model_validate(raw)
        analysis = engine.analyze(query.spec, query.options())
    except SpecError as exc:
        errors = [i.model_dump(exclude_none=True) for i in spec_error_items(exc)]
    except LimitError as exc:
        errors = [{"line": 0, "message": str(exc)}]
    except ValidationError as exc:
        errors = [{"line": 0, "message": printable(f"{'.'.join(map(str, e['loc']))}: {e['msg']}")}
                  for e in exc.errors()]
    templates = get_templates(request)
    context = calc_context(as_calc, analysis, errors) | {"request": as_calc, "hx": False}
    html = templates.get_template("partials/_result.html").render(context) if analysis else ""
    problems = (templates.get_template("partials/_problems.html").render(context)
                if errors else "")
    return Rendered(room.version, room.query, html, problems, tuple(errors), analysis)


def get_live(app: FastAPI) -> Live:
    live: Live | None = getattr(app.state, "live", None)
    if live is None:
        live = Live(app.state.settings)
        app.state.live = live
    return live


def now() -> float:
    return time.time()
