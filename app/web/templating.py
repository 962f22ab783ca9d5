"""The Jinja environment of the pages, and the helpers that render them."""

from __future__ import annotations

from typing import Any, get_args

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.datastructures import QueryParams
from starlette.responses import Response

from app.engine.limits import LIMITS
from app.engine.result import DTYPE_BYTES, Dtype, Optimizer
from app.web.filters import register_filters
from app.web.settings import Settings

DEFAULT_FORM: dict[str, Any] = {
    "spec": "", "dtype": "float32", "batch": 1, "optimizer": "sgd", "aux": False,
}


def make_templates(settings: Settings) -> Jinja2Templates:
    """Templates from the settings' folder, with archcalc's filters and form choices."""
    templates = Jinja2Templates(directory=settings.templates_dir)
    register_filters(templates.env)
    templates.env.globals.update(
        dtypes=get_args(Dtype), optimizers=get_args(Optimizer), dtype_bytes=DTYPE_BYTES,
        max_batch=LIMITS.max_batch)
    return templates


def get_templates(request: Request) -> Jinja2Templates:
    """The templates of the running app."""
    templates: Jinja2Templates = request.app.state.templates
    return templates


def form_values(params: QueryParams) -> dict[str, Any]:
    """What the form shows: the query string as given (even when invalid), else defaults."""
    form = dict(DEFAULT_FORM)
    form.update({k: v for k, v in params.items() if k in DEFAULT_FORM and k != "aux"})
    form["aux"] = params.get("aux", "").lower() in {"true", "on", "1", "yes"}
    return form


def json_twin(request: Request) -> str:
    """The API URL that answers the same question as this page, as JSON."""
    path = request.app.url_path_for("api_analyze_get")
    query = request.url.query
    return f"{path}?{query}" if query else str(path)


def render_page(request: Request, name: str, context: dict[str, Any],
                status: int = 200) -> Response:
    """Render a page with the form refilled from the query string and its JSON twin linked."""
    base: dict[str, Any] = {"form": form_values(request.query_params), "errors": [], "analysis": None,
            "json_url": json_twin(request)}
    return get_templates(request).TemplateResponse(request, name, base | context,
                                                   status_code=status)


def render_error_page(request: Request, status: int, errors: list[dict[str, Any]]) -> Response:
    """The analyze page showing the error list in place of the result."""
    return render_page(request, "analyze.html", {"errors": errors}, status)
