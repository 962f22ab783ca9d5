"""The walk: a Network, layer by layer, into rows of numbers with their working.

Receptive field, per axis (as in Araujo et al., "Computing Receptive Fields of CNNs", 2019):
``size' = size + (k_eff - 1)*jump``, ``jump' = jump*s``, ``start' = start + ((k_eff-1)/2 - p)*jump``
starting from size 1, jump 1, start 0 at the input. fc, gap and flatten see their whole input
(a window as large as the input); at a merge the largest field is kept and differing jumps are
reported as a warning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from app.engine.claims import check_claims
from app.engine.errors import LimitError, SpecError
from app.engine.graph import (
    IN_PLACE_OPS,
    VIEW_OPS,
    WEIGHT_OPS,
    AttrValue,
    Block,
    Layer,
    Node,
    Volume,
)
from app.engine.limits import LIMITS
from app.engine.maths import fmt
from app.engine.result import RF, AxisRF, LayerRow, VolumeOut
from app.engine.rules import RULES, Step, Window


def through(ax: AxisRF, win: Window) -> AxisRF:
    """One axis of the receptive field through a window."""
    return AxisRF(ax.size + (win.k - 1) * ax.jump, ax.jump * win.s,
                  ax.start + ((win.k - 1) / 2 - win.p) * ax.jump)


class State(NamedTuple):
    """The tensor between two rows: its volume and receptive field, and both as rows show
    them, so that a row that changes neither (relu, bn, dropout) shares them."""

    vol: Volume
    rf: tuple[AxisRF, AxisRF]
    shown: VolumeOut
    rf_shown: RF
    rf_kept: str  # the receptive-field working of a row that leaves the field as it is


def _kept(rf: tuple[AxisRF, AxisRF]) -> str:
    return f"{rf[0].size}x{rf[1].size} (unchanged)"


def state(vol: Volume, rf: tuple[AxisRF, AxisRF], shown: VolumeOut | None = None) -> State:
    return State(vol, rf, shown or _vol(vol), _rf(rf), _kept(rf))


@dataclass(frozen=True, slots=True)
class Done:
    """What a rule decided for one layer on one input volume. A repeated block applies the
    same layer to the same volume many times (ResNet-152's 36 identical bottlenecks), so the
    walk asks each rule once per (op, attributes, input volume) within one analysis."""

    out: Volume
    shown: VolumeOut
    weights: int
    biases: int
    params: int
    macs: int
    activations: int
    formulas: dict[str, str]  # every figure but the receptive field, which depends on the path
    warnings: tuple[str, ...]
    window: tuple[Window, Window] | None


#: a merge row's op, output volume (and as shown), formulas and attributes
Merged = tuple[str, Volume, VolumeOut, dict[str, str], dict[str, AttrValue]]


@dataclass(slots=True)
class Walk:
    """Accumulates rows while walking; ``depth`` results are returned by :meth:`seq`."""

    aux: bool = False
    rows: list[LayerRow] = field(default_factory=list)
    done: dict[tuple[object, ...], Done] = field(default_factory=dict)
    merged: dict[tuple[object, ...], Merged] = field(default_factory=dict)

    def seq(self, nodes: tuple[Node, ...], st: State, path: str, level: int,
            keep: float) -> tuple[State, int, float]:
        """Walk a sequence; return its output state, its depth and its expected depth."""
        depth, expected = 0, 0.0
        for node in nodes:
            if isinstance(node, Layer):
                st = self.layer(node, st, path, level, keep)
                d = 1 if node.op in WEIGHT_OPS else 0
                depth, expected = depth + d, expected + d
            else:
                st, d, e = self.block(node, st, path, level, keep)
                depth, expected = depth + d, expected + e
        return st, depth, expected

    def layer(self, layer: Layer, st: State, path: str, level: int, keep: float) -> State:
        # The parser shares one attrs dict among the expansions of a repeated line, and the
        # network keeps every dict alive during the walk, so its id is a safe, cheap key.
        key = (layer.op, id(layer.attrs), st.vol)
        done = self.done.get(key)
        if done is None:
            done = self.done[key] = _apply(layer, st.vol)
        formulas = done.formulas.copy()
        win = done.window
        if win is None and done.out == st.vol:
            nxt = st  # shape and field unchanged: share the previous row's objects
            formulas["rf"] = st.rf_kept
        else:
            rf = _through(st.rf, win)
            nxt = State(done.out, rf, done.shown, _rf(rf), _kept(rf))
            formulas["rf"] = _rf_formula(win, rf)
        row = LayerRow(len(self.rows), layer.name, layer.op, layer.line, path, level,
                       layer.attrs, st.shown, nxt.shown, done.weights, done.biases,
                       done.params, done.macs, done.activations, nxt.rf_shown,
                       formulas, list(done.warnings) if done.warnings else [], [],
                       keep if keep != 1.0 else None)
        if layer.claims:
            row.claims = check_claims(layer.claims, row)
        self.rows.append(row)
        return nxt

    def block(self, b: Block, st: State, path: str, level: int,
              keep: float) -> tuple[State, int, float]:
        inner = f"{path}/{b.name}" if path else b.name
        if b.kind == "aux":
            if self.aux:
                self.seq(b.branches[0], st, inner, level + 1, keep)
            return st, 0, 0.0
        outs: list[tuple[State, int, float]] = []
        for i, branch in enumerate(b.branches):
            label = _branch_label(b.kind, i)
            bkeep = keep * b.survival if (b.kind == "residual" and i == 0 and
                                          b.survival is not None) else keep
            outs.append(self.seq(branch, st, f"{inner}/{label}", level + 1, bkeep))
        if b.kind == "dense":
            outs.insert(0, (st, 0, 0.0))
        return self.merge(b, st, outs, path, level, keep)

    def merge(self, b: Block, st: State, outs: list[tuple[State, int, float]], path: str,
              level: int, keep: float) -> tuple[State, int, float]:
        vols = tuple(o[0].vol for o in outs)
        key = (b.kind, b.survival, vols)
        merged = self.merged.get(key)
        if merged is None:
            merged = self.merged[key] = _merge(b, vols)
        op, out, shown, formulas, attrs = merged
        warnings: list[str] = []
        rf = _merge_rf(b, [o[0].rf for o in outs], warnings)
        formulas = formulas.copy()
        formulas["rf"] = f"{rf[0].size}x{rf[1].size}, the largest field of the {len(outs)} inputs"
        nxt = State(out, rf, shown, _rf(rf), _kept(rf))
        self.rows.append(LayerRow(
            len(self.rows), b.name, op, b.line, path, level, attrs, st.shown,
            shown, 0, 0, 0, 0, out.size, nxt.rf_shown, formulas, warnings, [],
            keep if keep != 1.0 else None))
        depth = max(o[1] for o in outs)
        if b.kind == "residual" and b.survival is not None:
            body, short = outs[0], outs[1]
            expected = b.survival * max(body[2], short[2]) + (1 - b.survival) * short[2]
        else:
            expected = max(o[2] for o in outs)
        return nxt, depth, expected


def _merge(b: Block, vols: tuple[Volume, ...]) -> Merged:
    """A merge's output, formulas and attributes, once per (kind, input volumes)."""
    op = {"concat": "concat", "dense": "concat", "residual": "add", "join": "join"}[b.kind]
    out = _merged_volume(b, list(vols))
    formulas = _formulas(Step(out), out.size, op)
    formulas["c"] = _merge_c_formula(op, list(vols), out.c)
    attrs: dict[str, AttrValue] = {"kind": b.kind}
    if b.survival is not None:
        attrs["survival"] = b.survival
    return op, out, _vol(out), formulas, attrs


def _apply(layer: Layer, vin: Volume) -> Done:
    step = RULES[layer.op](layer, vin)
    _check_volume(step.out, layer)
    acts = 0 if layer.op in IN_PLACE_OPS or layer.op in VIEW_OPS else step.out.size
    win = step.rf
    if win is not None and win[0] == win[1]:
        win = (win[0], win[0])  # one object for both axes: the walk then works once
    return Done(step.out, _vol(step.out), step.weights, step.biases,
                step.weights + step.biases, step.macs, acts,
                _formulas(step, acts, layer.op), tuple(step.warnings), win)


def _through(rf: tuple[AxisRF, AxisRF], win: tuple[Window, Window] | None,
             ) -> tuple[AxisRF, AxisRF]:
    if win is None:
        return rf
    h = through(rf[0], win[0])
    if rf[0] is rf[1] and win[0] is win[1]:
        return h, h
    return h, through(rf[1], win[1])


def _formulas(step: Step, acts: int, op: str) -> dict[str, str]:
    """Complete a rule's formulas with the figures every row shows."""
    f = step.formulas
    out = step.out
    f.setdefault("h", str(out.h))
    f.setdefault("w", str(out.w))
    f.setdefault("c", str(out.c))
    f.setdefault("weights", "0")
    f.setdefault("biases", "0")
    params = step.weights + step.biases
    f["params"] = (f"{fmt(step.weights)} + {fmt(step.biases)} = {fmt(params)}"
                   if step.weights and step.biases else fmt(params))
    f.setdefault("macs", fmt(step.macs) if step.macs
                 else "0 (only conv and fc multiply-adds are counted)")
    f["activations"] = (f"{out.h}*{out.w}*{out.c} = {fmt(acts)}" if acts else
                        "0 (in place)" if op in IN_PLACE_OPS else "0 (a view of its input)")
    return f


def _branch_label(kind: str, i: int) -> str:
    if kind == "residual":
        return "body" if i == 0 else "shortcut"
    if kind == "dense":
        return "body"
    return f"branch{i + 1}"


def _merged_volume(b: Block, vols: list[Volume]) -> Volume:
    first = vols[0]
    if b.kind in ("concat", "dense"):
        for i, v in enumerate(vols[1:], start=2):
            if (v.h, v.w) != (first.h, first.w):
                raise SpecError(
                    f"{b.kind} '{b.name}': branch 1 gives {first} but branch {i} gives {v}; "
                    f"spatial sizes must agree to concatenate (check that branch's stride and "
                    f"padding)", b.line, b.name)
        total = sum(v.c for v in vols)
        if total > LIMITS.max_channels:
            raise LimitError("max_channels", f"{b.kind} '{b.name}' gives {total} channels; "
                             f"at most {LIMITS.max_channels:,} are allowed", b.line)
        return Volume(first.h, first.w, total)
    for i, v in enumerate(vols[1:], start=2):
        if v != first:
            raise SpecError(_mismatch(b, first, v, i), b.line, b.name)
    return first


def _mismatch(b: Block, first: Volume, other: Volume, i: int) -> str:
    if b.kind == "residual":
        s = max(other.h // first.h, 1) if first.h else 1
        fix = (f"add a projection: shortcut {{ conv {first.c} 1x1"
               + (f" stride {s}" if s > 1 else "") + " }")
        return (f"residual '{b.name}': the body gives {first} but the shortcut gives {other}; "
                f"they must match to be added; {fix}")
    return (f"{b.kind} '{b.name}': branch 1 gives {first} but branch {i} gives {other}; "
            f"shapes must match to be joined")


def _merge_c_formula(op: str, vols: list[Volume], c: int) -> str:
    if op == "concat":
        return " + ".join(str(v.c) for v in vols) + f" = {c}"
    return f"{c} ({'sum' if op == 'add' else 'mean'} of {len(vols)} tensors of equal shape)"


def _merge_rf(b: Block, rfs: list[tuple[AxisRF, AxisRF]],
              warnings: list[str]) -> tuple[AxisRF, AxisRF]:
    if all(rf[0] is rf[1] for rf in rfs):
        axis = _merge_axis(b, [rf[0] for rf in rfs], "H and W", warnings)
        return axis, axis
    return (_merge_axis(b, [rf[0] for rf in rfs], "H", warnings),
            _merge_axis(b, [rf[1] for rf in rfs], "W", warnings))


def _merge_axis(b: Block, axes: list[AxisRF], name: str, warnings: list[str]) -> AxisRF:
    best = max(axes, key=lambda ax: ax.size)
    jumps = sorted({ax.jump for ax in axes})
    if len(jumps) > 1:
        warnings.append(f"branches of '{b.name}' step through the input by different jumps "
                        f"{', '.join(map(str, jumps))} along {name}: their features are not "
                        f"aligned")
    return AxisRF(best.size, jumps[-1], best.start)


def _check_volume(v: Volume, layer: Layer) -> None:
    if v.c > LIMITS.max_channels and layer.op != "flatten":
        raise LimitError("max_channels", f"{layer.name} gives {v.c:,} channels; at most "
                         f"{LIMITS.max_channels:,} are allowed", layer.line)
    if max(v.h, v.w) > LIMITS.max_hw:
        raise LimitError("max_hw", f"{layer.name} gives {v.h}x{v.w}; H and W are at most "
                         f"{LIMITS.max_hw:,}", layer.line)


def _vol(v: Volume) -> VolumeOut:
    return VolumeOut(v.h, v.w, v.c)


def _rf(rf: tuple[AxisRF, AxisRF]) -> RF:
    h, w = rf
    big = h if h.size >= w.size else w
    return RF(big.size, big.jump, big.start, h, w)


def _rf_formula(win: tuple[Window, Window] | None, rf: tuple[AxisRF, AxisRF]) -> str:
    if win is None:
        return f"{rf[0].size}x{rf[1].size} (unchanged)"
    if rf[0] is rf[1]:
        w, ax = win[0], rf[0]
        jump_in = ax.jump // w.s
        return (f"{ax.size - (w.k - 1) * jump_in} + ({w.k} - 1)*{jump_in} = {ax.size}, "
                f"jump {jump_in}*{w.s} = {ax.jump}")
    parts = []
    for name, w, ax in (("H", win[0], rf[0]), ("W", win[1], rf[1])):
        jump_in = ax.jump // w.s
        parts.append(f"{ax.size - (w.k - 1) * jump_in} + ({w.k} - 1)*{jump_in} = {ax.size}, "
                     f"jump {jump_in}*{w.s} = {ax.jump}")
    return parts[0] if parts[0] == parts[1] else f"H: {parts[0]}; W: {parts[1]}"
