"""Receptive-field diagrams as geometry: what the SVG draws, computed from the engine's numbers.

Two pictures of one unit of a chosen layer (row) and the input pixels it sees:

* a 1-D **pyramid** per axis: from the unit at the top down to the input, one level for every
  layer on its path that changes the receptive field; each level shows the units of that
  layer's output that feed the chosen unit. Units of a level are drawn at their centres in input
  coordinates, so a stride (jump) visibly spreads them; units that fall outside their map
  (padding) are drawn differently. Deep paths are shortened to :data:`MAX_LEVELS` levels, the
  omitted ones replaced by a band that says how many there were.
* a **2-D view** of the input (H x W) with the unit's field drawn on it, the part outside the
  input (in the padding) apart from the part inside, and at a merge each branch's field.

Everything is computed from ``row.rf`` (size, jump, start per axis) and ``row.output``: for
the chosen unit ``u`` (centre ``c = start_N + u*jump_N``, field ``size_N``) a level ``i`` with
field ``size_i``, jump ``jump_i`` and start ``start_i`` contributes the units ``j`` whose
centres ``start_i + j*jump_i`` lie within ``c +- (size_N - size_i)/2`` (Araujo et al.,
"Computing Receptive Fields of Convolutional Neural Networks", Distill 2019). Coordinates are
in input pixels, the first pixel's centre at 0.

Pure data: no Jinja, no web framework. The template only loops over the shapes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

from app.engine.result import AxisRF, LayerRow

Axis = Literal["h", "w"]
UnitChoice = Literal["first", "centre", "last"]
UNIT_CHOICES: tuple[UnitChoice, ...] = ("first", "centre", "last")

#: levels drawn at most in one pyramid (the input and the chosen layer included)
MAX_LEVELS = 10
#: pyramid layout, in SVG user units
TOP = 14.0
LEVEL_H = 24.0
CONE_H = 26.0
GAP_H = 34.0
AXIS_H = 40.0
#: below this spacing (SVG units) between two units' centres a level is drawn as one bar
MIN_SPACING = 3.0
NAME_CHARS = 24
EPS = 1e-9


@dataclass(frozen=True, slots=True)
class Rect:
    x: float
    y: float
    w: float
    h: float
    cls: str


@dataclass(frozen=True, slots=True)
class Text:
    x: float
    y: float
    text: str
    cls: str = "rf-label"
    anchor: Literal["start", "middle", "end"] = "start"


@dataclass(frozen=True, slots=True)
class Poly:
    points: str
    cls: str


@dataclass(frozen=True, slots=True)
class Span:
    """The units of one level (along one axis) under the chosen unit's field.

    ``first``/``count`` is the whole field as the receptive-field numbers give it; some of it
    may lie outside the map (padding). ``seen_first``..``seen_last`` are the units inside the
    map that really feed the chosen unit: a unit reached only through a padding unit of a level
    above (a zero) is not read, as with the row a floored size drops."""

    first: int
    count: int
    length: int  # units in this level's map along the axis
    seen_first: int = 0
    seen_last: int = -1

    @property
    def seen(self) -> int:
        return max(0, self.seen_last - self.seen_first + 1)

    @property
    def unseen(self) -> int:
        """Units inside the map, under the field, that are read only through padding above."""
        return self.count - self.padding - self.seen

    @property
    def last(self) -> int:
        return self.first + self.count - 1

    @property
    def pad_before(self) -> int:
        return max(0, min(self.count, -self.first))

    @property
    def pad_after(self) -> int:
        return max(0, min(self.count, self.last - self.length + 1))

    @property
    def padding(self) -> int:
        return self.pad_before + self.pad_after


@dataclass(frozen=True, slots=True)
class Level:
    """One layer's output along one axis, and the units of it that feed the chosen unit."""

    row: int
    name: str
    op: str
    size: int
    jump: int
    start: float
    span: Span

    def centre(self, j: int) -> float:
        return self.start + j * self.jump


@dataclass(frozen=True, slots=True)
class Gap:
    """Levels left out of a long pyramid."""

    hidden: int

    @property
    def text(self) -> str:
        return f"… {self.hidden} layer{'s' if self.hidden != 1 else ''} …"


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
class AxisField:
    """The chosen unit's field along one axis of the input, in pixel edges."""

    size: int
    jump: int
    start: float
    centre: float
    length: int  # input pixels along the axis
    #: the input pixels really read (see :class:`Span`); the rest of the field inside the input
    #: is reached only through padding of a later layer
    seen_first: int = 0
    seen_last: int = -1

    @property
    def seen(self) -> int:
        return max(0, self.seen_last - self.seen_first + 1)

    @property
    def unseen(self) -> float:
        return self.inside - self.seen

    @property
    def lo(self) -> float:
        return self.centre - self.size / 2

    @property
    def hi(self) -> float:
        return self.centre + self.size / 2

    @property
    def pad_before(self) -> float:
        return max(0.0, min(float(self.size), -0.5 - self.lo))

    @property
    def pad_after(self) -> float:
        return max(0.0, min(float(self.size), self.hi - (self.length - 0.5)))

    @property
    def inside(self) -> float:
        return self.size - self.pad_before - self.pad_after


@dataclass(frozen=True, slots=True)
class Branch:
    """At a merge: one input's field for the same unit (the merge's is their union)."""

    name: str
    h: AxisField
    w: AxisField


@dataclass(frozen=True, slots=True)
class FieldView:
    """The 2-D view: the input rectangle and the unit's field on it."""

    unit: tuple[int, int]
    units: tuple[int, int]  # the chosen layer's output H x W
    h: AxisField
    w: AxisField
    branches: tuple[Branch, ...]
    warnings: tuple[str, ...]
    #: at a merge whose branches step by different jumps: where the union of the branches'
    #: fields for this unit differs from the one field the row gives (exact for unit (0, 0))
    union_note: str
    width: float
    height: float
    rects: tuple[Rect, ...]
    texts: tuple[Text, ...]
    dots: tuple[tuple[float, float, str], ...]
    title: str
    desc: str


@dataclass(frozen=True, slots=True)
class RFDiagram:
    """Everything the receptive-field partial draws for one row."""

    row: LayerRow
    unit_choice: UnitChoice
    pyramids: tuple[Pyramid, ...]  # per axis, a wide and a narrow layout
    field: FieldView


def num(x: float) -> str:
    """A coordinate or size as people read it: 5, 2.5, -0.5."""
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _axis(rf: AxisRF | None, row: LayerRow, axis: Axis) -> AxisRF:
    return rf if rf is not None else (row.rf.h if axis == "h" else row.rf.w)


def _length(row: LayerRow, axis: Axis) -> int:
    return row.output.h if axis == "h" else row.output.w


# --- the path --------------------------------------------------------------------------------

def _inside(block: str, path: str) -> bool:
    """Is ``block`` strictly inside ``path``?"""
    return block != path and (path == "" or block.startswith(path + "/"))


def path_rows(rows: Sequence[LayerRow], index: int) -> list[LayerRow]:
    """The rows from the input to ``rows[index]`` along its path, input first.

    Walking back from the chosen row: a row of the same block path precedes it; a row inside a
    block nested in that path belongs to a block already summed up by its merge row; a row of
    an enclosing path is where the current block was entered; anything else is a sibling
    branch."""
    chosen = rows[index]
    path, out = chosen.block, [chosen]
    for row in reversed(rows[:index]):
        if row.block == path:
            out.append(row)
        elif _inside(path, row.block):
            path = row.block
            out.append(row)
    out.reverse()
    return out


def unit_index(choice: UnitChoice, length: int) -> int:
    return {"first": 0, "centre": (length - 1) // 2, "last": length - 1}[choice]


# --- the pyramid ----------------------------------------------------------------------------

def _span(level_rf: AxisRF, length: int, centre: float, size: int) -> Span:
    half = (size - level_rf.size) / 2
    lo = (centre - half - level_rf.start) / level_rf.jump
    hi = (centre + half - level_rf.start) / level_rf.jump
    first, last = math.ceil(lo - EPS), math.floor(hi + EPS)
    return Span(first, max(1, last - first + 1), length)


def levels(path: Sequence[LayerRow], axis: Axis, unit: int) -> list[Level]:
    """One level for the input, each row that changes the field along ``axis``, and the
    chosen row (the last of ``path``); input first."""
    top = path[-1]
    top_rf = _axis(None, top, axis)
    centre = top_rf.start + unit * top_rf.jump
    out: list[Level] = []
    prev: AxisRF | None = None
    for i, row in enumerate(path):
        rf = _axis(None, row, axis)
        if i not in (0, len(path) - 1) and prev is not None and rf == prev:
            continue
        prev = rf
        length = (row.input.h if axis == "h" else row.input.w) if i == 0 else _length(row, axis)
        span = _span(rf, length, centre, top_rf.size)
        out.append(Level(row.index, row.name, row.op, rf.size, rf.jump, rf.start, span))
    return _seen(out)


def _seen(lv: list[Level]) -> list[Level]:
    """Fill in each level's units really read, from the top down: the units of a level under
    the fields of the units read in the level above, inside the map."""
    out = list(lv)
    above: Level | None = None
    for i in range(len(out) - 1, -1, -1):
        level = out[i]
        sp = level.span
        lo, hi = sp.first, sp.last
        if above is not None:
            half = (above.size - level.size) / 2
            a, b = above.span.seen_first, above.span.seen_last
            lo = max(lo, math.ceil((above.centre(a) - half - level.start) / level.jump - EPS))
            hi = min(hi, math.floor((above.centre(b) + half - level.start) / level.jump + EPS))
            if b < a:
                lo, hi = 0, -1
        seen = Span(sp.first, sp.count, sp.length, max(lo, 0), min(hi, sp.length - 1))
        out[i] = above = replace(level, span=seen)
    return out


def shorten(lv: Sequence[Level], limit: int = MAX_LEVELS) -> list[Level | Gap]:
    """At most ``limit`` levels: the input and its first layer, the chosen layer and the one
    below it, then every level where the jump changes (a stride), then those nearest the top;
    each run left out becomes a :class:`Gap`."""
    n = len(lv)
    if n <= limit:
        return list(lv)
    keep = {0, 1, n - 2, n - 1}
    for i in range(1, n):
        if lv[i].jump != lv[i - 1].jump and len(keep) < limit:
            keep.add(i)
    for i in range(n - 3, 0, -1):
        if len(keep) >= limit:
            break
        keep.add(i)
    out: list[Level | Gap] = []
    hidden = 0
    for i, level in enumerate(lv):
        if i in keep:
            if hidden:
                out.append(Gap(hidden))
            out.append(level)
            hidden = 0
        else:
            hidden += 1
    return out


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
    cv.texts.append(Text(lay.left - 10, y + 23,
                         "input" if is_input else f"{lv.op} · row {lv.row}", "rf-small", "end"))
    right = lay.width - lay.right + 10
    cv.texts.append(Text(right, y + 11, _describe_level(lv, is_input), "rf-label"))
    cv.texts.append(Text(right, y + 23, numbers, "rf-small"))


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
            layout: Layout = WIDE) -> Pyramid:
    """Lay out the pyramid of ``path`` (input first, chosen row last) along ``axis``."""
    lv = levels(path, axis, unit)
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


# --- the 2-D view ---------------------------------------------------------------------------

BOX = 420.0
MARGIN = 34.0
MAX_DOTS = 32  # output units per axis drawn as dots
#: zoom in on the field when it is this many times smaller than the input
ZOOM_BELOW = 2.5


def _field(rf: AxisRF, unit: int, length: int, seen: Span | None = None) -> AxisField:
    first, last = (seen.seen_first, seen.seen_last) if seen else (0, -1)
    return AxisField(rf.size, rf.jump, rf.start, rf.start + unit * rf.jump, length, first, last)


def branches(rows: Sequence[LayerRow], index: int, unit: tuple[int, int]) -> tuple[Branch, ...]:
    """At a merge row, the field of each of its inputs for the same unit; () elsewhere."""
    row = rows[index]
    kind = row.attrs.get("kind")
    if kind is None or row.op not in ("concat", "add", "join"):
        return ()
    inner = f"{row.block}/{row.name}" if row.block else row.name
    ends: dict[str, LayerRow] = {}
    for prev in reversed(rows[:index]):
        if not prev.block.startswith(inner + "/"):
            break
        ends.setdefault(prev.block[len(inner) + 1:].split("/")[0], prev)
    found = [(label, ends[label]) for label in reversed(list(ends))]
    entry = path_rows(rows, index)[-2]
    if kind == "residual" and "shortcut" not in ends:
        found.append(("shortcut (identity)", entry))
    if kind == "dense":
        found.insert(0, ("input (identity)", entry))
    ih, iw = rows[0].output.h, rows[0].output.w
    return tuple(Branch(label, _field(r.rf.h, unit[0], ih), _field(r.rf.w, unit[1], iw))
                 for label, r in found)


@dataclass(slots=True)
class _Plane:
    """The input plane's window being drawn: ``x`` columns and ``y`` rows, in pixel edges."""

    x_lo: float
    x_hi: float
    y_lo: float
    y_hi: float
    scale: float

    def at(self, x: float, y: float) -> tuple[float, float]:
        return MARGIN + (x - self.x_lo) * self.scale, MARGIN + (y - self.y_lo) * self.scale

    def rect(self, x0: float, y0: float, x1: float, y1: float, cls: str) -> Rect:
        """A rectangle, cut to the window."""
        x0, x1 = max(x0, self.x_lo), min(x1, self.x_hi)
        y0, y1 = max(y0, self.y_lo), min(y1, self.y_hi)
        ax, ay = self.at(x0, y0)
        return Rect(ax, ay, max(0.0, x1 - x0) * self.scale, max(0.0, y1 - y0) * self.scale, cls)

    def inside(self, x: float, y: float) -> bool:
        return self.x_lo <= x <= self.x_hi and self.y_lo <= y <= self.y_hi

    zoomed: bool = False


def _window(lo: float, hi: float, length: int, zoom: bool) -> tuple[float, float]:
    """Along one axis: the whole input and field, or (zoomed) the field and half its size."""
    if not zoom:
        return min(lo, -0.5), max(hi, length - 0.5)
    margin = (hi - lo) / 2
    return max(lo - margin, min(lo, -0.5)), min(hi + margin, max(hi, length - 0.5))


def _plane(h: AxisField, w: AxisField, extra: Sequence[Branch]) -> _Plane:
    """The whole input, or when the field is small beside it, the field and its surroundings."""
    x_lo, x_hi = min([w.lo] + [b.w.lo for b in extra]), max([w.hi] + [b.w.hi for b in extra])
    y_lo, y_hi = min([h.lo] + [b.h.lo for b in extra]), max([h.hi] + [b.h.hi for b in extra])
    zoom = max(x_hi - x_lo, y_hi - y_lo) * ZOOM_BELOW < max(h.length, w.length)
    xs, ys = _window(x_lo, x_hi, w.length, zoom), _window(y_lo, y_hi, h.length, zoom)
    span = max(xs[1] - xs[0], ys[1] - ys[0])
    return _Plane(xs[0], xs[1], ys[0], ys[1], BOX / span, zoom)


def _input_edges(pl: _Plane, ih: int, iw: int) -> list[Rect]:
    """The input's four edges, those that fall in the window."""
    out = []
    top, left, bottom, right = -0.5, -0.5, ih - 0.5, iw - 0.5
    for y in (top, bottom):
        if pl.y_lo <= y <= pl.y_hi:
            r = pl.rect(left, y, right, y, "rf-input-line")
            out.append(Rect(r.x, r.y - 1, r.w, 2, r.cls))
    for x in (left, right):
        if pl.x_lo <= x <= pl.x_hi:
            r = pl.rect(x, top, x, bottom, "rf-input-line")
            out.append(Rect(r.x - 1, r.y, 2, r.h, r.cls))
    return out


def _dots(pl: _Plane, row: LayerRow, unit: tuple[int, int]) -> list[tuple[float, float, str]]:
    """The centres of the chosen layer's units in the window (every unit when few)."""
    oh, ow = row.output.h, row.output.w
    show_all = max(oh, ow) <= MAX_DOTS and min(row.rf.h.jump, row.rf.w.jump) * pl.scale >= 8
    out = []
    for i in range(oh) if show_all else (unit[0],):
        for j in range(ow) if show_all else (unit[1],):
            cx, cy = row.rf.w.start + j * row.rf.w.jump, row.rf.h.start + i * row.rf.h.jump
            if pl.inside(cx, cy):
                x, y = pl.at(cx, cy)
                out.append((x, y, "rf-dot-on" if (i, j) == unit else "rf-dot"))
    out.sort(key=lambda d: d[2] == "rf-dot-on")  # the chosen one drawn last, on top
    return out


def _plane_labels(pl: _Plane, h: AxisField, w: AxisField) -> list[Text]:
    """In the margins: the field's size above the drawing, the input (or the part of it
    shown) below it; the jump beside the drawn unit."""
    fx, _ = pl.at((w.lo + w.hi) / 2, 0)
    below = pl.at(0, pl.y_hi)[1] + 22
    rows = (max(0, math.floor(pl.y_lo + 0.5)), min(h.length - 1, math.ceil(pl.y_hi - 0.5)))
    cols = (max(0, math.floor(pl.x_lo + 0.5)), min(w.length - 1, math.ceil(pl.x_hi - 0.5)))
    shown = (f"input {h.length} x {w.length}" if not pl.zoomed else
             f"part of the {h.length} x {w.length} input: rows {rows[0]} to {rows[1]}, "
             f"columns {cols[0]} to {cols[1]}")
    texts = [Text(fx, MARGIN - 10, f"field {h.size} x {w.size}", "rf-label", "middle"),
             Text(MARGIN, below, shown, "rf-label")]
    cx, cy = pl.at(w.centre, h.centre)
    jump = str(w.jump) if h.jump == w.jump else f"{h.jump} x {w.jump}"
    texts.append(Text(cx + 9, cy - 8, f"jump {jump}", "rf-small"))
    return texts


def _union_note(h: AxisField, w: AxisField, merged: Sequence[Branch]) -> str:
    """Say so when the branches' fields for this unit do not span the row's field."""
    if not merged:
        return ""
    parts = []
    for name, ax, fields in (("rows", h, [b.h for b in merged]), ("columns", w, [b.w for b in merged])):
        lo, hi = min(f.lo for f in fields) + 0.5, max(f.hi for f in fields) - 0.5
        if (lo, hi) != (ax.lo + 0.5, ax.hi - 0.5):
            parts.append(f"{name} {num(lo)} to {num(hi)}")
    if not parts:
        return ""
    return ("for this unit the merged inputs' fields together cover " + " and ".join(parts)
            + ", not the field drawn: the branches step through the input by different jumps, "
              "so one size, jump and start describe the first unit only")


def field_view(rows: Sequence[LayerRow], index: int, unit: tuple[int, int]) -> FieldView:
    """Lay out the 2-D view of ``rows[index]``'s unit ``(i, j)`` on the input."""
    row = rows[index]
    ih, iw = rows[0].output.h, rows[0].output.w
    path = path_rows(rows, index)
    h = _field(row.rf.h, unit[0], ih, levels(path, "h", unit[0])[0].span)
    w = _field(row.rf.w, unit[1], iw, levels(path, "w", unit[1])[0].span)
    merged = branches(rows, index, unit)
    pl = _plane(h, w, merged)
    rects = [pl.rect(-0.5, -0.5, iw - 0.5, ih - 0.5, "rf-input"),
             pl.rect(w.lo, h.lo, w.hi, h.hi, "rf-field-pad")]
    if h.seen and w.seen:
        rects.append(pl.rect(w.seen_first - 0.5, h.seen_first - 0.5, w.seen_last + 0.5,
                             h.seen_last + 0.5, "rf-field-in"))
    rects += _input_edges(pl, ih, iw)
    rects.append(pl.rect(w.lo, h.lo, w.hi, h.hi, "rf-field-outline"))
    rects += [pl.rect(b.w.lo, b.h.lo, b.w.hi, b.h.hi, "rf-branch") for b in merged]
    texts = _plane_labels(pl, h, w)
    right, bottom = pl.at(pl.x_hi, pl.y_hi)
    width, height = right + MARGIN, bottom + MARGIN
    title = (f"Receptive field of {row.name}, unit ({unit[0]}, {unit[1]}), on the "
             f"{ih} x {iw} input: {h.size} x {w.size} pixels")
    desc = (f"Field {h.size} x {w.size}, jump {h.jump} x {w.jump}, start {num(h.start)}, "
            f"{num(w.start)}; this unit's centre at row {num(h.centre)}, column "
            f"{num(w.centre)}; rows {num(h.lo + 0.5)} to {num(h.hi - 0.5)}, columns "
            f"{num(w.lo + 0.5)} to {num(w.hi - 0.5)}; in the padding: {num(h.pad_before)} "
            f"above, {num(h.pad_after)} below, {num(w.pad_before)} left, {num(w.pad_after)} "
            f"right" + (f"; read only through padding: {num(h.unseen)} rows, {num(w.unseen)} columns"
                        if h.unseen or w.unseen else "")
            + "." + "".join(f" Branch {b.name}: {b.h.size} x {b.w.size}." for b in merged)
            + "".join(f" Warning: {m}" for m in row.warnings))
    return FieldView(unit, (row.output.h, row.output.w), h, w, merged, tuple(row.warnings),
                     _union_note(h, w, merged), width, height, tuple(rects), tuple(texts), tuple(_dots(pl, row, unit)),
                     title, desc)


# --- both -----------------------------------------------------------------------------------

def _square(path: Sequence[LayerRow]) -> bool:
    first = path[0]
    return first.output.h == first.output.w and all(
        r.rf.h == r.rf.w and r.output.h == r.output.w for r in path)


def rf_diagram(rows: Sequence[LayerRow], index: int, choice: UnitChoice = "centre") -> RFDiagram:
    """The pyramid(s) and the 2-D view of one unit of ``rows[index]``."""
    row = rows[index]
    unit = (unit_index(choice, row.output.h), unit_index(choice, row.output.w))
    path = path_rows(rows, index)
    axes: list[tuple[Axis, int, str]] = (
        [("h", unit[0], "H and W")] if _square(path) else [("h", unit[0], "H"), ("w", unit[1], "W")])
    pyramids = tuple(pyramid(path, axis, u, name, layout)
                     for axis, u, name in axes for layout in (WIDE, NARROW))
    return RFDiagram(row, choice, pyramids, field_view(rows, index, unit))
