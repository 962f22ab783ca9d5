"""The FastAPI app factory: settings, templates, error handlers, body limit, routers."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp

from app.importer.onnx_file import TOO_BIG_HINT
from app.web.answercache import make_cache
from app.web.errors import install_error_handlers
from app.web.middleware import BodyLimitMiddleware, HeadAsGetMiddleware, install_openapi_docs
from app.web.ratelimit import RateLimitMiddleware
from app.web.routers import (
    api,
    compare,
    diagrams,
    exports,
    importer,
    lecture_pages,
    live,
    models_pages,
    pages,
    runs,
    shortlinks,
    zoo,
)
from app.web.security import SecurityHeadersMiddleware
from app.web.settings import Settings
from app.web.templating import get_templates, make_templates

DESCRIPTION = """\
CNN architecture calculator: give a network as a spec (one layer a line, or the JSON form)
and get each layer's output shape, parameters, multiply-accumulates, activations, memory and
receptive field, with the arithmetic shown.

Every error answers 422 (or 404/405; 408, 413, 429 and 503 from the transport limits, the rate
limit and the analysis places) with one shape:
`{"errors": [{"line": N, "message": "...", "layer"?: "...", "limit"?: "max_batch",
"parameter"?: "batch"}]}`: every problem at once, each with its spec line (0 when it is not
tied to one) or the request parameter at fault.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; tests pass their own ``Settings``."""
    settings = settings or Settings()
    app = FastAPI(title="archcalc", version="0.1.0", description=DESCRIPTION, docs_url=None,
                  redoc_url=None)
    app.state.settings = settings
    app.state.templates = make_templates(settings)
    app.state.answer_cache = make_cache(settings.answer_cache_entries,
                                        settings.answer_cache_bytes)
    install_error_handlers(app)
    uploads = (settings.max_import_bytes, "max_import_bytes")
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes,
                       body_seconds=settings.body_seconds, drain_bytes=settings.drain_bytes,
                       drain_seconds=settings.drain_seconds,
                       overrides={"/api/import": uploads, "/import": uploads},
                       hints={"/api/import": TOO_BIG_HINT, "/import": TOO_BIG_HINT})
    app.add_middleware(RateLimitMiddleware, settings=settings)
    app.add_middleware(HeadAsGetMiddleware)  # every GET answers HEAD too
    install_openapi_docs(app)
    _outermost(app, SecurityHeadersMiddleware)  # every response, the 500 answer included
    app.add_api_route("/docs", docs, include_in_schema=False, name="docs")
    app.mount("/static", StaticFiles(directory=settings.static_dir), name="static")
    app.include_router(api.router)
    app.include_router(zoo.router)
    app.include_router(importer.router)
    app.include_router(exports.router)
    app.include_router(pages.router)
    app.include_router(diagrams.router)
    app.include_router(runs.router)
    models_pages.register(app)
    app.include_router(compare.router)
    app.include_router(lecture_pages.router)
    app.include_router(shortlinks.router)
    live.install(app)
    return app


def _outermost(app: FastAPI, middleware: Callable[[ASGIApp], ASGIApp]) -> None:
    """Wrap the whole stack, outside Starlette's ServerErrorMiddleware (which answers a 500
    straight to the server, past anything ``add_middleware`` installs)."""
    build = app.build_middleware_stack
    app.build_middleware_stack = lambda: middleware(build())  # type: ignore[method-assign]


def docs(request: Request) -> Response:
    """Swagger UI from our own copy of swagger-ui-dist: it works offline."""
    return get_templates(request).TemplateResponse(request, "docs.html",
                                                   {"openapi_url": request.app.openapi_url})
