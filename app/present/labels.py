"""Text boxes and label placement for the charts and the architecture diagram.

A label's box is estimated from a font-metrics table (DejaVu Sans, the widest of the common UI
sans-serifs, so a narrower system font only leaves more room) at the largest size its class is
drawn in any mode: the style sheet sets 13 px type normally and 20 px bold on a projector, and a
layout that fits the larger type fits the smaller, whose box anchored at the same point lies
inside it. Placement is greedy: each label takes the first of its candidate positions that stays
in bounds and overlaps no label or shape placed before it.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from app.present import fontmetrics

Anchor = Literal["start", "middle", "end"]


@dataclass(frozen=True, slots=True)
class Font:
    size: float
    bold: bool = False


#: each text class's type in each mode, as static/lecture-hall.css sets it (the charts' text is
#: 13 px, 20 px bold on a projector; the diagram's hardly changes)
MODES: dict[str, dict[str, Font]] = {
    "normal": {
        "tick": Font(13), "panel-name": Font(14, True), "axis-label": Font(14, True),
        "bar-label": Font(13, True), "mark-label": Font(13, True), "series-label": Font(13, True),
        "key": Font(13, True), "bubble-label": Font(12, True), "frame-label": Font(13, True),
        "times": Font(15, True), "box-label": Font(13, True), "box-sub": Font(10.5),
    },
    "projector": {
        "tick": Font(20, True), "panel-name": Font(20, True), "axis-label": Font(20, True),
        "bar-label": Font(20, True), "mark-label": Font(20, True), "series-label": Font(20, True),
        "key": Font(18, True), "bubble-label": Font(16, True), "frame-label": Font(13, True),
        "times": Font(15, True), "box-label": Font(14, True), "box-sub": Font(10.5),
    },
}
#: what the layout uses: each class at its largest across the modes
FONTS: dict[str, Font] = {
    cls: max((m[cls] for m in MODES.values()), key=lambda f: (f.size, f.bold))
    for cls in MODES["normal"]
}
#: estimated widths are stretched by this much: kerning and hinting differ between renderers
SLACK = 1.04
_INDEX = {c: i for i, c in enumerate(fontmetrics.CHARS)}


@functools.lru_cache(maxsize=4096)
def text_width(text: str, font: Font) -> float:
    """The advance width of ``text`` in user units (an unknown character counts one em)."""
    table = fontmetrics.BOLD if font.bold else fontmetrics.REGULAR
    units = sum(table[_INDEX[c]] if c in _INDEX else 1000 for c in text)
    return units * font.size / 1000 * SLACK


def line_height(font: Font) -> float:
    return (fontmetrics.ASCENT + fontmetrics.DESCENT) * font.size


@dataclass(frozen=True, slots=True)
class Rect:
    x0: float
    y0: float
    x1: float
    y1: float

    def overlaps(self, other: Rect) -> bool:
        return self.x0 < other.x1 and other.x0 < self.x1 and self.y0 < other.y1 and \
            other.y0 < self.y1

    def inside(self, other: Rect) -> bool:
        return other.x0 <= self.x0 and self.x1 <= other.x1 and other.y0 <= self.y0 and \
            self.y1 <= other.y1

    def grow(self, by: float) -> Rect:
        return Rect(self.x0 - by, self.y0 - by, self.x1 + by, self.y1 + by)

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0


@dataclass(frozen=True, slots=True)
class Circle:
    cx: float
    cy: float
    r: float

    def overlaps(self, box: Rect) -> bool:
        nx, ny = min(max(self.cx, box.x0), box.x1), min(max(self.cy, box.y0), box.y1)
        return math.hypot(self.cx - nx, self.cy - ny) < self.r


Shape = Rect | Circle


@dataclass(frozen=True, slots=True)
class Label:
    """A line of text at (x, y) (y is the baseline); ``full`` is the whole text when ``text``
    was shortened to fit, for a ``<title>`` that shows on hover and focus."""

    x: float
    y: float
    text: str
    cls: str
    anchor: Anchor = "start"
    full: str = ""

    @property
    def font(self) -> Font:
        return FONTS[self.cls]

    def box(self, font: Font | None = None) -> Rect:
        """The text's box at ``font`` (by default the largest its class is drawn at)."""
        font = font or self.font
        w = text_width(self.text, font)
        x0 = self.x - {"start": 0.0, "middle": w / 2, "end": w}[self.anchor]
        return Rect(x0, self.y - fontmetrics.ASCENT * font.size, x0 + w,
                    self.y + fontmetrics.DESCENT * font.size)


def shorten(text: str, font: Font, width: float) -> str:
    """``text`` cut to fit ``width`` with an ellipsis (unchanged when it fits)."""
    if text_width(text, font) <= width:
        return text
    for n in range(len(text) - 1, 0, -1):
        cut = text[:n].rstrip() + "…"
        if text_width(cut, font) <= width:
            return cut
    return "…"


def fit(label: Label, width: float) -> Label:
    """The label shortened to ``width``, keeping its whole text as ``full``."""
    text = shorten(label.text, label.font, width)
    if text == label.text:
        return label
    return Label(label.x, label.y, text, label.cls, label.anchor, label.full or label.text)


@dataclass(slots=True)
class Placer:
    """Labels placed one by one inside ``bounds``, none over another or over an obstacle."""

    bounds: Rect
    obstacles: list[Shape] = field(default_factory=list)
    placed: list[Label] = field(default_factory=list)
    #: the least space kept between two labels
    gap: float = 1.0
    #: the placed labels' boxes, grown by half the gap
    _boxes: list[Rect] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        self._boxes = [p.box().grow(self.gap / 2) for p in self.placed]

    def fits(self, label: Label) -> bool:
        box = label.box()
        if not box.inside(self.bounds):
            return False
        grown = box.grow(self.gap / 2)
        return not any(o.overlaps(grown) for o in self.obstacles) and \
            not any(b.overlaps(grown) for b in self._boxes)

    def place(self, candidates: Iterable[Label]) -> Label | None:
        """The first candidate that fits, now placed; None when none fits."""
        for c in candidates:
            if self.fits(c):
                return self.add(c)
        return None

    def add(self, label: Label) -> Label:
        """Place a label where it is (an axis title, a label known to fit)."""
        self.placed.append(label)
        self._boxes.append(label.box().grow(self.gap / 2))
        return label

    def block(self, rect: Rect) -> None:
        self.obstacles.append(rect)


def thin(labels: Sequence[Label]) -> tuple[Label, ...]:
    """Every other label, then every fourth, ... until no two overlap (the first is kept)."""
    step = 1
    while step < len(labels):
        kept = labels[::step]
        boxes = [lb.box().grow(1) for lb in kept]
        if not any(a.overlaps(b) for a, b in itertools.pairwise(boxes)):
            return tuple(kept)
        step *= 2
    return tuple(labels[:1])


def spread(wanted: Sequence[float], height: float, lo: float, hi: float) -> list[float]:
    """Baselines as near to ``wanted`` as lines ``height`` apart allow, within [lo, hi]
    (the order kept): pushed down past their neighbours, then back up from the bottom."""
    order = sorted(range(len(wanted)), key=lambda i: wanted[i])
    ys = [max(wanted[i], lo) for i in order]
    for k in range(1, len(ys)):
        ys[k] = max(ys[k], ys[k - 1] + height)
    if ys and ys[-1] > hi:
        ys[-1] = hi
        for k in range(len(ys) - 2, -1, -1):
            ys[k] = min(ys[k], ys[k + 1] - height)
    out = [0.0] * len(wanted)
    for k, i in enumerate(order):
        out[i] = ys[k]
    return out


__all__ = ["FONTS", "MODES", "Anchor", "Circle", "Font", "Label", "Placer", "Rect", "fit", "line_height",
           "shorten", "spread", "text_width", "thin"]
