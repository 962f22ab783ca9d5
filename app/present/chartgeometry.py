"""The shared geometry of the lecture hall's charts: the chart box, the frozen dataclasses the
templates draw, and the scales and axes every chart family places its marks with.

The chart families live in :mod:`app.present.charts` and :mod:`app.present.zoocharts`; this
module holds only what they share, so a new family needs no import of another family.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from app.present.formats import compact
from app.present.labels import (
    FONTS,
    Circle,
    Label,
    Placer,
    Rect,
    fit,
    line_height,
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
