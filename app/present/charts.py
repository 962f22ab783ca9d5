"""Geometry of the lecture hall's charts, as plain frozen dataclasses (no Jinja, no FastAPI).

Every number comes from the engine's analysis or the zoo's published figures; this module only
places them in a ``width`` x ``height`` box (SVG user units, origin top left). The templates
draw the shapes and the style sheet colours them by their ``cls``, so projector mode and print
restyle them without touching the geometry. Every text is a :class:`~app.present.labels.Label`
placed by :mod:`app.present.labels` at the largest size any mode draws it, so no two overlap and
none leaves the box, in normal and projector mode alike. Each chart carries a ``title`` and a ``desc``: the
text alternative the SVG's ``<title>``/``<desc>`` hold, written from the same numbers.

Charts:

* :func:`memory_params` per-layer activation memory beside per-layer parameters (two panels
  sharing the layer axis: the VGG lesson, memory early, parameters in the fc layers);
* :func:`cumulative_macs` multiply-adds summed along the network;
* :func:`rf_growth` the receptive field of the main path, layer by layer;

and, in :mod:`app.present.zoocharts`, the zoo's two: accuracy against MACs and the ILSVRC years.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from app.engine.result import Analysis, LayerRow
from app.present.formats import compact, megabytes
from app.present.labels import (
    FONTS,
    Anchor,
    Circle,
    Label,
    Placer,
    Rect,
    fit,
    line_height,
    spread,
    text_width,
    thin,
)

#: the box every chart is drawn in (the SVG's viewBox), and the plot area's margins (the left
#: one is the least: it widens to the longest tick label)
WIDTH, HEIGHT = 960, 420
#: the box of a chart's phone layout: a phone draws chart text at the projector's size (the
#: placement makes room for it) and scales a 960-unit chart to a third, too small to read; this
#: narrower box scales to about three quarters in a 390 px screen's column, so its text renders
#: at 11 px or more, its labels placed (thinned, shortened, keyed) for the narrow width
NARROW_WIDTH, NARROW_HEIGHT = 520, 460
LEFT, RIGHT, TOP, BOTTOM = 60, 24, 48, 62
TICK = FONTS["tick"]
#: one line of chart text, baseline to baseline
LINE = line_height(TICK) + 1


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

    def rect(self) -> Rect:
        return Rect(self.x, self.y, self.x + self.width, self.y + self.height)


@dataclass(frozen=True, slots=True)
class Panel:
    """A band of bars with its own value axis (y from ``top`` to ``bottom``)."""

    name: str
    cls: str
    top: float
    bottom: float
    bars: tuple[Bar, ...]
    ticks: tuple[Tick, ...]

    def tallest(self) -> Bar:
        """The bar with the largest value (the first one on a tie)."""
        return max(self.bars, key=lambda b: b.value)


@dataclass(frozen=True, slots=True)
class Mark:
    """A horizontal reference line; its label sits by the line, or in a key with a sample of
    the line when the bars leave no room there."""

    y: float
    text: str
    cls: str
    #: the sample of the line drawn before the key's text: x1, x2, y (none when by the line)
    key: tuple[float, float, float] | None = None
    #: a line down the plot at x = ``y`` (a chart whose bars run sideways) rather than across
    vertical: bool = False


@dataclass(frozen=True, slots=True)
class BarChart:
    title: str
    desc: str
    panels: tuple[Panel, ...]
    labels: tuple[Label, ...] = ()
    left: float = LEFT
    right: float = WIDTH - RIGHT
    width: int = WIDTH
    height: int = HEIGHT
    #: a level drawn across the plot (the human top-5 error), or none
    marks: tuple[Mark, ...] = ()
    kind: str = "bars"
    #: the same chart laid out for a phone (NARROW_WIDTH), or none
    narrow: Chart | None = None


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
    labels: tuple[Label, ...] = ()
    left: float = LEFT
    right: float = WIDTH - RIGHT
    top: float = TOP
    bottom: float = HEIGHT - BOTTOM
    width: int = WIDTH
    height: int = HEIGHT
    kind: str = "line"
    #: the same chart laid out for a phone (NARROW_WIDTH), or none
    narrow: Chart | None = None

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

    def circle(self) -> Circle:
        return Circle(self.cx, self.cy, self.r)


@dataclass(frozen=True, slots=True)
class BubbleChart:
    title: str
    desc: str
    bubbles: tuple[Bubble, ...]
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    x_label: str
    y_label: str
    labels: tuple[Label, ...] = ()
    #: thin lines from a bubble to a label placed away from it: x1, y1, x2, y2
    leaders: tuple[tuple[float, float, float, float], ...] = ()
    left: float = LEFT
    right: float = WIDTH - RIGHT
    top: float = TOP
    bottom: float = HEIGHT - BOTTOM
    width: int = WIDTH
    height: int = HEIGHT
    kind: str = "bubbles"
    #: the same chart laid out for a phone (NARROW_WIDTH), or none
    narrow: Chart | None = None


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
    labels: tuple[Label, ...] = ()
    left: float = LEFT
    right: float = WIDTH - RIGHT
    top: float = TOP
    bottom: float = HEIGHT - BOTTOM
    width: int = WIDTH
    height: int = HEIGHT
    kind: str = "overlay"
    #: the same chart laid out for a phone (NARROW_WIDTH), or none
    narrow: Chart | None = None


Chart = BarChart | LineChart | BubbleChart | OverlayChart


# -- scales and axes --------------------------------------------------------------------------
def nice_step(span: float, ticks: int = 5) -> float:
    """A round step (1, 2 or 5 times a power of ten) giving about ``ticks`` intervals."""
    if span <= 0:
        return 1.0
    raw = span / ticks
    power = 10.0 ** math.floor(math.log10(raw))
    return next(float(m * power) for m in (1, 2, 5, 10) if m * power >= raw)


def linear(value: float, lo: float, hi: float, a: float, b: float) -> float:
    return a if hi == lo else a + (value - lo) / (hi - lo) * (b - a)


def make_ticks(lo: float, hi: float, a: float, b: float,
               fmt: str = "compact") -> tuple[Tick, ...]:
    step = nice_step(hi - lo)
    start = math.ceil(lo / step) * step
    count = int((hi - start) / step + 1e-9) + 1
    values = [start + i * step for i in range(count)]
    return tuple(Tick(linear(v, lo, hi, a, b), _tick_text(v, fmt, step)) for v in values)


def _tick_text(value: float, fmt: str, step: float) -> str:
    """An axis's labels all to the precision of its step (0, 0.5, 1.0 MB; 0, 5, 10 MB)."""
    if fmt == "compact":
        return compact(int(value))
    if fmt == "mb":
        decimals = max(0, -math.floor(math.log10(step / 10**6) + 1e-9))
        return f"{value / 10**6:,.{decimals}f} MB"
    return f"{value:g}"


def plot_left(*ticks: Sequence[Tick]) -> float:
    """The plot's left edge: room for the widest value-axis label."""
    widest = max((text_width(t.text, TICK) for ts in ticks for t in ts), default=0.0)
    return max(float(LEFT), math.ceil(widest + 14))


def y_tick_labels(ticks: Sequence[Tick], left: float) -> tuple[Label, ...]:
    return thin([Label(left - 6, t.pos + 4, t.text, "tick", "end") for t in ticks])


def axes(left: float, right: float, top: float, bottom: float, x_ticks: Sequence[Tick],
          y_ticks: Sequence[Tick], x_label: str, y_label: str,
          height: int = HEIGHT, width: int = WIDTH) -> Placer:
    """A placer holding the axis titles and tick labels of an x-y chart."""
    placer = Placer(Rect(0, 0, width, height))
    placer.add(fit(Label((left + right) / 2, height - 7, x_label, "axis-label", "middle"),
                   right - left))
    placer.add(fit(Label(8, top - LINE + 4, y_label, "axis-label"), width - 16))
    for lb in y_tick_labels(y_ticks, left):
        placer.add(lb)
    for lb in thin([Label(t.pos, bottom + 30, t.text, "tick", "middle") for t in x_ticks]):
        placer.place([lb])
    return placer


def _share(part: float, whole: float) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "0%"


# -- per-layer charts -------------------------------------------------------------------------
def _layer_rows(analysis: Analysis) -> list[LayerRow]:
    """The rows that hold memory or parameters (in-place ops and views add neither)."""
    return [r for r in analysis.layers if r.activation_bytes or r.params]


def _panel(name: str, cls: str, rows: Sequence[LayerRow], values: Sequence[int], top: float,
           bottom: float, fmt: str, left: float, right: float) -> Panel:
    hi = max(values, default=0) or 1
    slot = (right - left) / max(len(rows), 1)
    gap = min(slot * 0.2, 2.0)
    bars = tuple(Bar(r.name, v, megabytes(v) if fmt == "mb" else f"{v:,}",
                     left + i * slot + gap / 2, bottom - (bottom - top) * v / hi,
                     max(slot - gap, 0.5), (bottom - top) * v / hi, cls, r.index)
                 for i, (r, v) in enumerate(zip(rows, values, strict=True)))
    return Panel(name, cls, top, bottom, bars, make_ticks(0, hi, bottom, top, fmt))


def _panel_labels(placer: Placer, p: Panel, left: float, right: float,
                  spare: float = 0) -> None:
    """The panel's name over its top left, and its tallest bar's name and value over the bar
    (the tallest reaches the panel's top, so the line above it is free of bars); given a
    ``spare`` line over the panel (a narrow chart), the value goes there whole rather than
    shortened beside the name."""
    placer.add(Label(left, p.top - 6, p.name, "panel-name"))
    for lb in y_tick_labels(p.ticks, left):
        placer.add(lb)
    if not p.bars:
        return
    top = p.tallest()
    text, centre = f"{top.label} {top.text}", top.x + top.width / 2
    anchor: Anchor = "end" if centre > (left + right) / 2 else "start"
    room = (centre if anchor == "end" else right - centre)
    near = fit(Label(centre, p.top - 6, text, "bar-label", anchor), room)
    # else after the panel's name, or failing that at the right end, saying what it is
    after = left + text_width(p.name, FONTS["panel-name"]) + 16
    beside = fit(Label(after, p.top - 6, f"largest: {text}", "bar-label"), right - after)
    whole = [near, beside] if not spare else [
        Label(centre, p.top - 6, text, "bar-label", anchor),
        Label(after, p.top - 6, f"largest: {text}", "bar-label"),
        Label(centre, p.top - 6 - spare, text, "bar-label", anchor),
        Label(left, p.top - 6 - spare, f"largest: {text}", "bar-label")]
    placer.place([*whole, near, beside])


def memory_params(analysis: Analysis, label: str = "the network", width: int = WIDTH,
                  height: int = HEIGHT) -> BarChart:
    """Activation memory (for the analysis' dtype and batch) beside parameters, per layer."""
    rows = _layer_rows(analysis)
    # a narrow chart keeps a line over each panel for its largest bar's value
    spare = LINE if width < WIDTH else 0
    top = TOP + spare
    mid = top + (height - top - BOTTOM - spare) / 2
    spans = ((top, mid - 18), (mid + 30 + spare, height - BOTTOM))
    mem_values, par_values = [r.activation_bytes for r in rows], [r.params for r in rows]
    left = plot_left(make_ticks(0, max(mem_values, default=0) or 1, 0, 1, "mb"),
                 make_ticks(0, max(par_values, default=0) or 1, 0, 1))
    right = width - RIGHT
    memory = _panel("activation memory", "memory", rows, mem_values, *spans[0], "mb", left,
                    right)
    params = _panel("parameters", "params", rows, par_values, *spans[1], "compact", left,
                    right)
    placer = Placer(Rect(0, 0, width, height))
    for panel in (memory, params):
        _panel_labels(placer, panel, left, right, spare)
    bars = params.bars
    if bars:
        half = (right - left) / 2 - 8
        placer.add(fit(Label(bars[0].x, params.bottom + 28, bars[0].label, "tick"), half))
        if len(bars) > 1:
            last = bars[-1]
            placer.add(fit(Label(last.x + last.width, params.bottom + 28, last.label, "tick",
                                 "end"), half))
    m, p = memory.tallest(), params.tallest()
    t = analysis.totals
    desc = (f"{len(rows)} layers of {label}. Activation memory totals "
            f"{megabytes(t.activation_bytes)}; the largest is {m.label} ({m.text}, "
            f"{_share(m.value, t.activation_bytes)} of it). Parameters total {t.params:,}; "
            f"the most are in {p.label} ({p.text}, {_share(p.value, t.params)}).")
    return BarChart(f"Memory and parameters by layer: {label}", desc, (memory, params),
                    tuple(placer.placed), left=left, right=right, width=width, height=height,
                    narrow=memory_params(analysis, label, NARROW_WIDTH, NARROW_HEIGHT)
                    if width == WIDTH else None)


def _line(points: Sequence[tuple[int, float]], title: str, desc: str, x_label: str,
          y_label: str, cls: str, fmt: str, width: int = WIDTH,
          height: int = HEIGHT) -> LineChart:
    xs, ys = [p[0] for p in points] or [0], [p[1] for p in points] or [0]
    x_hi, y_hi = max(max(xs), 1), max(max(ys), 1)
    bottom, right = height - BOTTOM, width - RIGHT
    y_ticks = make_ticks(0, y_hi, bottom, TOP, fmt)
    left = plot_left(y_ticks)
    placed = tuple((linear(x, 0, x_hi, left, right), linear(y, 0, y_hi, bottom, TOP))
                   for x, y in points)
    x_ticks = make_ticks(0, x_hi, left, right, "plain")
    placer = axes(left, right, TOP, bottom, x_ticks, y_ticks, x_label, y_label, height, width)
    narrow = _line(points, title, desc, x_label, y_label, cls, fmt, NARROW_WIDTH,
                   NARROW_HEIGHT) if width == WIDTH else None
    return LineChart(title, desc, placed, x_ticks, y_ticks, x_label, y_label, cls,
                     tuple(placer.placed), left=left, right=right, bottom=bottom, width=width,
                     height=height, narrow=narrow)


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


def overlay_cumulative_macs(items: Sequence[tuple[str, Analysis]], width: int = WIDTH,
                            height: int = HEIGHT) -> OverlayChart:
    """Several networks' cumulative MACs on one chart; x is the share of each network's rows
    (0 at the input, 1 at the output), so networks of different lengths line up. Each line is
    named at its end, in a margin as wide as the longest name (at most a third of the box)."""
    font = FONTS["series-label"]
    room = min(max((text_width(n, font) for n, _ in items), default=0.0) + 12, width / 3)
    right, bottom = width - RIGHT - room, height - BOTTOM
    y_hi = max((a.totals.macs for _, a in items), default=1) or 1
    y_ticks = make_ticks(0, y_hi, bottom, TOP)
    left = plot_left(y_ticks)
    series = []
    for n, (name, analysis) in enumerate(items):
        last = max(len(analysis.layers) - 1, 1)
        running, points = 0, []
        for i, r in enumerate(analysis.layers):
            running += r.macs
            points.append((linear(i / last, 0, 1, left, right),
                           linear(running, 0, y_hi, bottom, TOP)))
        series.append(Series(name, f"s{n % 4}", tuple(points), running))
    desc = ("Cumulative multiply-adds along each network (x: the share of its layers): " +
            "; ".join(f"{s.label} {s.total:,}" for s in series) + ".")
    x_ticks = tuple(Tick(linear(v, 0, 1, left, right), f"{v:.0%}")
                    for v in (0, 0.25, 0.5, 0.75, 1))
    placer = axes(left, right, TOP, bottom, x_ticks, y_ticks, "share of the network's rows",
                   "MACs", height, width)
    ends = [s.points[-1][1] + 7 if s.points else bottom for s in series]
    ys = spread(ends, LINE, TOP + LINE, bottom)
    for s, y in zip(series, ys, strict=True):
        placer.add(fit(Label(right + 8, y, s.label, "series-label"), room - 10))
    return OverlayChart("Cumulative MACs, overlaid", desc, tuple(series), x_ticks, y_ticks,
                        "share of the network's rows", "MACs", tuple(placer.placed), left=left,
                        right=right, bottom=bottom, width=width, height=height,
                        narrow=overlay_cumulative_macs(items, NARROW_WIDTH, NARROW_HEIGHT)
                        if width == WIDTH else None)


__all__ = [
    "NARROW_HEIGHT", "NARROW_WIDTH", "Bar", "BarChart", "Bubble", "BubbleChart", "Chart",
    "LineChart", "Mark", "OverlayChart", "Panel", "Series", "Tick", "cumulative_macs",
    "memory_params", "nice_step", "overlay_cumulative_macs", "rf_growth",
]
