"""The compare page: two to four zoo models or specs side by side.

``/compare?item=vgg16&item=resnet50`` compares zoo models; an item that is not a zoo id is read
as a spec (``item=input 32x32x64%0Aconv 64 7x7 pad 3``); ``preset=<id>`` loads one of the
lecture's comparisons. Options (``dtype``, ``batch``, ``optimizer``) apply to every item. The
page shows the totals in one table (each item a column, the first the reference), and each
item's subtotals per top-level block.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from app import engine, zoo
from app.engine import Analysis, SpecError
from app.examples import BOTTLENECK_INCEPTION, NAIVE_INCEPTION, SINGLE_7X7, STACKED_3X3
from app.present import charts
from app.present.compare import TOTAL_KEYS, BlockTotal, block_totals
from app.web.answercache import CachedRoute
from app.web.deps import RunnerDep
from app.web.errors import spec_error_items
from app.web.schemas import RequestOptions
from app.web.templating import get_templates

router = APIRouter(route_class=CachedRoute, include_in_schema=False, default_response_class=HTMLResponse)

MIN_ITEMS, MAX_ITEMS = 2, 4
#: stages listed per item at most (the largest zoo model has 36); the rest are counted in one
#: line, so that a 54-byte spec of 2,500 blocks cannot make the page megabytes long
STAGES_SHOWN = 100
#: an item's memory and parameter chart draws one bar a layer, so it is drawn for items of at
#: most this many layers (ResNet-152 has 365; more bars than the chart has pixels show nothing
#: more): the others say so instead
CHART_LAYERS = 600


@dataclass(frozen=True, slots=True)
class Preset:
    title: str
    note: str
    items: tuple[tuple[str, str], ...]  # (label, zoo id or spec text)


PRESETS: dict[str, Preset] = {
    "inception": Preset(
        "Naive vs bottleneck Inception module (28x28x256)",
        "The lecture's slides 33:01-39:42: 1x1 convolutions before the 3x3 and 5x5 and after "
        "the pool cut the multiply-adds.",
        (("naive Inception", NAIVE_INCEPTION), ("with 1x1 bottlenecks", BOTTLENECK_INCEPTION))),
    "3x3-vs-7x7": Preset(
        "Three 3x3 convs vs one 7x7 (C = 64)",
        "The same receptive field (7) with 3 x 3x3xCxC = 27C^2 weights against 7x7xCxC = 49C^2.",
        (("three 3x3 convs", STACKED_3X3.format(c=64)), ("one 7x7 conv", SINGLE_7X7.format(c=64)))),
    "ilsvrc": Preset(
        "AlexNet vs VGG16 vs GoogLeNet vs ResNet-152",
        "The ILSVRC networks of the lecture: deeper, and (after VGG) fewer parameters.",
        (("AlexNet", "alexnet"), ("VGG16", "vgg16"), ("GoogLeNet", "googlenet"),
         ("ResNet-152", "resnet152"))),
    "wide-resnext": Preset(
        "ResNet-50 vs Wide ResNet-50-2 vs ResNeXt-50 (32x4d)",
        "Improving ResNets: wider bottlenecks, or many narrow groups at about the same cost.",
        (("ResNet-50", "resnet50"), ("Wide ResNet-50-2", "wide_resnet50_2"),
         ("ResNeXt-50", "resnext50_32x4d"))),
}


@dataclass(frozen=True, slots=True)
class Item:
    label: str
    source: str
    model: str | None
    analysis: Analysis | None
    blocks: tuple[BlockTotal, ...]
    errors: tuple[dict[str, Any], ...]


def _item(label: str, source: str, options: dict[str, Any]) -> Item:
    model = source if source in zoo.model_ids() else None
    try:
        analysis = (zoo.analyze_model(model, **options) if model
                    else engine.analyze(source, **options))
    except SpecError as exc:
        errors = tuple(i.model_dump(exclude_none=True) for i in spec_error_items(exc))
        return Item(label, source, model, None, (), errors)
    return Item(label, source, model, analysis, block_totals(analysis), ())


def _label(source: str, n: int) -> str:
    if source in zoo.model_ids():
        return zoo.get_model(source).name
    return f"spec {n}"


def compare_context(request: Request) -> tuple[dict[str, Any], int]:
    """The items (from the preset or the URL), their analyses and the page's problems."""
    params = request.query_params
    preset = PRESETS.get(params.get("preset", ""))
    pairs = (list(preset.items) if preset else
             [(_label(s, n), s) for n, s in enumerate(params.getlist("item"), start=1)
              if s.strip()])
    problems: list[dict[str, Any]] = []
    raw = {k: params[k] for k in ("dtype", "batch", "optimizer") if k in params}
    try:
        options = RequestOptions.model_validate(raw).model_dump(exclude={"aux"})
    except ValidationError as exc:
        problems += [{"line": 0, "message": f"{'.'.join(map(str, e['loc']))}: {e['msg']}"}
                     for e in exc.errors()]
        options = {}
    if pairs and not MIN_ITEMS <= len(pairs) <= MAX_ITEMS:
        problems.append({"line": 0, "message": f"compare takes {MIN_ITEMS} to {MAX_ITEMS} "
                                               f"items; {len(pairs)} were given"})
        pairs = pairs[:MAX_ITEMS]
    items = [_item(label, source, options) for label, source in pairs] if not problems else []
    status = 422 if problems or any(i.errors for i in items) else 200
    good = [i for i in items if i.analysis]
    return {"presets": PRESETS, "preset": params.get("preset", "") if preset else "",
            "preset_info": preset, "items": items, "problems": problems,
            "total_keys": TOTAL_KEYS, "sources": [s for _, s in pairs] or ["", ""],
            "zoo_ids": zoo.model_ids(), "max_items": MAX_ITEMS,
            "stages_shown": STAGES_SHOWN, "charts": _charts(good),
            "undrawn": [(i.label, len(i.analysis.layers)) for i in good
                        if i.analysis and not _drawable(i.analysis)]}, status


def _drawable(analysis: Analysis) -> bool:
    return len(analysis.layers) <= CHART_LAYERS


def _charts(items: list[Item]) -> list[charts.Chart]:
    """The cumulative MACs of every item on one chart, then each item's memory and params."""
    pairs = [(i.label, i.analysis) for i in items if i.analysis]
    overlay: list[charts.Chart] = [charts.overlay_cumulative_macs(pairs)] if pairs else []
    return overlay + [charts.memory_params(a, label) for label, a in pairs if _drawable(a)]


@router.get("/compare", name="compare_page")
async def compare_page(request: Request, run: RunnerDep) -> Response:
    """Two to four models or specs side by side: totals and per-block subtotals."""
    return await run(_compare_answer, request)  # analysed and rendered off the event loop


def _compare_answer(request: Request) -> Response:
    context, status = compare_context(request)
    return get_templates(request).TemplateResponse(request, "compare.html", context,
                                                   status_code=status)
