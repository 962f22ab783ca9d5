"""Short links: ``POST /s`` stores the calculator's state (its form, as the calculator's URL
would carry it) and answers with ``/s/<id>``; ``GET /s/<id>`` shows the calculator with exactly
that spec and those options. The store is ``app.web.shortlinks`` (SQLite, in the private
``data_dir``).

Making a *new* link draws from a per-client bucket (``shortlinks_per_hour``, ``shortlinks_burst``;
an IPv6 client is counted by its /64, which one host usually holds whole); asking again for a link
that exists draws nothing. An empty bucket is a 429 with ``Retry-After``; a store that cannot be
opened is a 503 that says so (the reason, which names server paths, goes to the log only).

Without JavaScript the calculator's "short link" button POSTs the form and follows the 303 to
the link's page; with htmx the button posts in place and the link appears beside it.
"""

from __future__ import annotations

import ipaddress
import logging
import math
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.exceptions import HTTPException

from app import engine
from app.engine import SpecError
from app.web.deps import RunnerDep, SettingsDep
from app.web.errors import spec_error_items
from app.web.ratelimit import Buckets
from app.web.schemas import AnalyzeQuery
from app.web.settings import Settings
from app.web.shortlinks import ShortLinkError, ShortLinkStore, StoreUnavailable, link_id
from app.web.templating import (
    DEFAULT_FORM,
    SWITCHES,
    calc_context,
    get_templates,
    is_htmx,
    render,
)

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)
log = logging.getLogger(__name__)
UNAVAILABLE = ("short links are unavailable: the server cannot open its short-link store (its "
               "log says why); the calculator's own URL still carries the whole spec")
BUSY = "the short-link store is busy; try again in a moment"


def store_for(settings: Settings) -> ShortLinkStore:
    return ShortLinkStore(settings.data_dir, settings.shortlinks_max,
                          settings.shortlinks_max_bytes)


def client_key(host: str | None) -> str:
    """Whom a quota counts: the client's address, an IPv6 one by its /64 network."""
    try:
        address = ipaddress.ip_address(host or "")
    except ValueError:
        return host or "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def _quota(request: Request, settings: Settings) -> Buckets:
    """This app's creation buckets (made on first use; the event loop's thread only)."""
    buckets: Buckets | None = getattr(request.app.state, "shortlink_quota", None)
    if buckets is None:
        buckets = Buckets(settings.shortlinks_per_hour / 3600, settings.shortlinks_burst,
                          settings.rate_clients)
        request.app.state.shortlink_quota = buckets
    return buckets


def _state(fields: dict[str, str]) -> dict[str, Any]:
    """The calculator's state from its form: the spec and every option, switches as booleans."""
    state: dict[str, Any] = {k: fields.get(k, str(v)) for k, v in DEFAULT_FORM.items()
                             if k not in SWITCHES}
    state.update({k: fields.get(k, "").lower() in {"true", "on", "1", "yes"} for k in SWITCHES})
    state["spec"] = fields.get("spec", "")
    return state


def _query_string(state: dict[str, Any]) -> str:
    """The calculator's URL query for a state (what the long link would be)."""
    params = {k: str(v) for k, v in state.items() if k not in SWITCHES}
    params |= {k: "true" for k in SWITCHES if state.get(k)}
    return urlencode(params)


def _problem(request: Request, status: int, message: str, limit: str | None,
             retry: int | None = None) -> Response:
    """The problem beside the button (htmx), or the error page (a plain form post)."""
    headers = {"Retry-After": str(retry)} if retry else None
    if not is_htmx(request):
        item = {"line": 0, "message": message} | ({"limit": limit} if limit else {})
        return get_templates(request).TemplateResponse(
            request, "error.html", {"errors": [item], "status": status,
                                    "path": request.url.path}, status_code=status,
            headers=headers)
    context = {"short_id": None, "short_error": message, "short_limit": limit}
    return get_templates(request).TemplateResponse(request, "partials/_shortlink.html", context,
                                                   status_code=status, headers=headers)


def _unavailable(request: Request, exc: StoreUnavailable) -> Response:
    log.error("short-link store: %s", exc)
    return _problem(request, 503, BUSY if exc.busy else UNAVAILABLE, None,
                    1 if exc.busy else 60)


def _over_quota(request: Request, settings: Settings, wait: float) -> Response:
    retry = max(1, math.ceil(wait))
    message = (f"too many new short links from your address: {settings.shortlinks_per_hour:g} "
               f"an hour (burst {settings.shortlinks_burst}); try again in {retry:,} s, or "
               f"share the calculator's own URL, which carries the whole spec")
    return _problem(request, 429, message, "shortlinks_per_hour", retry)


@router.post("/s", name="shortlink_create")
async def create(request: Request, settings: SettingsDep, run: RunnerDep) -> Response:
    """Store the calculator's spec and options; answer with (or redirect to) its short link."""
    body = (await request.body()).decode("utf-8", "replace")
    state = _state(dict(parse_qsl(body, keep_blank_values=True)))
    store = store_for(settings)
    try:
        AnalyzeQuery.model_validate({k: v for k, v in state.items() if k not in ("flops",
                                                                              "allops")})
        if not await run(store.exists, link_id(state)):
            client = request.client.host if request.client else None
            wait = _quota(request, settings).take(client_key(client))
            if wait:
                return _over_quota(request, settings, wait)
        key = await run(store.put, state)
    except ValidationError as exc:
        first = exc.errors()[0]
        return _problem(request, 422, f"{'.'.join(map(str, first['loc']))}: {first['msg']}", None)
    except ShortLinkError as exc:
        return _problem(request, 422, str(exc), exc.limit)
    except StoreUnavailable as exc:
        return _unavailable(request, exc)
    if not is_htmx(request):
        return RedirectResponse(f"/s/{key}", status_code=303)
    context = {"short_id": key, "short_error": None, "base": str(request.base_url).rstrip("/")}
    return get_templates(request).TemplateResponse(request, "partials/_shortlink.html", context)


@router.get("/s/{key}", name="shortlink_page")
async def show(request: Request, key: str, settings: SettingsDep, run: RunnerDep) -> Response:
    """The calculator with exactly the stored spec and options."""
    try:
        return await run(_show, request, key, settings)
    except StoreUnavailable as exc:
        log.error("short-link store: %s", exc)
        headers = {"Retry-After": "1" if exc.busy else "60"}
        raise HTTPException(503, BUSY if exc.busy else UNAVAILABLE, headers) from None


def _show(request: Request, key: str, settings: Settings) -> Response:
    state = store_for(settings).get(key)
    if state is None:
        raise HTTPException(404, f"no short link '{key}'")
    scope = {**request.scope, "query_string": _query_string(state).encode()}
    as_calc = Request(scope, request.receive)
    query = AnalyzeQuery.model_validate({k: v for k, v in state.items()
                                         if k not in ("flops", "allops")})
    extra = {"short_id": key, "long_url": "/?" + _query_string(state),
             "base": str(request.base_url).rstrip("/")}
    try:
        analysis = engine.analyze(query.spec, **query.engine_options())
    except SpecError as exc:
        errors = [i.model_dump(exclude_none=True) for i in spec_error_items(exc)]
        return render(as_calc, "shortlink.html", "partials/_problems.html",
                      calc_context(as_calc, None, errors) | extra, 422)
    return render(as_calc, "shortlink.html", "partials/_result.html",
                  calc_context(as_calc, analysis, []) | extra)
