"""Turning an op's arguments (from the text or the JSON form) into a validated Layer.

Both spec readers produce the same argument dict; ``app.engine.optable.make_layer`` fills in the
op's defaults and hands it to the op's validator here, so every check (zero stride, kernel
limits, groups, dropout probability) lives in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.engine.errors import LimitError, SpecError
from app.engine.graph import AttrValue
from app.engine.limits import LIMITS

Pair = tuple[int, int]

#: validates an op's arguments (from the text or the JSON form) into its attributes
Validator = Callable[[dict[str, Any], int, str], dict[str, AttrValue]]


def _bounded(what: str, value: int, lo: int, hi: int, limit: str, line: int) -> int:
    if value < lo:
        raise SpecError(f"{what} must be at least {lo}, got {value}", line)
    if value > hi:
        raise LimitError(limit, f"{what} {value:,} exceeds the limit of {hi:,} ({limit})", line)
    return value


def _pair(args: dict[str, Any], key: str, default: Pair | None, line: int, name: str) -> Pair:
    value = args.get(key, default)
    if value is None:
        raise SpecError(f"{name}: missing {key} (e.g. 3x3)", line, name)
    h, w = value
    return int(h), int(w)


def _window(args: dict[str, Any], line: int, name: str, default_stride_is_kernel: bool,
            kernel_default: Pair | None = None) -> dict[str, AttrValue]:
    kh, kw = _pair(args, "kernel", kernel_default, line, name)
    for k in (kh, kw):
        _bounded("kernel size", k, 1, LIMITS.max_kernel, "max_kernel", line)
    sh, sw = _pair(args, "stride", (kh, kw) if default_stride_is_kernel else (1, 1), line, name)
    for s in (sh, sw):
        if s == 0:
            raise SpecError(f"{name}: stride must be at least 1, got 0", line, name)
        _bounded("stride", s, 1, LIMITS.max_stride, "max_stride", line)
    dh, dw = _pair(args, "dilation", (1, 1), line, name)
    for d in (dh, dw):
        _bounded("dilation", d, 1, LIMITS.max_dilation, "max_dilation", line)
    attrs: dict[str, AttrValue] = {"kh": kh, "kw": kw, "sh": sh, "sw": sw}
    pad = args.get("pad", (0, 0))
    if pad == "same":  # PyTorch's at stride 1; TensorFlow's SAME (set by the rule) above it
        ph, pw = dh * (kh - 1) // 2, dw * (kw - 1) // 2
        attrs["same"] = True
    elif len(pad) == 4:  # per side: top, bottom, left, right
        for p in pad:
            _bounded("padding", int(p), 0, LIMITS.max_pad, "max_pad", line)
        ph, ph2, pw, pw2 = (int(p) for p in pad)
        if ph2 != ph:
            attrs["ph2"] = ph2
        if pw2 != pw:
            attrs["pw2"] = pw2
    else:
        ph, pw = int(pad[0]), int(pad[1])
        for p in (ph, pw):
            _bounded("padding", p, 0, LIMITS.max_pad, "max_pad", line)
    attrs |= {"ph": ph, "pw": pw}
    if (dh, dw) != (1, 1):
        attrs |= {"dh": dh, "dw": dw}
    return attrs


def conv(args: dict[str, Any], line: int, name: str) -> dict[str, AttrValue]:
    depthwise = bool(args.get("depthwise", False))
    if "out" not in args and not depthwise:
        raise SpecError(f"{name}: conv needs the number of filters, e.g. 'conv 64 3x3'", line, name)
    if depthwise and "groups" in args:
        raise SpecError(f"{name}: depthwise sets the groups itself (to the input channels); "
                        f"give one or the other", line, name)
    attrs: dict[str, AttrValue] = {}
    if "out" in args:
        attrs["out"] = _bounded("number of filters", int(args["out"]), 1, LIMITS.max_channels,
                                "max_channels", line)
    attrs |= _window(args, line, name, False)
    if depthwise:
        attrs["depthwise"] = True  # groups = out = the input channels, set by the rule
    else:
        attrs["groups"] = _bounded("groups", int(args.get("groups", 1)), 1, LIMITS.max_groups,
                                   "max_groups", line)
    attrs["bias"] = bool(args.get("bias", True))
    return attrs | _cin(args, line)


def sepconv(args: dict[str, Any], line: int, name: str) -> dict[str, AttrValue]:
    if "out" not in args:
        raise SpecError(f"{name}: sepconv needs the number of pointwise filters, e.g. "
                        f"'sepconv 128 3x3'", line, name)
    attrs: dict[str, AttrValue] = {"out": _bounded("number of filters", int(args["out"]), 1,
                                                   LIMITS.max_channels, "max_channels", line)}
    attrs |= _window(args, line, name, False)
    attrs["bias"] = bool(args.get("bias", True))
    return attrs | _cin(args, line)


def crop(args: dict[str, Any], line: int, name: str) -> dict[str, AttrValue]:
    if "to" in args:
        if "kernel" in args:
            raise SpecError(f"{name}: crop to a size or to a layer, not both", line, name)
        return {"to": str(args["to"])}  # the size is the named layer's, known in the walk
    if "kernel" not in args:
        raise SpecError(f"{name}: crop needs a size or a layer, e.g. 'crop 56x56' or "
                        f"'crop to enc4'", line, name)
    oh, ow = _pair(args, "kernel", None, line, name)
    for o in (oh, ow):
        _bounded("crop size", o, 1, LIMITS.max_hw, "max_hw", line)
    return {"oh": oh, "ow": ow}


def _cin(args: dict[str, Any], line: int) -> dict[str, AttrValue]:
    """The input size a pasted PyTorch line states (in_channels, in_features), to be checked."""
    if "cin" not in args:
        return {}
    return {"cin": _bounded("input size", int(args["cin"]), 1, LIMITS.max_total, "max_total",
                            line)}


def bn(args: dict[str, Any], line: int, name: str) -> dict[str, AttrValue]:
    return _cin(args, line)


def pool(args: dict[str, Any], line: int, name: str) -> dict[str, AttrValue]:
    attrs = _window(args, line, name, True, kernel_default=(2, 2))
    if attrs.get("same"):
        if args.get("ceil"):
            raise SpecError(f"{name}: 'pad same' sets the output size itself; give 'ceil' or "
                            f"'pad same', not both", line, name)
        return attrs | {"ceil": False}
    ke_h = int(attrs.get("dh", 1)) * (int(attrs["kh"]) - 1) + 1
    ke_w = int(attrs.get("dw", 1)) * (int(attrs["kw"]) - 1) + 1
    most_h = max(int(attrs["ph"]), int(attrs.get("ph2", 0)))
    most_w = max(int(attrs["pw"]), int(attrs.get("pw2", 0)))
    if 2 * most_h > ke_h or 2 * most_w > ke_w:
        raise SpecError(f"{name}: pool padding must be at most half the kernel (PyTorch's "
                        f"rule): kernel {ke_h}x{ke_w}, pad {attrs['ph']}x{attrs['pw']}",
                        line, name)
    attrs["ceil"] = bool(args.get("ceil", False))
    return attrs


def adaptive(args: dict[str, Any], line: int, name: str) -> dict[str, AttrValue]:
    oh, ow = _pair(args, "kernel", None, line, name)
    for o in (oh, ow):
        _bounded("adaptive pool output size", o, 1, LIMITS.max_hw, "max_hw", line)
    return {"oh": oh, "ow": ow}


def fc(args: dict[str, Any], line: int, name: str) -> dict[str, AttrValue]:
    if "out" not in args:
        raise SpecError(f"{name}: fc needs the number of neurons, e.g. 'fc 4096'", line, name)
    out = _bounded("number of neurons", int(args["out"]), 1, LIMITS.max_channels,
                   "max_channels", line)
    return {"out": out, "bias": bool(args.get("bias", True))} | _cin(args, line)


def dropout(args: dict[str, Any], line: int, name: str) -> dict[str, AttrValue]:
    try:
        p = float(args["p"])
    except (OverflowError, ValueError, TypeError):
        p = float("nan")
    if not 0.0 <= p < 1.0:
        shown = str(args.get("p"))[:20]
        raise SpecError(f"{name}: dropout probability must be in [0, 1), got {shown}", line, name)
    return {"p": p}


def lrn(args: dict[str, Any], line: int, name: str) -> dict[str, AttrValue]:
    return {"size": _bounded("lrn size", int(args["size"]), 1, LIMITS.max_kernel,
                             "max_kernel", line)}


def padchannels(args: dict[str, Any], line: int, name: str) -> dict[str, AttrValue]:
    if "out" not in args:
        raise SpecError(f"{name}: padchannels needs the channel count, e.g. 'padchannels 32'",
                        line, name)
    return {"out": _bounded("channels", int(args["out"]), 1, LIMITS.max_channels, "max_channels",
                            line)}


def leakyrelu(args: dict[str, Any], line: int, name: str) -> dict[str, AttrValue]:
    try:
        slope = float(args["slope"])
    except (OverflowError, ValueError, TypeError):
        slope = float("nan")
    if not -1e6 <= slope <= 1e6:
        raise SpecError(f"{name}: the negative slope must be a number, got "
                        f"{str(args.get('slope'))[:20]}", line, name)
    return {"slope": slope}


def prelu(args: dict[str, Any], line: int, name: str) -> dict[str, AttrValue]:
    if "out" not in args:
        return {"out": 1}
    return {"out": _bounded("PReLU parameters", int(args["out"]), 1, LIMITS.max_channels,
                            "max_channels", line)}


def channelshuffle(args: dict[str, Any], line: int, name: str) -> dict[str, AttrValue]:
    if "groups" not in args:
        raise SpecError(f"{name}: channelshuffle needs its groups, e.g. 'channelshuffle 2'",
                        line, name)
    return {"groups": _bounded("groups", int(args["groups"]), 1, LIMITS.max_groups,
                               "max_groups", line)}


def convtranspose(args: dict[str, Any], line: int, name: str) -> dict[str, AttrValue]:
    if "out" not in args:
        raise SpecError(f"{name}: convtranspose needs the number of filters, e.g. "
                        f"'convtranspose 128 2x2 stride 2'", line, name)
    if args.get("pad") == "same":
        raise SpecError(f"{name}: a transposed convolution takes a numeric pad", line, name)
    if len(args.get("pad", ())) == 4:
        raise SpecError(f"{name}: a transposed convolution takes the same pad on both sides",
                        line, name)
    attrs: dict[str, AttrValue] = {
        "out": _bounded("number of filters", int(args["out"]), 1, LIMITS.max_channels,
                        "max_channels", line)}
    attrs |= _window(args, line, name, False)
    oph, opw = _pair(args, "outpad", (0, 0), line, name)
    for axis, op_, s, d in (("H", oph, attrs["sh"], attrs.get("dh", 1)),
                            ("W", opw, attrs["sw"], attrs.get("dw", 1))):
        if not 0 <= op_ < max(int(s), int(d)):
            raise SpecError(f"{name}: output padding along {axis} must be smaller than the "
                            f"stride or the dilation (PyTorch's rule), got {op_}", line, name)
    if (oph, opw) != (0, 0):
        attrs |= {"oph": oph, "opw": opw}
    attrs["groups"] = _bounded("groups", int(args.get("groups", 1)), 1, LIMITS.max_groups,
                               "max_groups", line)
    attrs["bias"] = bool(args.get("bias", True))
    return attrs | _cin(args, line)


def pixelshuffle(args: dict[str, Any], line: int, name: str) -> dict[str, AttrValue]:
    if "factor" not in args:
        raise SpecError(f"{name}: pixelshuffle needs its upscale factor, e.g. 'pixelshuffle 2'",
                        line, name)
    return {"factor": _bounded("upscale factor", int(args["factor"]), 1, LIMITS.max_stride,
                               "max_stride", line)}


def upsample(args: dict[str, Any], line: int, name: str) -> dict[str, AttrValue]:
    factor = _bounded("upsampling factor", int(args["factor"]), 1, LIMITS.max_stride,
                      "max_stride", line)
    mode = str(args["mode"])
    if mode not in ("nearest", "bilinear"):
        raise SpecError(f"{name}: upsample mode must be nearest or bilinear", line, name)
    return {"factor": factor, "mode": mode}
