"""The students' side of a live session: joining by code, following the instructor's
calculator, answering the open question, and the join link as a QR code."""

from __future__ import annotations

import io
from typing import Annotated, Any
from urllib.parse import parse_qsl

import segno
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sse_starlette.sse import EventSourceResponse
from starlette.exceptions import HTTPException

from app.web.deps import RunnerDep, SettingsDep
from app.web.live.rooms import MAX_ANSWER, clean_code, group_key
from app.web.live.store import Full
from app.web.routers.live.session import (
    device_of,
    find_room,
    join_url,
    live_of,
    question_html,
    question_rendering,
)
from app.web.templating import get_templates, is_htmx

router = APIRouter(default_response_class=HTMLResponse)


@router.get("/live", name="live_join", include_in_schema=False)
async def join(request: Request, code: str = "") -> Response:
    """Type a join code (what the QR code's link leads to is /live/<code> directly)."""
    clean = clean_code(code) if code else None
    if clean:
        return RedirectResponse(f"/live/{clean}", status_code=303)
    return get_templates(request).TemplateResponse(
        request, "live_join.html", {"typed": code[:20], "bad": bool(code)},
        status_code=422 if code else 200)


@router.get("/live/{code}", name="live_follow", include_in_schema=False)
async def follow(request: Request, code: str, run: RunnerDep) -> Response:
    """The students' page: the session's current result, followed live with JavaScript."""
    room = await find_room(request, code)
    live = live_of(request)
    rendered = await live.render(request, room, run)
    context = {"room": room, "state_html": live.state_event(rendered),
               "question_html": question_html(request, room, rendered),
               "join_url": join_url(request, room.code)}
    response = get_templates(request).TemplateResponse(request, "live_follow.html", context)
    device_of(request, response)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/live/{code}/events", include_in_schema=False)
async def events(request: Request, code: str, run: RunnerDep, settings: SettingsDep) -> Response:
    """The students' event stream: the result as it changes, questions, reveals."""
    room = await find_room(request, code)
    live = live_of(request)
    await live.start()
    if live.hub.count(room.code) >= settings.live_followers_max:
        raise HTTPException(503, f"this session has {settings.live_followers_max:,} followers, "
                                 "its limit (live_followers_max)", headers={"Retry-After": "30"})
    first = await live.render(request, room, run)
    question = question_html(request, room, await question_rendering(request, room, run))

    async def stream() -> Any:
        with live.hub.follow(room.code, instructor=False) as follower:
            follower.offer("state", live.state_event(first))
            follower.offer("question", question)
            async for kind, data in follower.events():
                yield {"event": kind, "data": data}

    return EventSourceResponse(stream(), ping=15, headers={"Cache-Control": "no-store",
                                                           "X-Accel-Buffering": "no"})


class Answer(BaseModel):
    question: Annotated[str, Field(min_length=1, max_length=16)]
    answer: Annotated[str, Field(min_length=1, max_length=MAX_ANSWER)]


@router.post("/live/{code}/answer", include_in_schema=False)
async def answer(request: Request, code: str) -> Response:
    """A student's answer to the open question: one per question per device."""
    form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")[:1024],
                          keep_blank_values=True))
    return await record_answer(request, code, form.get("question", ""), form.get("answer", ""),
                               html=True)


async def record_answer(request: Request, code: str, qid: str, text: str,
                        html: bool) -> Response:
    """Keep one device's answer, answered as the page's partial or (``html`` false) JSON."""
    room = await find_room(request, code)
    q = room.question
    text = " ".join(text.split())[:MAX_ANSWER]
    problem = None
    if q is None or q.id != qid:
        problem = "that question is no longer open"
    elif q.revealed:
        problem = "the answer has been revealed; this question is closed"
    elif not text:
        problem = "write an answer first, e.g. 55x55x96 or 35K"
    live = live_of(request)
    response: Response
    if problem is None and q is not None:
        probe = Response()
        device = device_of(request, probe)
        try:
            added = await live.store.add_answer(room.code, q.id, device, text)
        except Full as exc:
            added, problem = False, str(exc)
        if problem is None and not added:
            problem = "this device has answered this question already"
        if problem is None:
            live.histogram_soon(request, room.code)
            if html:
                response = get_templates(request).TemplateResponse(
                    request, "partials/_live_recorded.html",
                    {"q": q, "text": text, "key": group_key(q.field, text)})
            else:
                response = JSONResponse({"recorded": True, "answer": text}, status_code=201)
            for header, value in probe.headers.items():
                if header == "set-cookie":
                    response.headers.append("set-cookie", value)
            return response
    if html and is_htmx(request):  # in place, beside the field: not a failed request
        return get_templates(request).TemplateResponse(
            request, "partials/_live_recorded.html", {"q": q, "problem": problem})
    raise HTTPException(409 if problem and "already" in problem else 422, problem or "")


@router.get("/live/{code}/qr.svg", include_in_schema=False)
async def qr(request: Request, code: str) -> Response:
    """The join link as a QR code (SVG), drawn on the server."""
    room = await find_room(request, code)
    out = io.BytesIO()
    segno.make(join_url(request, room.code), error="m").save(
        out, kind="svg", scale=8, border=2, dark="#000", light="#fff", omitsize=True,
        xmldecl=False, title=f"join live session {room.code}")
    svg = out.getvalue()
    return Response(svg, media_type="image/svg+xml",
                    headers={"Cache-Control": "private, max-age=3600"})
