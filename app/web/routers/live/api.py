"""Live sessions for programs: the same sessions as the pages, as JSON under ``/api/live``,
the instructor's capability sent back as ``Authorization: Bearer <key>``."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Body, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from app.web.deps import SettingsDep
from app.web.errors import ERROR_RESPONSES
from app.web.routers.live.session import create_room, find_room, join_url, live_of
from app.web.routers.live.students import Answer, record_answer
from app.web.schemas import RequestOptions

router = APIRouter(default_response_class=HTMLResponse)


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
    room, key = await create_room(request, settings, urlencode(body.model_dump()))
    return LiveCreated(code=room.code, join_url=join_url(request, room.code),
                       present_url=f"{join_url(request, room.code)}/present?key={key}", key=key)


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
    room = await find_room(request, code)
    q = room.question
    count = len(await live_of(request).store.answers(room.code, q.id)) if q else 0
    return LiveState(code=room.code, version=room.version, query=room.query,
                     question={"id": q.id, "prompt": q.prompt, "field": q.field,
                               "revealed": q.revealed} if q else None, answers=count)


@router.post("/api/live/{code}/answer", status_code=201, tags=["live"],
             response_class=JSONResponse, responses=_API_ERRORS)
async def api_answer(request: Request, code: str, body: Annotated[Answer, Body()]) -> Response:
    """Answer the open question (one answer per question per device cookie)."""
    return await record_answer(request, code, body.question, body.answer, html=False)
