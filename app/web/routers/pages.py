"""The HTML pages. They work without JavaScript: the form is a GET, so the URL is the page.

``/`` (also ``/calc`` and ``/analyze``) is the calculator: the spec editor and the result side
by side. htmx re-requests it as the user types and swaps in the result partial; a spec that
cannot be analysed answers 422 with the problems (see ``app.web.templating.render_calc``).
"""

from __future__ import annotations

import re
import time

from fastapi import APIRouter, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from app import engine
from app.web.answercache import CachedRoute
from app.web.deps import RunnerDep, SettingsDep, analyze_query
from app.web.schemas import AnalyzeQuery
from app.web.templating import form_values, render_calc, working_for

#: a table cell's id: a row (w) or block (g), its number, a column slot
CELL_ID = re.compile(r"[wg][0-9]{1,6}[a-z]{1,12}")

router = APIRouter(route_class=CachedRoute, include_in_schema=False, default_response_class=HTMLResponse)


def _query(request: Request) -> AnalyzeQuery:
    """The options of the URL, or of the example it names, validated as the API does."""
    form = form_values(request.query_params)
    raw = {k: str(v) for k, v in form.items() if k in AnalyzeQuery.model_fields}
    raw["aux"] = "true" if form["aux"] else "false"
    try:
        return AnalyzeQuery.model_validate(raw)
    except ValidationError as exc:  # the same 422 the API gives, shown in the page
        raise RequestValidationError([{**e, "loc": ("query", *e["loc"])}
                                      for e in exc.errors()]) from exc


@router.get("/", name="index")
@router.get("/calc", name="calc")
@router.get("/analyze", name="analyze_page")
async def calc(request: Request, settings: SettingsDep, run: RunnerDep) -> Response:
    """The calculator: the spec in the URL (or an example), its table, totals and claims."""
    query = analyze_query(_query(request), settings)
    return await run(_calc_answer, request, query)  # analysed and rendered off the event loop


def _calc_answer(request: Request, query: AnalyzeQuery) -> Response:
    start = time.perf_counter()
    analysis = engine.analyze(query.spec, query.options())
    analysed = time.perf_counter()
    response = render_calc(request, analysis, [])
    done = time.perf_counter()
    # the server's share of a keystroke, for the browser's devtools and benchmarks/
    response.headers["Server-Timing"] = (f"engine;dur={(analysed - start) * 1000:.2f}, "
                                         f"html;dur={(done - analysed) * 1000:.2f}, "
                                         f"total;dur={(done - start) * 1000:.2f}")
    return response


@router.get("/working", name="cell_working")
async def cell_working(request: Request, settings: SettingsDep, run: RunnerDep) -> Response:
    """One cell's working in the calculator's table (a live update leaves it out; the page
    asks for it when the cell is opened): the calculator's query and ``cell``, a cell's id."""
    cell = request.query_params.get("cell", "")
    if not CELL_ID.fullmatch(cell):
        raise RequestValidationError([{"type": "value_error", "loc": ("query", "cell"),
                                       "msg": "cell must name a table cell, such as w3params",
                                       "input": cell[:40]}])
    query = analyze_query(_query(request), settings)
    analysis = await run(engine.analyze, query.spec, query.options())
    html = working_for(request, analysis, cell)
    if html is None:
        raise HTTPException(404, f"the table has no cell '{cell}'")
    return HTMLResponse(html)
