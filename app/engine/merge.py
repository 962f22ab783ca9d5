"""Merges: the output volume, working and attributes of a block's merge (concat, add, join,
scale) and of a merge of named rows; shapes that do not agree are refused with the fix."""

from __future__ import annotations

from typing import NamedTuple

from app.engine.errors import LimitError, SpecError
from app.engine.graph import AttrValue, Block, FrozenDict, Layer, Volume
from app.engine.limits import LIMITS
from app.engine.optable import BLOCK_MERGE_OPS, OPS
from app.engine.result import FIGURES, Rendered, VolumeOut
from app.engine.rowwork import check_volume, common_figures, shown_volume
from app.engine.rules import Step
from app.engine.working import Term, Working, add, equals, stated


class Merged(NamedTuple):
    """A merge row's op, output volume (and as shown), working and attributes."""

    op: str
    out: Volume
    shown: VolumeOut
    working: Rendered
    attrs: FrozenDict


def merge_block(b: Block, vols: tuple[Volume, ...]) -> Merged:
    """A merge's output, working and attributes, once per (kind, input volumes)."""
    op = BLOCK_MERGE_OPS[b.kind]
    out = _merged_volume(b, list(vols))
    attrs: dict[str, AttrValue] = {"kind": b.kind}
    if b.survival is not None:
        attrs["survival"] = b.survival
    return Merged(op, out, shown_volume(out), Rendered(FIGURES, _merge_figures, op, out, vols),
                  FrozenDict(attrs))


def _merge_figures(op: str, out: Volume, vols: tuple[Volume, ...]) -> FrozenDict:
    working = common_figures(Step(out), out.size, op)
    working["c"] = _merge_c_working(op, list(vols), out.c)
    return FrozenDict(working)


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


def merge_named(layer: Layer, vols: tuple[Volume, ...]) -> Merged:
    """A named merge's output, working and attributes, once per (op, input volumes)."""
    merge = OPS[layer.op].merge
    assert merge is not None
    step = merge(layer, vols)
    if step.out.c > LIMITS.max_channels:
        raise LimitError("max_channels", f"{layer.op} '{layer.name}' gives {step.out.c} "
                         f"channels; at most {LIMITS.max_channels:,} are allowed", layer.line)
    check_volume(step.out, layer)
    return Merged(layer.op, step.out, shown_volume(step.out),
                  Rendered(FIGURES, _named_merge_figures, layer, vols), EMPTY_ATTRS)


def _named_merge_figures(layer: Layer, vols: tuple[Volume, ...]) -> FrozenDict:
    merge = OPS[layer.op].merge
    assert merge is not None
    step = merge(layer, vols, True)
    return FrozenDict(common_figures(step, step.out.size, layer.op))


EMPTY_ATTRS = FrozenDict()
