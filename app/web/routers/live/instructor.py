"""The instructor's side of a live session: starting it from the page, the instructor's page
and event stream, and the actions the capability allows (follow, ask, reveal, histogram)."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sse_starlette.sse import EventSourceResponse
from starlette.exceptions import HTTPException

from app.web.deps import RunnerDep, SettingsDep
from app.web.live.rooms import FIELDS, Room, ask, group_key, judge, key_matches
from app.web.live.service import followed_query, now
from app.web.routers.live.session import (
    create_room,
    driven_room,
    find_room,
    join_url,
    key_cookie,
    live_of,
    may_drive,
    question_html,
    question_rendering,
)
from app.web.templating import calc_context, get_templates, is_htmx

router = APIRouter(default_response_class=HTMLResponse)


def _form_query(fields: dict[str, str]) -> str:
    """What the "Present live" button sent: the calculator's query string as the page had it,
    or a spec and options (model pages, /layer)."""
    if "query" in fields:
        return fields["query"].lstrip("?")
    return urlencode({k: v for k, v in fields.items() if k != "query"})


@router.post("/live", name="live_create", include_in_schema=False)
async def create(request: Request, settings: SettingsDep) -> Response:
    """Start a live session from the page's state; the instructor goes to its page."""
    body = (await request.body()).decode("utf-8", "replace")
    query = _form_query(dict(parse_qsl(body, keep_blank_values=True)))
    room, key = await create_room(request, settings, query)
    projector = "&projector=1" if ("projector", "1") in parse_qsl(query) else ""
    response = RedirectResponse(f"/live/{room.code}/present?{room.query}{projector}",
                                status_code=303)
    _give_key(request, response, room, key)
    return response


def _give_key(request: Request, response: Response, room: Room, key: str) -> None:
    response.set_cookie(key_cookie(room.code), key,
                        max_age=int(live_of(request).settings.live_idle_seconds) + 86400,
                        path=f"/live/{room.code}", httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")


@router.get("/live/{code}/present", name="live_present", include_in_schema=False)
async def present(request: Request, code: str, run: RunnerDep, key: str = "") -> Response:
    """The instructor's page: the calculator, the join code and QR, the question controls."""
    room = await find_room(request, code)
    if key:  # the link with the key: keep the key in a cookie, show a clean URL
        if not key_matches(key, room.key_digest):
            raise HTTPException(403, "this key does not drive this live session")
        redirect: Response = RedirectResponse(f"/live/{room.code}/present", status_code=303)
        _give_key(request, redirect, room, key)
        return redirect
    if not may_drive(request, room):
        raise HTTPException(403, "only the instructor who started this live session can open "
                                 "its instructor page")
    if not request.url.query and room.query:  # the URL says what is followed, as a link does
        return RedirectResponse(f"/live/{room.code}/present?{room.query}", status_code=303)
    live = live_of(request)
    await live.start()
    query = followed_query(request.url.query, live_of(request).settings.max_body_bytes)
    if query != room.query:  # the instructor's URL is what the class follows
        room = room.following(query, now())
        await live.store.put(room)
        await live.hub.publish(room.code, "state", live.state_event(
            await live.render(request, room, run)))
    rendered = await live.render(request, room, run)
    context = calc_context(request, rendered.analysis, list(rendered.errors)) | {
        "room": room, "join_url": join_url(request, room.code),
        "panel_html": await _panel(request, room, run), "rows": _rows(rendered),
        "fields": FIELDS}
    response = get_templates(request).TemplateResponse(request, "live_present.html", context)
    response.headers["Cache-Control"] = "no-store"
    return response


def _rows(rendered: Any) -> list[tuple[int, str]]:
    if rendered is None or rendered.analysis is None:
        return []
    return [(i, f"line {r.line} · {r.name}") for i, r in enumerate(rendered.analysis.layers)
            if i > 0][:2000]


async def _panel(request: Request, room: Room, run: RunnerDep) -> str:
    live = live_of(request)
    q = room.question
    if q is None:
        return ""
    asked = await question_rendering(request, room, run)
    hist = await live.histogram(room, asked.analysis if q.revealed and asked else None)
    return question_html(request, room, asked, instructor=True, hist=hist)


@router.get("/live/{code}/watch", include_in_schema=False)
async def watch(request: Request, code: str) -> Response:
    """The instructor's event stream: the answers as they arrive."""
    room = await driven_room(request, code)
    live = live_of(request)
    await live.start()

    async def stream() -> Any:
        with live.hub.follow(room.code, instructor=True) as follower:
            async for kind, data in follower.events():
                if kind == "answers":
                    yield {"event": kind, "data": data}

    return EventSourceResponse(stream(), ping=15, headers={"Cache-Control": "no-store",
                                                           "X-Accel-Buffering": "no"})


async def _form(request: Request) -> dict[str, str]:
    body = (await request.body()).decode("utf-8", "replace")
    return dict(parse_qsl(body, keep_blank_values=True))


def _answer_or_panel(request: Request, code: str, html: str) -> Response:
    if is_htmx(request):
        return HTMLResponse(html)
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse({"ok": True})
    return RedirectResponse(f"/live/{code}/present", status_code=303)


@router.post("/live/{code}/state", include_in_schema=False)
async def state(request: Request, code: str, run: RunnerDep, settings: SettingsDep) -> Response:
    """The instructor's calculator changed: the class follows."""
    room = await driven_room(request, code)
    query = followed_query((await _form(request)).get("query", "").lstrip("?"),
                           settings.max_body_bytes)
    live = live_of(request)
    if query != room.query:
        room = room.following(query, now())
        await live.store.put(room)
        rendered = await live.render(request, room, run)
        await live.hub.publish(room.code, "state", live.state_event(rendered))
    else:
        rendered = await live.render(request, room, run)
    html = get_templates(request).get_template("partials/_live_ask.html").render(
        {"room": room, "rows": _rows(rendered), "fields": FIELDS, "request": request})
    return _answer_or_panel(request, room.code, html)


@router.post("/live/{code}/ask", include_in_schema=False)
async def ask_question(request: Request, code: str, run: RunnerDep) -> Response:
    """Put a question about one row of the result to the class."""
    room = await driven_room(request, code)
    form = await _form(request)
    live = live_of(request)
    rendered = await live.render(request, room, run)
    field = form.get("field", "")
    try:
        row = int(form.get("row", ""))
    except ValueError:
        row = -1
    if rendered.analysis is None:
        raise HTTPException(422, "the spec has problems: fix it before asking about it")
    if field not in FIELDS or not 0 < row < len(rendered.analysis.layers):
        raise HTTPException(422, f"pick a row from 1 to {len(rendered.analysis.layers) - 1} "
                                 f"and one of: {', '.join(FIELDS)}")
    room = ask(room, rendered.analysis, row, field, now())
    await live.store.put(room)
    await live.hub.publish(room.code, "question", question_html(request, room, rendered))
    return _answer_or_panel(request, room.code, await _panel(request, room, run))


@router.post("/live/{code}/reveal", include_in_schema=False)
async def reveal(request: Request, code: str, run: RunnerDep) -> Response:
    """Show the right answer with its working, and each student whether they were right."""
    room = await driven_room(request, code)
    live = live_of(request)
    if room.question is None:
        raise HTTPException(422, "no question is open: ask one first")
    room = replace(room, question=replace(room.question, revealed=True), show_histogram=True,
                   touched=now())
    await live.store.put(room)
    asked = await question_rendering(request, room, run)
    hist = await live.histogram(room, asked.analysis if asked else None)
    verdicts = await _verdicts(request, room, asked)
    await live.hub.publish(room.code, "question",
                           question_html(request, room, asked) + verdicts)
    return _answer_or_panel(request, room.code, question_html(
        request, room, asked, instructor=True, hist=hist))


async def _verdicts(request: Request, room: Room, asked: Any) -> str:
    """Every distinct answer's judgement, for each student's page to pick its own from."""
    q = room.question
    if q is None or asked is None or asked.analysis is None:
        return ""
    row = asked.analysis.layers[q.row]
    seen: dict[str, Any] = {}
    for text in (await live_of(request).store.answers(room.code, q.id)).values():
        key = group_key(q.field, text)
        if key not in seen:
            seen[key] = (text, _plain(judge(row, q.field, text)))
    return get_templates(request).get_template("partials/_live_verdicts.html").render(
        {"verdicts": seen})


def _plain(verdict: Any) -> Any:
    """The judgement with its explanation's leading "right:"/"wrong:" dropped (the verdict
    already says which)."""
    text = re.sub(r"^(right|wrong): ", "", verdict.explanation)
    return replace(verdict, explanation=text[:1].upper() + text[1:])


@router.post("/live/{code}/histogram", include_in_schema=False)
async def toggle_histogram(request: Request, code: str, run: RunnerDep) -> Response:
    """Show or hide the answers on the projector while they come in."""
    room = await driven_room(request, code)
    show = (await _form(request)).get("show", "") in {"1", "true", "on"}
    room = replace(room, show_histogram=show, touched=now())
    await live_of(request).store.put(room)
    return _answer_or_panel(request, room.code, await _panel(request, room, run))
