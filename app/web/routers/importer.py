"""Import a network: ``POST /api/import`` (an ONNX upload, or a torchvision name as JSON) and the
``/import`` page. The web app never imports user code: only ONNX files (read with the ``onnx``
package, no runtime) and torchvision's own builders (traced with torch.fx) are accepted.

The answer is the imported spec, every node the spec language cannot express (refused by name,
never dropped) and, when nothing was refused, the spec's analysis. torch, torchvision and onnx
are optional: without them the route answers 422 saying which extra to install.

The import itself runs in a child process (app.importer.pool: a memory cap, a deadline, a
bounded queue), never in the web process; only the analysis of the imported spec runs here, on
the engine's threads. A GET of the page never imports, whatever its query: the form POSTs.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import from_json
from starlette.datastructures import UploadFile as StarletteUpload

from app import engine
from app.engine import Analysis
from app.engine.errors import LimitError, SpecError
from app.importer.pool import (
    ImportBusy,
    ImportPool,
    Job,
    OnnxJob,
    PoolLimits,
    TorchvisionJob,
    pool_for,
    warm_up,
)
from app.web.concurrency import AnalysisRunner
from app.web.deps import RunnerDep
from app.web.errors import ERROR_RESPONSES, error_response
from app.web.schemas import ErrorItem
from app.web.templating import get_templates


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The import fork server starts with the app, so the first import finds torch loaded."""
    try:
        warm_up()
    except OSError:  # no process could be started now: the first import will try again
        log.warning("the import fork server could not be started", exc_info=True)
    yield


router = APIRouter(tags=["import"], responses=ERROR_RESPONSES, lifespan=_lifespan)
log = logging.getLogger("archcalc.web")
#: the largest ONNX upload, unless the app's settings set ``max_import_bytes``
DEFAULT_MAX_IMPORT_BYTES = 64 * 1024 * 1024


class TorchvisionImport(BaseModel):
    """Import one of torchvision's classification models, untrained."""

    model_config = ConfigDict(extra="forbid")

    torchvision: str = Field(description="the builder's name, e.g. resnet18", max_length=64)
    size: int | None = Field(None, ge=32, le=1024,
                             description="input height and width (default: the model's own, "
                                         "224 or 299)")


class RefusedNode(BaseModel):
    node: str
    target: str
    reason: str


class ImportAnswer(BaseModel):
    spec: str = Field(description="the model in the spec language")
    refused: list[RefusedNode] = Field(description="nodes the spec language cannot express; "
                                                   "when any, the spec is not analysed")
    notes: list[str] = Field(description="what was simplified or left out, and why")
    analysis: Analysis | None


class ImportRefused(SpecError):
    """The model could not be read at all: answered 422 in the one error shape."""


def max_import_bytes(request: Request) -> int:
    """The upload limit: the app's ``max_import_bytes`` setting, else 64 MiB."""
    return int(getattr(request.app.state.settings, "max_import_bytes",  # the app's setting
                       DEFAULT_MAX_IMPORT_BYTES))


def _pool(request: Request) -> ImportPool:
    """This process's import pool, bounded by the app's settings."""
    s = request.app.state.settings
    return pool_for(PoolLimits(processes=s.import_processes, queue=s.import_queue,
                               seconds=s.import_seconds, memory_bytes=s.import_memory_bytes))


async def _in_child(request: Request, job: Job) -> Any:
    """The job run in a child process (app.importer.pool); its refusals in the error shape."""
    from app.importer.api import ImportFailed

    try:
        return await _pool(request).run(job)
    except ImportFailed as exc:
        raise ImportRefused(str(exc), 0) from None
    except ImportError as exc:
        raise ImportRefused(f"importing needs archcalc's 'import' extra (torch, torchvision, "
                            f"onnx), which this server lacks: {exc}", 0) from None
    except OSError as exc:  # no process could be started now (a 503, as when all are busy)
        raise ImportBusy(f"no import process could be started ({exc.strerror or exc}); try "
                         f"again in {_pool(request).limits.retry_after} s") from None


def _busy(request: Request, exc: ImportBusy) -> Response:
    """503 with Retry-After: the import places and their queue are full."""
    response = error_response(request, 503, [ErrorItem(line=0, message=str(exc),
                                                       limit="import_queue")])
    response.headers["Retry-After"] = str(_pool(request).limits.retry_after)
    return response


async def from_torchvision(request: Request, body: TorchvisionImport) -> Any:
    from app.importer.tv import CLASSIFIERS

    if body.torchvision not in CLASSIFIERS:  # refused here: no process for a name we lack
        raise ImportRefused(f"unknown torchvision model {body.torchvision!r}; known: "
                            f"{', '.join(CLASSIFIERS)}", 0)
    return await _in_child(request, TorchvisionJob(body.torchvision, body.size))


async def from_upload(request: Request, upload: StarletteUpload) -> Any:
    limit = max_import_bytes(request)
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise LimitError("max_import_bytes", f"the file is more than {limit:,} bytes, over the "
                         "limit (max_import_bytes)")
    nodes = request.app.state.settings.import_max_nodes
    return await _in_child(request, OnnxJob(data, upload.filename or "an ONNX file", limit,
                                            nodes))


def answer(result: Any) -> ImportAnswer:
    """The answer, the spec analysed when nothing was refused (run on the engine's threads)."""
    analysis = None if result.refused else engine.analyze(result.spec)
    return ImportAnswer(spec=result.spec, notes=list(result.notes), analysis=analysis,
                        refused=[RefusedNode(node=r.node, target=r.target, reason=r.reason)
                                 for r in result.refused])


_BODY_DOC: dict[str, Any] = {"requestBody": {"required": True, "content": {
    "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
        "file": {"type": "string", "format": "binary", "description": "an .onnx file"}}}},
    "application/json": {"schema": TorchvisionImport.model_json_schema()},
}}}


@router.post("/api/import", response_model=ImportAnswer, name="api_import",
             openapi_extra=_BODY_DOC)
async def api_import(request: Request, run: RunnerDep) -> Response:
    """Import an ONNX file (multipart field ``file``) or a torchvision model ({"torchvision":
    "resnet18"}) as a spec, with every refused node and the analysis."""
    kind = request.headers.get("content-type", "")
    try:
        if kind.startswith("multipart/form-data"):
            form = await request.form(max_files=1, max_fields=4)
            upload = form.get("file")
            if not isinstance(upload, StarletteUpload):
                raise ImportRefused("send the ONNX file in the multipart field 'file'", 0)
            result = await from_upload(request, upload)
        else:
            result = await from_torchvision(request, _json_body(await request.body()))
    except ImportBusy as exc:
        return _busy(request, exc)
    return await run.json(ImportAnswer, answer, result)


def _json_body(raw: bytes) -> TorchvisionImport:
    """The JSON body, its errors in the one error shape as the other routes give them."""
    if not raw.strip():
        raise ImportRefused('the request body is empty: send {"torchvision": "resnet18"} as '
                            "JSON, or an ONNX file as multipart field 'file'", 0)
    try:  # pydantic's parser: bounded recursion, no limit on digits to trip over
        obj = from_json(raw)
    except ValueError as exc:
        if "recursion" in str(exc):
            raise ImportRefused("the request body is nested too deeply to be the JSON object "
                                '{"torchvision": "resnet18"}', 0) from None
        raise ImportRefused(f"the request body is not valid JSON: {exc}", 0) from None
    if not isinstance(obj, dict):
        raise ImportRefused('the request body must be a JSON object such as '
                            '{"torchvision": "resnet18"}', 0)
    try:
        return TorchvisionImport.model_validate(obj)
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])}
                                      for e in exc.errors()]) from None


# -- the page ----------------------------------------------------------------------------------

def _page(request: Request, result: Any = None, errors: list[str] | None = None,
          status: int = 200, chosen: str = "") -> Response:
    """The page: the forms (``chosen``, else the query's ``torchvision``, selected), errors,
    a result."""
    from app.importer.tv import CLASSIFIERS

    context: dict[str, Any] = {"models": CLASSIFIERS, "errors": errors or [], "result": None,
                               "chosen": chosen or request.query_params.get("torchvision", ""),
                               "max_mib": max_import_bytes(request) // 2**20}
    if result is not None:
        context["result"] = result
    return get_templates(request).TemplateResponse(request, "import.html", context,
                                                   status_code=status)


async def _page_result(request: Request, run: AnalysisRunner, fetch: Any,
                       chosen: str = "") -> Response:
    try:
        result = await run(answer, await fetch)
    except ImportBusy as exc:
        return _busy(request, exc)
    except SpecError as exc:
        return _page(request, errors=[i.message for i in exc.issues], status=422, chosen=chosen)
    return _page(request, result, chosen=chosen)


@router.get("/import", name="import_page", include_in_schema=False,
            response_class=HTMLResponse)
async def import_page(request: Request, torchvision: str = "") -> Response:
    """The import page; ``?torchvision=NAME`` chooses that model in the form. A link never
    imports by itself (any page could embed one): the form's POST does."""
    from app.importer.tv import CLASSIFIERS

    if torchvision and torchvision not in CLASSIFIERS:
        return _page(request, errors=[f"unknown torchvision model {torchvision[:64]!r}; "
                                      f"known: {', '.join(CLASSIFIERS)}"], status=422)
    return _page(request)


@router.post("/import", name="import_upload", include_in_schema=False,
             response_class=HTMLResponse)
async def import_upload(request: Request, run: RunnerDep) -> Response:
    """The form's import: an ONNX file (multipart field ``file``) or a torchvision name
    (field ``torchvision``, and ``size``), imported and shown."""
    form = await request.form(max_files=1, max_fields=4)
    upload, name, size = form.get("file"), form.get("torchvision"), form.get("size")
    if isinstance(upload, StarletteUpload):
        return await _page_result(request, run, from_upload(request, upload))
    if isinstance(name, str) and name and not isinstance(size, StarletteUpload):
        try:
            body = TorchvisionImport(torchvision=name[:64], size=int(size) if size else None)
        except (ValueError, ValidationError):
            return _page(request, errors=["size must be a whole number from 32 to 1,024"],
                         status=422)
        return await _page_result(request, run, from_torchvision(request, body), name)
    return _page(request, errors=["choose a torchvision model, or send an ONNX file in the "
                                  "field 'file'"], status=422)
