"""One error shape for the whole app, and the handlers that produce it.

Every error answer carries the same list, as JSON under /api and in the page elsewhere::

    {"errors": [{"line": 3, "message": "...", "layer": "conv2", "limit": "max_layers"},
                {"line": 0, "message": "...", "parameter": "batch"}]}

``line`` is the 1-based spec line (0 when the problem is not tied to a line); ``layer``,
``limit`` and ``parameter`` (the request parameter at fault) appear only when known. Messages
quote what the user sent; text that cannot be encoded (a lone surrogate) is shown escaped, so
an error answer can always be written, and so is an invisible character (a bidi override). Status codes::

    422  the input is wrong: a bad spec, a limit exceeded, a malformed or mistyped request
         (also the 400 FastAPI raises when it cannot read a body)
    404  no such route; 405 wrong method
    503  every analysis place stayed busy for analysis_seconds (with Retry-After)
    500  a bug (logged); the goal is that none ever happens
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException
from starlette.routing import Match, Mount

from app.engine.errors import SpecError, visible
from app.web.concurrency import Busy
from app.web.schemas import AnalyzeRequest, ErrorItem, ErrorResponse, LayerRequest
from app.web.templating import render_error_page

log = logging.getLogger("archcalc.web")

#: request fields whose upper bound is one of the engine's named limits
LIMITED_FIELDS = {"batch": "max_batch", "h": "max_hw", "w": "max_hw", "c": "max_channels"}

#: every field a request body may have, to suggest one for a misspelt field
KNOWN_FIELDS = sorted(set(AnalyzeRequest.model_fields) | set(LayerRequest.model_fields))

#: JSON's names for what a body decoded to
_JSON_KINDS = {"list": "array", "str": "string", "int": "number", "float": "number",
               "bool": "boolean", "NoneType": "null"}

#: documents the error shape in OpenAPI; routes pass it as ``responses=``
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    422: {"model": ErrorResponse, "description": "a bad spec, a limit exceeded, or a "
                                                 "malformed request"},
    503: {"model": ErrorResponse, "description": "every analysis place stayed busy for "
                                                 "analysis_seconds; try again after Retry-After"},
}


def printable(text: str) -> str:
    """``text`` with lone surrogates escaped (``\\ud800``), so that it encodes as UTF-8, and
    invisible characters written out (``\\u202e``: a right-to-left override quoted from a
    path or a parameter would turn the rest of the message around)."""
    return visible(text.encode("utf-8", "backslashreplace").decode("utf-8"))


def error_body(items: Sequence[ErrorItem]) -> dict[str, Any]:
    """The JSON body of every error answer (its text always encodable)."""
    body = ErrorResponse(errors=list(items)).model_dump(exclude_none=True)
    body["errors"] = [{k: printable(v) if isinstance(v, str) else v for k, v in item.items()}
                      for item in body["errors"]]
    return body


def spec_error_items(exc: SpecError) -> list[ErrorItem]:
    """The engine's issues, each with the limit it exceeded, if any."""
    return [ErrorItem(line=i.line, message=i.message, layer=i.layer, limit=i.limit,
                      parameter=i.parameter) for i in exc.issues]


def _suggestion(name: str) -> str:
    """"; did you mean 'batch'?" for a misspelt field, else ""."""
    close = difflib.get_close_matches(name, KNOWN_FIELDS, n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


def _field_item(where: list[str], err: dict[str, Any]) -> ErrorItem:
    """A readable message for one bad field, naming the field and, for a bound, the limit."""
    field, kind, value = ".".join(where), err["type"], err.get("input")
    limit = LIMITED_FIELDS.get(where[-1])
    if limit is not None and kind in {"less_than_equal", "less_than"}:
        bound = err.get("ctx", {}).get("le", err.get("ctx", {}).get("lt"))
        return ErrorItem(line=0, limit=limit, parameter=where[0],
                         message=f"{field} = {value} is over the limit of {bound} ({limit})")
    shown = repr(value) if kind != "missing" and len(repr(value)) <= 60 else ""
    got = f" (got {shown})" if shown else ""
    hint = _suggestion(where[-1]) if kind == "extra_forbidden" else ""
    return ErrorItem(line=0, parameter=where[0], message=f"{field}: {err['msg']}{got}{hint}")


def _body_message(err: dict[str, Any]) -> str:
    """What is wrong with a body that is missing, not JSON, or not an object."""
    if err["type"] == "json_invalid":
        detail = err.get("ctx", {}).get("error", "")
        return f"the request body is not valid JSON: {detail} (at character {err['loc'][1]})"
    if err["type"] == "missing":
        return 'the request body is missing: send a JSON object such as {"spec": "input 227x227x3"}'
    if isinstance(err.get("input"), bytes):
        return "the request body must be JSON, sent with Content-Type: application/json"
    kind = _JSON_KINDS.get(type(err.get("input")).__name__, "value")
    return (f"the request body must be a JSON object, not a {kind}: "
            '{"spec": "input 227x227x3", ...}')


def _body_item(err: dict[str, Any]) -> ErrorItem:
    return ErrorItem(line=0, parameter="body", message=_body_message(err))


def validation_items(exc: RequestValidationError) -> list[ErrorItem]:
    """FastAPI's validation errors in the one error shape."""
    items = []
    for err in exc.errors():
        where = [str(part) for part in err["loc"][1:]]
        json_error = err["type"] == "json_invalid"
        items.append(_body_item(err) if json_error or not where else _field_item(where, err))
    return items


def wants_html(request: Request) -> bool:
    """Pages get their errors in the page; everything under /api gets JSON."""
    path = request.url.path
    return not (path.startswith("/api/") or path in {"/api", "/openapi.json"})


def error_response(request: Request, status: int, items: Sequence[ErrorItem]) -> Response:
    """Answer with the error list, as the page or as JSON."""
    if wants_html(request):
        return render_error_page(request, status, error_body(items)["errors"])
    return JSONResponse(error_body(items), status_code=status)


async def _on_spec_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SpecError)
    return error_response(request, 422, spec_error_items(exc))


async def _on_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return error_response(request, 422, validation_items(exc))


async def _on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    detail = str(exc.detail)
    if detail == HTTPStatus(exc.status_code).phrase:  # the default: say what was asked
        detail = f"{detail}: {request.method} {request.url.path}"
    status, parameter = exc.status_code, None
    if status == 400:  # FastAPI could not read the body; archcalc itself raises no 400
        status, parameter, detail = 422, "body", f"the request body could not be read: {detail}"
    item = ErrorItem(line=0, message=detail, parameter=parameter)
    response = error_response(request, status, [item])
    response.headers.update(exc.headers or {})
    if status == 405:  # Starlette lists the methods of the first route of the path only
        response.headers["Allow"] = ", ".join(allowed_methods(request))
    return response


#: the methods a 405's ``Allow`` may name
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of this path answers (a path may have a GET and a POST route),
    asked of the router itself (FastAPI's included routers keep their routes to themselves);
    HEAD wherever GET is (``app.web.middleware.HeadAsGetMiddleware``)."""
    probe = {"type": "http", "path": request.url.path, "root_path": "", "headers": []}
    allowed = {m for m in METHODS if any(
        route.matches({**probe, "method": m})[0] is Match.FULL and
        (not isinstance(route, Mount) or m in {"GET", "HEAD"})  # static files: read only
        for route in request.app.router.routes)}
    if "GET" in allowed:
        allowed.add("HEAD")
    return [m for m in METHODS if m in allowed]


async def _on_busy(request: Request, exc: Exception) -> Response:
    item = ErrorItem(line=0, message=str(exc), limit="analysis_threads")
    response = error_response(request, 503, [item])
    response.headers["Retry-After"] = "1"
    return response


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    item = ErrorItem(line=0, message=f"internal error ({type(exc).__name__}); this is a bug "
                                     "in archcalc, please report it with the spec")
    return JSONResponse(error_body([item]), status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    """Route every kind of failure to the one error shape."""
    app.add_exception_handler(SpecError, _on_spec_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(HTTPException, _on_http_error)
    app.add_exception_handler(Busy, _on_busy)
    app.add_exception_handler(Exception, _on_unexpected)
