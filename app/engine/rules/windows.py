"""Rules of the ops that slide a window or a weight matrix: conv, sepconv, the pools, fc,
convtranspose, and crop."""

from __future__ import annotations

from fractions import Fraction

from app.engine.errors import SpecError
from app.engine.graph import Layer, Volume
from app.engine.maths import OutLen, ceil_div, k_eff, show_fraction, whole_fixes, window_out_len
from app.engine.rules.step import Step, Window, check_cin, int_attr
from app.engine.working import (
    Call,
    Equation,
    Expr,
    Group,
    Num,
    Op,
    Term,
    add,
    div,
    equals,
    mul,
    stated,
    sub,
)


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
    if (int_attr(layer, "sh", 1), int_attr(layer, "sw", 1)) != (1, 1):
        return _tf_same(layer, x, step)
    wins = []
    for axis, n, k, d in (("H", x.h, int_attr(layer, "kh"), int_attr(layer, "dh", 1)),
                          ("W", x.w, int_attr(layer, "kw"), int_attr(layer, "dw", 1))):
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
    for axis, n, k, s, d in (("H", x.h, int_attr(layer, "kh"), int_attr(layer, "sh", 1),
                              int_attr(layer, "dh", 1)),
                             ("W", x.w, int_attr(layer, "kw"), int_attr(layer, "sw", 1),
                              int_attr(layer, "dw", 1))):
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
        n = int_attr(layer, "out", x.c)
    else:
        n, g = int_attr(layer, "out"), int_attr(layer, "groups", 1)
    if x.c % g or n % g:
        raise SpecError(f"groups {g} must divide both the input channels ({x.c}) and the number "
                        f"of filters ({n})", layer.line, layer.name)
    check_cin(layer, x.c, "channels")
    kh, kw, cin = int_attr(layer, "kh"), int_attr(layer, "kw"), x.c // g
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
    n, c = int_attr(layer, "out"), x.c
    check_cin(layer, c, "channels")
    kh, kw = int_attr(layer, "kh"), int_attr(layer, "kw")
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
    oh, ow = int_attr(layer, "oh"), int_attr(layer, "ow")
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
    oh, ow = int_attr(layer, "oh"), int_attr(layer, "ow")
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
    n = int_attr(layer, "out")
    check_cin(layer, x.size, "features (H*W*C)")
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


def convtranspose(layer: Layer, x: Volume, explain: bool = False) -> Step:
    """ConvTranspose2d: out = (n - 1)*s - 2p + d*(k - 1) + outpad + 1 per axis;
    weights = C_in*(N/groups)*kh*kw; biases = N; macs = H_in*W_in*C_in*(N/groups)*kh*kw, over
    the input as torch's flop counter counts them (each input value meets every tap once).

    Receptive field: a unit reads at most floor(d*(k-1)/s) + 1 neighbouring input units, which
    step by 1/s of an input unit from one output unit to the next; its centre is the middle of
    the inputs that reach it, (o + p - d*(k-1)/2)/s."""
    n, g = int_attr(layer, "out"), int_attr(layer, "groups", 1)
    if x.c % g or n % g:
        raise SpecError(f"groups {g} must divide both the input channels ({x.c}) and the number "
                        f"of filters ({n})", layer.line, layer.name)
    check_cin(layer, x.c, "channels")
    step = Step(x, explain=explain)
    sizes, wins = [], []
    for axis, size in (("h", x.h), ("w", x.w)):
        k, st, p = int_attr(layer, f"k{axis}"), int_attr(layer, f"s{axis}", 1), int_attr(layer, f"p{axis}")
        d, op_ = int_attr(layer, f"d{axis}", 1), int_attr(layer, f"op{axis}")
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
    kh, kw = int_attr(layer, "kh"), int_attr(layer, "kw")
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
