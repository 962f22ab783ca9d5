"""Geometry of the lecture hall's charts, as plain frozen dataclasses (no Jinja, no FastAPI).

Every number comes from the engine's analysis or the zoo's published figures; this module only
places them in a ``width`` x ``height`` box (SVG user units, origin top left). The templates
draw the shapes and the style sheet colours them by their ``cls``, so projector mode and print
restyle them without touching the geometry. Each chart carries a ``title`` and a ``desc``: the
text alternative the SVG's ``<title>``/``<desc>`` hold, written from the same numbers.

Charts:

* :func:`memory_params` per-layer activation memory beside per-layer parameters (two panels
  sharing the layer axis: the VGG lesson, memory early, parameters in the fc layers);
* :func:`cumulative_macs` multiply-adds summed along the network;
* :func:`rf_growth` the receptive field of the main path, layer by layer;
* :func:`complexity` published top-1 against computed MACs, bubble area = parameters;
* :func:`ilsvrc` the ILSVRC winners' top-5 error by year, the human level marked.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from app.engine.result import Analysis, LayerRow
from app.present.formats import compact, megabytes

#: the box every chart is drawn in (the SVG's viewBox), and the plot area's margins
WIDTH, HEIGHT = 960, 420
LEFT, RIGHT, TOP, BOTTOM = 88, 24, 36, 56


@dataclass(frozen=True, slots=True)
class Tick:
    """An axis mark: where it is along its axis and its label."""

    pos: float
    text: str


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar: the row (or entry) it stands for, its value and its rectangle."""

    label: str
    value: float
    text: str
    x: float
    y: float
    width: float
    height: float
    cls: str
    #: the engine row index it draws (-1 for a bar that is not a layer)
    row: int = -1


@dataclass(frozen=True, slots=True)
class Panel:
    """A band of bars with its own value axis (y from ``top`` to ``bottom``)."""

    name: str
    cls: str
    top: float
    bottom: float
    bars: tuple[Bar, ...]
    ticks: tuple[Tick, ...]
    #: label every bar with its value (else only the tallest)
    every_label: bool = False

    def tallest(self) -> Bar:
        """The bar with the largest value (the first one on a tie)."""
        return max(self.bars, key=lambda b: b.value)


@dataclass(frozen=True, slots=True)
class BarChart:
    title: str
    desc: str
    panels: tuple[Panel, ...]
    left: float = LEFT
    right: float = WIDTH - RIGHT
    width: int = WIDTH
    height: int = HEIGHT
    #: a level drawn across the plot (the human top-5 error), or none
    marks: tuple[Mark, ...] = ()
    x_labels: tuple[Tick, ...] = ()
    kind: str = "bars"


@dataclass(frozen=True, slots=True)
class Mark:
    """A horizontal reference line with its label."""

    y: float
    text: str
    cls: str


@dataclass(frozen=True, slots=True)
class LineChart:
    title: str
    desc: str
    points: tuple[tuple[float, float], ...]
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    x_label: str
    y_label: str
    cls: str
    left: float = LEFT
    right: float = WIDTH - RIGHT
    top: float = TOP
    bottom: float = HEIGHT - BOTTOM
    width: int = WIDTH
    height: int = HEIGHT
    kind: str = "line"

    @property
    def polyline(self) -> str:
        return " ".join(f"{x:.1f},{y:.1f}" for x, y in self.points)


@dataclass(frozen=True, slots=True)
class Bubble:
    """A model on the complexity chart: centre from (MACs, top-1), area from parameters."""

    model: str
    label: str
    macs: int
    top1: float
    params: int
    cx: float
    cy: float
    r: float
    #: where its label goes (beside the bubble, moved off the labels placed before it)
    label_x: float = 0.0
    label_y: float = 0.0
    anchor: str = "start"


#: a label's width per character and height, in user units (12 px type)
CHAR_W, LABEL_H = 6.6, 14.0


def _overlaps(box: tuple[float, float, float, float],
              boxes: Sequence[tuple[float, float, float, float]]) -> bool:
    x0, y0, x1, y1 = box
    return any(x0 < b[2] and b[0] < x1 and y0 < b[3] and b[1] < y1 for b in boxes)


def place_labels(bubbles: Sequence[Bubble], right: float) -> tuple[Bubble, ...]:
    """Each bubble's label beside it, right (or left, near the edge), shifted up or down
    in steps of a line until it overlaps no label placed before it (at most 8 tries)."""
    boxes: list[tuple[float, float, float, float]] = []
    placed = []
    for b in sorted(bubbles, key=lambda b: (b.cy, b.cx)):
        width = CHAR_W * len(b.label)
        left_side = b.cx + b.r + 3 + width > right
        x = b.cx - b.r - 3 if left_side else b.cx + b.r + 3
        x0 = x - width if left_side else x
        for dy in (0, -1, 1, -2, 2, -3, 3, 4):
            y = b.cy + 4 + dy * LABEL_H
            box = (x0, y - LABEL_H + 3, x0 + width, y + 3)
            if not _overlaps(box, boxes):
                break
        boxes.append(box)
        placed.append(replace(b, label_x=x, label_y=y, anchor="end" if left_side else "start"))
    return tuple(sorted(placed, key=lambda b: -b.r))


@dataclass(frozen=True, slots=True)
class BubbleChart:
    title: str
    desc: str
    bubbles: tuple[Bubble, ...]
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    x_label: str
    y_label: str
    left: float = LEFT
    right: float = WIDTH - RIGHT
    top: float = TOP
    bottom: float = HEIGHT - BOTTOM
    width: int = WIDTH
    height: int = HEIGHT
    kind: str = "bubbles"


@dataclass(frozen=True, slots=True)
class Series:
    """One network's line on an overlaid chart, labelled at its end (not by colour alone)."""

    label: str
    cls: str
    points: tuple[tuple[float, float], ...]
    total: int

    @property
    def polyline(self) -> str:
        return " ".join(f"{x:.1f},{y:.1f}" for x, y in self.points)


@dataclass(frozen=True, slots=True)
class OverlayChart:
    title: str
    desc: str
    series: tuple[Series, ...]
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    x_label: str
    y_label: str
    left: float = LEFT
    right: float = WIDTH - RIGHT - 120  # room for the labels at the lines' ends
    top: float = TOP
    bottom: float = HEIGHT - BOTTOM
    width: int = WIDTH
    height: int = HEIGHT
    kind: str = "overlay"


Chart = BarChart | LineChart | BubbleChart | OverlayChart


def overlay_cumulative_macs(items: Sequence[tuple[str, Analysis]]) -> OverlayChart:
    """Several networks' cumulative MACs on one chart; x is the share of each network's rows
    (0 at the input, 1 at the output), so networks of different lengths line up."""
    right = WIDTH - RIGHT - 120
    y_hi = max((a.totals.macs for _, a in items), default=1) or 1
    series = []
    for n, (name, analysis) in enumerate(items):
        last = max(len(analysis.layers) - 1, 1)
        running, points = 0, []
        for i, r in enumerate(analysis.layers):
            running += r.macs
            points.append((_linear(i / last, 0, 1, LEFT, right),
                           _linear(running, 0, y_hi, HEIGHT - BOTTOM, TOP)))
        series.append(Series(name, f"s{n % 4}", tuple(points), running))
    desc = ("Cumulative multiply-adds along each network (x: the share of its layers): " +
            "; ".join(f"{s.label} {s.total:,}" for s in series) + ".")
    ticks = tuple(Tick(_linear(v, 0, 1, LEFT, right), f"{v:.0%}")
                  for v in (0, 0.25, 0.5, 0.75, 1))
    return OverlayChart("Cumulative MACs, overlaid", desc, tuple(series), ticks,
                        _ticks(0, y_hi, HEIGHT - BOTTOM, TOP), "share of the network's rows",
                        "MACs")


# -- scales -----------------------------------------------------------------------------------
def nice_step(span: float, ticks: int = 5) -> float:
    """A round step (1, 2 or 5 times a power of ten) giving about ``ticks`` intervals."""
    if span <= 0:
        return 1.0
    raw = span / ticks
    power = 10.0 ** math.floor(math.log10(raw))
    return next(float(m * power) for m in (1, 2, 5, 10) if m * power >= raw)


def _linear(value: float, lo: float, hi: float, a: float, b: float) -> float:
    return a if hi == lo else a + (value - lo) / (hi - lo) * (b - a)


def _ticks(lo: float, hi: float, a: float, b: float, fmt: str = "compact") -> tuple[Tick, ...]:
    step = nice_step(hi - lo)
    start = math.ceil(lo / step) * step
    count = int((hi - start) / step + 1e-9) + 1
    values = [start + i * step for i in range(count)]
    return tuple(Tick(_linear(v, lo, hi, a, b), _tick_text(v, fmt)) for v in values)


def _tick_text(value: float, fmt: str) -> str:
    if fmt == "compact":
        return compact(int(value))
    if fmt == "mb":
        return megabytes(int(value))
    return f"{value:g}"


# -- per-layer charts -------------------------------------------------------------------------
def _layer_rows(analysis: Analysis) -> list[LayerRow]:
    """The rows that hold memory or parameters (in-place ops and views add neither)."""
    return [r for r in analysis.layers if r.activation_bytes or r.params]


def _panel(name: str, cls: str, rows: Sequence[LayerRow], values: Sequence[int], top: float,
           bottom: float, fmt: str) -> Panel:
    hi = max(values, default=0) or 1
    slot = (WIDTH - RIGHT - LEFT) / max(len(rows), 1)
    gap = min(slot * 0.2, 2.0)
    bars = tuple(Bar(r.name, v, megabytes(v) if fmt == "mb" else f"{v:,}",
                     LEFT + i * slot + gap / 2, bottom - (bottom - top) * v / hi,
                     max(slot - gap, 0.5), (bottom - top) * v / hi, cls, r.index)
                 for i, (r, v) in enumerate(zip(rows, values, strict=True)))
    return Panel(name, cls, top, bottom, bars, _ticks(0, hi, bottom, top, fmt))


def memory_params(analysis: Analysis, label: str = "the network") -> BarChart:
    """Activation memory (for the analysis' dtype and batch) beside parameters, per layer."""
    rows = _layer_rows(analysis)
    mid = TOP + (HEIGHT - TOP - BOTTOM) / 2
    memory = _panel("activation memory", "memory", rows, [r.activation_bytes for r in rows],
                    TOP, mid - 18, "mb")
    params = _panel("parameters", "params", rows, [r.params for r in rows], mid + 18,
                    HEIGHT - BOTTOM, "compact")
    m, p = memory.tallest(), params.tallest()
    t = analysis.totals
    desc = (f"{len(rows)} layers of {label}. Activation memory totals "
            f"{megabytes(t.activation_bytes)}; the largest is {m.label} ({m.text}, "
            f"{_share(m.value, t.activation_bytes)} of it). Parameters total {t.params:,}; "
            f"the most are in {p.label} ({p.text}, {_share(p.value, t.params)}).")
    bars = params.bars
    names = (Tick(bars[0].x, bars[0].label), Tick(bars[-1].x + bars[-1].width, bars[-1].label)
             ) if bars else ()
    return BarChart(f"Memory and parameters by layer: {label}", desc, (memory, params),
                    x_labels=names)


def _share(part: float, whole: float) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "0%"


def _line(points: Sequence[tuple[int, float]], title: str, desc: str, x_label: str,
          y_label: str, cls: str, fmt: str) -> LineChart:
    xs, ys = [p[0] for p in points] or [0], [p[1] for p in points] or [0]
    x_hi, y_hi = max(max(xs), 1), max(max(ys), 1)
    bottom, right = HEIGHT - BOTTOM, WIDTH - RIGHT
    placed = tuple((_linear(x, 0, x_hi, LEFT, right), _linear(y, 0, y_hi, bottom, TOP))
                   for x, y in points)
    return LineChart(title, desc, placed, _ticks(0, x_hi, LEFT, right, "plain"),
                     _ticks(0, y_hi, bottom, TOP, fmt), x_label, y_label, cls)


def cumulative_macs(analysis: Analysis, label: str = "the network") -> LineChart:
    """Multiply-adds summed from the input to each row."""
    running, points = 0, []
    for r in analysis.layers:
        running += r.macs
        points.append((r.index, float(running)))
    half = next((r.name for r, (_, v) in zip(analysis.layers, points, strict=True)
                 if v * 2 >= running), "")
    desc = (f"{label}: {running:,} multiply-adds per image over {len(points)} rows; half "
            f"of them are done by the end of {half}.")
    return _line(points, f"Cumulative MACs: {label}", desc, "row", "MACs", "macs", "compact")


def rf_growth(analysis: Analysis, label: str = "the network") -> LineChart:
    """The receptive field (pixels) of the main path's rows, layer by layer."""
    rows = [r for r in analysis.layers if r.depth == 0]
    points = [(r.index, float(r.rf.size)) for r in rows]
    last = rows[-1]
    desc = (f"{label}: the receptive field grows from 1 pixel at the input to "
            f"{last.rf.size} at {last.name} (jump {last.rf.jump}).")
    return _line(points, f"Receptive field by layer: {label}", desc, "row", "pixels", "rf",
                 "plain")


# -- zoo charts -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ZooPoint:
    """What the complexity chart needs of one zoo model."""

    model: str
    label: str
    macs: int
    top1: float
    params: int


#: the largest bubble's radius; a bubble's area is proportional to its parameters
MAX_RADIUS = 34.0


def complexity(points: Sequence[ZooPoint]) -> BubbleChart:
    """Top-1 (published) against MACs (computed), bubble area proportional to parameters."""
    x_hi = max((p.macs for p in points), default=1) * 1.08
    y_lo = math.floor(min((p.top1 for p in points), default=50) / 5) * 5 - 5
    y_hi = math.ceil(max((p.top1 for p in points), default=80) / 5) * 5 + 2
    p_hi = max((p.params for p in points), default=1)
    bottom, right = HEIGHT - BOTTOM, WIDTH - RIGHT
    bubbles = place_labels([Bubble(p.model, p.label, p.macs, p.top1, p.params,
                           _linear(p.macs, 0, x_hi, LEFT, right),
                           _linear(p.top1, y_lo, y_hi, bottom, TOP),
                           MAX_RADIUS * math.sqrt(p.params / p_hi))
                            for p in points], right)
    best = max(points, key=lambda p: p.top1) if points else None
    desc = (f"{len(points)} zoo models with a published ImageNet top-1. " +
            (f"The most accurate is {best.label} ({best.top1}% top-1, {compact(best.macs)} "
             f"MACs, {compact(best.params)} parameters). " if best else "") +
            "; ".join(f"{p.label}: {p.top1}% at {compact(p.macs)} MACs, "
                      f"{compact(p.params)} params" for p in points) + ".")
    return BubbleChart("Accuracy against computation (bubble area = parameters)", desc,
                       bubbles, _ticks(0, x_hi, LEFT, right), _ticks(y_lo, y_hi, bottom, TOP,
                                                                    "plain"),
                       "multiply-adds per image (computed)", "top-1 accuracy, % (published)")


@dataclass(frozen=True, slots=True)
class YearEntry:
    year: int
    label: str
    top5_error: float
    model: str | None


def ilsvrc(entries: Sequence[YearEntry], human: float, human_label: str) -> BarChart:
    """One bar per ILSVRC entry (by year), top-5 error; the human level drawn across."""
    top, bottom = TOP, HEIGHT - BOTTOM
    hi = max([e.top5_error for e in entries] + [human]) * 1.1
    slot = (WIDTH - RIGHT - LEFT) / max(len(entries), 1)
    bars = tuple(Bar(f"{e.year} {e.label}", e.top5_error, f"{e.top5_error:g}%",
                     LEFT + i * slot + slot * 0.15, _linear(e.top5_error, 0, hi, bottom, top),
                     slot * 0.7, _linear(0, 0, hi, bottom, top) -
                     _linear(e.top5_error, 0, hi, bottom, top),
                     "cnn" if e.model else "other")
                 for i, e in enumerate(entries))
    panel = Panel("top-5 error, %", "ilsvrc", top, bottom, bars,
                  _ticks(0, hi, bottom, top, "plain"), every_label=True)
    mark = Mark(_linear(human, 0, hi, bottom, top), f"{human_label}: {human:g}%", "human")
    desc = ("ILSVRC classification top-5 error by year: " +
            "; ".join(f"{e.year} {e.label} {e.top5_error:g}%" for e in entries) +
            f". Human level: {human:g}% ({human_label}).")
    labels = tuple(Tick(b.x + b.width / 2, f"{e.year} {e.label.split(' (')[0].split(',')[0]}")
                   for b, e in zip(bars, entries, strict=True))
    return BarChart("ILSVRC winners: top-5 error by year", desc, (panel,), marks=(mark,),
                    x_labels=labels)


__all__ = [
    "Bar", "BarChart", "Bubble", "BubbleChart", "Chart", "LineChart", "Mark", "OverlayChart",
    "Panel", "Series", "Tick", "YearEntry", "ZooPoint", "complexity", "cumulative_macs", "ilsvrc",
    "memory_params", "nice_step", "overlay_cumulative_macs", "rf_growth",
]
