"""The exact receptive field of one unit, by position: the input pixels it depends on.

The walk's field (``LayerRow.rf``) is one size, jump and start per row: exact while every unit
of a row sees alike, as after convolutions and pools. After upsampling and transposed
convolutions units differ by position (a 2x2 stride-2 deconv's even and odd outputs read
different inputs; a U-Net's units alternate between two sizes), and at the borders padding
takes the place of pixels. Here the unit's dependencies are followed back row by row, exactly:
per axis, the first and last index each row's unit(s) read in the row's input, clipped to that
input (padding depends on nothing), through merges as the union of their inputs. The result is
what a gradient shows: the first and last input pixel whose value can change the unit.

Unclipped (``clip=False``), windows go on past the borders as the receptive-field formula
counts them: :func:`unit_reach` gives both, and ``app.engine.fieldspread`` the range of the
unclipped fields over a row's units.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction

from app.engine.errors import SpecError
from app.engine.graph import Layer, Network, Node
from app.engine.maths import ceil_div, k_eff
from app.engine.optable import MERGE_ROW_OPS
from app.engine.result import Analysis, LayerRow

Span = tuple[int, int]
#: along one axis, the first and last input index a row's unit ``o`` reads; None: none
Back = Callable[[int], Span | None]


@dataclass(frozen=True, slots=True)
class AxisField:
    """One axis of one unit's field: the input pixels ``first``..``last`` (0-based)."""

    first: int
    last: int

    @property
    def size(self) -> int:
        return self.last - self.first + 1

    @property
    def centre(self) -> float:
        return (self.first + self.last) / 2


@dataclass(frozen=True, slots=True)
class UnitField:
    row: str
    unit: tuple[int, int]
    h: AxisField | None
    w: AxisField | None


def graph_inputs(net: Network, analysis: Analysis) -> list[list[int]]:
    """For each row of ``analysis``, the indices of the rows it reads (the input row reads
    none), found by walking the network in the order the engine walked it."""
    rows = analysis.layers
    index = {r.name: r.index for r in rows}
    preds: list[list[int]] = [[] for _ in rows]
    at = 1

    def seq(nodes: tuple[Node, ...], cur: int) -> int:
        nonlocal at
        for node in nodes:
            if isinstance(node, Layer):
                preds[at] = [index[n] for n in node.inputs] or [cur]
                cur, at = at, at + 1
                continue
            if node.kind == "aux":
                if analysis.options.aux:
                    seq(node.branches[0], cur)
                continue
            outs = [seq(branch, cur) for branch in node.branches]
            if node.kind in ("dense", "scale") or (node.kind == "residual" and len(outs) == 1):
                outs.insert(0 if node.kind != "residual" else 1, cur)
            preds[at] = outs
            cur, at = at, at + 1
        return cur

    seq(net.nodes, 0)
    if at != len(rows):
        raise ValueError("the analysis has rows the network does not explain")
    return preds


def _window(n: int, k: int, s: int, before: int, d: int, clip: bool = True) -> Back:
    def back(o: int) -> Span | None:
        lo, hi = o * s - before, o * s - before + d * (k - 1)
        if not clip:
            return lo, hi
        if hi < 0 or lo > n - 1:
            return None
        if lo < 0:  # the first tap inside the input
            lo += ceil_div(-lo, d) * d
        if hi > n - 1:
            hi -= ceil_div(hi - (n - 1), d) * d
        return (lo, hi) if lo <= hi else None
    return back


class _Periodic:
    """A transposed convolution's map: monotone only within each class of outputs modulo the
    stride (which taps land on whole input units differs from class to class), so the ends of
    a run of units are found among its first and last ``scan`` units."""

    def __init__(self, back: Back, scan: int) -> None:
        self.back, self.scan = back, scan

    def __call__(self, o: int) -> Span | None:
        return self.back(o)


def _transposed(n: int, k: int, s: int, p: int, d: int, clip: bool = True) -> Back:
    def back(o: int) -> Span | None:
        hit = [(o + p - t * d) // s for t in range(k)
               if (o + p - t * d) % s == 0 and (not clip or 0 <= (o + p - t * d) // s <= n - 1)]
        return (min(hit), max(hit)) if hit else None
    # past the first d*(k-1) // s + 1 strides every class has reached its monotone run
    return _Periodic(back, s * (d * (k - 1) // s + 2))


def _bilinear(n: int, f: int, clip: bool = True) -> Back:
    """align_corners=False, as torch: source (o + 1/2)/F - 1/2, clamped at 0; the right
    neighbour is read only with a weight above 0. Unclipped, the source goes on past the
    borders as it does inside the map."""
    def back(o: int) -> Span | None:
        src = Fraction(2 * o + 1, 2 * f) - Fraction(1, 2)
        if clip:
            src = max(src, Fraction(0))
        i0 = math.floor(src)
        i1 = i0 + 1 if (not clip or i0 < n - 1) and src > i0 else i0
        return (i0, i1)
    return back


def _before(row: LayerRow, axis: str, n: int, k: int, s: int) -> int:
    """Padding before the first element along an axis, as the rules and torch apply it."""
    a = row.attrs
    if not a.get("same"):
        return int(a.get(f"p{axis}", 0))
    if s == 1:
        return (k - 1) // 2
    total = max((ceil_div(n, s) - 1) * s + k - n, 0)
    return total // 2


def axis_back(row: LayerRow, axis: str, clip: bool = True) -> Back:
    """The backward map of one row along ``axis`` ('h' or 'w'). Unclipped (``clip=False``) a
    window goes on past the input's borders, into the padding and beyond, as the receptive
    field's formula counts it: the field a unit would have were the input wider."""
    a = row.attrs
    n = row.input.h if axis == "h" else row.input.w
    out = row.output.h if axis == "h" else row.output.w
    op = row.op
    if op in ("conv", "sepconv", "maxpool", "avgpool"):
        k, d = int(a[f"k{axis}"]), int(a.get(f"d{axis}", 1))
        s = int(a.get(f"s{axis}", 1))
        return _window(n, k, s, _before(row, axis, n, k_eff(k, d), s), d, clip)
    if op == "convtranspose":
        return _transposed(n, int(a[f"k{axis}"]), int(a.get(f"s{axis}", 1)),
                           int(a.get(f"p{axis}", 0)), int(a.get(f"d{axis}", 1)), clip)
    if op == "upsample":
        f = int(a["factor"])
        if a.get("mode") == "bilinear":
            return _bilinear(n, f, clip)
        return lambda o: (o // f, o // f)
    if op == "pixelshuffle":
        r = int(a["factor"])
        return lambda o: (o // r, o // r)
    if op == "adaptiveavgpool":
        return lambda o: ((o * n) // out, ceil_div((o + 1) * n, out) - 1)
    if op in ("gap", "fc", "flatten"):
        return lambda o: (0, n - 1)
    if op == "crop":
        off = (n - out) // 2
        return lambda o: (o + off, o + off)
    if n == out:  # shape-keeping ops and merges: the same position
        return lambda o: (o, o)
    if n == 1:  # a merge's 1x1 input shown as its first: broadcast
        return lambda o: (0, 0)
    raise ValueError(f"{row.name}: no backward map for op {op!r}")


def merge_back(row: LayerRow, axis: str, source: LayerRow) -> Back:
    """A merge reads each input at the same position, or at 0 when it broadcasts a 1x1."""
    size = source.output.h if axis == "h" else source.output.w
    out = row.output.h if axis == "h" else row.output.w
    if size == 1 and out != 1:
        return lambda o: (0, 0)
    return lambda o: (o, o)


def _maps(rows: Sequence[LayerRow], preds: Sequence[Sequence[int]], axis: str,
          clip: bool = True) -> list[list[Back]]:
    maps: list[list[Back]] = []
    for r, ins in zip(rows, preds, strict=True):
        if r.op in MERGE_ROW_OPS:
            maps.append([merge_back(r, axis, rows[j]) for j in ins])
        else:
            maps.append([axis_back(r, axis, clip)] * len(ins))
    return maps


def span_of(back: Back, a: int, b: int, limit: int = 4096) -> Span | None:
    """The union of ``back`` over the units a..b: exact at the ends, as every map is monotone,
    once the ends are moved inwards past units that read nothing (padding only); a periodic
    map's ends are the extremes over its first and last ``scan`` units."""
    if isinstance(back, _Periodic):
        got = [x for o in {*range(a, min(b, a + back.scan) + 1),
                           *range(max(a, b - back.scan), b + 1)} if (x := back(o)) is not None]
        return (min(x[0] for x in got), max(x[1] for x in got)) if got else None
    lo = hi = None
    for o in range(a, min(b, a + limit) + 1):
        if (lo := back(o)) is not None:
            break
    for o in range(b, max(a, b - limit) - 1, -1):
        if (hi := back(o)) is not None:
            break
    if lo is None or hi is None:
        return None
    return min(lo[0], hi[0]), max(lo[1], hi[1])


def unit_spans(preds: Sequence[Sequence[int]], maps: list[list[Back]], target: int,
           unit: int) -> dict[int, Span]:
    """Every row the unit depends on, with the units of it that the unit reads (the union
    over every path from it to the unit)."""
    spans: dict[int, Span] = {target: (unit, unit)}
    for i in range(target, 0, -1):
        span = spans.get(i)
        if span is None:
            continue
        for j, back in zip(preds[i], maps[i], strict=True):
            got = span_of(back, span[0], span[1])
            if got is None:
                continue
            old = spans.get(j)
            spans[j] = got if old is None else (min(old[0], got[0]), max(old[1], got[1]))
    return spans


def _trace(preds: Sequence[Sequence[int]], maps: list[list[Back]], target: int,
           unit: int) -> AxisField | None:
    found = unit_spans(preds, maps, target, unit).get(0)
    return AxisField(*found) if found is not None else None


def unit_field(net: Network, analysis: Analysis, row: str, unit: tuple[int, int]) -> UnitField:
    """The exact field of unit ``(i, j)`` (row, column) of the row named ``row``."""
    rows = analysis.layers
    target = next((r for r in rows if r.name == row), None)
    if target is None:
        raise SpecError(f"no row named '{row}'", parameter="row")
    i, j = unit
    if not (0 <= i < target.output.h and 0 <= j < target.output.w):
        raise SpecError(f"unit ({i}, {j}) is outside {row}'s {target.output.h}x"
                        f"{target.output.w} map", parameter="unit")
    preds = graph_inputs(net, analysis)
    h = _trace(preds, _maps(rows, preds, "h"), target.index, i)
    w = _trace(preds, _maps(rows, preds, "w"), target.index, j)
    return UnitField(row, unit, h, w)


@dataclass(frozen=True, slots=True)
class Reach:
    """Along one axis, the units of one row under a chosen unit's field. ``field`` (first,
    last) is the whole field as the receptive-field formula counts it, padding positions
    included (indices below 0 or past the map); ``seen`` the units inside the map that really
    feed the chosen unit (None: none, it reads only padding through this row)."""

    field: Span
    seen: Span | None


def unit_reach(rows: Sequence[LayerRow], preds: Sequence[Sequence[int]], target: int,
               unit: int, axis: str) -> dict[int, Reach]:
    """For unit ``unit`` of ``rows[target]`` along ``axis``, every row it depends on, by
    index, with the units of that row it reaches: exact by position, through any graph."""
    whole = unit_spans(preds, _maps(rows, preds, axis, clip=False), target, unit)
    seen = unit_spans(preds, _maps(rows, preds, axis), target, unit)
    return {i: Reach(span, seen.get(i)) for i, span in whole.items()}
