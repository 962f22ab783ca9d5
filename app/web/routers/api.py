"""The JSON API: thin routes over the engine. The error shape is in ``app.web.errors``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app import engine
from app.engine.graph import Volume
from app.engine.result import Analysis, LayerRow
from app.export import subject_from_spec
from app.web.deps import AnalyzeQueryDep
from app.web.downloads import negotiated
from app.web.errors import ERROR_RESPONSES
from app.web.schemas import AnalyzeRequest, LayerRequest

router = APIRouter(prefix="/api", tags=["analysis"], responses=ERROR_RESPONSES)


@router.post("/analyze", response_model=Analysis, name="api_analyze")
def analyze(body: AnalyzeRequest) -> Analysis:
    """Analyse a whole spec (text or JSON form): every layer's shape, parameters, MACs, memory."""
    return engine.analyze(body.spec, **body.engine_options())


@router.get("/analyze", response_model=Analysis, name="api_analyze_get")
def analyze_get(query: AnalyzeQueryDep, request: Request) -> Analysis | Response:
    """The same analysis with the spec in the query string: the JSON twin of the /analyze page
    (``?format=`` or ``Accept`` may ask for CSV, Markdown, LaTeX or PyTorch code instead)."""
    exported = negotiated(request, lambda: subject_from_spec(query.spec, "analysis",
                                                             **query.engine_options()))
    return exported or engine.analyze(query.spec, **query.engine_options())


@router.post("/layer", response_model=LayerRow, name="api_layer")
def layer(body: LayerRequest) -> LayerRow:
    """Analyse one layer line applied to a given input volume."""
    volume = Volume(body.input.h, body.input.w, body.input.c)
    return engine.analyze_layer(body.layer, volume, dtype=body.dtype, batch=body.batch)
