"""The JSON API: thin routes over the engine. The error shape is in ``app.web.errors``."""

from __future__ import annotations

from functools import partial

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app import engine
from app.engine.graph import Volume
from app.engine.result import Analysis, LayerRow
from app.export import subject_from_spec
from app.web.answercache import CachedRoute
from app.web.deps import AnalyzeQueryDep, RunnerDep
from app.web.downloads import negotiated
from app.web.errors import ERROR_RESPONSES
from app.web.schemas import AnalyzeRequest, LayerRequest

router = APIRouter(route_class=CachedRoute, prefix="/api", tags=["analysis"], responses=ERROR_RESPONSES)


@router.post("/analyze", response_model=Analysis, name="api_analyze")
async def analyze(body: AnalyzeRequest, run: RunnerDep) -> Response:
    """Analyse a whole spec (text or JSON form): every layer's shape, parameters, MACs, memory."""
    return await run.json(Analysis, engine.analyze, body.spec, body.options())


@router.get("/analyze", response_model=Analysis, name="api_analyze_get")
async def analyze_get(query: AnalyzeQueryDep, run: RunnerDep, request: Request) -> Response:
    """The same analysis with the spec in the query string: the JSON twin of the /analyze page
    (``?format=`` or ``Accept`` may ask for CSV, Markdown, LaTeX or PyTorch code instead)."""
    exported = await negotiated(request, run, partial(subject_from_spec, query.spec, "analysis",
                                                      **query.engine_options()))
    return exported or await run.json(Analysis, engine.analyze, query.spec, query.options())


@router.post("/layer", response_model=LayerRow, name="api_layer")
async def layer(body: LayerRequest, run: RunnerDep) -> Response:
    """Analyse one layer line applied to a given input volume."""
    volume = Volume(body.input.h, body.input.w, body.input.c)
    return await run.json(LayerRow, engine.analyze_layer, body.layer, volume, dtype=body.dtype,
                          batch=body.batch)
