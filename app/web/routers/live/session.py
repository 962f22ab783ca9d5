"""What every live route shares: the session a code names, whether the caller may drive it,
a new session with its key, the device cookie and the open question drawn as HTML."""

from __future__ import annotations

import logging
import secrets
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from app.web.deps import RunnerDep, SettingsDep
from app.web.live.rooms import (
    Room,
    clean_code,
    key_digest,
    key_matches,
    new_code,
    new_key,
    right_answer,
)
from app.web.live.service import Live, followed_query, get_live, now
from app.web.live.store import Full
from app.web.templating import get_templates

log = logging.getLogger("archcalc.live")

DEVICE_COOKIE = "archcalc_device"


def key_cookie(code: str) -> str:
    return f"archcalc_live_{code}"


def live_of(request: Request) -> Live:
    return get_live(request.app)


async def find_room(request: Request, code: str) -> Room:
    clean = clean_code(code)
    room = await live_of(request).store.get(clean) if clean else None
    if room is None:
        raise HTTPException(404, f"no live session '{code[:12]}': it may have ended "
                                 "(sessions end after a few idle hours); check the code")
    return room


def may_drive(request: Request, room: Room) -> bool:
    auth = request.headers.get("authorization", "")
    key = auth[7:].strip() if auth[:7].lower() == "bearer " else request.cookies.get(
        key_cookie(room.code), "")
    return bool(key) and key_matches(key, room.key_digest)


async def driven_room(request: Request, code: str) -> Room:
    room = await find_room(request, code)
    if not may_drive(request, room):
        raise HTTPException(403, "only the instructor who started this live session can do "
                                 "that (the instructor's link or key is needed)")
    return room


def join_url(request: Request, code: str) -> str:
    return str(request.base_url).rstrip("/") + f"/live/{code}"


async def create_room(request: Request, settings: SettingsDep, query: str) -> tuple[Room, str]:
    live = live_of(request)
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


def device_of(request: Request, response: Response) -> str:
    device = request.cookies.get(DEVICE_COOKIE, "")
    if len(device) != 32 or not device.isalnum():
        device = secrets.token_hex(16)
        response.set_cookie(DEVICE_COOKIE, device, max_age=7 * 86400, path="/",
                            httponly=True, samesite="lax",
                            secure=request.url.scheme == "https")
    return device


def question_html(request: Request, room: Room, rendered: Any, instructor: bool = False,
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


async def question_rendering(request: Request, room: Room, run: RunnerDep) -> Any:
    """The rendering the open question was asked about (its own state, not the current one)."""
    q = room.question
    if q is None:
        return None
    return await live_of(request).render(request, Room(code=f"q:{room.code}:{q.id}",
                                                       key_digest="", query=q.query), run)
