"""Short links: ``POST /s`` stores the calculator's state (its form, as the calculator's URL
would carry it) and answers with ``/s/<id>``; ``GET /s/<id>`` shows the calculator with exactly
that spec and those options. The store is ``app.web.shortlinks`` (SQLite, the file a setting).

Without JavaScript the calculator's "short link" button POSTs the form and follows the 303 to
the link's page; with htmx the button posts in place and the link appears beside it.
"""

from __future__ import annotations

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
from app.web.schemas import AnalyzeQuery
from app.web.settings import Settings
from app.web.shortlinks import ShortLinkError, ShortLinkStore
from app.web.templating import (
    DEFAULT_FORM,
    SWITCHES,
    calc_context,
    get_templates,
    is_htmx,
    render,
)

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)


def store_for(settings: Settings) -> ShortLinkStore:
    return ShortLinkStore(settings.shortlinks_db, settings.shortlinks_max)


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


def _problem(request: Request, status: int, message: str, limit: str | None) -> Response:
    """The problem beside the button (htmx), or the error page (a plain form post)."""
    if not is_htmx(request):
        item = {"line": 0, "message": message} | ({"limit": limit} if limit else {})
        return get_templates(request).TemplateResponse(
            request, "error.html", {"errors": [item], "status": status,
                                    "path": request.url.path}, status_code=status)
    context = {"short_id": None, "short_error": message, "short_limit": limit}
    return get_templates(request).TemplateResponse(request, "partials/_shortlink.html", context,
                                                   status_code=status)


@router.post("/s", name="shortlink_create")
async def create(request: Request, settings: SettingsDep, run: RunnerDep) -> Response:
    """Store the calculator's spec and options; answer with (or redirect to) its short link."""
    body = (await request.body()).decode("utf-8", "replace")
    state = _state(dict(parse_qsl(body, keep_blank_values=True)))
    try:
        AnalyzeQuery.model_validate({k: v for k, v in state.items() if k not in ("flops",
                                                                              "allops")})
        key = await run(store_for(settings).put, state)
    except ValidationError as exc:
        first = exc.errors()[0]
        return _problem(request, 422, f"{'.'.join(map(str, first['loc']))}: {first['msg']}", None)
    except ShortLinkError as exc:
        return _problem(request, 422, str(exc), exc.limit)
    if not is_htmx(request):
        return RedirectResponse(f"/s/{key}", status_code=303)
    context = {"short_id": key, "short_error": None, "base": str(request.base_url).rstrip("/")}
    return get_templates(request).TemplateResponse(request, "partials/_shortlink.html", context)


@router.get("/s/{key}", name="shortlink_page")
async def show(request: Request, key: str, settings: SettingsDep, run: RunnerDep) -> Response:
    """The calculator with exactly the stored spec and options."""
    return await run(_show, request, key, settings)


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
