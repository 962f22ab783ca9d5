"""The 1-D pyramid's layout: each level's units drawn at their centres in input pixels, the
cone between levels, the labels beside (wide screens) or above (phones) each level."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.engine.result import LayerRow
from app.engine.unitfield import Reach
from app.present.rfdiagram.levels import Axis, Gap, Level, levels, shorten
from app.present.rfdiagram.shapes import Poly, Rect, Text, num

#: pyramid layout, in SVG user units
TOP = 14.0
LEVEL_H = 24.0
CONE_H = 26.0
GAP_H = 34.0
AXIS_H = 40.0
#: below this spacing (SVG units) between two units' centres a level is drawn as one bar
MIN_SPACING = 3.0
NAME_CHARS = 24


@dataclass(frozen=True, slots=True)
class Pyramid:
    """The 1-D pyramid of one axis (or of both, when they are equal), top level first."""

    axes: str  # "H", "W" or "H and W"
    unit: int
    layout: str  # "wide" or "narrow"
    levels: tuple[Level | Gap, ...]
    width: float
    height: float
    rects: tuple[Rect, ...]
    texts: tuple[Text, ...]
    polys: tuple[Poly, ...]
    title: str
    desc: str


@dataclass(frozen=True, slots=True)
class Layout:
    """Where a pyramid's labels go: in columns beside the levels (wide screens) or on a line
    above each level (phones), so that the text stays legible when the SVG is scaled down."""

    name: str
    width: float
    left: float
    right: float
    label_h: float  # height of the label line above each level (0: labels beside it)


WIDE = Layout("wide", 960.0, 230.0, 210.0, 0.0)
NARROW = Layout("narrow", 400.0, 8.0, 8.0, 17.0)


@dataclass(slots=True)
class _Canvas:
    layout: Layout
    lo: float
    scale: float
    rects: list[Rect]
    texts: list[Text]
    polys: list[Poly]

    def x(self, px: float) -> float:
        return self.layout.left + (px - self.lo) * self.scale

    def visible(self, x: float) -> bool:
        return self.layout.left <= x <= self.layout.width - self.layout.right

    @property
    def middle(self) -> float:
        return (self.layout.left + self.layout.width - self.layout.right) / 2


def _extent(bottom: Level) -> tuple[float, float]:
    lo = bottom.centre(bottom.span.first) - 0.5 * bottom.jump
    hi = bottom.centre(bottom.span.last) + 0.5 * bottom.jump
    margin = max(2.0 * bottom.jump, 0.06 * (hi - lo))
    return lo - margin, hi + margin


def _cells(cv: _Canvas, lv: Level, y: float) -> tuple[float, float]:
    """Draw one level; return the x extent of its covered units."""
    sp = lv.span
    spacing = lv.jump * cv.scale
    cell = max(1.5, min(cv.scale, spacing) * 0.86, min(spacing * 0.45, 12.0))
    x0, x1 = cv.x(lv.centre(sp.first)) - cell / 2, cv.x(lv.centre(sp.last)) + cell / 2
    if spacing < MIN_SPACING:
        cv.rects.append(Rect(x0, y, x1 - x0, LEVEL_H, "rf-bar"))
        for first, last in ((sp.first, sp.seen_first - 1), (sp.seen_last + 1, sp.last)):
            if last >= first:
                a, b = cv.x(lv.centre(first)) - cell / 2, cv.x(lv.centre(last)) + cell / 2
                cv.rects.append(Rect(a, y, b - a, LEVEL_H, "rf-cell-pad"))
        return x0, x1
    for j in range(sp.first - 2, sp.last + 3):
        covered = sp.first <= j <= sp.last
        outside = not 0 <= j < sp.length
        if not covered and (outside or not cv.visible(cv.x(lv.centre(j)))):
            continue
        seen = sp.seen_first <= j <= sp.seen_last
        cls = ("rf-cell-on" if seen else "rf-cell-pad") if covered else "rf-cell-off"
        cv.rects.append(Rect(cv.x(lv.centre(j)) - cell / 2, y, cell, LEVEL_H, cls))
    return x0, x1


def _describe_level(lv: Level, is_input: bool) -> str:
    sp = lv.span
    what = "pixel" if is_input else "unit"
    text = f"{sp.count} {what}{'s' if sp.count != 1 else ''}"
    if sp.padding:
        text += f" ({sp.padding} in padding)"
    if sp.unseen:
        text += f" ({sp.unseen} read only through padding)"
    return text


def _short(name: str, most: int) -> str:
    return name if len(name) <= most else name[:most - 1] + "…"


def _level_labels(cv: _Canvas, lv: Level, y: float, is_input: bool) -> None:
    lay = cv.layout
    numbers = f"field {lv.size} · jump {lv.jump}"
    if lay.label_h:  # one line above the level: name on the left, counts on the right
        ty = y - 5
        cv.texts.append(Text(lay.left, ty, _short(lv.name, 16), "rf-name"))
        cv.texts.append(Text(lay.width - lay.right, ty,
                             f"{_describe_level(lv, is_input)} · {numbers}", "rf-small", "end"))
        return
    cv.texts.append(Text(lay.left - 10, y + 11, _short(lv.name, NAME_CHARS), "rf-name", "end"))
    cv.texts.append(Text(lay.left - 10, y + 24.5,
                         "input" if is_input else f"{lv.op} · row {lv.row}", "rf-small", "end"))
    right = lay.width - lay.right + 10
    cv.texts.append(Text(right, y + 11, _describe_level(lv, is_input), "rf-label"))
    cv.texts.append(Text(right, y + 24.5, numbers, "rf-small"))


def _input_axis(cv: _Canvas, lv: Level, y: float) -> None:
    """Pixel indices under the input level (``y`` is its top), and the input's edges."""
    sp = lv.span
    ticks = {sp.first, sp.last}
    for edge, j in ((-0.5, 0), (sp.length - 0.5, sp.length - 1)):
        if cv.visible(cv.x(edge)):
            cv.rects.append(Rect(cv.x(edge) - 1, TOP, 2, y + LEVEL_H - TOP + 6, "rf-edge"))
            ticks.add(j)
    for j in sorted(ticks):
        cv.texts.append(Text(cv.x(lv.centre(j)), y + LEVEL_H + 16, num(lv.centre(j)),
                             "rf-small", "middle"))
    if not cv.layout.label_h:
        cv.texts.append(Text(cv.layout.left - 10, y + LEVEL_H + 16, "pixel", "rf-small", "end"))


def pyramid(path: Sequence[LayerRow], axis: Axis, unit: int, axes: str,
            reach: dict[int, Reach], layout: Layout = WIDE) -> Pyramid:
    """Lay out the pyramid of ``path`` (input first, chosen row last) along ``axis``, for the
    unit whose ``reach`` (:func:`app.engine.unitfield.unit_reach`) is given."""
    lv = levels(path, axis, reach)
    shown = shorten(lv)
    shown.reverse()  # top first
    lo, hi = _extent(lv[0])
    cv = _Canvas(layout, lo, (layout.width - layout.left - layout.right) / (hi - lo),
                 [], [], [])
    y = TOP + layout.label_h
    above: tuple[float, float, float] | None = None  # x extent and bottom of the level above
    for item in shown:
        if isinstance(item, Gap):
            cv.texts.append(Text(cv.middle, y + GAP_H / 2 - 8 - layout.label_h / 2, item.text,
                                 "rf-gap", "middle"))
            y += GAP_H
            continue
        x0, x1 = _cells(cv, item, y)
        if above is not None:
            a0, a1, ay = above
            cv.polys.append(Poly(f"{a0:.1f},{ay:.1f} {a1:.1f},{ay:.1f} "
                                 f"{x1:.1f},{y:.1f} {x0:.1f},{y:.1f}", "rf-cone"))
        _level_labels(cv, item, y, item is lv[0])
        above = (x0, x1, y + LEVEL_H)
        y += LEVEL_H + CONE_H + layout.label_h
    y -= CONE_H + layout.label_h
    _input_axis(cv, lv[0], y - LEVEL_H)
    bottom, top = lv[0], lv[-1]
    title = (f"Receptive field along {axes} of {top.name}, unit {unit}: "
             f"{bottom.span.count} input pixels")
    desc = (f"{len(lv)} levels from {top.name} (row {top.row}) down to the input"
            + (f", {len(lv) - sum(isinstance(s, Level) for s in shown)} of them not drawn"
               if len(shown) < len(lv) else "")
            + ". " + "; ".join(f"{x.name}: {_describe_level(x, x is bottom)}, field {x.size}, "
                                f"jump {x.jump}" for x in reversed(lv)) + ".")
    return Pyramid(axes, unit, layout.name, tuple(shown), layout.width, y + AXIS_H,
                   tuple(cv.rects), tuple(cv.texts), tuple(cv.polys), title, desc)
