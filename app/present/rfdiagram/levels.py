"""The levels of a receptive-field pyramid: the rows on a unit's path down to the input and,
for each, the units under the unit's field (:class:`Span`), exact by position: followed back
from the unit through every row it reads (``app.engine.unitfield``), so that after upsampling
and transposed convolutions, where units of one row see differently, each unit gets its own."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from app.engine.errors import SpecError
from app.engine.result import AxisRF, LayerRow
from app.engine.unitfield import Reach

Axis = Literal["h", "w"]
#: a unit by place (first, centre, last) or by index: "i,j" (row, column) or "i" (both)
UnitChoice = str
UNIT_CHOICES: tuple[UnitChoice, ...] = ("first", "centre", "last")

#: levels drawn at most in one pyramid (the input and the chosen layer included)
MAX_LEVELS = 10


@dataclass(frozen=True, slots=True)
class Span:
    """The units of one level (along one axis) under the chosen unit's field.

    ``first``/``count`` is the whole field as the receptive-field formula counts it; some of it
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
    size: int | float  # a fraction only after upsampling or a transposed convolution
    jump: int | float
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


def _axis(row: LayerRow, axis: Axis) -> AxisRF:
    return row.rf.h if axis == "h" else row.rf.w


def _length(row: LayerRow, axis: Axis) -> int:
    return row.output.h if axis == "h" else row.output.w


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


def pick_unit(choice: UnitChoice, h: int, w: int) -> tuple[int, int]:
    """The unit ``(i, j)`` a choice names in an ``h`` x ``w`` map: first, centre, last, or
    an index "i,j" (0-based) or "i" (the same on both axes)."""
    text = choice.strip().lower()
    if text in UNIT_CHOICES:
        return unit_index(text, h), unit_index(text, w)
    parts = [p.strip() for p in text.split(",")]
    if not 1 <= len(parts) <= 2 or not all(p.isascii() and p.isdecimal() for p in parts):
        raise SpecError(f"unit '{choice[:20]}' is not first, centre, last or an index such "
                        f"as '3,5' (row, column from 0)", parameter="unit")
    i, j = int(parts[0]), int(parts[-1])
    if i >= h or j >= w:
        raise SpecError(f"unit ({i}, {j}) is outside the layer's {h} x {w} map; rows go "
                        f"from 0 to {h - 1}, columns from 0 to {w - 1}", parameter="unit")
    return i, j


def _span(reach: Reach | None, length: int) -> Span:
    if reach is None:  # the unit reads nothing through this row (a transposed conv's gap)
        return Span(0, 1, length)
    (first, last), seen = reach.field, reach.seen or (0, -1)
    return Span(first, last - first + 1, length, max(seen[0], 0), min(seen[1], length - 1))


def levels(path: Sequence[LayerRow], axis: Axis, reach: dict[int, Reach]) -> list[Level]:
    """One level for the input, each row that changes the field along ``axis``, and the
    chosen row (the last of ``path``); input first. ``reach`` is what the chosen unit reaches
    of each row (:func:`app.engine.unitfield.unit_reach`)."""
    out: list[Level] = []
    prev: AxisRF | None = None
    for i, row in enumerate(path):
        rf = _axis(row, axis)
        if i not in (0, len(path) - 1) and prev is not None and rf == prev:
            continue
        prev = rf
        length = (row.input.h if axis == "h" else row.input.w) if i == 0 else _length(row, axis)
        span = _span(reach.get(row.index), length)
        out.append(Level(row.index, row.name, row.op, rf.size, rf.jump, rf.start, span))
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
