"""The Jinja environment of the pages, and the helpers that render them.

A page is a template under ``templates/``; the parts of it that htmx swaps are the partials
``templates/partials/_*.html``, which the page includes. :func:`render` answers a normal request
with the page and an htmx request (header ``HX-Request``) with the partial, the same markup
either way, and says so in ``Vary: HX-Request``.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, get_args

from fastapi import Request
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from starlette.datastructures import QueryParams
from starlette.responses import Response

from app.engine.limits import LIMITS
from app.engine.lines import editor_line_count
from app.engine.options import DEFAULTS
from app.engine.result import DTYPE_BYTES, Analysis, Dtype, Optimizer
from app.examples import ALEXNET_SLIDE, EXAMPLES
from app.present import archdiagram
from app.present.table import build_table
from app.web.cells import columns, row_cells, working_of
from app.web.filters import register_filters
from app.web.paging import paged
from app.web.settings import Settings

HTMX_VERSION = "2.0.11"

DEFAULT_FORM: dict[str, Any] = {
    "spec": "", **asdict(DEFAULTS), "flops": False, "allops": False,
}
#: the form's on/off switches (checkboxes: present means on)
SWITCHES = ("aux", "flops", "allops")
#: what the editor shows when the URL names no spec
DEFAULT_SPEC = ALEXNET_SLIDE
#: the most boxes the calculator's architecture diagram draws (the largest zoo model's has 93):
#: past it the page says so instead, as a spec of 5,000 distinct lines would draw megabytes
DIAGRAM_BOXES = 600
#: the rows of the editor at least and at most (the gutter shows the line numbers)
EDITOR_ROWS = (14, 40)


def make_templates(settings: Settings) -> Jinja2Templates:
    """Templates from the settings' folder, with archcalc's filters and form choices."""
    templates = Jinja2Templates(directory=settings.templates_dir)
    register_filters(templates.env)
    templates.env.globals.update(
        dtypes=get_args(Dtype), optimizers=get_args(Optimizer), dtype_bytes=DTYPE_BYTES,
        max_batch=LIMITS.max_batch, htmx_version=HTMX_VERSION, examples=EXAMPLES,
        row_cells=row_cells,
        # the receptive-field diagrams' style sheet, for the #rf-panel they are swapped into
        rf_css=(settings.static_dir / "rf.css").is_file())
    return templates


def get_templates(request: Request) -> Jinja2Templates:
    """The templates of the running app."""
    templates: Jinja2Templates = request.app.state.templates
    return templates


def is_htmx(request: Request) -> bool:
    """An htmx swap request (not a history restore, which needs the whole page)."""
    return (request.headers.get("HX-Request") == "true"
            and request.headers.get("HX-History-Restore-Request") != "true")


def _on(value: str) -> bool:
    return value.lower() in {"true", "on", "1", "yes"}


def form_values(params: QueryParams) -> dict[str, Any]:
    """What the form shows: the query string as given (even when invalid), else defaults.

    Without a spec in the URL the editor shows an example: ``example=<id>`` names one, else
    the AlexNet slide listing.
    """
    form = dict(DEFAULT_FORM)
    form.update({k: v for k, v in params.items() if k in DEFAULT_FORM and k not in SWITCHES})
    form.update({k: _on(params.get(k, "")) for k in SWITCHES})
    if "spec" not in params:
        example = EXAMPLES.get(params.get("example", ""))
        form["spec"] = example[1] if example else DEFAULT_SPEC
    return form


def editor_lines(spec: str) -> int:
    """How many lines the editor's gutter numbers (the line after a final newline counts)."""
    return editor_line_count(spec)


def json_twin(request: Request, form: dict[str, Any]) -> str:
    """The API URL that answers the same question as this page, as JSON."""
    path = request.app.url_path_for("api_analyze_get")
    params = QueryParams({"spec": form["spec"], "dtype": form["dtype"],
                          "batch": str(form["batch"]), "optimizer": form["optimizer"],
                          "aux": "true" if form["aux"] else "false"})
    return f"{path}?{params}"


def _marks(errors: list[dict[str, Any]], analysis: Analysis | None) -> dict[int, dict[str, Any]]:
    """The editor's line marks: the errors on each line, then the warnings."""
    marks: dict[int, dict[str, Any]] = {}
    for e in errors:
        if e.get("line"):
            mark = marks.setdefault(e["line"], {"kind": "error", "messages": []})
            mark["messages"].append(e["message"])
    for w in analysis.warnings if analysis else ():
        mark = marks.setdefault(w.line, {"kind": "warning", "messages": []})
        mark["messages"].append(w.message)
    return marks


def calc_context(request: Request, analysis: Analysis | None,
                 errors: list[dict[str, Any]]) -> dict[str, Any]:
    """Everything the calculator page and its partials show."""
    form = form_values(request.query_params)
    lines = editor_lines(form["spec"])
    opened = frozenset(request.query_params.getlist("open"))
    table = build_table(analysis, fold=not form["allops"], opened=opened) if analysis else None
    pager = None
    if table is not None:  # a window of a long table; its pages link to the calculator
        table, pager = paged(table, request.query_params, request.app.url_path_for("index"))
    # the architecture diagram is drawn for a whole page (it must read without JavaScript) and
    # for a live update only while it is open (``arch=1``): it is half the server's work
    drawn = not is_htmx(request) or request.query_params.get("arch") == "1"
    diagram = archdiagram.diagram(analysis) if analysis and drawn else None
    undrawn = len(diagram.boxes) if diagram and len(diagram.boxes) > DIAGRAM_BOXES else 0
    return {"form": form, "analysis": analysis, "errors": errors, "table": table,
            "pager": pager,
            "calc_diagram": None if undrawn else diagram, "diagram_boxes": undrawn,
            # a live update leaves each cell's working out (half the fragment); the page asks
            # for a cell's when it is opened (GET /working)
            "working_inline": not is_htmx(request),
            "arch_open": request.query_params.get("arch") == "1",
            "marks": _marks(errors, analysis), "lines": lines,
            "editor_rows": max(EDITOR_ROWS[0], min(EDITOR_ROWS[1], lines + 1)),
            "count_key": "flops" if form["flops"] else "macs",
            "columns": columns("flops" if form["flops"] else "macs"),
            "json_url": json_twin(request, form)}


def working_for(request: Request, analysis: Analysis, cell: str) -> Markup | None:
    """One cell's working for the calculator's query (as :func:`calc_context` builds the
    table: the same folding, blocks opened and columns), or None when no cell has that id."""
    form = form_values(request.query_params)
    opened = frozenset(request.query_params.getlist("open"))
    table = build_table(analysis, fold=not form["allops"], opened=opened)
    return working_of(table, columns("flops" if form["flops"] else "macs"), cell)


def render(request: Request, page: str, partial: str, context: dict[str, Any],
           status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """The page for a normal request, the partial for htmx; ``Vary: HX-Request`` on both."""
    htmx = is_htmx(request)
    name = partial if htmx else page
    response = get_templates(request).TemplateResponse(
        request, name, context | {"hx": htmx}, status_code=status,
        headers=(headers or {}) if htmx else None)
    response.headers["Vary"] = "HX-Request"
    return response


def render_calc(request: Request, analysis: Analysis | None, errors: list[dict[str, Any]],
                status: int = 200) -> Response:
    """The calculator. For htmx: the result region, or when the spec is broken, only the
    problem list (the last good table stays in the page, marked stale)."""
    context = calc_context(request, analysis, errors)
    if errors:
        # a spec broken mid-typing is not a failed request: htmx gets the problems with 200 (a
        # browser logs every 4xx fetch as an error), never kept by a cache, as an error is not;
        # the page without JavaScript keeps its 422
        # settled at once, as the form's own swaps are: the problems and their notes in the
        # editor then appear in the same frame
        headers = {"HX-Retarget": "#problems", "HX-Reswap": "innerHTML settle:0ms"}
        if is_htmx(request):
            status = 200
            headers["Cache-Control"] = "no-store"
        return render(request, "calc.html", "partials/_problems.html", context, status, headers)
    return render(request, "calc.html", "partials/_result.html", context, status)


def render_error_page(request: Request, status: int, errors: list[dict[str, Any]]) -> Response:
    """A page's error answer: the calculator with the problems in place, or the 404 page."""
    if status == 422:
        return render_calc(request, None, errors, status)
    context = {"errors": errors, "status": status, "path": request.url.path,
               "form": form_values(QueryParams())}
    return get_templates(request).TemplateResponse(request, "error.html", context,
                                                   status_code=status)
