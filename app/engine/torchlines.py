"""PyTorch module lines pasted into a spec, read as the layers they name.

Both the constructor form (``nn.Conv2d(64, 128, 3, stride=2, padding=1)``) and the form
``print(model)`` writes (``(conv1): Conv2d(3, 64, kernel_size=(7, 7), stride=(2, 2),
padding=(3, 3), bias=False)``) are read, with positional and keyword arguments in PyTorch's own
order. Arguments that only state what the input must be (``in_channels``, ``in_features``,
``num_features``) are kept and checked against the volume that reaches the layer. Lines that
only open or close a container (``nn.Sequential(``, ``)``) are skipped.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from app.engine.errors import SpecError, short, suggest

_CALL = re.compile(r"\s*(?:\((?P<name>[\w.]+)\)\s*:\s*)?(?:torch\.)?(?:nn\.)?"
                   r"(?P<cls>[A-Z][A-Za-z0-9]*)\((?P<args>.*)\)\s*,?\s*")
_OPEN = re.compile(r"\s*(?:\([\w.]+\)\s*:\s*)?(?:torch\.)?(?:nn\.)?"
                   r"(?:Sequential|ModuleList|ModuleDict)\(\s*")
_CLOSE = re.compile(r"\s*\)\s*,?\s*")

Args = dict[str, Any]
#: class -> (op, its constructor's parameters in order, how they become archcalc arguments)
Reader = Callable[[Args, int], Args]


def is_container_line(text: str) -> bool:
    """``nn.Sequential(`` or a lone ``)``: structure that a flat listing needs not."""
    return bool(_OPEN.fullmatch(text) or _CLOSE.fullmatch(text))


def read_module_line(text: str, line: int) -> tuple[str, Args, str | None] | None:
    """(op, arguments, name) for a PyTorch module line, None when the text is not one."""
    m = _CALL.fullmatch(text)
    if not m:
        return None
    cls = m["cls"]
    known = _CLASSES.get(cls)
    if known is None:
        raise SpecError(f"'{short(cls)}' is not a PyTorch layer archcalc reads"
                        f"{suggest(cls, _CLASSES)}; it reads "
                        f"{', '.join(sorted(_CLASSES))}", line)
    op, params, convert = known
    given = _call_args(m["args"], params, cls, line)
    return op, convert(given, line), m["name"]


def _call_args(text: str, params: tuple[str, ...], cls: str, line: int) -> Args:
    out: Args = {}
    positional = 0
    for piece in _split(text, line):
        key, eq, value = piece.partition("=")
        if eq and re.fullmatch(r"\s*[A-Za-z_]\w*\s*", key):
            out[key.strip()] = _value(value, line)
            continue
        if positional >= len(params):
            raise SpecError(f"{cls} takes at most {len(params)} positional arguments", line)
        out[params[positional]] = _value(piece, line)
        positional += 1
    unknown = sorted(set(out) - set(params) - _IGNORED)
    if unknown:
        hint = suggest(unknown[0], params)
        raise SpecError(f"{cls}: unknown argument {', '.join(unknown)}{hint}", line)
    return out


def _split(text: str, line: int) -> list[str]:
    pieces: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in text:
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
            if depth < 0:
                raise SpecError("unbalanced parentheses in the module's arguments", line)
        if ch == "," and depth == 0:
            pieces.append("".join(current))
            current = []
        else:
            current.append(ch)
    if depth:
        raise SpecError("unbalanced parentheses in the module's arguments", line)
    pieces.append("".join(current))
    return [p.strip() for p in pieces if p.strip()]


def _value(text: str, line: int) -> Any:
    text = text.strip()
    if re.fullmatch(r"[0-9]{1,18}", text):
        return int(text)
    if re.fullmatch(r"-?[0-9]*\.?[0-9]+(?:e-?[0-9]{1,3})?", text):
        return float(text)
    if text in ("True", "False"):
        return text == "True"
    if text == "None":
        return None
    m = re.fullmatch(r"[(\[]\s*([0-9]{1,18})\s*,\s*([0-9]{1,18})\s*,?\s*[)\]]", text)
    if m:
        return (int(m[1]), int(m[2]))
    m = re.fullmatch(r"[(\[]\s*([0-9]{1,18})\s*,?\s*[)\]]", text)
    if m:
        return (int(m[1]), int(m[1]))
    m = re.fullmatch(r"""['"]([\w-]{1,20})['"]""", text)
    if m:
        return m[1]
    raise SpecError(f"cannot read the argument '{short(text)}'", line)


def _pair(value: Any, what: str, line: int) -> tuple[int, int]:
    if isinstance(value, bool) or value is None:
        raise SpecError(f"{what} must be a whole number or a pair", line)
    if isinstance(value, int):
        return (value, value)
    if isinstance(value, tuple):
        return value
    raise SpecError(f"{what} must be a whole number or a pair, got {short(str(value))}", line)


def _int(value: Any, what: str, line: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(f"{what} must be a whole number, got {short(str(value))}", line)
    return value


def _window(g: Args, line: int, stride_default_kernel: bool) -> Args:
    args: Args = {}
    if "kernel_size" not in g:
        raise SpecError("the module needs kernel_size", line)
    args["kernel"] = _pair(g["kernel_size"], "kernel_size", line)
    stride = g.get("stride")
    if stride is not None:
        args["stride"] = _pair(stride, "stride", line)
    elif not stride_default_kernel:
        args["stride"] = (1, 1)
    padding = g.get("padding", 0)
    if padding == "same":
        args["pad"] = "same"
    elif padding != "valid":
        args["pad"] = _pair(padding, "padding", line)
    if "dilation" in g:
        args["dilation"] = _pair(g["dilation"], "dilation", line)
    return args


def _conv(g: Args, line: int) -> Args:
    for need in ("in_channels", "out_channels"):
        if need not in g:
            raise SpecError(f"Conv2d needs {need}", line)
    args = {"cin": _int(g["in_channels"], "in_channels", line),
            "out": _int(g["out_channels"], "out_channels", line), **_window(g, line, False)}
    if g.get("groups", 1) != 1:
        args["groups"] = _int(g["groups"], "groups", line)
    if g.get("bias", True) is False:
        args["bias"] = False
    if g.get("padding_mode", "zeros") != "zeros":
        raise SpecError("only zero padding is read (padding_mode='zeros')", line)
    return args


def _convtranspose(g: Args, line: int) -> Args:
    args = _conv({k: v for k, v in g.items() if k != "output_padding"}, line)
    if g.get("output_padding", 0) not in (0, (0, 0)):
        args["outpad"] = _pair(g["output_padding"], "output_padding", line)
    return args


def _upsample(g: Args, line: int) -> Args:
    factor = g.get("scale_factor")
    if isinstance(factor, float) and factor.is_integer():
        factor = int(factor)
    if not isinstance(factor, int) or isinstance(factor, bool):
        raise SpecError("Upsample is read with a whole scale_factor (size= is not read)", line)
    mode = g.get("mode", "nearest")
    if mode not in ("nearest", "bilinear") or g.get("align_corners"):
        raise SpecError("Upsample is read in mode 'nearest' or 'bilinear' (align_corners "
                        "False)", line)
    return {"factor": factor, "mode": mode}


def _pool(g: Args, line: int) -> Args:
    args = _window(g, line, True)
    if g.get("ceil_mode"):
        args["ceil"] = True
    return args


def _avgpool(g: Args, line: int) -> Args:
    args = _pool(g, line)
    if g.get("count_include_pad", True) is False or g.get("divisor_override") is not None:
        pass  # the division does not change shapes, parameters or multiply-adds
    return args


def _adaptive(g: Args, line: int) -> Args:
    if "output_size" not in g:
        raise SpecError("AdaptiveAvgPool2d needs output_size", line)
    return {"kernel": _pair(g["output_size"], "output_size", line)}


def _linear(g: Args, line: int) -> Args:
    for need in ("in_features", "out_features"):
        if need not in g:
            raise SpecError(f"Linear needs {need}", line)
    args: Args = {"cin": _int(g["in_features"], "in_features", line),
                  "out": _int(g["out_features"], "out_features", line)}
    if g.get("bias", True) is False:
        args["bias"] = False
    return args


def _bn(g: Args, line: int) -> Args:
    if "num_features" not in g:
        raise SpecError("BatchNorm2d needs num_features", line)
    if g.get("bias", True) is False:
        raise SpecError("BatchNorm2d(bias=False) has scales but no shifts; archcalc's bn counts "
                        "both (2C)", line)
    if g.get("affine", True) is False:
        raise SpecError("BatchNorm2d(affine=False) has no parameters; archcalc's bn counts "
                        "2C (write it as a layer without parameters instead)", line)
    return {"cin": _int(g["num_features"], "num_features", line)}


def _none(g: Args, line: int) -> Args:
    return {}


def _dropout(g: Args, line: int) -> Args:
    return {"p": float(g.get("p", 0.5))}


def _leaky(g: Args, line: int) -> Args:
    return {"slope": float(g.get("negative_slope", 0.01))}


def _prelu(g: Args, line: int) -> Args:
    return {"out": _int(g.get("num_parameters", 1), "num_parameters", line)}


def _lrn(g: Args, line: int) -> Args:
    return {"size": _int(g.get("size", 5), "size", line)}


def _shuffle(g: Args, line: int) -> Args:
    return {"groups": _int(g.get("groups", 1), "groups", line)}


#: arguments that change nothing archcalc counts
_IGNORED = frozenset({"inplace", "eps", "momentum", "track_running_stats", "device", "dtype",
                      "return_indices", "dim", "approximate", "start_dim", "end_dim", "alpha",
                      "beta", "k", "init", "padding_mode", "affine", "count_include_pad",
                      "divisor_override", "recompute_scale_factor"})
_CONV = ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups",
         "bias", "padding_mode")
_CLASSES: dict[str, tuple[str, tuple[str, ...], Reader]] = {
    "Conv2d": ("conv", _CONV, _conv),
    "ConvTranspose2d": ("convtranspose", ("in_channels", "out_channels", "kernel_size", "stride",
                                          "padding", "output_padding", "groups", "bias",
                                          "dilation", "padding_mode"), _convtranspose),
    "Upsample": ("upsample", ("size", "scale_factor", "mode", "align_corners"), _upsample),
    "MaxPool2d": ("maxpool", ("kernel_size", "stride", "padding", "dilation", "return_indices",
                              "ceil_mode"), _pool),
    "AvgPool2d": ("avgpool", ("kernel_size", "stride", "padding", "ceil_mode",
                              "count_include_pad", "divisor_override"), _avgpool),
    "AdaptiveAvgPool2d": ("adaptiveavgpool", ("output_size",), _adaptive),
    "Linear": ("fc", ("in_features", "out_features", "bias"), _linear),
    "BatchNorm2d": ("bn", ("num_features", "eps", "momentum", "affine", "track_running_stats",
                           "bias"), _bn),
    "ReLU": ("relu", ("inplace",), _none),
    "ReLU6": ("relu6", ("inplace",), _none),
    "Hardswish": ("hardswish", ("inplace",), _none),
    "Hardsigmoid": ("hardsigmoid", ("inplace",), _none),
    "SiLU": ("silu", ("inplace",), _none),
    "GELU": ("gelu", ("approximate",), _none),
    "LeakyReLU": ("leakyrelu", ("negative_slope", "inplace"), _leaky),
    "PReLU": ("prelu", ("num_parameters", "init"), _prelu),
    "Identity": ("identity", (), _none),
    "Sigmoid": ("sigmoid", (), _none),
    "Tanh": ("tanh", (), _none),
    "Softmax": ("softmax", ("dim",), _none),
    "Dropout": ("dropout", ("p", "inplace"), _dropout),
    "Flatten": ("flatten", ("start_dim", "end_dim"), _none),
    "LocalResponseNorm": ("lrn", ("size", "alpha", "beta", "k"), _lrn),
    "ChannelShuffle": ("channelshuffle", ("groups",), _shuffle),
}
