"""Rules of the ops without a window: normalisations, activations, channel padding and
shuffling, flatten, and the upsamplings."""

from __future__ import annotations

from fractions import Fraction

from app.engine.errors import SpecError
from app.engine.graph import Layer, Volume
from app.engine.rules.step import Step, Window, check_cin, int_attr
from app.engine.working import Group, Term, add, div, equals, mul, stated


def bn(layer: Layer, x: Volume, explain: bool = False) -> Step:
    """BatchNorm2d: 2C learnable parameters (C scales as weights, C shifts as biases)."""
    check_cin(layer, x.c, "channels")
    step = Step(x, weights=x.c, biases=x.c, explain=explain)
    if explain:
        step.working["weights"] = stated(x.c, note="one scale per channel")
        step.working["biases"] = stated(x.c, note="one shift per channel")
    return step


def padchannels(layer: Layer, x: Volume, explain: bool = False) -> Step:
    """Zero-pad the channels to ``out`` (ResNet option-A shortcut): no parameters."""
    n = int_attr(layer, "out")
    if n < x.c:
        raise SpecError(f"padchannels {n} is fewer than the {x.c} input channels",
                        layer.line, layer.name)
    step = Step(Volume(x.h, x.w, n), explain=explain)
    if explain:
        step.working["c"] = equals(add(Term("C_in", x.c, "input channels"),
                                       Term("Z", n - x.c, "added zero channels",
                                            unit="zero channels")), n)
    return step


def flatten(layer: Layer, x: Volume, explain: bool = False) -> Step:
    """Flatten: HxWxC -> 1x1x(H*W*C), a view (no new values). Every output value is one of
    the input's, but the vector stands for the whole map: what reads it (an fc) reads every
    position, so its field spans the whole input, as gap's and fc's do."""
    step = Step(Volume(1, 1, x.size), explain=explain)
    step.rf = (Window(x.h, x.h, 0), Window(x.w, x.w, 0))
    if explain:
        step.working["c"] = equals(mul(Term("H_in", x.h, "input height"),
                                       Term("W_in", x.w, "input width"),
                                       Term("C_in", x.c, "input channels")), x.size, sep=True)
    return step


def elementwise(layer: Layer, x: Volume, explain: bool = False) -> Step:
    """Shape-preserving ops without parameters; their arithmetic is not counted as macs."""
    return Step(x, explain=explain)


def prelu(layer: Layer, x: Volume, explain: bool = False) -> Step:
    """PReLU: one learnable slope shared by all channels, or one per channel."""
    n = int_attr(layer, "out", 1)
    if n not in (1, x.c):
        raise SpecError(f"prelu {n}: PReLU has one slope or one per channel ({x.c})",
                        layer.line, layer.name)
    step = Step(x, weights=n, explain=explain)
    if explain:
        step.working["weights"] = stated(n, note="one slope per channel" if n > 1
                                         else "one slope for all channels")
    return step


def channelshuffle(layer: Layer, x: Volume, explain: bool = False) -> Step:
    """Channel shuffle (ShuffleNet): reorders the channels; no parameters, 0 macs."""
    g = int_attr(layer, "groups", 1)
    if x.c % g:
        raise SpecError(f"channelshuffle {g}: the groups must divide the {x.c} channels",
                        layer.line, layer.name)
    return Step(x, explain=explain)


def upsample(layer: Layer, x: Volume, explain: bool = False) -> Step:
    """Upsample by a whole factor F: H*F x W*F x C; no parameters, 0 macs.

    Receptive field: output units step by 1/F of an input unit. Nearest reads one input unit
    (the field keeps its size); bilinear reads two neighbours (the field grows by one jump),
    centred on its sampling position (i + 1/2)/F - 1/2. The centre is a linear model: nearest
    neighbours repeat each input F times, so a unit's true centre is within (F-1)/F of a jump
    of it."""
    f = int_attr(layer, "factor")  # the registry fills in its default
    out = Volume(x.h * f, x.w * f, x.c)
    step = Step(out, explain=explain)
    if layer.attrs.get("mode") == "bilinear":
        win = Window(2, Fraction(1, f), Fraction(1, 2) - (Fraction(1, 2 * f) - Fraction(1, 2)))
    else:
        win = Window(1, Fraction(1, f), Fraction(0))
    step.rf = (win, win)
    if explain:
        for axis, n, what in (("h", x.h, "height"), ("w", x.w, "width")):
            step.working[axis] = equals(mul(Term(f"{axis.upper()}_in", n, f"input {what}"),
                                            Term("F", f, "upsampling factor")), n * f)
        step.working["c"] = stated(x.c, note="upsampling keeps the depth")
    return step


def pixelshuffle(layer: Layer, x: Volume, explain: bool = False) -> Step:
    """Pixel shuffle by R (Shi et al. 2016, ESPCN): H x W x (C*R*R) -> (H*R) x (W*R) x C, each
    group of R*R channels laid out as an R x R patch; no parameters, 0 macs.

    Receptive field: output unit o reads the one input position o // R it came from, so the
    field keeps its size and output units step by 1/R of an input unit (the jump is divided by
    R). As for nearest upsampling, the centre is a linear model: the R units of one patch share
    one input position, within (R-1)/R of a jump of the model's centre."""
    r = int_attr(layer, "factor")
    if x.c % (r * r):
        raise SpecError(f"pixelshuffle {r} needs channels divisible by R*R = {r * r}; {x.c} "
                        f"reach it ({x.c}/{r * r} = {x.c / (r * r):g} is not whole); give it a "
                        f"multiple of {r * r} channels", layer.line, layer.name)
    step = Step(Volume(x.h * r, x.w * r, x.c // (r * r)), explain=explain)
    win = Window(1, Fraction(1, r), Fraction(0))
    step.rf = (win, win)
    if explain:
        for axis, n, what in (("h", x.h, "height"), ("w", x.w, "width")):
            step.working[axis] = equals(mul(Term(f"{axis.upper()}_in", n, f"input {what}"),
                                            Term("R", r, "upscale factor")), n * r)
        step.working["c"] = equals(div(Term("C_in", x.c, "input channels"),
                                       Group(mul(Term("R", r, "upscale factor"),
                                                 Term("R", r, "upscale factor")))), x.c // (r * r))
    return step


def layernorm(layer: Layer, x: Volume, explain: bool = False) -> Step:
    """LayerNorm over the C channels at each position: C scales and C shifts."""
    step = Step(x, weights=x.c, biases=x.c, explain=explain)
    if explain:
        step.working["weights"] = stated(x.c, note="one scale per channel")
        step.working["biases"] = stated(x.c, note="one shift per channel")
    return step


def layerscale(layer: Layer, x: Volume, explain: bool = False) -> Step:
    """Layer scale: each channel times a learnable factor; C parameters, 0 macs."""
    step = Step(x, weights=x.c, explain=explain)
    if explain:
        step.working["weights"] = stated(x.c, note="one factor per channel")
    return step
