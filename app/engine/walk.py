"""The walk: a Network, layer by layer, into rows of numbers with their working.

Receptive field, per axis (as in Araujo et al., "Computing Receptive Fields of CNNs", 2019):
``size' = size + (k_eff - 1)*jump``, ``jump' = jump*s``, ``start' = start + ((k_eff-1)/2 - p)*jump``
starting from size 1, jump 1, start 0 at the input. fc, gap and flatten see their whole input
(a window as large as the input). At a merge, a unit of the output sees the union of what the
branches' units see: per axis the union of their intervals, its size and centre; branches that
step through the input by different jumps are reported as a warning.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import NamedTuple

from app.engine.claims import check_claims
from app.engine.errors import LimitError, SpecError
from app.engine.graph import AttrValue, Block, FrozenDict, Layer, Node, Volume
from app.engine.limits import LIMITS
from app.engine.optable import (
    BLOCK_MERGE_OPS,
    IN_PLACE_OPS,
    MERGE_OPS,
    OPS,
    VIEW_OPS,
    WEIGHT_OPS,
)
from app.engine.result import (
    FIGURES,
    RF,
    AxisRF,
    Formulas,
    LayerRow,
    Rendered,
    VolumeOut,
    maker,
)
from app.engine.rules import Step, Window
from app.engine.working import Equation, Group, Num, Term, Working, add, equals, mul, stated, sub

_row = maker(LayerRow)
_axis = maker(AxisRF)
_field = maker(RF)
_volume = maker(VolumeOut)


def through(ax: AxisRF, win: Window) -> AxisRF:
    """One axis of the receptive field through a window."""
    if isinstance(win.s, int) and isinstance(win.p, int) and isinstance(ax.jump, int):
        return _axis(ax.size + (win.k - 1) * ax.jump, ax.jump * win.s,
                     ax.start + ((win.k - 1) / 2 - win.p) * ax.jump)
    # a fractional step (upsampling, transposed convolution): exact, then as JSON numbers
    jump = Fraction(ax.jump)
    return AxisRF(_number(ax.size + (win.k - 1) * jump), _number(jump * win.s),
                  float(Fraction(ax.start) + (Fraction(win.k - 1, 2) - win.p) * jump))


def _number(x: Fraction | int | float) -> int | float:
    """A whole value as an int, else a float."""
    if isinstance(x, Fraction):
        return x.numerator if x.denominator == 1 else float(x)
    return x


Field2 = tuple[AxisRF, AxisRF]


class State(NamedTuple):
    """The tensor between two rows: its volume and receptive field, and both as rows show
    them, so that a row that changes neither (relu, bn, dropout) shares them."""

    vol: Volume
    rf: Field2
    shown: VolumeOut
    rf_shown: RF
    #: conv and fc layers on the longest path from the input to this tensor
    depth: int = 0
    #: the same, expected under stochastic depth
    expected: float = 0.0


def _kept(rf: Field2) -> Working:
    return stated(_pair(rf), note="unchanged")


def _kept_figures(rf: Field2) -> FrozenDict:
    return FrozenDict(rf=_kept(rf))


def _state(vol: Volume, rf: Field2, shown: VolumeOut, depth: int = 0,
           expected: float = 0.0) -> State:
    return State(vol, rf, shown, _rf(rf), depth, expected)


_RF = ("rf",)


def _pair(rf: Field2) -> str:
    return f"{rf[0].size}x{rf[1].size}"


def state(vol: Volume, rf: Field2, shown: VolumeOut | None = None, depth: int = 0,
          expected: float = 0.0) -> State:
    return _state(vol, rf, shown or _vol(vol), depth, expected)


class Done(NamedTuple):
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
    working: Rendered  # every figure but the receptive field, which depends on the path
    warnings: tuple[str, ...]
    notes: tuple[str, ...]
    window: tuple[Window, Window] | None


class Merged(NamedTuple):
    """A merge row's op, output volume (and as shown), working and attributes."""

    op: str
    out: Volume
    shown: VolumeOut
    working: Rendered
    attrs: FrozenDict


@dataclass(slots=True)
class Walk:
    """Accumulates rows while walking; every row's output state is kept by name, for the
    layers that read it by name."""

    aux: bool = False
    #: bytes per activation value times the batch: a row's activation bytes per value
    scale: int = 4
    rows: list[LayerRow] = field(default_factory=list)
    done: dict[tuple[object, ...], Done] = field(default_factory=dict)
    merged: dict[tuple[object, ...], Merged] = field(default_factory=dict)
    rf_work: dict[tuple[object, ...], Rendered] = field(default_factory=dict)
    named: dict[str, State] = field(default_factory=dict)
    merged_states: dict[tuple[object, ...], tuple[State, Formulas]] = field(default_factory=dict)

    def seq(self, nodes: tuple[Node, ...], st: State, path: str, level: int,
            keep: float) -> State:
        """Walk a sequence; return its output state (which carries its depth)."""
        for node in nodes:
            if isinstance(node, Layer):
                st = self.layer(node, st, path, level, keep)
            else:
                st = self.block(node, st, path, level, keep)
        return st

    def read(self, layer: Layer | Block | LayerRow, name: str) -> State:
        """The state of the row a layer names (the parser resolved the name to an earlier
        row; only an aux block left out of the walk has none)."""
        got = self.named.get(name)
        if got is None:
            raise SpecError(f"{layer.name} reads '{name}', which is inside an aux block: aux "
                            f"blocks are walked only with aux=true", layer.line, layer.name)
        return got

    def layer(self, layer: Layer, st: State, path: str, level: int, keep: float) -> State:
        if layer.inputs:
            if layer.op in MERGE_OPS:
                return self.merge_inputs(layer, path, level, keep)
            st = self.read(layer, layer.inputs[0])
        # The parser shares one attrs mapping among the expansions of a repeated line, and the
        # network keeps every mapping alive during the walk, so its id is a safe, cheap key.
        key: tuple[object, ...] = (layer.op, id(layer.attrs), st.vol)
        if "to" in layer.attrs:  # a crop to a named row's size: the size is that row's
            like = self.read(layer, str(layer.attrs["to"])).vol
            layer = layer._replace(attrs=FrozenDict({**layer.attrs, "oh": like.h, "ow": like.w}))
            key = ("crop", like.h, like.w, st.vol)
        done = self.done.get(key)
        if done is None:
            done = self.done[key] = _apply(layer, st.vol)
        win = done.window
        d = 1 if layer.op in WEIGHT_OPS else 0
        if win is None and done.out == st.vol and not d:
            nxt = st  # shape and field unchanged: share the previous row's objects
            rf_part = self._kept_working(st.rf)
        else:
            rf = _through(st.rf, win, layer)
            nxt = _state(done.out, rf, done.shown, st.depth + d, st.expected + d)
            rf_part = self._rf_working(win, st.rf, rf)
        row = _row(len(self.rows), layer.name, layer.op, layer.line, path, level,
                       layer.attrs, st.shown, nxt.shown, done.weights, done.biases,
                       done.params, done.macs, done.activations,
                       self._bytes(done.activations, layer), nxt.rf_shown,
                       Formulas(done.working, rf_part), done.warnings, (), done.notes,
                       keep if keep != 1.0 else None, layer.inputs)
        if layer.claims:
            row = replace(row, claims=check_claims(layer.claims, row))
        self.rows.append(row)
        self.named[layer.name] = nxt
        return nxt

    def merge_inputs(self, layer: Layer, path: str, level: int, keep: float) -> State:
        """A merge of named rows (concat, add, mul): a new tensor, no parameters; its field is
        the union of its inputs' fields."""
        ins = [self.read(layer, n) for n in layer.inputs]
        vols = tuple(i.vol for i in ins)
        key = (layer.op, vols)
        merged = self.merged.get(key)
        if merged is None:
            merged = self.merged[key] = _merge_named(layer, vols)
        # the same inputs merged again (the states live in ``named``, so their ids are stable)
        again = (layer.op, *map(id, ins))
        known = self.merged_states.get(again)
        warnings: list[str] = []
        if known is None:
            spread = [(v.h, v.w) == (1, 1) != (merged.out.h, merged.out.w) for v in vols]
            alike = any(spread) or any(0 in (i.rf[0].jump, i.rf[1].jump) for i in ins)
            rf = (_broadcast_rf(ins, spread, merged.out) if alike
                  else _merge_rf(layer.op, layer.name, [i.rf for i in ins], warnings))
            nxt = _state(merged.out, rf, merged.shown, max(i.depth for i in ins),
                         max(i.expected for i in ins))
            known = (nxt, Formulas(merged.working, self._union_working(rf, len(ins))))
            if not warnings:  # a warning names its row: worked out again for each
                self.merged_states[again] = known
        nxt, formulas = known
        row = _row(len(self.rows), layer.name, layer.op, layer.line, path, level, layer.attrs,
                   ins[0].shown, merged.shown, 0, 0, 0, 0, merged.out.size,
                   self._bytes(merged.out.size, layer), nxt.rf_shown, formulas,
                   tuple(warnings), (), (), keep if keep != 1.0 else None, layer.inputs)
        if layer.claims:
            row = replace(row, claims=check_claims(layer.claims, row))
        self.rows.append(row)
        self.named[layer.name] = nxt
        return nxt

    def _bytes(self, activations: int, layer: Layer | Block) -> int:
        nbytes = activations * self.scale
        if nbytes > LIMITS.max_total:
            raise LimitError("max_total", f"{layer.name}'s activations take {nbytes:,} bytes, "
                             f"more than 2^53 - 1 (max_total)", layer.line)
        return nbytes

    def _rf_working(self, win: tuple[Window, Window] | None, before: Field2,
                    after: Field2) -> Rendered:
        key = (win, before)
        got = self.rf_work.get(key)
        if got is None:
            got = self.rf_work[key] = Rendered(_RF, _rf_figures, win, before, after)
        return got

    def _kept_working(self, rf: Field2) -> Rendered:
        """The receptive-field working of a row that leaves the field as it is: made once per
        field, and only for the fields such a row follows."""
        key = ("kept", id(rf))  # the Rendered made here holds rf, so its id stays unique
        got = self.rf_work.get(key)
        if got is None:
            got = self.rf_work[key] = Rendered(_RF, _kept_figures, rf)
        return got

    def _union_working(self, rf: Field2, inputs: int) -> Rendered:
        key = ("union", _pair(rf), inputs)
        got = self.rf_work.get(key)
        if got is None:
            note = f"the union of the fields of the {inputs} inputs"
            got = self.rf_work[key] = Rendered(_RF, _stated_figures, _pair(rf), note)
        return got

    def block(self, b: Block, st: State, path: str, level: int, keep: float) -> State:
        inner = f"{path}/{b.name}" if path else b.name
        if b.kind == "aux":
            if self.aux:
                self.seq(b.branches[0], st, inner, level + 1, keep)
            return st
        outs: list[State] = []
        share = _split_share(b, st) if b.kind == "split" else st
        for i, branch in enumerate(b.branches):
            label = _branch_label(b.kind, i)
            bkeep = keep * b.survival if (b.kind == "residual" and i == 0 and
                                          b.survival is not None) else keep
            outs.append(self.seq(branch, share, f"{inner}/{label}", level + 1, bkeep))
        if b.kind in ("dense", "scale"):
            outs.insert(0, st)
        return self.merge(b, st, outs, path, level, keep)

    def merge(self, b: Block, st: State, outs: list[State], path: str, level: int,
              keep: float) -> State:
        vols = tuple(o.vol for o in outs)
        key = (b.kind, b.survival, vols)
        merged = self.merged.get(key)
        if merged is None:
            merged = self.merged[key] = _merge(b, vols)
        warnings: list[str] = []
        rf = _merge_rf(b.kind, b.name, [o.rf for o in outs], warnings)
        rf_part = self._union_working(rf, len(outs))
        depth = max(o.depth for o in outs)
        if b.kind == "residual" and b.survival is not None:
            body, short = outs[0], outs[1]
            expected = (b.survival * max(body.expected, short.expected)
                        + (1 - b.survival) * short.expected)
        else:
            expected = max(o.expected for o in outs)
        nxt = _state(merged.out, rf, merged.shown, depth, expected)
        self.rows.append(_row(
            len(self.rows), b.name, merged.op, b.line, path, level, merged.attrs, st.shown,
            merged.shown, 0, 0, 0, 0, merged.out.size, self._bytes(merged.out.size, b),
            nxt.rf_shown, Formulas(merged.working, rf_part),
            tuple(warnings), (), (), keep if keep != 1.0 else None))
        self.named[b.name] = nxt
        return nxt


def _split_share(b: Block, st: State) -> State:
    """What each branch of a split block reads: C/n of the input's channels, a view of it
    (torch's ``x.chunk(n, dim=1)``), with the input's receptive field."""
    n, c = len(b.branches), st.vol.c
    if c % n:
        raise SpecError(f"split '{b.name}': {c} channels cannot be split equally among {n} "
                        f"branches ({c}/{n} = {c / n:g} is not whole); give it a channel count "
                        f"divisible by {n}", b.line, b.name)
    return state(Volume(st.vol.h, st.vol.w, c // n), st.rf, None, st.depth, st.expected)


def _merge(b: Block, vols: tuple[Volume, ...]) -> Merged:
    """A merge's output, working and attributes, once per (kind, input volumes)."""
    op = BLOCK_MERGE_OPS[b.kind]
    out = _merged_volume(b, list(vols))
    attrs: dict[str, AttrValue] = {"kind": b.kind}
    if b.survival is not None:
        attrs["survival"] = b.survival
    return Merged(op, out, _vol(out), Rendered(FIGURES, _merge_figures, op, out, vols),
                  FrozenDict(attrs))


def _merge_figures(op: str, out: Volume, vols: tuple[Volume, ...]) -> FrozenDict:
    working = _common(Step(out), out.size, op)
    working["c"] = _merge_c_working(op, list(vols), out.c)
    return FrozenDict(working)


def _layer_figures(layer: Layer, vin: Volume, acts: int) -> FrozenDict:
    return FrozenDict(_common(OPS[layer.op].rule(layer, vin, True), acts, layer.op))


def _rf_figures(win: tuple[Window, Window] | None, before: Field2,
                after: Field2) -> FrozenDict:
    return FrozenDict(rf=_rf_working(win, before, after))


def _stated_figures(value: str, note: str) -> FrozenDict:
    return FrozenDict(rf=stated(value, note=note))


def _apply(layer: Layer, vin: Volume) -> Done:
    step = OPS[layer.op].rule(layer, vin)
    _check_volume(step.out, layer)
    acts = 0 if layer.op in IN_PLACE_OPS or layer.op in VIEW_OPS else step.out.size
    acts += step.hidden
    win = step.rf
    return Done(step.out, _vol(step.out), step.weights, step.biases,
                step.weights + step.biases, step.macs, acts,
                Rendered(FIGURES, _layer_figures, layer, vin, acts),
                tuple(step.warnings), tuple(step.notes), win)


def _through(rf: Field2, win: tuple[Window, Window] | None, layer: Layer) -> Field2:
    if win is None:
        return rf
    h = through(rf[0], win[0])
    w = h if rf[0] == rf[1] and win[0] == win[1] else through(rf[1], win[1])
    for ax in (h, w):
        if ax.size > LIMITS.max_total or ax.jump > LIMITS.max_total:
            raise LimitError("max_total", f"{layer.name}: the receptive field reaches "
                             f"{max(ax.size, ax.jump):,} input pixels, more than 2^53 - 1 "
                             f"(max_total); the strides multiply to more than any input",
                             layer.line)
    return h, w


def _common(step: Step, acts: int, op: str) -> dict[str, Working]:
    """Complete a rule's working with the figures every row shows."""
    f = {key: step.working[key] for key in FIGURES if key in step.working}
    out = step.out
    for key, value in (("h", out.h), ("w", out.w), ("c", out.c), ("weights", 0), ("biases", 0)):
        if key not in f:
            f[key] = stated(value)
    params = step.weights + step.biases
    f["params"] = (equals(add(Term("weights", step.weights, "weights", sep=True),
                              Term("biases", step.biases, "biases", sep=True)), params, sep=True)
                   if step.weights and step.biases else stated(params, sep=True))
    if "macs" not in f:
        f["macs"] = (stated(step.macs, sep=True) if step.macs
                     else stated(0, note="only conv and fc multiply-adds are counted"))
    if acts and step.hidden:
        f["activations"] = equals(add(Term("hidden", step.hidden, "values of the inner "
                                           "tensor (the depthwise result)"),
                                      mul(Term("H_out", out.h, "output height"),
                                          Term("W_out", out.w, "output width"),
                                          Term("C_out", out.c, "output channels"))),
                                  acts, sep=True)
    elif acts:
        f["activations"] = equals(mul(Term("H_out", out.h, "output height"),
                                      Term("W_out", out.w, "output width"),
                                      Term("C_out", out.c, "output channels")), acts, sep=True)
    else:
        f["activations"] = stated(0, note="in place" if op in IN_PLACE_OPS
                                  else "a view of its input")
    return f


def _branch_label(kind: str, i: int) -> str:
    if kind == "residual":
        return "body" if i == 0 else "shortcut"
    if kind in ("dense", "scale"):
        return "body"
    return f"branch{i + 1}"


def _merged_volume(b: Block, vols: list[Volume]) -> Volume:
    first = vols[0]
    if b.kind in ("concat", "dense", "split"):
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
    if b.kind == "scale":
        gate = vols[1]
        if gate.c != first.c or (gate.h, gate.w) not in ((1, 1), (first.h, first.w)):
            raise SpecError(f"scale '{b.name}': the body gives {gate}, which cannot multiply "
                            f"the input {first}; it must give 1x1x{first.c} (one gate per "
                            f"channel) or {first}", b.line, b.name)
        return first
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


def _merge_c_working(op: str, vols: list[Volume], c: int) -> Working:
    if op == "concat":
        return equals(add(*(Term(f"C_{i}", v.c, f"channels of input {i}")
                            for i, v in enumerate(vols, start=1))), c)
    if op == "scale":
        return stated(c, note="the input times its gate, channel by channel")
    return stated(c, note=f"{'sum' if op == 'add' else 'mean'} of {len(vols)} tensors of "
                          f"equal shape")


def _merge_rf(kind: str, name: str, rfs: list[Field2], warnings: list[str]) -> Field2:
    """The union of the inputs' fields."""
    if all(rf[0] == rf[1] for rf in rfs):
        axis = _merge_axis(kind, name, [rf[0] for rf in rfs], "H and W", warnings)
        return axis, axis
    return (_merge_axis(kind, name, [rf[0] for rf in rfs], "H", warnings),
            _merge_axis(kind, name, [rf[1] for rf in rfs], "W", warnings))


def _broadcast_rf(ins: list[State], spread: list[bool], out: Volume) -> Field2:
    """A merge with a broadcast 1x1 input (a gate), or an input whose units all see alike (a
    jump of 0, after such a merge): every output unit sees that input's field and its own.
    Given as the hull over all units with a jump of 0 (all units alike): exact when the gate
    sees at least what the map's units do (a gate made by gap or fc sees the whole input), the
    smallest interval holding every unit's field otherwise."""
    axes = []
    for a, n in ((0, out.h), (1, out.w)):
        lo, hi = [], []
        for st, one in zip(ins, spread, strict=True):
            ax = st.rf[a]
            last = 0 if one else n - 1
            lo.append(ax.start - (ax.size - 1) / 2)
            hi.append(ax.start + last * ax.jump + (ax.size - 1) / 2)
        axes.append(AxisRF(_number(Fraction(max(hi) - min(lo)).limit_denominator(1 << 20) + 1),
                           0, (min(lo) + max(hi)) / 2))
    return axes[0], axes[1]


def _merge_axis(kind: str, name: str, axes: list[AxisRF], axis: str,
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


def _merge_named(layer: Layer, vols: tuple[Volume, ...]) -> Merged:
    """A named merge's output, working and attributes, once per (op, input volumes)."""
    merge = OPS[layer.op].merge
    assert merge is not None
    step = merge(layer, vols)
    if step.out.c > LIMITS.max_channels:
        raise LimitError("max_channels", f"{layer.op} '{layer.name}' gives {step.out.c} "
                         f"channels; at most {LIMITS.max_channels:,} are allowed", layer.line)
    _check_volume(step.out, layer)
    return Merged(layer.op, step.out, _vol(step.out),
                  Rendered(FIGURES, _named_merge_figures, layer, vols), EMPTY_ATTRS)


def _named_merge_figures(layer: Layer, vols: tuple[Volume, ...]) -> FrozenDict:
    merge = OPS[layer.op].merge
    assert merge is not None
    step = merge(layer, vols, True)
    return FrozenDict(_common(step, step.out.size, layer.op))


EMPTY_ATTRS = FrozenDict()


def _check_volume(v: Volume, layer: Layer) -> None:
    if v.c > LIMITS.max_channels and layer.op != "flatten":
        raise LimitError("max_channels", f"{layer.name} gives {v.c:,} channels; at most "
                         f"{LIMITS.max_channels:,} are allowed", layer.line)
    if max(v.h, v.w) > LIMITS.max_hw:
        raise LimitError("max_hw", f"{layer.name} gives {v.h}x{v.w}; H and W are at most "
                         f"{LIMITS.max_hw:,}", layer.line)
    if v.size > LIMITS.max_total:
        raise LimitError("max_total", f"{layer.name} gives {v.size:,} values, more than "
                         f"2^53 - 1 (max_total)", layer.line)


def _vol(v: Volume) -> VolumeOut:
    return _volume(v.h, v.w, v.c)


def _rf(rf: Field2) -> RF:
    h, w = rf
    big = h if h.size >= w.size else w
    return _field(big.size, big.jump, big.start, h, w)


def _axis_working(w: Window, before: AxisRF, after: AxisRF, axis: str) -> Working:
    a = axis.lower() if axis in "HW" else ""
    sub_a = f"_{a}" if a else ""
    jump = Term("J_in", before.jump, "jump of the input (pixels between its units)")
    size = equals(add(Term("RF_in", before.size, "receptive field of the input"),
                      mul(Group(sub(Term(f"K{sub_a}", w.k, "kernel extent"), Num(1))), jump)),
                  after.size)
    step = Equation(mul(jump, Term(f"S{sub_a}", w.s, "stride")), after.jump, label="jump")
    return Working((*size.parts, step))


def _rf_working(win: tuple[Window, Window] | None, before: Field2, after: Field2) -> Working:
    if win is None:
        return _kept(after)
    h = _axis_working(win[0], before[0], after[0], "H")
    if (win[0], before[0]) == (win[1], before[1]):
        return h
    return Working((Working(h.parts, label="H: "),
                    Working(_axis_working(win[1], before[1], after[1], "W").parts,
                            label="W: ")), sep="; ")
