"""Zoo and lecture routes: /api/models, /api/models/{id}, /api/models/{id}/spec, /api/lecture.

Thin: each route hands its options to ``app.zoo`` or ``app.lecture``. Errors take the app's one
shape: an unknown id is a 404, a bad input volume or aux on a model without auxiliary
classifiers a 422 (both raised here or by the engine, rendered by ``app.web.errors``).
"""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse, Response
from pydantic import ConfigDict, Field
from starlette.exceptions import HTTPException

from app import zoo
from app.engine import Analysis, Volume
from app.lecture import LectureClaim, lecture_claims
from app.web.answercache import CachedRoute
from app.web.deps import RunnerDep
from app.web.downloads import model_subject, negotiated
from app.web.errors import ERROR_RESPONSES
from app.web.schemas import RequestOptions

router = APIRouter(route_class=CachedRoute, prefix="/api", tags=["zoo"], responses=ERROR_RESPONSES)
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: ERROR_RESPONSES[422] | {"description": "no zoo model has this id"}}


class ModelQuery(RequestOptions):
    """GET /api/models/{id}: the analysis options, and an optional input volume."""

    model_config = ConfigDict(extra="ignore")

    input: str | None = Field(None, description="HxWxC, e.g. 320x320x3, replacing the "
                                                "model's own input volume")

    def volume(self) -> Volume | None:
        return zoo.parse_volume(self.input) if self.input else None


def known(model_id: str) -> str:
    """The id itself, or a 404 naming the ids there are."""
    try:
        zoo.get_model(model_id)
    except zoo.UnknownModel as exc:
        raise HTTPException(404, str(exc)) from None
    return model_id


@router.get("/models", response_model=list[zoo.ModelSummary], name="api_models")
async def models(run: RunnerDep) -> Response:
    """Every zoo model: what is published about it and the totals of its default analysis."""
    return await run.json(list[zoo.ModelSummary], zoo.model_summaries)


@router.get("/models/{model_id}", response_model=Analysis, name="api_model",
            responses=NOT_FOUND)
async def model(model_id: str, query: Annotated[ModelQuery, Query()], run: RunnerDep,
                request: Request) -> Response:
    """One zoo model's full analysis; ``input=HxWxC`` replaces its input volume (``?format=`` or
    ``Accept`` may ask for CSV, Markdown, LaTeX or PyTorch code instead)."""
    exported = await negotiated(request, run, partial(model_subject, known(model_id),
                                                      query.volume(), query.engine_options()))
    return exported or await run.json(Analysis, zoo.analyze_model, model_id,
                                      input=query.volume(), **query.engine_options())


@router.get("/models/{model_id}/spec", response_class=PlainTextResponse, name="api_model_spec",
            responses=NOT_FOUND)
def model_spec(model_id: str) -> str:
    """The model's spec text: POSTed to /api/analyze it gives the same analysis."""
    return zoo.model_spec(known(model_id))


@router.get("/lecture", response_model=list[LectureClaim], name="api_lecture")
async def lecture(run: RunnerDep) -> Response:
    """The lecture's worked numbers, each recomputed now, with its status and arithmetic."""
    return await run.json(list[LectureClaim], lecture_claims)
