"""Where a row's units do not all see alike: the range of their fields, per axis.

One size, jump and start per row (the walk's field) describes every unit while each layer moves
its window a whole number of input units per output unit, as convolutions and pools do. After
upsampling and transposed convolutions it moves a fraction of a unit: outputs 2m and 2m + 1 of
a 2x2 stride-2 transposed convolution both read input m, and the units of a row repeat a
pattern of sizes and centres instead. Counting each unit's field as the formula does (padding
included, as if every input went on past its borders), a shift of the row by ``P`` units moves
every field by ``P x jump`` once ``P`` moves each earlier row by a whole number of its own
periods, so one period of units gives the range over the whole row. Where no period exists
(adaptive pooling onto a size that does not divide, a merge of inputs that step by different
jumps) the first units of the row are worked out, as many as :data:`MAX_SPREAD_WORK` allows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from fractions import Fraction

from app.engine.graph import FrozenDict, Network
from app.engine.optable import MERGE_ROW_OPS
from app.engine.result import (
    Analysis,
    AxisSpread,
    Formulas,
    LayerRow,
    Rendered,
    RFSpread,
)
from app.engine.unitfield import (
        Back,
    Span,
    axis_back,
    graph_inputs,
    merge_back,
    span_of,
)
from app.engine.working import Working, stated

#: trace steps (units x rows) spent on one row without a period, at most
MAX_SPREAD_WORK = 200_000
#: a period longer than this is worked out as a row without one
MAX_PERIOD = 4096


def _stride(row: LayerRow, axis: str, n_in: int) -> Fraction | None:
    """Input units a row's window moves when its output moves one unit; None where it moves
    unevenly."""
    a, op = row.attrs, row.op
    n_out = row.output.h if axis == "h" else row.output.w
    if op in ("conv", "sepconv", "maxpool", "avgpool"):
        return Fraction(int(a.get(f"s{axis}", 1)))
    if op == "convtranspose":
        return Fraction(1, int(a.get(f"s{axis}", 1)))
    if op in ("upsample", "pixelshuffle"):
        return Fraction(1, int(a["factor"]))
    if op == "crop":  # a shift: each output unit reads one input unit
        return Fraction(1)
    if op == "adaptiveavgpool":
        return Fraction(n_in // n_out) if n_in % n_out == 0 else None
    if n_in == n_out or n_out == 1:  # the same place, or one unit
        return Fraction(1)
    if n_in == 1:  # a broadcast: every unit reads the one
        return Fraction(0)
    return None  # an op that resizes by no rule here: worked out unit by unit


def _jump(row: LayerRow, axis: str) -> Fraction:
    return Fraction(row.rf.h.jump if axis == "h" else row.rf.w.jump).limit_denominator(1 << 20)


def periods(rows: Sequence[LayerRow], preds: Sequence[Sequence[int]],
            axis: str) -> list[tuple[int | None, bool]]:
    """For each row, the period of its units' fields along ``axis`` (None: none) and whether
    the row's one field may miss some unit's (a fractional stride or no period on the way)."""
    out: list[tuple[int | None, bool]] = [(1, False)]
    for r, ins in zip(rows[1:], preds[1:], strict=True):
        n_out = r.output.h if axis == "h" else r.output.w
        period: int | None = 1
        touched = any(out[j][1] for j in ins)
        merge = r.op in MERGE_ROW_OPS
        wide = [j for j in ins if (rows[j].output.h if axis == "h" else rows[j].output.w) > 1]
        if merge and len({_jump(rows[j], axis) for j in wide}) > 1:
            period, touched = None, True
        for j in ins:
            n_in = rows[j].output.h if axis == "h" else rows[j].output.w
            step = Fraction(1) if merge and n_in > 1 else _stride(r, axis, n_in)
            before = out[j][0]
            if step is None or before is None or period is None:
                period, touched = None, True
                continue
            touched = touched or step.denominator > 1
            period = math.lcm(period, (step / before).denominator)
        if _jump(r, axis) == 0 and n_out > 1:  # after a broadcast gate: one hull for all
            touched = True
        if n_out == 1:
            period = 1
        elif period is not None and period > MAX_PERIOD:
            period = None
        out.append((period, touched))
    return out


def _input_extent(rows: Sequence[LayerRow], preds: Sequence[Sequence[int]],
                  maps: list[list[Back]], alike: list[bool], target: int, unit: int,
                  axis: str) -> Span | None:
    """The input pixels a unit reaches, padding positions included: followed back through the
    rows whose units differ, then by the one field of the first rows whose units all see alike
    (exact there, and far cheaper than following every row back to the input)."""
    spans: dict[int, Span] = {target: (unit, unit)}
    ends: list[float] = []
    for i in range(target, -1, -1):
        if not spans:
            break
        span = spans.pop(i, None)
        if span is None:
            continue
        if alike[i]:
            rf = rows[i].rf.h if axis == "h" else rows[i].rf.w
            half = (rf.size - 1) / 2
            ends += [rf.start - half + span[0] * rf.jump, rf.start + half + span[1] * rf.jump]
            continue
        for j, back in zip(preds[i], maps[i], strict=True):
            got = span_of(back, span[0], span[1])
            if got is not None:
                old = spans.get(j)
                spans[j] = got if old is None else (min(old[0], got[0]), max(old[1], got[1]))
    return (round(min(ends)), round(max(ends))) if ends else None


def _axis_spread(rows: Sequence[LayerRow], preds: Sequence[Sequence[int]],
                 maps: list[list[Back]], alike: list[bool], index: int, axis: str,
                 period: int | None) -> AxisSpread | None:
    row = rows[index]
    rf = row.rf.h if axis == "h" else row.rf.w
    n = row.output.h if axis == "h" else row.output.w
    count = min(n, period if period is not None else max(1, MAX_SPREAD_WORK // index))
    sizes, offsets = [], []
    for o in range(count):
        got = _input_extent(rows, preds, maps, alike, index, o, axis)
        if got is None:  # reads nothing at all (a gap between a transposed conv's taps)
            continue
        sizes.append(got[1] - got[0] + 1)
        offsets.append(abs((got[0] + got[1]) / 2 - (rf.start + o * rf.jump)))
    if not sizes or (min(sizes) == max(sizes) == rf.size and max(offsets) < 1e-9):
        return None
    return AxisSpread(min(sizes), max(sizes), round(max(offsets), 6), count,
                      period is not None or count == n)


def spreads(rows: Sequence[LayerRow], preds: Sequence[Sequence[int]]) -> dict[int, RFSpread]:
    """Each row whose units do not all see as its one field says, by index, with the range."""
    per_axis: dict[str, dict[int, AxisSpread]] = {}
    for axis in ("h",) if _square(rows) else ("h", "w"):
        found: dict[int, AxisSpread] = {}
        marks = periods(rows, preds, axis)
        alike = [not touched for _, touched in marks]
        maps: list[list[Back]] | None = None
        for i, (period, touched) in enumerate(marks):
            if not touched:
                continue
            if _same_units(rows, preds, i):  # relu, bn, a 1x1 conv: its input's spread
                if preds[i][0] in found:
                    found[i] = found[preds[i][0]]
                continue
            if maps is None:
                maps = [[merge_back(r, axis, rows[j]) for j in ins] if r.op in MERGE_ROW_OPS
                        else [axis_back(r, axis, clip=False)] * len(ins)
                        for r, ins in zip(rows, preds, strict=True)]
            got = _axis_spread(rows, preds, maps, alike, i, axis, period)
            if got is not None:
                found[i] = got
        per_axis[axis] = found
    h, w = per_axis["h"], per_axis.get("w", per_axis["h"])
    return {i: RFSpread(h.get(i), w.get(i)) for i in sorted({*h, *w})}


def _square(rows: Sequence[LayerRow]) -> bool:
    """Does every row treat H and W alike (so that W's spread is H's)?"""
    for r in rows:
        if (r.output.h, r.rf.h) != (r.output.w, r.rf.w) or any(
                r.attrs.get(key[:-1] + "w") != value for key, value in r.attrs.items()
                if key.endswith("h") and key[:-1] + "w" in r.attrs):
            return False
    return True


def _same_units(rows: Sequence[LayerRow], preds: Sequence[Sequence[int]], i: int) -> bool:
    """Does row ``i`` read each unit of its one input at the same place, seeing what it saw?"""
    if len(preds[i]) != 1 or rows[i].op in MERGE_ROW_OPS:
        return False
    row, before = rows[i], rows[preds[i][0]]
    return ((row.output.h, row.output.w) == (before.output.h, before.output.w)
            and (row.rf.h, row.rf.w) == (before.rf.h, before.rf.w))


def _spread_figures(rf_part: Rendered, spread: RFSpread) -> FrozenDict:
    """The row's receptive-field working, and what its units see by position."""
    parts: list[Working] = [rf_part.working["rf"]]
    axes = ([("", spread.h)] if spread.h == spread.w
            else [("H ", spread.h), ("W ", spread.w)])
    for name, ax in axes:
        if ax is None:
            continue
        what = "every unit" if ax.whole else f"the first {ax.units} units"
        note = (f"over {what}, each counted as above; centres up to {ax.offset:g} px from "
                f"start + index x jump")
        sizes = (f"{ax.smallest}" if ax.smallest == ax.largest
                 else f"{ax.smallest} to {ax.largest}")
        parts.append(Working(stated(sizes, note=note).parts, label=f"{name}by position: "))
    return FrozenDict(rf=Working(tuple(parts), sep="; "))


def with_spread(row: LayerRow, spread: RFSpread) -> LayerRow:
    """The row with its units' range in its field and in its receptive-field working."""
    formulas = row.formulas
    if isinstance(formulas, Formulas):
        formulas = Formulas(*(Rendered(("rf",), _spread_figures, part, spread)
                              if part.keys == ("rf",) else part for part in formulas._parts))
    return replace(row, rf=replace(row.rf, spread=spread), formulas=formulas)


#: the ops after which units may see differently by position (and merges that warn)
UNEVEN_OPS = frozenset({"convtranspose", "upsample", "pixelshuffle", "adaptiveavgpool"})


def add_spreads(net: Network, analysis: Analysis) -> Analysis:
    """The analysis with the range of its units' fields on each row where they differ."""
    rows = analysis.layers
    if not any(r.op in UNEVEN_OPS or (r.op in MERGE_ROW_OPS and r.warnings) for r in rows):
        return analysis  # every layer moves its window by whole units: one field fits all
    found = spreads(rows, graph_inputs(net, analysis))
    if not found:
        return analysis
    return replace(analysis, layers=tuple(with_spread(r, found[r.index]) if r.index in found
                                          else r for r in rows))
