"""One small rule per op: what a layer does to a volume, and what it costs.

Conventions (carried to the JSON as ``conventions`` and to the pages as "How we count"):

* ``macs`` are multiply-accumulates of conv and fc layers only, bias additions excluded (the
  lecture's "ops"); pools, normalisation, activations and merges count 0. ``flops = 2 x macs``.
* ``weights`` are multiplicative parameters, ``biases`` additive ones; BatchNorm has 2C learnable
  parameters (scale and shift), counted as C weights and C biases; its running statistics are
  buffers, not parameters.
* Activations are set by the walk (values in the output tensor; in-place and view ops add none).

Each rule returns a :class:`Step`; the walk adds activations and the receptive field. The op
table (``app.engine.optable``) says which rule serves which op.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import NamedTuple, Protocol

from app.engine.errors import SpecError
from app.engine.graph import Layer, Volume
from app.engine.maths import (
    OutLen,
    ceil_div,
    k_eff,
    show_fraction,
    whole_fixes,
    window_out_len,
)
from app.engine.working import (
    Call,
    Equation,
    Expr,
    Group,
    Num,
    Op,
    Term,
    Working,
    add,
    div,
    equals,
    mul,
    stated,
    sub,
)


class Window(NamedTuple):
    """A sliding window along one axis, for the receptive-field walk. Upsampling and
    transposed convolutions step by a fraction of an input unit (``s`` = 1/F) and may start
    between units (a fractional ``p``)."""

    k: int  # effective extent, in input units
    s: int | Fraction
    p: int | Fraction  # padding before the first element


@dataclass(slots=True)
class Step:
    """What a rule works out for one layer on one input volume (the walk freezes it)."""

    out: Volume
    weights: int = 0
    biases: int = 0
    macs: int = 0
    working: dict[str, Working] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    #: remarks that are not problems (only padding goes unread)
    notes: list[str] = field(default_factory=list)
    rf: tuple[Window, Window] | None = None  # None: the field passes through unchanged
    #: values of a tensor made inside the layer besides its output (a separable conv's
    #: depthwise result), kept for the backward pass as the output is
    hidden: int = 0
    #: build the working too: a rule runs without it for the numbers, and again with it only
    #: when a renderer first asks for the working (most rows of a big network never are)
    explain: bool = False


class Rule(Protocol):
    def __call__(self, layer: Layer, x: Volume, explain: bool = False) -> Step: ...


class MergeRule(Protocol):
    def __call__(self, layer: Layer, xs: tuple[Volume, ...], explain: bool = False) -> Step: ...


def _int(layer: Layer, key: str, default: int = 0) -> int:
    return int(layer.attrs.get(key, default))


def _check_cin(layer: Layer, got: int, what: str) -> None:
    """A pasted PyTorch line states its input size; torch refuses a different one."""
    said = layer.attrs.get("cin")
    if said is not None and said != got:
        raise SpecError(f"{layer.name} is written for {said} input {what}, but {got} reach it",
                        layer.line, layer.name)


def _axes(layer: Layer, x: Volume, ceil: bool) -> tuple[OutLen, OutLen]:
    """Slide the layer's window over both axes; reject kernels larger than the padded input."""
    get = layer.attrs.get
    kh, kw, sh, sw = int(get("kh", 1)), int(get("kw", 1)), int(get("sh", 1)), int(get("sw", 1))
    ph, pw, dh, dw = int(get("ph", 0)), int(get("pw", 0)), int(get("dh", 1)), int(get("dw", 1))
    ph2 = None if (v := get("ph2")) is None else int(v)
    pw2 = None if (v := get("pw2")) is None else int(v)
    for axis, n, k, p, p2, d in (("H", x.h, kh, ph, ph2, dh), ("W", x.w, kw, pw, pw2, dw)):
        # ceil mode (PyTorch) accepts a single window that starts inside and overhangs the end
        s = sh if axis == "H" else sw
        if ceil and window_out_len(n, k, s, p, d, ceil, p2).value >= 1:
            continue
        after = p if p2 is None else p2
        if n + p + after < k_eff(k, d):
            pads = f"2*{p}" if p2 is None else f"{p} + {p2}"
            raise SpecError(
                f"{layer.op} kernel {k_eff(k, d)} along {axis} is larger than the padded input "
                f"{n} + {pads} = {n + p + after}; use a smaller kernel or more padding",
                layer.line, layer.name)
    return (window_out_len(x.h, kh, sh, ph, dh, ceil, ph2),
            window_out_len(x.w, kw, sw, pw, dw, ceil, pw2))


def _same(layer: Layer, x: Volume, step: Step) -> tuple[int, int]:
    """pad same (stride 1): k_eff - 1 in total, (k_eff-1)//2 before and the rest after,
    as PyTorch does, so the output keeps the input's size. At a larger stride, TensorFlow's
    SAME: the output is ceil(n/s) and the padding what that needs, the odd one after."""
    if (_int(layer, "sh", 1), _int(layer, "sw", 1)) != (1, 1):
        return _tf_same(layer, x, step)
    wins = []
    for axis, n, k, d in (("H", x.h, _int(layer, "kh"), _int(layer, "dh", 1)),
                          ("W", x.w, _int(layer, "kw"), _int(layer, "dw", 1))):
        ke = k_eff(k, d)
        before = (ke - 1) // 2
        a, what = axis.lower(), "height" if axis == "H" else "width"
        if step.explain:
            expr = add(div(Group(add(sub(Term(f"{axis}_in", n, f"input {what}"),
                                         Term(f"K_{a}", ke, f"kernel {what}")),
                                     Term(f"P_{a}", ke - 1, f"total padding ({what})"))),
                           Term(f"S_{a}", 1, f"stride ({what})")), Num(1))
            step.working[a] = equals(expr, n, aside=f"pad same: {ke - 1} in total, {before} "
                                                   f"before and {ke - 1 - before} after")
        wins.append(Window(ke, 1, before))
    step.rf = (wins[0], wins[1])
    return x.h, x.w


def _tf_same(layer: Layer, x: Volume, step: Step) -> tuple[int, int]:
    sizes, wins = [], []
    for axis, n, k, s, d in (("H", x.h, _int(layer, "kh"), _int(layer, "sh", 1),
                              _int(layer, "dh", 1)),
                             ("W", x.w, _int(layer, "kw"), _int(layer, "sw", 1),
                              _int(layer, "dw", 1))):
        ke = k_eff(k, d)
        out = ceil_div(n, s)
        total = max((out - 1) * s + ke - n, 0)
        before = total // 2
        sizes.append(out)
        wins.append(Window(ke, s, before))
        if step.explain:
            a, what = axis.lower(), "height" if axis == "H" else "width"
            step.working[a] = equals(
                Call("ceil", (div(Term(f"{axis}_in", n, f"input {what}"),
                                  Term(f"S_{a}", s, f"stride ({what})")),)), out,
                aside=f"TF SAME: {total} padding in total, {before} before and "
                      f"{total - before} after")
    step.rf = (wins[0], wins[1])
    return sizes[0], sizes[1]


def _spatial(layer: Layer, x: Volume, ceil: bool, step: Step) -> tuple[int, int]:
    if layer.attrs.get("same"):
        return _same(layer, x, step)
    oh, ow = _axes(layer, x, ceil)
    if step.explain:
        step.working["h"], step.working["w"] = oh.working("H"), ow.working("W")
    if not ceil:
        _warn_not_whole(step, oh, ow)
    step.rf = (Window(k_eff(oh.k, oh.d), oh.s, oh.p), Window(k_eff(ow.k, ow.d), ow.s, ow.p))
    return oh.value, ow.value


def _warn_not_whole(step: Step, oh: OutLen, ow: OutLen) -> None:
    """A non-whole output size is floored as PyTorch does. When real input goes unread that is
    a warning, with the exact value and the fix. When only padding goes unread, or the rows
    left at the end are no more than the window skips between two steps anyway (a 1x1 conv
    with stride 2), nothing more is lost than by design: a note."""
    bad = [(axis, o) for axis, o in (("H", oh), ("W", ow)) if not o.whole]
    if len(bad) == 2 and (oh.n, oh.k, oh.s, oh.p, oh.p2, oh.d) == (ow.n, ow.k, ow.s, ow.p, ow.p2,
                                                                   ow.d):
        bad = [("H and W", oh)]
    for axis, o in bad:
        ke = k_eff(o.k, o.d)
        lost = o.span % o.s
        exact = (f"output {axis}: ({o.n} - {ke} + {o.pad_text})/{o.s} + 1 = "
                 f"{show_fraction(o.exact)} is not whole; PyTorch floors it to {o.value}")
        if lost <= o.after:
            step.notes.append(f"{exact}: only the last {lost} padding row(s)/column(s) go "
                              f"unread, so no input pixel is lost")
        elif lost - o.after <= o.s - ke:
            step.notes.append(f"{exact}: the last {lost - o.after} input row(s)/column(s) are "
                              f"skipped, as the stride {o.s} skips {o.s - ke} of every {o.s} "
                              f"with a window of {ke}")
        else:
            step.warnings.append(
                f"{exact}: the last {lost - o.after} input row(s)/column(s) are never read; "
                f"{whole_fixes(o.n, o.k, o.s, o.p, o.d, o.p2)}")


def conv(layer: Layer, x: Volume, explain: bool = False) -> Step:
    """Conv2d: out = (n + 2p - k_eff)/s + 1 per axis; weights = kh*kw*(C/groups)*N;
    biases = N; macs = H'*W'*N * kh*kw*(C/groups)."""
    if layer.attrs.get("depthwise"):
        g = x.c
        n = _int(layer, "out", x.c)
    else:
        n, g = _int(layer, "out"), _int(layer, "groups", 1)
    if x.c % g or n % g:
        raise SpecError(f"groups {g} must divide both the input channels ({x.c}) and the number "
                        f"of filters ({n})", layer.line, layer.name)
    _check_cin(layer, x.c, "channels")
    kh, kw, cin = _int(layer, "kh"), _int(layer, "kw"), x.c // g
    step = Step(x, explain=explain)
    h, w = _spatial(layer, x, False, step)
    step.out = Volume(h, w, n)
    step.weights = kh * kw * cin * n
    step.biases = n if layer.attrs.get("bias", True) else 0
    step.macs = h * w * n * kh * kw * cin
    if explain:
        filters = Term("N", n, "number of filters")
        c_in = Term("C_in", x.c, "input channels")
        fan = mul(Term("K_h", kh, "kernel height"), Term("K_w", kw, "kernel width"),
                  c_in if g == 1 else Group(div(c_in, Term("G", g, "groups"))))
        out = mul(Term("H_out", h, "output height"), Term("W_out", w, "output width"), filters)
        step.working |= {
            "c": stated(n, unit="filters"),
            "weights": equals(mul(*fan.args, filters), step.weights, sep=True),
            "biases": (stated(n, note="one per filter") if step.biases
                       else stated(0, note="nobias")),
            "macs": equals(mul(out, fan, spaced=True), step.macs, sep=True)}
    return step


def sepconv(layer: Layer, x: Volume, explain: bool = False) -> Step:
    """Depthwise separable conv (Xception's SeparableConv, MobileNet's dw + pw): a depthwise
    kh x kw conv, one filter per input channel and no bias, then a pointwise 1x1 conv of N
    filters with N biases. out = (n + 2p - k_eff)/s + 1 per axis; weights = kh*kw*C + C*N;
    biases = N; macs = H'*W'*C*kh*kw + H'*W'*C*N; activations count the depthwise result
    H'*W'*C (``hidden``) besides the output H'*W'*N."""
    n, c = _int(layer, "out"), x.c
    _check_cin(layer, c, "channels")
    kh, kw = _int(layer, "kh"), _int(layer, "kw")
    step = Step(x, explain=explain)
    h, w = _spatial(layer, x, False, step)
    step.out = Volume(h, w, n)
    step.hidden = h * w * c
    step.weights = kh * kw * c + c * n
    step.biases = n if layer.attrs.get("bias", True) else 0
    step.macs = h * w * c * kh * kw + h * w * c * n
    if explain:
        c_in, filters = Term("C_in", c, "input channels"), Term("N", n, "pointwise filters")
        taps = (Term("K_h", kh, "kernel height"), Term("K_w", kw, "kernel width"))
        pos = (Term("H_out", h, "output height"), Term("W_out", w, "output width"))
        step.working |= {
            "c": stated(n, unit="filters"),
            "weights": equals(add(mul(*taps, c_in), mul(c_in, filters)), step.weights,
                              sep=True, aside="depthwise + pointwise"),
            "biases": (stated(n, note="one per pointwise filter; the depthwise part has none")
                       if step.biases else stated(0, note="nobias")),
            "macs": equals(add(mul(*pos, c_in, *taps), mul(*pos, c_in, filters)), step.macs,
                           sep=True, aside="depthwise + pointwise")}
    return step


def crop(layer: Layer, x: Volume, explain: bool = False) -> Step:
    """Centre crop to oh x ow: the first (H - oh)//2 rows and (W - ow)//2 columns are dropped
    (U-Net's skip crop); a view, no parameters, 0 macs. Its field is the input unit's,
    shifted by the offset: a window of 1 that starts ``off`` units in."""
    oh, ow = _int(layer, "oh"), _int(layer, "ow")
    if oh > x.h or ow > x.w:
        raise SpecError(f"crop to {oh}x{ow} is larger than its input {x.h}x{x.w}; a crop can "
                        f"only drop rows and columns", layer.line, layer.name)
    step = Step(Volume(oh, ow, x.c), explain=explain)
    top, left = (x.h - oh) // 2, (x.w - ow) // 2
    step.rf = (Window(1, 1, -top), Window(1, 1, -left))
    if explain:
        for a, n, o, off in (("h", x.h, oh, top), ("w", x.w, ow, left)):
            step.working[a] = stated(o, note=f"centre crop of {n}: {off} dropped before and "
                                             f"{n - o - off} after")
        step.working["c"] = stated(x.c, note="cropping keeps the depth")
    return step


def _pool(layer: Layer, x: Volume, explain: bool) -> Step:
    step = Step(x, explain=explain)
    h, w = _spatial(layer, x, bool(layer.attrs.get("ceil", False)), step)
    step.out = Volume(h, w, x.c)
    if explain:
        step.working["c"] = stated(x.c, note="pooling keeps the depth")
    return step


def maxpool(layer: Layer, x: Volume, explain: bool = False) -> Step:
    """MaxPool2d: out = (n + 2p - k)/s + 1 (ceil optional); no parameters, 0 macs."""
    return _pool(layer, x, explain)


def avgpool(layer: Layer, x: Volume, explain: bool = False) -> Step:
    """AvgPool2d: as maxpool; the additions and the division are not counted as macs."""
    return _pool(layer, x, explain)


def adaptiveavgpool(layer: Layer, x: Volume, explain: bool = False) -> Step:
    """AdaptiveAvgPool2d((oh, ow)): output oh x ow; window up to ceil(n/o), step about n/o."""
    oh, ow = _int(layer, "oh"), _int(layer, "ow")
    step = Step(Volume(oh, ow, x.c), explain=explain)
    for a, n, o, what in (("h", x.h, oh, "height"), ("w", x.w, ow, "width")):
        if explain:
            window = Equation(Call("ceil", (div(Term(f"{a.upper()}_in", n, f"input {what}"),
                                                Term(f"{a.upper()}_out", o, f"output {what}")),)),
                              ceil_div(n, o), label="adaptive: windows of up to")
            step.working[a] = stated(o, note=window)
    step.rf = (Window(ceil_div(x.h, oh), max(x.h // oh, 1), 0),
               Window(ceil_div(x.w, ow), max(x.w // ow, 1), 0))
    return step


def gap(layer: Layer, x: Volume, explain: bool = False) -> Step:
    """Global average pool: HxWxC -> 1x1xC. Its field spans the whole input."""
    step = Step(Volume(1, 1, x.c), explain=explain)
    if explain:
        step.working["h"] = step.working["w"] = stated(1, note="global average over the "
                                                              "whole map")
    step.rf = (Window(x.h, x.h, 0), Window(x.w, x.w, 0))
    return step


def fc(layer: Layer, x: Volume, explain: bool = False) -> Step:
    """Linear on the flattened input: weights = H*W*C*N, biases = N, macs = H*W*C*N.
    Output volume 1x1xN; its field spans the whole input."""
    n = _int(layer, "out")
    _check_cin(layer, x.size, "features (H*W*C)")
    step = Step(Volume(1, 1, n), explain=explain)
    step.weights = x.size * n
    step.biases = n if layer.attrs.get("bias", True) else 0
    step.macs = x.size * n
    step.rf = (Window(x.h, x.h, 0), Window(x.w, x.w, 0))
    if explain:
        c_in = Term("C_in", x.c, "input channels")
        fan = (mul(Term("H_in", x.h, "input height"), Term("W_in", x.w, "input width"), c_in)
               if (x.h, x.w) != (1, 1) else c_in)
        neurons = Term("N", n, "number of neurons")
        step.working |= {
            "weights": equals(_times(fan, neurons), step.weights, sep=True),
            "biases": (stated(n, note="one per neuron") if step.biases
                       else stated(0, note="nobias")),
            "macs": equals(_times(fan, neurons), step.macs, sep=True),
            "c": stated(n, unit="neurons")}
    return step


def _times(fan: Expr, n: Term) -> Op:
    """``fan*n`` with a product's factors flattened: ``6*6*256*4096``."""
    return mul(*fan.args, n) if isinstance(fan, Op) else mul(fan, n)


def bn(layer: Layer, x: Volume, explain: bool = False) -> Step:
    """BatchNorm2d: 2C learnable parameters (C scales as weights, C shifts as biases)."""
    _check_cin(layer, x.c, "channels")
    step = Step(x, weights=x.c, biases=x.c, explain=explain)
    if explain:
        step.working["weights"] = stated(x.c, note="one scale per channel")
        step.working["biases"] = stated(x.c, note="one shift per channel")
    return step


def padchannels(layer: Layer, x: Volume, explain: bool = False) -> Step:
    """Zero-pad the channels to ``out`` (ResNet option-A shortcut): no parameters."""
    n = _int(layer, "out")
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
    n = _int(layer, "out", 1)
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
    g = _int(layer, "groups", 1)
    if x.c % g:
        raise SpecError(f"channelshuffle {g}: the groups must divide the {x.c} channels",
                        layer.line, layer.name)
    return Step(x, explain=explain)


def convtranspose(layer: Layer, x: Volume, explain: bool = False) -> Step:
    """ConvTranspose2d: out = (n - 1)*s - 2p + d*(k - 1) + outpad + 1 per axis;
    weights = C_in*(N/groups)*kh*kw; biases = N; macs = H_in*W_in*C_in*(N/groups)*kh*kw, over
    the input as torch's flop counter counts them (each input value meets every tap once).

    Receptive field: a unit reads at most floor(d*(k-1)/s) + 1 neighbouring input units, which
    step by 1/s of an input unit from one output unit to the next; its centre is the middle of
    the inputs that reach it, (o + p - d*(k-1)/2)/s."""
    n, g = _int(layer, "out"), _int(layer, "groups", 1)
    if x.c % g or n % g:
        raise SpecError(f"groups {g} must divide both the input channels ({x.c}) and the number "
                        f"of filters ({n})", layer.line, layer.name)
    _check_cin(layer, x.c, "channels")
    step = Step(x, explain=explain)
    sizes, wins = [], []
    for axis, size in (("h", x.h), ("w", x.w)):
        k, st, p = _int(layer, f"k{axis}"), _int(layer, f"s{axis}", 1), _int(layer, f"p{axis}")
        d, op_ = _int(layer, f"d{axis}", 1), _int(layer, f"op{axis}")
        out = (size - 1) * st - 2 * p + d * (k - 1) + op_ + 1
        if out < 1:
            raise SpecError(f"convtranspose gives {out} along {axis.upper()}: (n - 1)*s - 2p + "
                            f"d*(k - 1) + outpad + 1 = ({size} - 1)*{st} - 2*{p} + {d}*({k} - 1)"
                            f" + {op_} + 1; use less padding", layer.line, layer.name)
        sizes.append(out)
        reach = d * (k - 1) // st + 1
        wins.append(Window(reach, Fraction(1, st),
                           Fraction(reach - 1, 2) - Fraction(2 * p - d * (k - 1), 2 * st)))
        if explain:
            what = "height" if axis == "h" else "width"
            expr = add(sub(mul(Group(sub(Term(f"{axis.upper()}_in", size, f"input {what}"),
                                         Num(1))), Term(f"S_{axis}", st, f"stride ({what})")),
                           mul(Num(2), Term(f"P_{axis}", p, f"padding ({what})"))),
                       mul(Term("D", d, "dilation"), Group(sub(Term(f"K_{axis}", k,
                                                                   f"kernel {what}"), Num(1)))),
                       Term(f"OP_{axis}", op_, f"output padding ({what})"), Num(1))
            step.working[axis] = equals(expr, out)
    kh, kw = _int(layer, "kh"), _int(layer, "kw")
    step.out = Volume(sizes[0], sizes[1], n)
    step.rf = (wins[0], wins[1])
    step.weights = x.c * (n // g) * kh * kw
    step.biases = n if layer.attrs.get("bias", True) else 0
    step.macs = x.h * x.w * x.c * (n // g) * kh * kw
    if explain:
        per = (Term("N", n, "number of filters") if g == 1
               else Group(div(Term("N", n, "number of filters"), Term("G", g, "groups"))))
        taps = (Term("K_h", kh, "kernel height"), Term("K_w", kw, "kernel width"))
        c_in = Term("C_in", x.c, "input channels")
        step.working |= {
            "c": stated(n, unit="filters"),
            "weights": equals(mul(c_in, per, *taps), step.weights, sep=True),
            "biases": (stated(n, note="one per filter") if step.biases
                       else stated(0, note="nobias")),
            "macs": equals(mul(mul(Term("H_in", x.h, "input height"),
                                   Term("W_in", x.w, "input width"), c_in),
                               mul(per, *taps), spaced=True), step.macs, sep=True)}
    return step


def upsample(layer: Layer, x: Volume, explain: bool = False) -> Step:
    """Upsample by a whole factor F: H*F x W*F x C; no parameters, 0 macs.

    Receptive field: output units step by 1/F of an input unit. Nearest reads one input unit
    (the field keeps its size); bilinear reads two neighbours (the field grows by one jump),
    centred on its sampling position (i + 1/2)/F - 1/2. The centre is a linear model: nearest
    neighbours repeat each input F times, so a unit's true centre is within (F-1)/F of a jump
    of it."""
    f = _int(layer, "factor")  # the registry fills in its default
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
    r = _int(layer, "factor")
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


# --- merges of named inputs -------------------------------------------------------------------


def needs_inputs(layer: Layer, x: Volume, explain: bool = False) -> Step:
    """A merge reads the layers it joins by name; on one input alone it has nothing to do."""
    raise SpecError(f"{layer.op} names the layers it joins, e.g. '{layer.op} a b'",
                    layer.line, layer.name)


def _input_names(layer: Layer, n: int) -> list[str]:
    names = list(layer.inputs)
    return names if len(names) == n else [f"input {i}" for i in range(1, n + 1)]


def concat_inputs(layer: Layer, xs: tuple[Volume, ...], explain: bool = False) -> Step:
    """Concatenation along depth: H x W must agree; C_out = C_1 + ... + C_n; no parameters,
    0 macs; the output is a new tensor."""
    names, first = _input_names(layer, len(xs)), xs[0]
    for name, v in zip(names[1:], xs[1:], strict=True):
        if (v.h, v.w) != (first.h, first.w):
            raise SpecError(f"concat '{layer.name}': {names[0]} gives {first} but {name} gives "
                            f"{v}; spatial sizes must agree to concatenate (crop the larger: "
                            f"'crop to {names[0]} from {name}')", layer.line, layer.name)
    step = Step(Volume(first.h, first.w, sum(v.c for v in xs)), explain=explain)
    if explain:
        step.working["c"] = equals(add(*(Term(f"C_{i}", v.c, f"channels of {n}")
                                         for i, (n, v) in enumerate(zip(names, xs, strict=True),
                                                                    start=1))), step.out.c)
    return step


def add_inputs(layer: Layer, xs: tuple[Volume, ...], explain: bool = False) -> Step:
    """Element-wise sum: every input's shape must be the same; no parameters, 0 macs (the
    additions are not counted); the output is a new tensor."""
    names, first = _input_names(layer, len(xs)), xs[0]
    for name, v in zip(names[1:], xs[1:], strict=True):
        if v != first:
            raise SpecError(f"add '{layer.name}': {names[0]} gives {first} but {name} gives "
                            f"{v}; shapes must match to be added", layer.line, layer.name)
    step = Step(first, explain=explain)
    if explain:
        step.working["c"] = stated(first.c, note=f"sum of {len(xs)} tensors of equal shape")
    return step


def mul_inputs(layer: Layer, xs: tuple[Volume, ...], explain: bool = False) -> Step:
    """Element-wise product with broadcasting: along each axis the inputs agree or are 1 (a
    1x1xC gate scales each channel of an H x W x C map); the output takes the largest size
    along each axis. No parameters; the products are not counted as macs."""
    names = _input_names(layer, len(xs))
    sizes = []
    for axis in range(3):
        most = max(v[axis] for v in xs)
        for name, v in zip(names, xs, strict=True):
            if v[axis] not in (1, most):
                wide = next(n for n, u in zip(names, xs, strict=True) if u[axis] == most)
                raise SpecError(f"mul '{layer.name}': {name} gives {v} and {wide} gives "
                                f"{xs[names.index(wide)]}; along {'HWC'[axis]} each input must "
                                f"have the same size or 1 (broadcast)", layer.line, layer.name)
        sizes.append(most)
    step = Step(Volume(*sizes), explain=explain)
    if explain:
        step.working["c"] = stated(sizes[2], note=f"product of {len(xs)} tensors, a size of 1 "
                                                  f"broadcast")
    return step
