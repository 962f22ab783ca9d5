"""The zoo's pages: the gallery (``/models``, also under the calculator on ``/``) and one page
per model (``/models/{id}``) with the calculator's table, its charts, the batch planner, and
for a network with a paper and a torchvision build, what differs between the two.

The model page's form is a GET with the API's parameter names (``input``, ``dtype``, ``batch``,
``optimizer``, ``aux``) plus the planner's ``budget`` and ``budget_unit``: the URL is the page. htmx
re-requests it on every change and swaps in ``partials/_model_result.html`` (the same markup
the full page includes), pushing the URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from starlette.exceptions import HTTPException

from app import zoo
from app.engine import Analysis, SpecError
from app.present import archdiagram, charts, planner, zoocharts
from app.present.compare import Diff, describe, diff
from app.present.table import build_table
from app.web.answercache import CachedRoute
from app.web.cells import columns
from app.web.deps import RunnerDep
from app.web.errors import spec_error_items
from app.web.routers.zoo import ModelQuery
from app.web.templating import get_templates, is_htmx

router = APIRouter(route_class=CachedRoute, include_in_schema=False, default_response_class=HTMLResponse)

#: the paper's build and torchvision's, both ways
PAIRS: dict[str, str] = {"alexnet": "tv-alexnet", "googlenet": "tv-googlenet",
                         "resnet50": "tv-resnet50", "resnet101": "tv-resnet101",
                         "resnet152": "tv-resnet152"}
PAIRS |= {tv: paper for paper, tv in PAIRS.items()}
PLANNER_DEFAULT = {"budget": "5", "budget_unit": "GB", "shade": "volume"}
#: the planner's unit was once called ``unit``, a name the receptive field's page uses for
#: something else; links written then still name it so
OLD_UNITS = ("GB", "GiB")


@dataclass(frozen=True, slots=True)
class Card:
    """One model in the gallery."""

    summary: zoo.ModelSummary
    #: the ILSVRC entry it was, as the lecture lists it, and whether it won
    ilsvrc: zoo.IlsvrcResult | None
    winner: bool


def gallery() -> list[tuple[int, list[Card]]]:
    """Every zoo model as a card, grouped by year (oldest first), catalog order within a year."""
    entries = {e.model: e for e in zoo.ilsvrc_results() if e.model}
    years: dict[int, list[Card]] = {}
    for s in zoo.model_summaries():
        entry = entries.get(s.id)
        winner = entry is not None and "second" not in entry.entry.lower()
        years.setdefault(s.year, []).append(Card(s, entry, winner))
    return sorted(years.items())


def short_name(info: zoo.ModelInfo) -> str:
    """'ResNet-50 (torchvision, V1.5)' -> 'ResNet-50 (tv)': a chart label."""
    base = info.name.split(" (")[0]
    return f"{base} (tv)" if info.id.startswith("tv-") else base


def complexity_chart() -> charts.BubbleChart:
    """Published top-1 against computed MACs for every zoo model with a published top-1."""
    points = [zoocharts.ZooPoint(s.id, short_name(s), s.totals.macs, s.top1, s.totals.params)
              for s in zoo.model_summaries() if s.top1 is not None]
    return zoocharts.complexity(points)


def ilsvrc_chart() -> charts.BarChart:
    entries = [zoocharts.YearEntry(e.year or 0, e.entry, e.top5_error, e.model)
               for e in zoo.ilsvrc_results()]
    human = zoo.human_top5()
    return zoocharts.ilsvrc(entries, human.top5_error, "human (Karpathy)")


def signed(value: float) -> str:
    """A change with its sign and thousands separators: +231,211,008, -4, +0."""
    return f"{value:+,}" if isinstance(value, int) else f"{value:+,.2f}"


def register(app: FastAPI) -> None:
    """Add the pages, and the gallery to every template (the calculator shows it too)."""
    env = app.state.templates.env
    env.globals.update(zoo_gallery=gallery, plan_for=plan_for, budget_unit=budget_unit)
    env.filters.update(describe_row=describe, budget_text=planner.budget_text, signed=signed)
    app.include_router(router)


# -- the model page ---------------------------------------------------------------------------
def model_form(info: zoo.ModelInfo, params: Mapping[str, str]) -> dict[str, Any]:
    """What the controls show: the URL's values as given, else the model's defaults."""
    form: dict[str, Any] = {"input": f"{info.input.h}x{info.input.w}x{info.input.c}",
                            "dtype": "float32", "batch": "1", "optimizer": "sgd"}
    form |= PLANNER_DEFAULT
    form |= {k: v for k, v in params.items() if k in form}
    form["budget_unit"] = budget_unit(params)
    form["aux"] = params.get("aux", "").lower() in {"true", "on", "1"}
    return form


def api_params(form: Mapping[str, Any]) -> dict[str, str]:
    """The API's query for the same analysis."""
    return {"input": str(form["input"]), "dtype": str(form["dtype"]),
            "batch": str(form["batch"]), "optimizer": str(form["optimizer"]),
            "aux": "true" if form["aux"] else "false"}


def _analyse(model_id: str, form: dict[str, Any]) -> tuple[Analysis, ModelQuery]:
    query = ModelQuery.model_validate(api_params(form))
    analysis = zoo.analyze_model(model_id, input=query.volume(), **query.engine_options())
    return analysis, query


def budget_unit(params: Mapping[str, str]) -> str:
    """The planner's unit from a URL: ``budget_unit``, or an older link's ``unit=GB``."""
    if "budget_unit" in params:
        return params["budget_unit"]
    old = params.get("unit", "")
    return old if old in OLD_UNITS else PLANNER_DEFAULT["budget_unit"]


def plan_for(analysis: Analysis, params: Mapping[str, str]) -> dict[str, Any]:
    """The planner's answer for a page's analysis and the ``budget`` and ``budget_unit`` of its URL
    (the model page and the calculator share it)."""
    budget = params.get("budget", PLANNER_DEFAULT["budget"])
    unit = budget_unit(params)
    try:
        return {"plan": planner.plan(analysis, budget, unit), "error": None}
    except planner.PlanError as exc:
        return {"plan": None, "error": str(exc)}


def model_context(request: Request, model_id: str) -> tuple[dict[str, Any], int]:
    """Everything the model page shows, and its status (422 when the options are bad)."""
    try:
        info = zoo.get_model(model_id)
    except zoo.UnknownModel as exc:
        raise HTTPException(404, str(exc)) from None
    form = model_form(info, request.query_params)
    context: dict[str, Any] = {"info": info, "form": form, "errors": [], "analysis": None,
                               "pair": PAIRS.get(model_id), "hx": False, "count_key": "macs",
                               "columns": columns("macs"), "marks": {},
                               "json_url": f"/api/models/{model_id}?{urlencode(api_params(form))}"}
    try:
        analysis, query = _analyse(model_id, form)
    except SpecError as exc:
        context["errors"] = [i.model_dump(exclude_none=True) for i in spec_error_items(exc)]
        return context, 422
    except ValidationError as exc:
        context["errors"] = [{"line": 0, "parameter": ".".join(map(str, e["loc"])),
                              "message": f"{'.'.join(map(str, e['loc']))}: {e['msg']}"}
                             for e in exc.errors()]
        return context, 422
    label = info.name
    context |= {
        "analysis": analysis, "table": build_table(analysis),
        "rf_spec": zoo.model_spec(model_id, query.volume()),
        "rf_options": {k: v for k, v in api_params(form).items() if k != "input"},
        "calc_url": "/?" + urlencode({"spec": zoo.model_spec(model_id, query.volume())}
                                     | {k: v for k, v in api_params(form).items()
                                        if k != "input"}),
        "charts": [charts.memory_params(analysis, label), charts.cumulative_macs(analysis, label),
                   charts.rf_growth(analysis, label)],
        "planner": plan_for(analysis, form),
        "diagram": archdiagram.diagram(analysis, label,
                                       "macs" if form["shade"] == "macs" else "volume"),
        "diff": _diff(model_id, form, analysis),
    }
    return context, 200


def _diff(model_id: str, form: dict[str, Any], analysis: Analysis) -> Diff | None:
    other = PAIRS.get(model_id)
    if other is None:
        return None
    query = ModelQuery.model_validate(api_params(form) | {"aux": "false"})
    try:
        theirs = zoo.analyze_model(other, input=query.volume(), **query.engine_options())
    except SpecError:
        return None
    ours = analysis if not form["aux"] else zoo.analyze_model(
        model_id, input=query.volume(), **query.engine_options())
    return diff(ours, theirs)


def _zoo_charts() -> dict[str, Any]:
    return {"complexity": complexity_chart(), "ilsvrc": ilsvrc_chart()}


@router.get("/models", name="models_page")
async def models_page(request: Request, run: RunnerDep) -> Response:
    """The zoo gallery by year, the complexity chart and the ILSVRC winners."""
    context = await run(_zoo_charts)
    return get_templates(request).TemplateResponse(request, "models.html", context)


@router.get("/models/{model_id}", name="model_page")
async def model_page(request: Request, model_id: str, run: RunnerDep) -> Response:
    """One zoo model: its table, charts, planner and what differs from its other build."""
    return await run(_model_answer, request, model_id)  # made off the event loop


def _model_answer(request: Request, model_id: str) -> Response:
    context, status = model_context(request, model_id)
    name = "partials/_model_result.html" if is_htmx(request) else "model.html"
    response = get_templates(request).TemplateResponse(request, name, context,
                                                       status_code=status)
    response.headers["Vary"] = "HX-Request"
    return response
