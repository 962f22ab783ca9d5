"""The walk: a Network, layer by layer, into rows of numbers with their working.

Receptive field, per axis (as in Araujo et al., "Computing Receptive Fields of CNNs", 2019):
``size' = size + (k_eff - 1)*jump``, ``jump' = jump*s``, ``start' = start + ((k_eff-1)/2 - p)*jump``
starting from size 1, jump 1, start 0 at the input. fc, gap and flatten see their whole input
(a window as large as the input); at a merge the largest field is kept and differing jumps are
reported as a warning.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.engine.claims import check_claims
from app.engine.errors import LimitError, SpecError
from app.engine.graph import IN_PLACE_OPS, VIEW_OPS, WEIGHT_OPS, Block, Layer, Node, Volume
from app.engine.limits import LIMITS
from app.engine.maths import fmt
from app.engine.result import RF, AxisRF, LayerRow, VolumeOut
from app.engine.rules import RULES, Step, Window


@dataclass(frozen=True, slots=True)
class Axis:
    size: int
    jump: int
    start: float

    def through(self, win: Window) -> Axis:
        return Axis(self.size + (win.k - 1) * self.jump, self.jump * win.s,
                    self.start + ((win.k - 1) / 2 - win.p) * self.jump)


@dataclass(frozen=True, slots=True)
class State:
    vol: Volume
    rf: tuple[Axis, Axis]


@dataclass(slots=True)
class Walk:
    """Accumulates rows while walking; ``depth`` results are returned by :meth:`seq`."""

    aux: bool = False
    rows: list[LayerRow] = field(default_factory=list)
    #: probability that each row runs during training (stochastic depth), parallel to rows
    keep: list[float] = field(default_factory=list)

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
        step = RULES[layer.op](layer, st.vol)
        _check_volume(step.out, layer)
        rf = st.rf if step.rf is None else (st.rf[0].through(step.rf[0]),
                                            st.rf[1].through(step.rf[1]))
        acts = 0 if layer.op in IN_PLACE_OPS | VIEW_OPS else step.out.size
        self.emit(layer.name, layer.op, layer.line, path, level, st.vol, step, rf, acts,
                  dict(layer.attrs), layer, keep)
        return State(step.out, rf)

    def emit(self, name: str, op: str, line: int, path: str, level: int, vin: Volume,
             step: Step, rf: tuple[Axis, Axis], acts: int, attrs: dict[str, int | float | bool | str],
             layer: Layer | None, keep: float) -> None:
        f = step.formulas
        out = step.out
        f.setdefault("h", str(out.h))
        f.setdefault("w", str(out.w))
        f.setdefault("c", str(out.c))
        params = step.weights + step.biases
        f.setdefault("weights", "0")
        f.setdefault("biases", "0")
        f["params"] = (f"{fmt(step.weights)} + {fmt(step.biases)} = {fmt(params)}"
                       if step.weights and step.biases else fmt(params))
        f.setdefault("macs", "0 (only conv and fc multiply-adds are counted)"
                     if not step.macs else fmt(step.macs))
        f["activations"] = (f"{out.h}*{out.w}*{out.c} = {fmt(acts)}" if acts else
                            "0 (in place)" if op in IN_PLACE_OPS else "0 (a view of its input)")
        f.setdefault("rf", _rf_formula(step, rf))
        row = LayerRow(
            index=len(self.rows), name=name, op=op, line=line, block=path, depth=level,
            attrs=attrs, input=_vol(vin), output=_vol(out), weights=step.weights,
            biases=step.biases, params=params, macs=step.macs, activations=acts, rf=_rf(rf),
            formulas=f, warnings=step.warnings, claims=[],
            survival=keep if keep != 1.0 else None)
        if layer is not None and layer.claims:
            row = row.model_copy(update={"claims": check_claims(layer.claims, row)})
        self.rows.append(row)
        self.keep.append(keep)

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
        vols = [o[0].vol for o in outs]
        op = {"concat": "concat", "dense": "concat", "residual": "add", "join": "join"}[b.kind]
        step = Step(_merged_volume(b, vols))
        step.formulas["c"] = _merge_c_formula(op, vols, step.out.c)
        rf = _merge_rf(b, [o[0].rf for o in outs], step)
        step.formulas["rf"] = (f"{rf[0].size}x{rf[1].size}, the largest field of the "
                               f"{len(outs)} inputs")
        self.emit(b.name, op, b.line, path, level, st.vol, step, rf, step.out.size,
                  {"kind": b.kind} | ({"survival": b.survival} if b.survival is not None else {}),
                  None, keep)
        depth = max(o[1] for o in outs)
        if b.kind == "residual" and b.survival is not None:
            body, short = outs[0], outs[1]
            expected = b.survival * max(body[2], short[2]) + (1 - b.survival) * short[2]
        else:
            expected = max(o[2] for o in outs)
        return State(step.out, rf), depth, expected


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


def _merge_rf(b: Block, rfs: list[tuple[Axis, Axis]], step: Step) -> tuple[Axis, Axis]:
    merged: list[Axis] = []
    for a in (0, 1):
        axes = [rf[a] for rf in rfs]
        best = max(axes, key=lambda ax: ax.size)
        jumps = sorted({ax.jump for ax in axes})
        if len(jumps) > 1:
            step.warnings.append(
                f"branches of '{b.name}' step through the input by different jumps "
                f"{', '.join(map(str, jumps))} along {'HW'[a]}: their features are not aligned")
        merged.append(Axis(best.size, max(jumps), best.start))
    return merged[0], merged[1]


def _check_volume(v: Volume, layer: Layer) -> None:
    if v.c > LIMITS.max_channels and layer.op != "flatten":
        raise LimitError("max_channels", f"{layer.name} gives {v.c:,} channels; at most "
                         f"{LIMITS.max_channels:,} are allowed", layer.line)
    if max(v.h, v.w) > LIMITS.max_hw:
        raise LimitError("max_hw", f"{layer.name} gives {v.h}x{v.w}; H and W are at most "
                         f"{LIMITS.max_hw:,}", layer.line)


def _vol(v: Volume) -> VolumeOut:
    return VolumeOut(h=v.h, w=v.w, c=v.c)


def _rf(rf: tuple[Axis, Axis]) -> RF:
    h, w = (AxisRF(size=a.size, jump=a.jump, start=a.start) for a in rf)
    big = h if h.size >= w.size else w
    return RF(size=big.size, jump=big.jump, start=big.start, h=h, w=w)


def _rf_formula(step: Step, rf: tuple[Axis, Axis]) -> str:
    if step.rf is None:
        return f"{rf[0].size}x{rf[1].size} (unchanged)"
    parts = []
    for name, win, ax in (("H", step.rf[0], rf[0]), ("W", step.rf[1], rf[1])):
        before = ax.size - (win.k - 1) * (ax.jump // win.s if win.s else 1)
        parts.append(f"{name}: {before} + ({win.k} - 1)*{ax.jump // win.s} = {ax.size}, "
                     f"jump {ax.jump // win.s}*{win.s} = {ax.jump}")
    if parts[0][3:] == parts[1][3:]:
        return parts[0][3:]
    return "; ".join(parts)
