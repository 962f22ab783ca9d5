"""PyTorch module lines pasted into a spec, read as the layers they name.

Both the constructor form (``nn.Conv2d(64, 128, 3, stride=2, padding=1)``) and the form
``print(model)`` writes (``(conv1): Conv2d(3, 64, kernel_size=(7, 7), stride=(2, 2),
padding=(3, 3), bias=False)``) are read, with positional and keyword arguments in PyTorch's own
order. Arguments that only state what the input must be (``in_channels``, ``in_features``,
``num_features``) are kept and checked against the volume that reaches the layer. Lines that
only open or close a container (``nn.Sequential(``, ``)``) are skipped.
"""

from __future__ import annotations

import ast
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
    call = _parse_call(text[m.start("cls"):m.end("args") + 1], cls, line)
    given = _bind(call, params, cls, line)
    return op, convert(given, line), m["name"]


#: the longest call read (a spec line is shorter still); bounds the parser's work
MAX_CALL = 2_000


def _parse_call(text: str, cls: str, line: int) -> ast.Call:
    """The call as Python reads it: what Python refuses (a positional argument after a
    keyword, unbalanced brackets) is refused here with Python's own reason."""
    if len(text) > MAX_CALL:
        raise SpecError(f"the {cls}(...) call has {len(text):,} characters; at most "
                        f"{MAX_CALL:,} are read", line)
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise SpecError(f"{cls}(...) is not valid Python: {exc.msg}", line) from None
    except (RecursionError, MemoryError, ValueError):
        raise SpecError(f"{cls}(...) is nested too deeply to read", line) from None
    if not isinstance(tree.body, ast.Call):
        raise SpecError(f"one module a line: '{short(text)}' is not one {cls}(...) call", line)
    return tree.body


def _bind(call: ast.Call, params: tuple[str, ...], cls: str, line: int) -> Args:
    """The arguments by parameter name, bound as Python binds them; what Python or the
    constructor refuses (too many, repeated, unknown) is refused with its reason."""
    if params == ANY_ARGS:  # Identity, Sigmoid, Tanh: torch takes and ignores anything
        params = ()
        call = ast.Call(call.func, [], [])
    out: Args = {}
    for i, node in enumerate(call.args):
        if isinstance(node, ast.Starred):
            raise SpecError(f"{cls}: cannot read *{short(ast.unparse(node.value))}; write the "
                            f"arguments out", line)
        if i >= len(params):
            raise SpecError(f"{cls} takes at most {len(params)} positional arguments, got "
                            f"{len(call.args)}", line)
        out[params[i]] = _value(node, line)
    for kw in call.keywords:
        if kw.arg is None:
            raise SpecError(f"{cls}: cannot read **{short(ast.unparse(kw.value))}; write the "
                            f"arguments out", line)
        if kw.arg in out:  # Python's and torch's words for the two ways to give one twice
            twice = sum(k.arg == kw.arg for k in call.keywords) > 1
            raise SpecError(f"{cls}: " + ("keyword argument repeated" if twice else
                                          "got multiple values for argument") + f" '{kw.arg}'",
                            line)
        out[kw.arg] = _value(kw.value, line)
    unknown = sorted(set(out) - set(params))
    if unknown:
        hint = suggest(unknown[0], params)
        raise SpecError(f"{cls}: unknown argument {', '.join(unknown)}{hint}", line)
    return out


def _value(node: ast.expr, line: int) -> Any:
    """A literal argument: a number, a short string, True/False/None, or a tuple or list of
    them (a list read as a tuple, as torch does)."""
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        value = _UNREADABLE
    if isinstance(value, list):
        value = tuple(value)
    items = value if isinstance(value, tuple) else (value,)
    if value is _UNREADABLE or not all(_plain(v) for v in items):
        raise SpecError(f"cannot read the argument '{short(ast.unparse(node))}' (archcalc reads "
                        f"numbers, strings, True, False, None and tuples of them)", line)
    return value


_UNREADABLE = object()


def _plain(value: Any) -> bool:
    return (value is None or isinstance(value, (bool, int, float))
            or (isinstance(value, str) and len(value) <= 40))


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _pair(value: Any, what: str, line: int) -> tuple[int, int]:
    """A size as torch's ``_pair`` takes it: one whole number, or exactly two."""
    if _whole(value):
        return (value, value)
    if isinstance(value, tuple) and len(value) == 2 and all(_whole(v) for v in value):
        return (value[0], value[1])
    raise SpecError(f"{what} must be a whole number or a pair of them (not negative), got "
                    f"{short(repr(value))}", line)


def _int(value: Any, what: str, line: int) -> int:
    if not _whole(value):
        raise SpecError(f"{what} must be a whole number (not negative), got "
                        f"{short(repr(value))}", line)
    result: int = value
    return result


def _number(value: Any, what: str, line: int) -> float:
    if not isinstance(value, (int, float)):  # a bool is a number to torch, as to Python
        raise SpecError(f"{what} must be a number, got {short(repr(value))}", line)
    return float(value)


def _window(g: Args, line: int, stride_default_kernel: bool, conv: bool) -> Args:
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
    if isinstance(padding, str):
        if not conv or padding not in ("same", "valid"):
            takes = "'same', 'valid', " if conv else ""
            raise SpecError(f"padding must be {takes}a whole number or a pair, got "
                            f"{short(repr(padding))}", line)
        if padding == "same":
            if args["stride"] != (1, 1):  # torch's own refusal, in its words
                raise SpecError("padding='same' is not supported for strided convolutions",
                                line)
            args["pad"] = "same"
    else:
        args["pad"] = _pair(padding, "padding", line)
    if "dilation" in g:
        args["dilation"] = _pair(g["dilation"], "dilation", line)
    return args


def _conv(g: Args, line: int) -> Args:
    for need in ("in_channels", "out_channels"):
        if need not in g:
            raise SpecError(f"Conv2d needs {need}", line)
    args = {"cin": _int(g["in_channels"], "in_channels", line),
            "out": _int(g["out_channels"], "out_channels", line),
            **_window(g, line, False, conv=True)}
    if g.get("groups", 1) != 1:
        args["groups"] = _int(g["groups"], "groups", line)
    if not g.get("bias", True):  # torch tests its truth: None and 0 leave the bias out too
        args["bias"] = False
    if g.get("padding_mode", "zeros") != "zeros":
        raise SpecError("only zero padding is read (padding_mode='zeros')", line)
    return args


def _convtranspose(g: Args, line: int) -> Args:
    if isinstance(g.get("padding"), str):
        raise SpecError("ConvTranspose2d takes a whole-number padding, not "
                        f"{short(repr(g['padding']))}", line)
    args = _conv({k: v for k, v in g.items() if k != "output_padding"}, line)
    if g.get("output_padding", 0) not in (0, (0, 0)):
        args["outpad"] = _pair(g["output_padding"], "output_padding", line)
    return args


def _pixelshuffle(g: Args, line: int) -> Args:
    if "upscale_factor" not in g:
        raise SpecError("PixelShuffle needs its upscale_factor, e.g. nn.PixelShuffle(2)", line)
    return {"factor": _int(g["upscale_factor"], "upscale_factor", line)}


def _upsample(g: Args, line: int) -> Args:
    factor = g.get("scale_factor")
    if isinstance(factor, float) and factor.is_integer():
        factor = int(factor)
    if not isinstance(factor, int) or isinstance(factor, bool):
        raise SpecError("Upsample is read with a whole scale_factor (size= is not read)", line)
    mode = g.get("mode", "nearest")
    if mode == "nearest" and g.get("align_corners") is not None:  # torch refuses it
        raise SpecError("align_corners option can only be set with the interpolating modes "
                        "(bilinear, ...), not with mode 'nearest'", line)
    if mode not in ("nearest", "bilinear") or g.get("align_corners"):
        raise SpecError("Upsample is read in mode 'nearest' or 'bilinear' (align_corners "
                        "False)", line)
    return {"factor": factor, "mode": mode}


def _pool(g: Args, line: int) -> Args:
    args = _window(g, line, True, conv=False)
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
    if not g.get("bias", True):
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


def _gelu(g: Args, line: int) -> Args:
    if g.get("approximate", "none") not in ("none", "tanh"):
        raise SpecError("GELU: approximate argument must be either none or tanh", line)
    return {}


def _dims(g: Args, line: int) -> Args:
    """Softmax's ``dim`` and Flatten's ``start_dim``/``end_dim``: torch takes whole numbers
    (negative ones count from the end) and, for Softmax, None."""
    for key, value in g.items():
        if not (value is None and key == "dim") and (isinstance(value, bool)
                                                     or not isinstance(value, int)):
            raise SpecError(f"{key} must be a whole number, got {short(repr(value))}", line)
    return {}


def _dropout(g: Args, line: int) -> Args:
    return {"p": _number(g.get("p", 0.5), "p", line)}


def _leaky(g: Args, line: int) -> Args:
    return {"slope": _number(g.get("negative_slope", 0.01), "negative_slope", line)}


def _prelu(g: Args, line: int) -> Args:
    return {"out": _int(g.get("num_parameters", 1), "num_parameters", line)}


def _lrn(g: Args, line: int) -> Args:
    return {"size": _int(g.get("size", 5), "size", line)}


def _shuffle(g: Args, line: int) -> Args:
    return {"groups": _int(g.get("groups", 1), "groups", line)}


#: the parameters of a constructor that takes and ignores any arguments
ANY_ARGS = ("*args", "**kwargs")
#: each class's constructor parameters in torch's order (tests/torch checks them against
#: ``inspect.signature``), so positional arguments bind as they do in torch
_DEVICE = ("device", "dtype")
_CONV = ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups",
         "bias", "padding_mode", *_DEVICE)
_CLASSES: dict[str, tuple[str, tuple[str, ...], Reader]] = {
    "Conv2d": ("conv", _CONV, _conv),
    "ConvTranspose2d": ("convtranspose", ("in_channels", "out_channels", "kernel_size", "stride",
                                          "padding", "output_padding", "groups", "bias",
                                          "dilation", "padding_mode", *_DEVICE), _convtranspose),
    "Upsample": ("upsample", ("size", "scale_factor", "mode", "align_corners",
                              "recompute_scale_factor"), _upsample),
    "MaxPool2d": ("maxpool", ("kernel_size", "stride", "padding", "dilation", "return_indices",
                              "ceil_mode"), _pool),
    "AvgPool2d": ("avgpool", ("kernel_size", "stride", "padding", "ceil_mode",
                              "count_include_pad", "divisor_override"), _avgpool),
    "AdaptiveAvgPool2d": ("adaptiveavgpool", ("output_size",), _adaptive),
    "Linear": ("fc", ("in_features", "out_features", "bias", *_DEVICE), _linear),
    "BatchNorm2d": ("bn", ("num_features", "eps", "momentum", "affine", "track_running_stats",
                           *_DEVICE, "bias"), _bn),
    "ReLU": ("relu", ("inplace",), _none),
    "ReLU6": ("relu6", ("inplace",), _none),
    "Hardswish": ("hardswish", ("inplace",), _none),
    "Hardsigmoid": ("hardsigmoid", ("inplace",), _none),
    "SiLU": ("silu", ("inplace",), _none),
    "GELU": ("gelu", ("approximate",), _gelu),
    "LeakyReLU": ("leakyrelu", ("negative_slope", "inplace"), _leaky),
    "PReLU": ("prelu", ("num_parameters", "init", *_DEVICE), _prelu),
    "Identity": ("identity", ANY_ARGS, _none),
    "Sigmoid": ("sigmoid", ANY_ARGS, _none),
    "Tanh": ("tanh", ANY_ARGS, _none),
    "Softmax": ("softmax", ("dim",), _dims),
    "Dropout": ("dropout", ("p", "inplace"), _dropout),
    "Flatten": ("flatten", ("start_dim", "end_dim"), _dims),
    "LocalResponseNorm": ("lrn", ("size", "alpha", "beta", "k"), _lrn),
    "ChannelShuffle": ("channelshuffle", ("groups",), _shuffle),
    "PixelShuffle": ("pixelshuffle", ("upscale_factor",), _pixelshuffle),
}
