"""Downloads: any analysis or zoo model as CSV, Markdown, LaTeX, JSON or PyTorch code.

``GET /api/export/analyze?spec=...&format=csv`` and ``GET /api/export/models/{id}?format=md``
answer the export as a file (``Content-Disposition: attachment``); without ``format`` the
``Accept`` header decides, and JSON is the default. Every export states its conventions (MACs or
FLOPs, dtype, batch, MB or MiB) in its header. The same formats are negotiated on
``GET /api/analyze`` and ``GET /api/models/{id}`` (``app.web.downloads``).
"""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from app import export
from app.web.answercache import CachedRoute
from app.web.deps import AnalyzeQueryDep, RunnerDep
from app.web.downloads import FORMAT_HELP, choose, download, model_subject
from app.web.errors import ERROR_RESPONSES
from app.web.routers.zoo import NOT_FOUND, ModelQuery, known

router = APIRouter(route_class=CachedRoute, prefix="/api/export", tags=["exports"], responses=ERROR_RESPONSES)

FormatQuery = Annotated[str | None, Query(description=FORMAT_HELP)]
DOWNLOAD: dict[int | str, dict[str, object]] = {
    200: {"description": "the export as a file, its conventions stated in its header",
          "content": {f.media_type: {} for f in export.FORMATS.values()}}}


@router.get("/analyze", name="export_analyze", response_class=Response, responses=DOWNLOAD)
async def export_analyze(query: AnalyzeQueryDep, request: Request, run: RunnerDep,
                         format: FormatQuery = None) -> Response:
    """The analysis of the spec in the query string, as a file to download."""
    fmt = choose(format, request.headers.get("accept")) or export.FORMATS["json"]
    return await download(run, fmt, partial(export.subject_from_spec, query.spec, "analysis",
                                            **query.engine_options()))


@router.get("/models/{model_id}", name="export_model", response_class=Response,
            responses=DOWNLOAD | NOT_FOUND)
async def export_model(model_id: str, query: Annotated[ModelQuery, Query()], request: Request,
                       run: RunnerDep, format: FormatQuery = None) -> Response:
    """A zoo model's analysis as a file to download; ``input=HxWxC`` replaces its input."""
    fmt = choose(format, request.headers.get("accept")) or export.FORMATS["json"]
    return await download(run, fmt, partial(model_subject, known(model_id), query.volume(),
                                            query.engine_options()))
