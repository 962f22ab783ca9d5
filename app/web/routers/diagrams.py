"""Teaching pages: the receptive-field diagram of any layer (/rf) and the one-layer helper (/layer).

Both are GET forms that work without JavaScript; with htmx an ``HX-Request`` gets only the
partial the full page includes (``Vary: HX-Request``). Bad input answers 422 with the problems
shown in the page (or the partial), in the one error shape's fields.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field
from starlette.datastructures import QueryParams

from app import engine
from app.engine.errors import LimitError, SpecError
from app.engine.limits import LIMITS
from app.engine.result import Analysis, Dtype, Optimizer
from app.engine.unitfield import graph_inputs
from app.present.layer_quiz import LAYER_OPS, LayerForm, layer_quiz
from app.present.rfdiagram import UNIT_CHOICES, num, rf_diagram
from app.web.answercache import CachedRoute
from app.web.deps import RunnerDep, SettingsDep
from app.web.errors import error_body, spec_error_items
from app.web.templating import render

router = APIRouter(route_class=CachedRoute, include_in_schema=False, default_response_class=HTMLResponse)

#: what /rf draws when no spec is given: the lecture's three stacked 3x3 convolutions
RF_EXAMPLE = ("input 32x32x3\nconv1: conv 16 3x3\nrelu\nconv2: conv 16 3x3\nrelu\n"
              "conv3: conv 16 3x3\nrelu\n")


class RFQuery(BaseModel):
    """The /rf page's query string: the analysis options, the row and the unit."""

    spec: str = RF_EXAMPLE
    dtype: Dtype = "float32"
    batch: int = Field(1, ge=1, le=LIMITS.max_batch)
    optimizer: Optimizer = "sgd"
    aux: bool = False
    row: str = ""
    #: first, centre, last, or an index "i,j" (row, column from 0)
    unit: str = Field("centre", max_length=40)


def rf_query(query: Annotated[RFQuery, Query()], settings: SettingsDep) -> RFQuery:
    """The query, with the spec held to the same size limit as a request body."""
    size = len(query.spec.encode())
    if size > settings.max_body_bytes:
        raise LimitError("max_body_bytes", f"the spec is {size:,} bytes; the limit is "
                                           f"{settings.max_body_bytes:,} bytes")
    return query


RFQueryDep = Annotated[RFQuery, Depends(rf_query)]


def _network(spec: str | dict[str, Any]) -> engine.Network:
    """The layer graph of a spec the engine has just analysed (so it reads without error)."""
    return engine.parse_json_spec(spec) if isinstance(spec, dict) else engine.parse_spec(spec)


def _spec(text: str) -> str | dict[str, Any]:
    """The spec as the engine takes it: text, or the JSON form when it starts with '{'."""
    if not text.lstrip().startswith("{"):
        return text
    try:
        value = json.loads(text)
    except RecursionError:
        raise SpecError("the JSON spec is nested too deep to read", parameter="spec") from None
    except ValueError as exc:
        raise SpecError(f"the spec starts with '{{' but is not valid JSON: {str(exc)[:80]}",
                        parameter="spec") from None
    if not isinstance(value, dict):
        raise SpecError("the JSON form of a spec is an object", parameter="spec")
    return value


def _pick_row(analysis: Analysis, text: str) -> int:
    """The row number from the query: the last row by default."""
    last = len(analysis.layers) - 1
    if not text.strip():
        return last
    if not text.strip().isascii() or not text.strip().isdecimal() or int(text) > last:
        raise SpecError(f"row '{text[:20]}' is not a row of this network; choose a number "
                        f"from 0 (the input) to {last} ({analysis.layers[last].name})",
                        parameter="row")
    return int(text)


def _json_twin(request: Request, query: RFQuery) -> str:
    """The API answer with the same analysis, as JSON."""
    params = QueryParams({"spec": query.spec, "dtype": query.dtype, "batch": str(query.batch),
                          "optimizer": query.optimizer, "aux": "true" if query.aux else "false"})
    return f"{request.app.url_path_for('api_analyze_get')}?{params}"


def _respond(request: Request, page: str, partial: str, context: dict[str, Any],
             status: int = 200) -> Response:
    """The full page, or for an htmx request the partial it includes (``Vary: HX-Request``)."""
    return render(request, page, partial, {"errors": [], "num": num} | context, status)


@router.get("/rf", name="rf_page")
async def rf_page(request: Request, query: RFQueryDep, run: RunnerDep) -> Response:
    """The receptive field of one layer: a 1-D pyramid down to the input and a 2-D view."""
    return await run(_rf_answer, request, query)  # analysed and rendered off the event loop


def _rf_answer(request: Request, query: RFQuery) -> Response:
    context: dict[str, Any] = {"query": query, "units": UNIT_CHOICES, "analysis": None,
                               "json_url": _json_twin(request, query)}
    try:
        spec = _spec(query.spec)
        analysis = engine.analyze(spec, dtype=query.dtype, batch=query.batch,
                                  optimizer=query.optimizer, aux=query.aux)
        context["analysis"] = analysis
        index = _pick_row(analysis, query.row)
        inputs = graph_inputs(_network(spec), analysis)
        context["diagram"] = rf_diagram(analysis.layers, inputs, index, query.unit)
    except SpecError as exc:
        errors = error_body(spec_error_items(exc))["errors"]
        return _respond(request, "rf.html", "partials/_rf.html",
                        context | {"errors": errors}, 422)
    return _respond(request, "rf.html", "partials/_rf.html", context)


@router.get("/layer", name="layer_page")
async def layer_page(request: Request, form: Annotated[LayerForm, Query()],
                     run: RunnerDep) -> Response:
    """One layer on one input volume: output size, weights, biases and MACs worked out."""
    context: dict[str, Any] = {"lf": form, "layer_ops": LAYER_OPS, "quiz": None}
    try:
        context["quiz"] = await run(layer_quiz, form)
    except SpecError as exc:
        errors = error_body(spec_error_items(exc))["errors"]
        return _respond(request, "layer.html", "partials/_layer.html",
                        context | {"errors": errors}, 422)
    return _respond(request, "layer.html", "partials/_layer.html", context)
