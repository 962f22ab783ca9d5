"""One layer's row: what its rule decides on one input volume (once per analysis), the
figures every row shows, and the limits a volume must keep."""

from __future__ import annotations

from typing import NamedTuple

from app.engine.errors import LimitError
from app.engine.graph import FrozenDict, Layer, Volume
from app.engine.limits import LIMITS
from app.engine.optable import IN_PLACE_OPS, OPS, VIEW_OPS
from app.engine.result import FIGURES, Rendered, VolumeOut, maker
from app.engine.rules import Step, Window
from app.engine.working import Term, Working, add, equals, mul, stated

_volume = maker(VolumeOut)


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


def layer_figures(layer: Layer, vin: Volume, acts: int) -> FrozenDict:
    return FrozenDict(common_figures(OPS[layer.op].rule(layer, vin, True), acts, layer.op))


def apply_rule(layer: Layer, vin: Volume) -> Done:
    step = OPS[layer.op].rule(layer, vin)
    check_volume(step.out, layer)
    acts = 0 if layer.op in IN_PLACE_OPS or layer.op in VIEW_OPS else step.out.size
    acts += step.hidden
    win = step.rf
    return Done(step.out, shown_volume(step.out), step.weights, step.biases,
                step.weights + step.biases, step.macs, acts,
                Rendered(FIGURES, layer_figures, layer, vin, acts),
                tuple(step.warnings), tuple(step.notes), win)


def common_figures(step: Step, acts: int, op: str) -> dict[str, Working]:
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


def check_volume(v: Volume, layer: Layer) -> None:
    if v.c > LIMITS.max_channels and layer.op != "flatten":
        raise LimitError("max_channels", f"{layer.name} gives {v.c:,} channels; at most "
                         f"{LIMITS.max_channels:,} are allowed", layer.line)
    if max(v.h, v.w) > LIMITS.max_hw:
        raise LimitError("max_hw", f"{layer.name} gives {v.h}x{v.w}; H and W are at most "
                         f"{LIMITS.max_hw:,}", layer.line)
    if v.size > LIMITS.max_total:
        raise LimitError("max_total", f"{layer.name} gives {v.size:,} values, more than "
                         f"2^53 - 1 (max_total)", layer.line)


def shown_volume(v: Volume) -> VolumeOut:
    return _volume(v.h, v.w, v.c)
