"""Every chart and diagram the app draws keeps its text apart and inside its box.

A chart's SVG scales with its container as a whole (the viewBox), so overlaps do not depend on
the page's width; what changes between normal and projector mode is the type, so each text box
is measured in both modes' fonts (app.present.labels.MODES). The charts are the ones the pages
draw: the zoo's two on /models, the three of every model page, every /compare preset's, and the
architecture diagram of every zoo model (both shadings) and of the calculator's examples.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from app import engine, examples, zoo
from app.present import archdiagram, charts
from app.present.labels import MODES, Circle, Label, Rect, fit, shorten, spread, text_width
from app.web.routers import compare, models_pages

Drawn = charts.Chart | archdiagram.Diagram


def _zoo_charts() -> Iterator[tuple[str, Drawn]]:
    yield "complexity", models_pages.complexity_chart()
    yield "ilsvrc", models_pages.ilsvrc_chart()


def _model_charts(model: str) -> Iterator[tuple[str, Drawn]]:
    analysis = zoo.analyze_model(model)
    name = zoo.get_model(model).name
    for build in (charts.memory_params, charts.cumulative_macs, charts.rf_growth):
        yield f"{model} {build.__name__}", build(analysis, name)
    for metric in ("volume", "macs"):
        yield f"{model} diagram ({metric})", archdiagram.diagram(analysis, name, metric)


def _preset_charts(preset: str) -> Iterator[tuple[str, Drawn]]:
    items = [compare._item(label, source, {}) for label, source in compare.PRESETS[preset].items]
    for n, chart in enumerate(compare._charts(items)):
        yield f"{preset} chart {n}", chart


def _labels(drawn: Drawn) -> tuple[Label, ...]:
    return drawn.labels() if isinstance(drawn, archdiagram.Diagram) else drawn.labels


def _problems(name: str, drawn: Drawn) -> list[str]:
    """Overlaps and escapes of the drawing and of its phone layout, in every mode's fonts."""
    view = Rect(0, 0, drawn.width, drawn.height)
    narrow = getattr(drawn, "narrow", None)
    found = _problems(name + " (phone)", narrow) if narrow is not None else []
    for mode, fonts in MODES.items():
        boxes = [(lb, lb.box(fonts[lb.cls])) for lb in _labels(drawn)]
        found += [f"{name} ({mode}): {lb.text!r} leaves the viewBox at {box}"
                  for lb, box in boxes if not box.inside(view)]
        found += [f"{name} ({mode}): {a.text!r} overlaps {b.text!r}"
                  for (a, ba), (b, bb) in itertools.combinations(boxes, 2) if ba.overlaps(bb)]
    return found


@pytest.mark.parametrize("model", zoo.model_ids())
def test_every_model_page_chart_and_diagram(model: str) -> None:
    drawn = list(_model_charts(model))
    assert all(_labels(d) for _, d in drawn)
    assert [p for name, d in drawn for p in _problems(name, d)] == []


@pytest.mark.parametrize("preset", list(compare.PRESETS))
def test_every_compare_preset_chart(preset: str) -> None:
    drawn = list(_preset_charts(preset))
    assert len(drawn) == 1 + len(compare.PRESETS[preset].items)
    assert [p for name, d in drawn for p in _problems(name, d)] == []


def test_the_zoo_charts() -> None:
    assert [p for name, d in _zoo_charts() for p in _problems(name, d)] == []


@pytest.mark.parametrize("spec", [examples.ALEXNET_SLIDE, examples.NAIVE_INCEPTION,
                                  examples.BOTTLENECK_INCEPTION, examples.RESNET_BOTTLENECK])
def test_the_calculators_examples_diagrams(spec: str) -> None:
    d = archdiagram.diagram(engine.analyze(spec))
    assert _problems("example", d) == []


# -- what the placement promises, chart by chart -------------------------------------------
@pytest.mark.parametrize("phone", [False, True], ids=["wide", "phone"])
def test_every_bubble_is_named_beside_it_or_in_the_key(phone: bool) -> None:
    chart = models_pages.complexity_chart()
    chart = chart.narrow if phone and chart.narrow else chart
    assert isinstance(chart, charts.BubbleChart)
    texts = [lb.text for lb in chart.labels]
    keyed = {t.split(" = ", 1)[1] for t in texts if " = " in t}
    for b in chart.bubbles:
        assert (b.label in texts) != (b.label in keyed), b.label
    # no label is drawn over a bubble: each sits on the plain background
    circles = [Circle(b.cx, b.cy, b.r) for b in chart.bubbles]
    for lb in chart.labels:
        if lb.cls == "bubble-label" and not lb.text.isdigit():
            assert not any(c.overlaps(lb.box()) for c in circles), lb.text


@pytest.mark.parametrize("phone", [False, True], ids=["wide", "phone"])
def test_ilsvrc_bars_keep_their_labels_off_the_bars(phone: bool) -> None:
    chart = models_pages.ilsvrc_chart()
    chart = chart.narrow if phone and chart.narrow else chart
    assert isinstance(chart, charts.BarChart)
    (panel,) = chart.panels
    if phone:  # each row named at its left
        names = [lb for lb in chart.labels if lb.cls == "tick" and lb.x < chart.left]
    else:  # each year named under its bar
        names = [lb for lb in chart.labels if lb.cls == "tick" and lb.y > panel.bottom + 10]
    assert len(names) == len(panel.bars)
    bars = [b.rect() for b in panel.bars]
    for lb in chart.labels:
        assert not any(r.overlaps(lb.box()) for r in bars), lb.text
    (mark,) = chart.marks
    human = next(lb for lb in chart.labels if lb.cls == "mark-label")
    assert human.text == mark.text
    # no value is written across the human level's line (ResNet's 3.57% sits just over it)
    values = [lb for lb in chart.labels if lb.cls == "bar-label"]
    assert len(values) == len(panel.bars)
    if phone:  # the human level's line runs down the plot, between the values
        assert not any(lb.box().x0 < mark.y < lb.box().x1 for lb in values)
    else:
        assert not any(lb.box().y0 < mark.y < lb.box().y1 for lb in values)


@pytest.mark.parametrize("phone", [False, True], ids=["wide", "phone"])
def test_the_peak_label_stands_above_the_tallest_bar(phone: bool) -> None:
    chart = charts.memory_params(zoo.analyze_model("vgg16"), "VGG16")
    chart = chart.narrow if phone and chart.narrow else chart
    assert isinstance(chart, charts.BarChart)
    for panel in chart.panels:
        top = panel.tallest()
        peak = next(lb for lb in chart.labels
                    if lb.cls == "bar-label" and top.label in lb.text and top.text in lb.text)
        # on the page's background, not on a (dark) bar: above every bar of the panel
        assert peak.box().y1 <= min(b.y for b in panel.bars)


def test_overlay_names_fit_in_their_margin() -> None:
    long = "a network with a very long name that would run off the chart's right edge"
    analysis = engine.analyze(examples.RESNET_BOTTLENECK)
    chart = charts.overlay_cumulative_macs([(long, analysis), ("short", analysis)])
    named = [lb for lb in chart.labels if lb.cls == "series-label"]
    assert [lb.full or lb.text for lb in named] == [long, "short"]
    assert named[0].text.endswith("…") and named[1].full == ""
    assert _problems("overlay", chart) == []


def test_arch_boxes_are_wide_enough_for_their_labels() -> None:
    d = archdiagram.diagram(zoo.analyze_model("mobilenet_v2"), "MobileNetV2")
    for b in d.boxes:
        text, sub = b.texts(d.metric)
        assert not text.full and Rect(b.x, b.y, b.x + b.w, b.y + b.h).x0 <= text.box().x0
        assert text.box().x1 <= b.x + b.w and sub.box().x1 <= b.x + b.w


def test_no_line_cuts_through_a_box() -> None:
    """A branch shorter than its neighbours (GoogLeNet's one-box branch) runs straight down to
    the concat, never across a neighbour's box."""
    for model in ("googlenet", "inception_v3", "resnet50", "densenet121", "shufflenet_v2_x1_0"):
        d = archdiagram.diagram(zoo.analyze_model(model), model)
        for ln in d.lines:
            for b in d.boxes:
                inner = Rect(b.x + 1, b.y + 1, b.x + b.w - 1, b.y + b.h - 1)
                assert not _crosses(ln, inner), (model, ln, b.label)


def _crosses(ln: archdiagram.Line, r: Rect) -> bool:
    """Whether the segment passes through the rectangle's inside (sampled finely)."""
    steps = 200
    return any(r.x0 < ln.x1 + (ln.x2 - ln.x1) * t / steps < r.x1 and
               r.y0 < ln.y1 + (ln.y2 - ln.y1) * t / steps < r.y1 for t in range(steps + 1))


# -- the placement tools --------------------------------------------------------------------
def test_text_width_follows_the_font_table() -> None:
    bold, regular = MODES["projector"]["tick"], MODES["normal"]["tick"]
    assert text_width("WWW", bold) == pytest.approx(3 * text_width("W", bold))
    assert text_width("2012 AlexNet", bold) > text_width("2012 AlexNet", regular)
    assert text_width("", bold) == 0


def test_shorten_keeps_the_whole_text_for_the_title() -> None:
    font = MODES["projector"]["tick"]
    label = Label(0, 20, "Wide ResNet-50-2 (torchvision)", "tick")
    cut = fit(label, text_width("Wide ResNet", font))
    assert cut.text.endswith("…") and cut.full == label.text
    assert text_width(cut.text, font) <= text_width("Wide ResNet", font)
    assert fit(label, 1000) == label and shorten("abc", font, 0) == "…"


def test_spread_keeps_order_and_spacing_within_bounds() -> None:
    ys = spread([100, 101, 99, 300], 20, 0, 310)
    assert sorted(ys) == [ys[2], ys[0], ys[1], ys[3]]
    assert all(b - a >= 20 - 1e-9 for a, b in itertools.pairwise(sorted(ys)))
    assert spread([305, 306], 20, 0, 310) == [290, 310]


def test_every_chart_has_a_phone_layout_its_own_width() -> None:
    """A phone draws the narrow layout in the projector's type: laid out for that width, it
    keeps its labels apart (the checks above cover it), names every ILSVRC entry whole, and
    has no narrower layout of its own."""
    drawn = [d for _, d in [*_zoo_charts(), *_model_charts("resnet50"),
                            *_preset_charts("inception")]
             if not isinstance(d, archdiagram.Diagram)]
    for chart in drawn:
        narrow = chart.narrow
        assert narrow is not None and narrow.width == charts.NARROW_WIDTH, chart.title
        assert narrow.narrow is None and narrow.title == chart.title
    rows = models_pages.ilsvrc_chart().narrow
    assert isinstance(rows, charts.BarChart) and rows.kind == "hbars"
    assert not any(lb.full for lb in rows.labels if lb.cls == "tick")
