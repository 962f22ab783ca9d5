"""Receptive-field arithmetic, per axis (Araujo et al., "Computing Receptive Fields of
Convolutional Neural Networks", Distill 2019):

``size' = size + (k_eff - 1)*jump``, ``jump' = jump*s``, ``start' = start + ((k_eff-1)/2 - p)*jump``

starting from size 1, jump 1, start 0 at the input. fc, gap and flatten see their whole input
(a window as large as the input). At a merge, a unit of the output sees the union of what the
inputs' units see: per axis the union of their intervals, its size and centre; inputs that step
through the input by different jumps are reported as a warning. One size, jump and start per
row is exact while every layer moves its window by whole units; where units differ by position
(upsampling, transposed convolutions) ``app.engine.fieldspread`` gives the range over them.
"""

from __future__ import annotations

from fractions import Fraction

from app.engine.errors import LimitError
from app.engine.graph import FrozenDict, Layer, Volume
from app.engine.limits import LIMITS
from app.engine.optable import MERGE_OPS
from app.engine.result import RF, AxisRF, maker
from app.engine.rules import Window
from app.engine.working import Equation, Group, Num, Term, Working, add, equals, mul, stated, sub

_axis = maker(AxisRF)
_field = maker(RF)

#: the figures a row's receptive-field working gives
RF_KEYS = ("rf",)
#: a field along H and along W
Field2 = tuple[AxisRF, AxisRF]


def _number(x: Fraction | int | float) -> int | float:
    """A whole value as an int, else a float."""
    if isinstance(x, Fraction):
        return x.numerator if x.denominator == 1 else float(x)
    return x


def axis_through_window(ax: AxisRF, win: Window) -> AxisRF:
    """One axis of the receptive field through a window."""
    if isinstance(win.s, int) and isinstance(win.p, int) and isinstance(ax.jump, int):
        return _axis(ax.size + (win.k - 1) * ax.jump, ax.jump * win.s,
                     ax.start + ((win.k - 1) / 2 - win.p) * ax.jump)
    # a fractional step (upsampling, transposed convolution): exact, then as JSON numbers
    jump = Fraction(ax.jump)
    return AxisRF(_number(ax.size + (win.k - 1) * jump), _number(jump * win.s),
                  float(Fraction(ax.start) + (Fraction(win.k - 1, 2) - win.p) * jump))


def field_through_window(rf: Field2, win: tuple[Window, Window] | None, layer: Layer) -> Field2:
    """Both axes of the field through a layer's windows (None: a layer that keeps it)."""
    if win is None:
        return rf
    h = axis_through_window(rf[0], win[0])
    w = h if rf[0] == rf[1] and win[0] == win[1] else axis_through_window(rf[1], win[1])
    for ax in (h, w):
        if ax.size > LIMITS.max_total or ax.jump > LIMITS.max_total:
            raise LimitError("max_total", f"{layer.name}: the receptive field reaches "
                             f"{max(ax.size, ax.jump):,} input pixels, more than 2^53 - 1 "
                             f"(max_total); the strides multiply to more than any input",
                             layer.line)
    return h, w


def _kept_working_of(rf: Field2) -> Working:
    """The working of a row that leaves the field as it is."""
    return stated(field_pair(rf), note="unchanged")


def kept_figures(rf: Field2) -> FrozenDict:
    return FrozenDict(rf=_kept_working_of(rf))


def field_pair(rf: Field2) -> str:
    """The field as a row's working writes it: "7x7"."""
    return f"{rf[0].size}x{rf[1].size}"


def window_figures(win: tuple[Window, Window] | None, before: Field2,
                   after: Field2) -> FrozenDict:
    return FrozenDict(rf=window_working(win, before, after))


def stated_figures(value: str, note: str) -> FrozenDict:
    return FrozenDict(rf=stated(value, note=note))


def union_of_fields(kind: str, name: str, rfs: list[Field2], warnings: list[str]) -> Field2:
    """The union of the inputs' fields."""
    if all(rf[0] == rf[1] for rf in rfs):
        axis = _union_axis(kind, name, [rf[0] for rf in rfs], "H and W", warnings)
        return axis, axis
    return (_union_axis(kind, name, [rf[0] for rf in rfs], "H", warnings),
            _union_axis(kind, name, [rf[1] for rf in rfs], "W", warnings))


def field_with_broadcast(rfs: list[Field2], spread: list[bool], out: Volume) -> Field2:
    """A merge with a broadcast 1x1 input (a gate), or an input whose units all see alike (a
    jump of 0, after such a merge): every output unit sees that input's field and its own.
    Given as the hull over all units with a jump of 0 (all units alike): exact when the gate
    sees at least what the map's units do (a gate made by gap or fc sees the whole input), the
    smallest interval holding every unit's field otherwise."""
    axes = []
    for a, n in ((0, out.h), (1, out.w)):
        lo, hi = [], []
        for rf, one in zip(rfs, spread, strict=True):
            ax = rf[a]
            last = 0 if one else n - 1
            lo.append(ax.start - (ax.size - 1) / 2)
            hi.append(ax.start + last * ax.jump + (ax.size - 1) / 2)
        axes.append(AxisRF(_number(Fraction(max(hi) - min(lo)).limit_denominator(1 << 20) + 1),
                           0, (min(lo) + max(hi)) / 2))
    return axes[0], axes[1]


def _union_axis(kind: str, name: str, axes: list[AxisRF], axis: str,
                warnings: list[str]) -> AxisRF:
    """The union of the inputs' intervals [start - (size-1)/2, start + (size-1)/2]. A scale
    block's gate is global by design: its output steps as its input does, with no warning."""
    lo = min(ax.start - (ax.size - 1) / 2 for ax in axes)
    hi = max(ax.start + (ax.size - 1) / 2 for ax in axes)
    if kind == "scale":
        return AxisRF(round(hi - lo) + 1, axes[0].jump, (lo + hi) / 2)
    jumps = sorted({ax.jump for ax in axes})
    if len(jumps) > 1:
        warnings.append(f"{'inputs' if kind in MERGE_OPS else 'branches'} of '{name}' step "
                        f"through the input by different jumps {', '.join(map(str, jumps))} "
                        f"along {axis}: their features are not aligned")
    return AxisRF(round(hi - lo) + 1, jumps[-1], (lo + hi) / 2)


def field_as_shown(rf: Field2) -> RF:
    """The field as a row gives it: the larger axis's numbers, and both axes."""
    h, w = rf
    big = h if h.size >= w.size else w
    return _field(big.size, big.jump, big.start, h, w)


def _axis_window_working(w: Window, before: AxisRF, after: AxisRF, axis: str) -> Working:
    a = axis.lower() if axis in "HW" else ""
    sub_a = f"_{a}" if a else ""
    jump = Term("J_in", before.jump, "jump of the input (pixels between its units)")
    size = equals(add(Term("RF_in", before.size, "receptive field of the input"),
                      mul(Group(sub(Term(f"K{sub_a}", w.k, "kernel extent"), Num(1))), jump)),
                  after.size)
    step = Equation(mul(jump, Term(f"S{sub_a}", w.s, "stride")), after.jump, label="jump")
    return Working((*size.parts, step))


def window_working(win: tuple[Window, Window] | None, before: Field2, after: Field2) -> Working:
    """The receptive-field working of a row, per axis where the axes differ."""
    if win is None:
        return _kept_working_of(after)
    h = _axis_window_working(win[0], before[0], after[0], "H")
    if (win[0], before[0]) == (win[1], before[1]):
        return h
    return Working((Working(h.parts, label="H: "),
                    Working(_axis_window_working(win[1], before[1], after[1], "W").parts,
                            label="W: ")), sep="; ")
