"""Live sessions: the class follows the instructor's calculator on their own screens and
answers questions about it.

- ``POST /live`` (the "Present live" button) makes a session and sends the instructor to its
  page with the instructor's capability in a cookie; ``POST /api/live`` gives a program the
  same session as JSON, the capability as ``key`` (sent back as ``Authorization: Bearer``).
- ``GET /live/<code>`` is the students' page (works without JavaScript as far as reading the
  code and the current result; following needs JavaScript); ``/live/<code>/events`` is its
  event stream, ``/live/<code>/answer`` takes one answer per question per device.
- The instructor's actions (``state``, ``ask``, ``reveal``, ``histogram``) and event stream
  (``watch``) need the capability; without it they answer 403.
"""

from __future__ import annotations

import io
import logging
import re
import secrets
from dataclasses import replace
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

import segno
from fastapi import APIRouter, Body, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sse_starlette.sse import EventSourceResponse
from starlette.exceptions import HTTPException

from app.web.deps import RunnerDep, SettingsDep
from app.web.errors import ERROR_RESPONSES, error_response
from app.web.live.rooms import (
    FIELDS,
    MAX_ANSWER,
    Room,
    ask,
    clean_code,
    group_key,
    judge,
    key_digest,
    key_matches,
    new_code,
    new_key,
    right_answer,
)
from app.web.live.service import Live, followed_query, get_live, now
from app.web.live.store import Full, StoreUnavailable
from app.web.schemas import ErrorItem, RequestOptions
from app.web.templating import calc_context, get_templates, is_htmx

router = APIRouter(default_response_class=HTMLResponse)
log = logging.getLogger("archcalc.live")

DEVICE_COOKIE = "archcalc_device"


def install(app: FastAPI) -> None:
    """The routes, and a store that cannot be reached answered as 503 wherever it is met."""
    app.include_router(router)

    async def unavailable(request: Request, exc: Exception) -> Response:
        log.error("live-session store: %s", exc)  # it names server paths: the log, not users
        busy = isinstance(exc, StoreUnavailable) and exc.busy
        message = ("live sessions are busy; try again in a moment" if busy else
                   "live sessions cannot be kept on this server right now (its store cannot "
                   "be used); try again later, or tell whoever runs it")
        response = error_response(request, 503, [ErrorItem(line=0, message=message)])
        response.headers["Retry-After"] = "1" if busy else "60"
        return response

    app.add_exception_handler(StoreUnavailable, unavailable)


def _cookie(code: str) -> str:
    return f"archcalc_live_{code}"


def _live(request: Request) -> Live:
    return get_live(request.app)


async def _room(request: Request, code: str) -> Room:
    clean = clean_code(code)
    room = await _live(request).store.get(clean) if clean else None
    if room is None:
        raise HTTPException(404, f"no live session '{code[:12]}': it may have ended "
                                 "(sessions end after a few idle hours); check the code")
    return room


def _may_drive(request: Request, room: Room) -> bool:
    auth = request.headers.get("authorization", "")
    key = auth[7:].strip() if auth[:7].lower() == "bearer " else request.cookies.get(
        _cookie(room.code), "")
    return bool(key) and key_matches(key, room.key_digest)


async def _driven(request: Request, code: str) -> Room:
    room = await _room(request, code)
    if not _may_drive(request, room):
        raise HTTPException(403, "only the instructor who started this live session can do "
                                 "that (the instructor's link or key is needed)")
    return room


def _join_url(request: Request, code: str) -> str:
    return str(request.base_url).rstrip("/") + f"/live/{code}"


async def _create(request: Request, settings: SettingsDep, query: str) -> tuple[Room, str]:
    live = _live(request)
    await live.start()
    key = new_key()
    t = now()
    for _ in range(8):  # 27^6 codes: a clash is rare; a few tries make it vanishing
        room = Room(code=new_code(), key_digest=key_digest(key),
                    query=followed_query(query, settings.max_body_bytes), created=t, touched=t)
        if await live.store.get(room.code) is None:
            break
    try:
        await live.store.create(room)
    except Full as exc:
        raise HTTPException(503, str(exc), headers={"Retry-After": "60"}) from exc
    return room, key


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
    room, key = await _create(request, settings, query)
    projector = "&projector=1" if ("projector", "1") in parse_qsl(query) else ""
    response = RedirectResponse(f"/live/{room.code}/present?{room.query}{projector}",
                                status_code=303)
    _give_key(request, response, room, key)
    return response


def _give_key(request: Request, response: Response, room: Room, key: str) -> None:
    response.set_cookie(_cookie(room.code), key, max_age=int(_live(request).settings.live_idle_seconds)
                        + 86400, path=f"/live/{room.code}", httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")


class LiveCreate(RequestOptions):
    """A session that follows the calculator at this spec and these options."""

    model_config = ConfigDict(extra="forbid", strict=True)

    spec: Annotated[str, Field(min_length=1, description="the network, in the spec language")]


class LiveCreated(BaseModel):
    code: str
    join_url: str
    present_url: Annotated[str, Field(description="the instructor's page; it carries the key")]
    key: Annotated[str, Field(description="the instructor's capability: send it as "
                                          "'Authorization: Bearer <key>'")]


#: what the API's live routes may answer besides success
_API_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    403: ERROR_RESPONSES[422] | {"description": "the instructor's key is missing or wrong"},
    404: ERROR_RESPONSES[422] | {"description": "no live session has this code (or it ended)"},
    409: ERROR_RESPONSES[422] | {"description": "this device has answered this question"},
}


@router.post("/api/live", status_code=201, response_model=LiveCreated, tags=["live"],
             response_class=JSONResponse, responses=_API_ERRORS)
async def api_create(request: Request, settings: SettingsDep,
                     body: Annotated[LiveCreate, Body()]) -> LiveCreated:
    """Start a live session; the answer's key is the instructor's capability."""
    room, key = await _create(request, settings, urlencode(body.model_dump()))
    return LiveCreated(code=room.code, join_url=_join_url(request, room.code),
                       present_url=f"{_join_url(request, room.code)}/present?key={key}", key=key)


class LiveState(BaseModel):
    code: str
    version: int
    query: str
    question: dict[str, Any] | None
    answers: int


@router.get("/api/live/{code}", response_model=LiveState, tags=["live"],
            response_class=JSONResponse, responses=_API_ERRORS)
async def api_state(request: Request, code: str) -> LiveState:
    """What a session's class sees now: the followed state and the open question."""
    room = await _room(request, code)
    q = room.question
    count = len(await _live(request).store.answers(room.code, q.id)) if q else 0
    return LiveState(code=room.code, version=room.version, query=room.query,
                     question={"id": q.id, "prompt": q.prompt, "field": q.field,
                               "revealed": q.revealed} if q else None, answers=count)


# -- the students' side ------------------------------------------------------------------------
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
    room = await _room(request, code)
    live = _live(request)
    rendered = await live.render(request, room, run)
    context = {"room": room, "state_html": live.state_event(rendered),
               "question_html": _question_html(request, room, rendered),
               "join_url": _join_url(request, room.code)}
    response = get_templates(request).TemplateResponse(request, "live_follow.html", context)
    _device(request, response)
    response.headers["Cache-Control"] = "no-store"
    return response


def _device(request: Request, response: Response) -> str:
    device = request.cookies.get(DEVICE_COOKIE, "")
    if len(device) != 32 or not device.isalnum():
        device = secrets.token_hex(16)
        response.set_cookie(DEVICE_COOKIE, device, max_age=7 * 86400, path="/",
                            httponly=True, samesite="lax",
                            secure=request.url.scheme == "https")
    return device


def _question_html(request: Request, room: Room, rendered: Any, instructor: bool = False,
                   hist: Any = None) -> str:
    q = room.question
    if q is None:
        return ""
    right = None
    if q.revealed and rendered is not None and rendered.analysis is not None \
            and q.row < len(rendered.analysis.layers):
        right = right_answer(rendered.analysis.layers[q.row], q.field)
    return get_templates(request).get_template("partials/_live_question.html").render(
        {"room": room, "q": q, "right": right, "instructor": instructor, "hist": hist,
         "request": request})


@router.get("/live/{code}/events", include_in_schema=False)
async def events(request: Request, code: str, run: RunnerDep, settings: SettingsDep) -> Response:
    """The students' event stream: the result as it changes, questions, reveals."""
    room = await _room(request, code)
    live = _live(request)
    await live.start()
    if live.hub.count(room.code) >= settings.live_followers_max:
        raise HTTPException(503, f"this session has {settings.live_followers_max:,} followers, "
                                 "its limit (live_followers_max)", headers={"Retry-After": "30"})
    first = await live.render(request, room, run)
    question = _question_html(request, room, await _question_rendering(request, room, run))

    async def stream() -> Any:
        with live.hub.follow(room.code, instructor=False) as follower:
            follower.offer("state", live.state_event(first))
            follower.offer("question", question)
            async for kind, data in follower.events():
                yield {"event": kind, "data": data}

    return EventSourceResponse(stream(), ping=15, headers={"Cache-Control": "no-store",
                                                           "X-Accel-Buffering": "no"})


async def _question_rendering(request: Request, room: Room, run: RunnerDep) -> Any:
    """The rendering the open question was asked about (its own state, not the current one)."""
    q = room.question
    if q is None:
        return None
    return await _live(request).render(request, Room(code=f"q:{room.code}:{q.id}",
                                                     key_digest="", query=q.query), run)


class Answer(BaseModel):
    question: Annotated[str, Field(min_length=1, max_length=16)]
    answer: Annotated[str, Field(min_length=1, max_length=MAX_ANSWER)]


@router.post("/live/{code}/answer", include_in_schema=False)
async def answer(request: Request, code: str) -> Response:
    """A student's answer to the open question: one per question per device."""
    form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")[:1024],
                          keep_blank_values=True))
    return await _answer(request, code, form.get("question", ""), form.get("answer", ""),
                         html=True)


@router.post("/api/live/{code}/answer", status_code=201, tags=["live"],
             response_class=JSONResponse, responses=_API_ERRORS)
async def api_answer(request: Request, code: str, body: Annotated[Answer, Body()]) -> Response:
    """Answer the open question (one answer per question per device cookie)."""
    return await _answer(request, code, body.question, body.answer, html=False)


async def _answer(request: Request, code: str, qid: str, text: str, html: bool) -> Response:
    room = await _room(request, code)
    q = room.question
    text = " ".join(text.split())[:MAX_ANSWER]
    problem = None
    if q is None or q.id != qid:
        problem = "that question is no longer open"
    elif q.revealed:
        problem = "the answer has been revealed; this question is closed"
    elif not text:
        problem = "write an answer first, e.g. 55x55x96 or 35K"
    live = _live(request)
    response: Response
    if problem is None and q is not None:
        probe = Response()
        device = _device(request, probe)
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
    room = await _room(request, code)
    out = io.BytesIO()
    segno.make(_join_url(request, room.code), error="m").save(
        out, kind="svg", scale=8, border=2, dark="#000", light="#fff", omitsize=True,
        xmldecl=False, title=f"join live session {room.code}")
    svg = out.getvalue()
    return Response(svg, media_type="image/svg+xml",
                    headers={"Cache-Control": "private, max-age=3600"})


# -- the instructor's side ---------------------------------------------------------------------
@router.get("/live/{code}/present", name="live_present", include_in_schema=False)
async def present(request: Request, code: str, run: RunnerDep, key: str = "") -> Response:
    """The instructor's page: the calculator, the join code and QR, the question controls."""
    room = await _room(request, code)
    if key:  # the link with the key: keep the key in a cookie, show a clean URL
        if not key_matches(key, room.key_digest):
            raise HTTPException(403, "this key does not drive this live session")
        redirect: Response = RedirectResponse(f"/live/{room.code}/present", status_code=303)
        _give_key(request, redirect, room, key)
        return redirect
    if not _may_drive(request, room):
        raise HTTPException(403, "only the instructor who started this live session can open "
                                 "its instructor page")
    if not request.url.query and room.query:  # the URL says what is followed, as a link does
        return RedirectResponse(f"/live/{room.code}/present?{room.query}", status_code=303)
    live = _live(request)
    await live.start()
    query = followed_query(request.url.query, _live(request).settings.max_body_bytes)
    if query != room.query:  # the instructor's URL is what the class follows
        room = room.following(query, now())
        await live.store.put(room)
        await live.hub.publish(room.code, "state", live.state_event(
            await live.render(request, room, run)))
    rendered = await live.render(request, room, run)
    context = calc_context(request, rendered.analysis, list(rendered.errors)) | {
        "room": room, "join_url": _join_url(request, room.code),
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
    live = _live(request)
    q = room.question
    if q is None:
        return ""
    asked = await _question_rendering(request, room, run)
    hist = await live.histogram(room, asked.analysis if q.revealed and asked else None)
    return _question_html(request, room, asked, instructor=True, hist=hist)


@router.get("/live/{code}/watch", include_in_schema=False)
async def watch(request: Request, code: str) -> Response:
    """The instructor's event stream: the answers as they arrive."""
    room = await _driven(request, code)
    live = _live(request)
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
    room = await _driven(request, code)
    query = followed_query((await _form(request)).get("query", "").lstrip("?"),
                           settings.max_body_bytes)
    live = _live(request)
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
    room = await _driven(request, code)
    form = await _form(request)
    live = _live(request)
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
    await live.hub.publish(room.code, "question", _question_html(request, room, rendered))
    return _answer_or_panel(request, room.code, await _panel(request, room, run))


@router.post("/live/{code}/reveal", include_in_schema=False)
async def reveal(request: Request, code: str, run: RunnerDep) -> Response:
    """Show the right answer with its working, and each student whether they were right."""
    room = await _driven(request, code)
    live = _live(request)
    if room.question is None:
        raise HTTPException(422, "no question is open: ask one first")
    room = replace(room, question=replace(room.question, revealed=True), show_histogram=True,
                   touched=now())
    await live.store.put(room)
    asked = await _question_rendering(request, room, run)
    hist = await live.histogram(room, asked.analysis if asked else None)
    verdicts = await _verdicts(request, room, asked)
    await live.hub.publish(room.code, "question",
                           _question_html(request, room, asked) + verdicts)
    return _answer_or_panel(request, room.code, _question_html(
        request, room, asked, instructor=True, hist=hist))


async def _verdicts(request: Request, room: Room, asked: Any) -> str:
    """Every distinct answer's judgement, for each student's page to pick its own from."""
    q = room.question
    if q is None or asked is None or asked.analysis is None:
        return ""
    row = asked.analysis.layers[q.row]
    seen: dict[str, Any] = {}
    for text in (await _live(request).store.answers(room.code, q.id)).values():
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
    room = await _driven(request, code)
    show = (await _form(request)).get("show", "") in {"1", "true", "on"}
    room = replace(room, show_histogram=show, touched=now())
    await _live(request).store.put(room)
    return _answer_or_panel(request, room.code, await _panel(request, room, run))
