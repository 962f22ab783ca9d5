"""The 2-D view: the input rectangle with the chosen unit's field on it, the part in the padding
apart, at a merge each branch's field; zoomed in when the field is small beside the input."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from app.engine.optable import MERGE_ROW_OPS
from app.engine.result import AxisRF, LayerRow
from app.engine.unitfield import Reach, unit_reach
from app.present.rfdiagram.levels import path_rows
from app.present.rfdiagram.shapes import Rect, Text, num

BOX = 420.0
MARGIN = 34.0
MAX_DOTS = 32  # output units per axis drawn as dots
#: zoom in on the field when it is this many times smaller than the input
ZOOM_BELOW = 2.5


@dataclass(frozen=True, slots=True)
class AxisField:
    """The chosen unit's field along one axis of the input, in pixel edges."""

    size: int  # this unit's own: after upsampling, units of one row differ
    jump: int | float  # the row's, as the table gives it
    start: float
    centre: float
    length: int  # input pixels along the axis
    #: the input pixels really read (see ``levels.Span``); the rest of the field inside the
    #: input is reached only through padding of a later layer
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
    #: where this unit's field differs from the one size and centre the row's numbers give
    #: (after upsampling, a transposed convolution, or a merge of unaligned branches)
    position_note: str
    width: float
    height: float
    rects: tuple[Rect, ...]
    texts: tuple[Text, ...]
    dots: tuple[tuple[float, float, str], ...]
    title: str
    desc: str


def _field(rf: AxisRF, reach: Reach | None, length: int) -> AxisField:
    """One axis of a unit's field on the input, from what it reaches of the input row."""
    if reach is None:  # reads no input pixel at all (a transposed conv's gap): a point
        return AxisField(0, rf.jump, rf.start, rf.start, length)
    (first, last), seen = reach.field, reach.seen or (0, -1)
    return AxisField(last - first + 1, rf.jump, rf.start, (first + last) / 2, length, *seen)


def _unit_field(rows: Sequence[LayerRow], inputs: Sequence[Sequence[int]], index: int,
                unit: tuple[int, int]) -> tuple[AxisField, AxisField]:
    row = rows[index]
    ih, iw = rows[0].output.h, rows[0].output.w
    return (_field(row.rf.h, unit_reach(rows, inputs, index, unit[0], "h").get(0), ih),
            _field(row.rf.w, unit_reach(rows, inputs, index, unit[1], "w").get(0), iw))


def branches(rows: Sequence[LayerRow], inputs: Sequence[Sequence[int]], index: int,
             unit: tuple[int, int]) -> tuple[Branch, ...]:
    """At a merge row, the field of each of its inputs for the same unit (a broadcast 1x1
    input's one unit); () elsewhere."""
    row = rows[index]
    kind = row.attrs.get("kind")
    if kind is None or row.op not in MERGE_ROW_OPS:
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
    out = []
    for label, r in found:
        at = (min(unit[0], r.output.h - 1), min(unit[1], r.output.w - 1))
        out.append(Branch(label, *_unit_field(rows, inputs, r.index, at)))
    return tuple(out)


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


def _dots(pl: _Plane, row: LayerRow, unit: tuple[int, int], h: AxisField,
          w: AxisField) -> list[tuple[float, float, str]]:
    """The centres of the chosen layer's units in the window (every unit when few) as the
    row's numbers place them, the chosen one at its own field's centre."""
    oh, ow = row.output.h, row.output.w
    show_all = max(oh, ow) <= MAX_DOTS and min(row.rf.h.jump, row.rf.w.jump) * pl.scale >= 8
    out = []
    for i in range(oh) if show_all else (unit[0],):
        for j in range(ow) if show_all else (unit[1],):
            cx, cy = row.rf.w.start + j * row.rf.w.jump, row.rf.h.start + i * row.rf.h.jump
            if (i, j) == unit:
                cx, cy = w.centre, h.centre
            if pl.inside(cx, cy):
                x, y = pl.at(cx, cy)
                out.append((x, y, "rf-dot-on" if (i, j) == unit else "rf-dot"))
    out.sort(key=lambda d: d[2] == "rf-dot-on")  # the chosen one drawn last, on top
    return out


def _plane_labels(pl: _Plane, h: AxisField, w: AxisField) -> list[Text]:
    """In the margins: the field's size above the drawing, the input (or the part of it
    shown) below it."""
    fx, _ = pl.at((w.lo + w.hi) / 2, 0)
    below = pl.at(0, pl.y_hi)[1] + 22
    rows = (max(0, math.floor(pl.y_lo + 0.5)), min(h.length - 1, math.ceil(pl.y_hi - 0.5)))
    cols = (max(0, math.floor(pl.x_lo + 0.5)), min(w.length - 1, math.ceil(pl.x_hi - 0.5)))
    shown = (f"input {h.length} x {w.length}" if not pl.zoomed else
             f"part of the {h.length} x {w.length} input: rows {rows[0]} to {rows[1]}, "
             f"columns {cols[0]} to {cols[1]}")
    return [Text(fx, MARGIN - 10, f"field {h.size} x {w.size}", "rf-label", "middle"),
            Text(MARGIN, below, shown, "rf-label")]


def _jump_and_start(pl: _Plane, h: AxisField, w: AxisField, unit: tuple[int, int],
                    units: tuple[int, int]) -> tuple[list[Rect], list[Text]]:
    """A bar from the drawn unit's centre to its neighbour's (the jump), and the first unit's
    centre (the start), each labelled where it falls in the window."""
    rects: list[Rect] = []
    texts: list[Text] = []
    step = 1 if unit[1] + 1 < units[1] else -1
    nx = w.centre + step * w.jump
    if units[1] > 1 and pl.inside(nx, h.centre):
        (ax, ay), (bx, _) = pl.at(w.centre, h.centre), pl.at(nx, h.centre)
        rects.append(Rect(min(ax, bx), ay - 1.5, abs(bx - ax), 3, "rf-jump"))
        texts.append(Text((ax + bx) / 2, ay - 8, f"jump {w.jump}", "rf-small", "middle"))
    if pl.inside(w.start, h.start):
        sx, sy = pl.at(w.start, h.start)
        texts.append(Text(sx + 7, sy + 17, f"start ({num(h.start)}, {num(w.start)})",
                          "rf-small"))
    return rects, texts


def _position_note(row: LayerRow, unit: tuple[int, int], h: AxisField, w: AxisField) -> str:
    """Say so when this unit's field is not the one size and centre the row's numbers give."""
    parts = []
    for name, ax, rf, u in (("rows", h, row.rf.h, unit[0]), ("columns", w, row.rf.w, unit[1])):
        centre = rf.start + u * rf.jump
        if ax.size and (ax.size, ax.centre) != (rf.size, centre):
            parts.append(f"{name} {num(ax.lo + 0.5)} to {num(ax.hi - 0.5)} ({ax.size} pixels "
                         f"centred at {num(ax.centre)}; the row's numbers give {rf.size} "
                         f"centred at {num(centre)})")
    if not parts:
        return ""
    return ("this unit sees " + " and ".join(parts) + ": the units of this row do not all see "
            "alike (after upsampling or a transposed convolution, or where merged inputs step "
            "through the input by different jumps), so the drawing shows this unit's own field")


def field_view(rows: Sequence[LayerRow], inputs: Sequence[Sequence[int]], index: int,
               unit: tuple[int, int]) -> FieldView:
    """Lay out the 2-D view of ``rows[index]``'s unit ``(i, j)`` on the input; ``inputs`` are
    the rows each row reads (:func:`app.engine.unitfield.graph_inputs`)."""
    row = rows[index]
    ih, iw = rows[0].output.h, rows[0].output.w
    h, w = _unit_field(rows, inputs, index, unit)
    merged = branches(rows, inputs, index, unit)
    pl = _plane(h, w, merged)
    rects = [pl.rect(-0.5, -0.5, iw - 0.5, ih - 0.5, "rf-input"),
             pl.rect(w.lo, h.lo, w.hi, h.hi, "rf-field-pad")]
    if h.seen and w.seen:
        rects.append(pl.rect(w.seen_first - 0.5, h.seen_first - 0.5, w.seen_last + 0.5,
                             h.seen_last + 0.5, "rf-field-in"))
    rects += _input_edges(pl, ih, iw)
    rects.append(pl.rect(w.lo, h.lo, w.hi, h.hi, "rf-field-outline"))
    rects += [pl.rect(b.w.lo, b.h.lo, b.w.hi, b.h.hi, "rf-branch") for b in merged]
    jump_rects, jump_texts = _jump_and_start(pl, h, w, unit, (row.output.h, row.output.w))
    rects += jump_rects
    texts = _plane_labels(pl, h, w) + jump_texts
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
                     _position_note(row, unit, h, w), width, height, tuple(rects), tuple(texts),
                     tuple(_dots(pl, row, unit, h, w)),
                     title, desc)
