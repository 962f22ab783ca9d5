"""Spec -> torch ``nn.Module``: the second interpreter of a parsed spec.

The analytic engine (:mod:`app.engine`) computes shapes, parameters and multiply-adds from
formulas; this module builds the same architecture as a real PyTorch module, so that a forward
pass can measure them. Torch is the ground truth: the cross-check tests compare both, layer by
layer, and every zoo model must agree exactly.

Conventions, chosen so that torch infers everything the engine computes:

* Weight layers are *lazy* (``LazyConv2d``, ``LazyLinear``, ``LazyBatchNorm2d``): torch infers
  input channels itself; :func:`build_module` materialises them with one dummy forward.
* Every tensor stays 4-D (N, C, H, W). ``fc`` flattens its input, applies ``Linear`` and returns
  (N, out, 1, 1); ``flatten`` returns (N, C*H*W, 1, 1). That is the engine's 1x1xN volume.
* Every layer records its output shape (H, W, C) under its name, every block merge under the
  block's name, and the input under ``net.input_name``.
* ``relu`` is in place, except at the head of a block branch (before any layer has made a new
  tensor), where working in place would overwrite the block's input, which the other branches
  (or the shortcut) still read. ``dropout`` is never in place (after an in-place ``relu`` it
  would overwrite what the relu's backward reads in a training step).
* ``aux`` side classifiers are built only with ``aux=True``; their outputs are kept in
  :attr:`SpecNet.aux_outputs`, and the main tensor passes through unchanged.
* Residual stochastic depth (Huang et al. 2016): in training the body is dropped with
  probability ``1 - survival``; in evaluation it is scaled by ``survival`` (their Eq. 5).

This is the only module outside the worker that imports torch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

from app.engine.graph import Block, Layer, Network, Node, names_read
from app.engine.result import LayerRow

Shape = tuple[int, int, int]
"""An output volume as (H, W, C), the engine's order."""

__all__ = ["BUILDERS", "Shape", "SpecNet", "build_module", "compare", "measure", "shape_of"]


def shape_of(t: Tensor) -> Shape:
    """(H, W, C) of a 4-D (N, C, H, W) tensor."""
    _, c, h, w = t.shape
    return (int(h), int(w), int(c))


@dataclass
class _Record:
    """What one forward pass saw: shapes by layer/block name, and the aux outputs."""

    shapes: dict[str, Shape] = field(default_factory=dict)
    aux_outputs: list[Tensor] = field(default_factory=list)
    #: the tensors of the rows some layer reads by name (all rows with ``keep_all``)
    values: dict[str, Tensor] = field(default_factory=dict)
    needed: frozenset[str] = frozenset()
    keep_all: bool = False

    def clear(self) -> None:
        self.shapes.clear()
        self.aux_outputs.clear()
        self.values.clear()

    def keep(self, name: str, y: Tensor) -> None:
        self.shapes[name] = shape_of(y)
        if self.keep_all or name in self.needed:
            self.values[name] = y


# --- modules that torch lacks -----------------------------------------------------------------


class _ToVector(nn.Module):
    """Flatten to (N, C*H*W, 1, 1): a vector held as a 1x1 volume."""

    def forward(self, x: Tensor) -> Tensor:
        return x.flatten(1)[:, :, None, None]


class _FullyConnected(nn.Module):
    """``fc``: flatten, ``Linear`` (input size inferred), back to (N, out, 1, 1)."""

    def __init__(self, out: int, bias: bool) -> None:
        super().__init__()
        self.linear = nn.LazyLinear(out, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        y: Tensor = self.linear(x.flatten(1))
        return y[:, :, None, None]


class _PadChannels(nn.Module):
    """Zero-pad the channels up to ``out`` (ResNet option-A shortcut); never crops."""

    def __init__(self, out: int) -> None:
        super().__init__()
        self.out = out

    def forward(self, x: Tensor) -> Tensor:
        extra = self.out - x.shape[1]
        if extra < 0:
            raise ValueError(f"padchannels {self.out}: input already has {x.shape[1]} channels")
        return nn.functional.pad(x, (0, 0, 0, 0, 0, extra))


# --- one builder per op -----------------------------------------------------------------------

Builder = Callable[[Layer, bool], nn.Module]
"""(layer, in_place_allowed) -> a module mapping (N, C, H, W) to (N, C', H', W')."""


def _int(layer: Layer, key: str, default: int) -> int:
    return int(layer.get(key, default))


def _flag(layer: Layer, key: str, default: bool) -> bool:
    return bool(layer.get(key, default))


def _pair(layer: Layer, first: str, second: str, default: int) -> tuple[int, int]:
    return (_int(layer, first, default), _int(layer, second, default))


class _Depthwise(nn.Module):
    """A conv whose groups are its input's channels, known only at the first forward."""

    def __init__(self, out: int, options: dict[str, Any]) -> None:
        super().__init__()
        self.out, self.options = out, options
        self.conv: nn.Conv2d | None = None

    def forward(self, x: Tensor) -> Tensor:
        if self.conv is None:
            c = x.shape[1]
            self.conv = nn.Conv2d(c, self.out or c, groups=c, **self.options).to(x.device)
        y: Tensor = self.conv(x)
        return y


class _ChannelsLayerNorm(nn.Module):
    """LayerNorm over the channels of an (N, C, H, W) tensor, as ConvNeXt's LayerNorm2d."""

    def __init__(self) -> None:
        super().__init__()
        self.norm: nn.LayerNorm | None = None

    def forward(self, x: Tensor) -> Tensor:
        if self.norm is None:
            self.norm = nn.LayerNorm(x.shape[1], eps=1e-6).to(x.device)
        y: Tensor = self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        return y


class _LayerScale(nn.Module):
    """x times a learnable per-channel factor (C x 1 x 1), as ConvNeXt's layer scale."""

    def __init__(self) -> None:
        super().__init__()
        self.gamma: nn.Parameter | None = None

    def forward(self, x: Tensor) -> Tensor:
        if self.gamma is None:
            self.gamma = nn.Parameter(torch.full((x.shape[1], 1, 1), 1e-6, device=x.device))
        return x * self.gamma


class _SidePad(nn.Module):
    """Padding torch's layers do not take themselves: per side (top, bottom, left, right), or
    TensorFlow's SAME at a stride above 1 (computed from the input's size, the odd one after)."""

    def __init__(self, layer: Layer, value: float) -> None:
        super().__init__()
        self.value = value
        self.tf_same = _flag(layer, "same", False)
        self.kernel = (_int(layer, "dh", 1) * (_int(layer, "kh", 1) - 1) + 1,
                       _int(layer, "dw", 1) * (_int(layer, "kw", 1) - 1) + 1)
        self.stride = _pair(layer, "sh", "sw", 1)
        ph, pw = _pair(layer, "ph", "pw", 0)
        self.sides = (pw, _int(layer, "pw2", pw), ph, _int(layer, "ph2", ph))

    def forward(self, x: Tensor) -> Tensor:
        sides = self.sides
        if self.tf_same:
            pads = []
            for n, k, s in zip(x.shape[2:], self.kernel, self.stride, strict=True):
                total = max((-(-int(n) // s) - 1) * s + k - int(n), 0)
                pads.append((total // 2, total - total // 2))
            sides = (*pads[1], *pads[0])
        return nn.functional.pad(x, sides, value=self.value)


def _needs_side_pad(layer: Layer) -> bool:
    stride = _pair(layer, "sh", "sw", 1)
    return ("ph2" in layer.attrs or "pw2" in layer.attrs
            or (_flag(layer, "same", False) and stride != (1, 1)))


def _conv(layer: Layer, in_place: bool) -> nn.Module:
    if _needs_side_pad(layer):
        plain = Layer(layer.op, layer.name, layer.line,
                      {k: v for k, v in layer.attrs.items()
                       if k not in ("same", "ph", "pw", "ph2", "pw2")}, layer.claims)
        return nn.Sequential(_SidePad(layer, 0.0), _conv(plain, in_place))
    # torch accepts padding="same" (stride 1 only), though its stubs say int or tuple
    padding: Any = "same" if _flag(layer, "same", False) else _pair(layer, "ph", "pw", 0)
    if _flag(layer, "depthwise", False):
        return _Depthwise(_int(layer, "out", 0), {
            "kernel_size": _pair(layer, "kh", "kw", 1), "stride": _pair(layer, "sh", "sw", 1),
            "padding": padding, "dilation": _pair(layer, "dh", "dw", 1),
            "bias": _flag(layer, "bias", True)})
    return nn.LazyConv2d(
        _int(layer, "out", 0), _pair(layer, "kh", "kw", 1), stride=_pair(layer, "sh", "sw", 1),
        padding=padding, dilation=_pair(layer, "dh", "dw", 1), groups=_int(layer, "groups", 1),
        bias=_flag(layer, "bias", True))


def _pool_args(layer: Layer) -> dict[str, Any]:
    kernel = _pair(layer, "kh", "kw", 1)
    stride = (_int(layer, "sh", kernel[0]), _int(layer, "sw", kernel[1]))
    return {"kernel_size": kernel, "stride": stride, "padding": _pair(layer, "ph", "pw", 0),
            "ceil_mode": _flag(layer, "ceil", False)}


def _unpadded(layer: Layer) -> Layer:
    attrs = {k: v for k, v in layer.attrs.items()
             if k not in ("ph", "pw", "ph2", "pw2", "same")}
    return Layer(layer.op, layer.name, layer.line, attrs, layer.claims)


def _pool_side_pad(layer: Layer) -> bool:
    """A pool pads with -inf (max) or zeros (avg) as its own module when torch's pool cannot:
    per side, or 'pad same' (whose two sides differ for an even kernel)."""
    return _needs_side_pad(layer) or _flag(layer, "same", False)


def _maxpool(layer: Layer, in_place: bool) -> nn.Module:
    if _pool_side_pad(layer):
        return nn.Sequential(_SidePad(layer, float("-inf")), _maxpool(_unpadded(layer), in_place))
    return nn.MaxPool2d(**_pool_args(layer), dilation=_pair(layer, "dh", "dw", 1))


def _avgpool(layer: Layer, in_place: bool) -> nn.Module:
    if _pool_side_pad(layer):
        return nn.Sequential(_SidePad(layer, 0.0), _avgpool(_unpadded(layer), in_place))
    if _pair(layer, "dh", "dw", 1) != (1, 1):
        raise ValueError(f"{layer.name}: AvgPool2d has no dilation")
    return nn.AvgPool2d(**_pool_args(layer))


class _Separable(nn.Module):
    """Depthwise kh x kw (no bias) then pointwise 1x1 with bias: Xception's SeparableConv."""

    def __init__(self, layer: Layer) -> None:
        super().__init__()
        depthwise = Layer("conv", layer.name, layer.line,
                          {k: v for k, v in layer.attrs.items() if k not in ("out", "cin")}
                          | {"depthwise": True, "bias": False}, layer.claims)
        self.depthwise = _conv(depthwise, False)
        self.pointwise = nn.LazyConv2d(_int(layer, "out", 0), 1, bias=_flag(layer, "bias", True))

    def forward(self, x: Tensor) -> Tensor:
        y: Tensor = self.pointwise(self.depthwise(x))
        return y


class _Crop(nn.Module):
    """Centre crop to (oh, ow), or to the spatial size of a second tensor given to forward."""

    def __init__(self, oh: int, ow: int) -> None:
        super().__init__()
        self.size = (oh, ow)

    def forward(self, x: Tensor, like: Tensor | None = None) -> Tensor:
        oh, ow = self.size if like is None else (int(like.shape[2]), int(like.shape[3]))
        top, left = (int(x.shape[2]) - oh) // 2, (int(x.shape[3]) - ow) // 2
        return x[:, :, top:top + oh, left:left + ow]


class _ConcatInputs(nn.Module):
    def forward(self, *xs: Tensor) -> Tensor:
        return torch.cat(xs, dim=1)


class _AddInputs(nn.Module):
    def forward(self, *xs: Tensor) -> Tensor:
        y = xs[0] + xs[1]
        for x in xs[2:]:
            y = y + x
        return y


class _MulInputs(nn.Module):
    """The product, broadcasting an input of size 1 along an axis (a 1x1xC gate)."""

    def forward(self, *xs: Tensor) -> Tensor:
        y = xs[0] * xs[1]
        for x in xs[2:]:
            y = y * x
        return y


def _adaptiveavgpool(layer: Layer, in_place: bool) -> nn.Module:
    return nn.AdaptiveAvgPool2d(_pair(layer, "oh", "ow", 1))


def _gap(layer: Layer, in_place: bool) -> nn.Module:
    return nn.AdaptiveAvgPool2d(1)


def _fc(layer: Layer, in_place: bool) -> nn.Module:
    return _FullyConnected(_int(layer, "out", 0), _flag(layer, "bias", True))


def _relu(layer: Layer, in_place: bool) -> nn.Module:
    return nn.ReLU(inplace=in_place)


def _tanh(layer: Layer, in_place: bool) -> nn.Module:
    return nn.Tanh()


def _sigmoid(layer: Layer, in_place: bool) -> nn.Module:
    return nn.Sigmoid()


def _bn(layer: Layer, in_place: bool) -> nn.Module:
    return nn.LazyBatchNorm2d()


def _lrn(layer: Layer, in_place: bool) -> nn.Module:
    return nn.LocalResponseNorm(_int(layer, "size", 5))


def _dropout(layer: Layer, in_place: bool) -> nn.Module:
    # never in place: in training, an in-place dropout after an in-place relu overwrites the
    # output relu's backward reads (torchvision's VGG and AlexNet use Dropout(p) too)
    return nn.Dropout(float(layer.get("p", 0.5)))


def _softmax(layer: Layer, in_place: bool) -> nn.Module:
    return nn.Softmax(dim=1)


def _flatten(layer: Layer, in_place: bool) -> nn.Module:
    return _ToVector()


def _padchannels(layer: Layer, in_place: bool) -> nn.Module:
    return _PadChannels(_int(layer, "out", 0))


def _activation(module: type[nn.Module], inplace: bool = False) -> Builder:
    def build(layer: Layer, in_place: bool) -> nn.Module:
        return module(inplace=in_place) if inplace else module()

    return build


def _leakyrelu(layer: Layer, in_place: bool) -> nn.Module:
    return nn.LeakyReLU(float(layer.get("slope", 0.01)), inplace=in_place)


def _prelu(layer: Layer, in_place: bool) -> nn.Module:
    return nn.PReLU(_int(layer, "out", 1))


def _convtranspose(layer: Layer, in_place: bool) -> nn.Module:
    return nn.LazyConvTranspose2d(
        _int(layer, "out", 0), _pair(layer, "kh", "kw", 1), stride=_pair(layer, "sh", "sw", 1),
        padding=_pair(layer, "ph", "pw", 0), output_padding=_pair(layer, "oph", "opw", 0),
        groups=_int(layer, "groups", 1), bias=_flag(layer, "bias", True),
        dilation=_pair(layer, "dh", "dw", 1))  # type: ignore[arg-type]  # torch takes a pair


def _upsample(layer: Layer, in_place: bool) -> nn.Module:
    mode = str(layer.get("mode", "nearest"))
    return nn.Upsample(scale_factor=_int(layer, "factor", 2), mode=mode,
                       **({"align_corners": False} if mode == "bilinear" else {}))


def _channelshuffle(layer: Layer, in_place: bool) -> nn.Module:
    return nn.ChannelShuffle(_int(layer, "groups", 1))


#: op -> builder; its keys must equal the engine's rule registry (a meta-test checks)
BUILDERS: dict[str, Builder] = {
    "conv": _conv, "maxpool": _maxpool, "avgpool": _avgpool,
    "adaptiveavgpool": _adaptiveavgpool, "gap": _gap, "fc": _fc, "relu": _relu,
    "tanh": _tanh, "sigmoid": _sigmoid, "bn": _bn, "lrn": _lrn, "dropout": _dropout,
    "softmax": _softmax, "flatten": _flatten, "padchannels": _padchannels,
    "relu6": _activation(nn.ReLU6, inplace=True), "hardswish": _activation(nn.Hardswish, True),
    "hardsigmoid": _activation(nn.Hardsigmoid), "silu": _activation(nn.SiLU, inplace=True),
    "gelu": _activation(nn.GELU), "leakyrelu": _leakyrelu, "prelu": _prelu,
    "identity": _activation(nn.Identity), "channelshuffle": _channelshuffle,
    "convtranspose": _convtranspose, "upsample": _upsample,
    "sepconv": lambda layer, in_place: _Separable(layer),
    "concat": lambda layer, in_place: _ConcatInputs(),
    "add": lambda layer, in_place: _AddInputs(),
    "mul": lambda layer, in_place: _MulInputs(),
    "crop": lambda layer, in_place: _Crop(_int(layer, "oh", 1), _int(layer, "ow", 1)),
    "layernorm": lambda layer, in_place: _ChannelsLayerNorm(),
    "layerscale": lambda layer, in_place: _LayerScale(),
}


# --- layers and blocks ------------------------------------------------------------------------


class _LayerModule(nn.Module):
    """One spec layer: runs its torch module on the tensor before it, or on the rows it names,
    and records the output shape (and the tensor, if a later layer reads it) under its name."""

    def __init__(self, layer: Layer, inner: nn.Module, record: _Record) -> None:
        super().__init__()
        self.spec_name = layer.name
        self.op = inner
        self._record = record
        self.inputs = layer.inputs
        self.like = str(layer.attrs["to"]) if "to" in layer.attrs else None

    def forward(self, x: Tensor) -> Tensor:
        values = self._record.values
        args = [values[n] for n in self.inputs] if self.inputs else [x]
        if self.like is not None:
            args.append(values[self.like])
        y: Tensor = self.op(*args)
        self._record.keep(self.spec_name, y)
        return y

    def extra_repr(self) -> str:
        return f"name={self.spec_name!r}"


class _Merge(nn.Module):
    """Base of the block modules: branches as ``nn.Sequential`` (empty = identity)."""

    def __init__(self, block: Block, branches: list[nn.Sequential], record: _Record) -> None:
        super().__init__()
        self.spec_name = block.name
        self.branches = nn.ModuleList(branches)
        self._record = record

    def _done(self, y: Tensor) -> Tensor:
        self._record.keep(self.spec_name, y)
        return y

    def extra_repr(self) -> str:
        return f"name={self.spec_name!r}"


def _same_shapes(block: str, outs: list[Tensor]) -> None:
    shapes = [shape_of(t) for t in outs]
    if len(set(shapes)) > 1:
        listed = ", ".join("x".join(map(str, s)) for s in shapes)
        raise ValueError(f"{block}: branch outputs differ ({listed})")


class _Concat(_Merge):
    """Branch outputs concatenated along channels."""

    def forward(self, x: Tensor) -> Tensor:
        return self._done(torch.cat([branch(x) for branch in self.branches], dim=1))


class _Split(_Merge):
    """The input's channels chunked equally among the branches (``x.chunk(n, dim=1)``), each
    branch run on its share, the outputs concatenated along channels (ShuffleNet V2's unit)."""

    def forward(self, x: Tensor) -> Tensor:
        shares = x.chunk(len(self.branches), dim=1)
        return self._done(torch.cat([branch(share) for branch, share
                                     in zip(self.branches, shares, strict=True)], dim=1))


class _Dense(_Merge):
    """concat(x, body(x)) along channels (a DenseNet layer)."""

    def forward(self, x: Tensor) -> Tensor:
        return self._done(torch.cat([x, self.branches[0](x)], dim=1))


class _Scale(_Merge):
    """x * body(x): the body's 1x1xC gate broadcast over the map (squeeze-and-excitation)."""

    def forward(self, x: Tensor) -> Tensor:
        return self._done(x * self.branches[0](x))


class _Join(_Merge):
    """Element-wise mean of the branch outputs (FractalNet); shapes must agree exactly."""

    def forward(self, x: Tensor) -> Tensor:
        outs = [branch(x) for branch in self.branches]
        _same_shapes(self.spec_name, outs)
        return self._done(torch.stack(outs).mean(dim=0))


class _Residual(_Merge):
    """body(x) + shortcut(x); shapes must agree exactly (no broadcasting)."""

    def __init__(self, block: Block, branches: list[nn.Sequential], record: _Record) -> None:
        super().__init__(block, branches, record)
        self.survival = block.survival

    def forward(self, x: Tensor) -> Tensor:
        p = self.survival
        if p is not None and self.training and float(torch.rand(())) >= p:
            return self._done(self.branches[1](x))
        body, shortcut = self.branches[0](x), self.branches[1](x)
        _same_shapes(self.spec_name, [body, shortcut])
        if p is not None and not self.training:
            body = body * p
        return self._done(body + shortcut)


class _Aux(_Merge):
    """A side classifier: its output is kept apart; the main tensor passes unchanged."""

    def forward(self, x: Tensor) -> Tensor:
        self._record.aux_outputs.append(self.branches[0](x))
        return x


#: ops that may hand back their input itself, or a view of it (dropout in eval mode)
_PASS_THROUGH_OPS = frozenset({"flatten", "dropout", "identity", "crop"})


def _makes_new_tensor(node: Node) -> bool:
    if isinstance(node, Layer):
        return node.op not in _PASS_THROUGH_OPS
    return node.kind != "aux"


_BLOCKS: dict[str, type[_Merge]] = {
    "concat": _Concat, "dense": _Dense, "join": _Join, "residual": _Residual, "aux": _Aux,
    "scale": _Scale, "split": _Split,
}


@dataclass(frozen=True)
class _Builder:
    record: _Record
    aux: bool

    def sequence(self, nodes: tuple[Node, ...], *, branch_head: bool) -> nn.Sequential:
        """Build nodes in order. In a branch, layers run out of place until one has made a new
        tensor: until then the tensor is the block's input, which other branches still read."""
        modules: list[nn.Module] = []
        fresh = not branch_head
        for node in nodes:
            reads = isinstance(node, Layer) and bool(node.inputs)
            module = self.node(node, in_place=fresh and not reads)
            if module is not None:
                modules.append(module)
            fresh = (fresh and not reads) or _makes_new_tensor(node)
            if node.name in self.record.needed:  # a later layer reads this very tensor
                fresh = False
        return nn.Sequential(*modules)

    def node(self, node: Node, *, in_place: bool) -> nn.Module | None:
        if isinstance(node, Layer):
            if node.op not in BUILDERS:
                raise ValueError(f"line {node.line}: unknown op {node.op!r}")
            return _LayerModule(node, BUILDERS[node.op](node, in_place), self.record)
        return self.block(node)

    def block(self, block: Block) -> nn.Module | None:
        if block.kind == "aux" and not self.aux:
            return None
        branches = [self.sequence(b, branch_head=True) for b in block.branches]
        if block.kind == "residual" and len(branches) == 1:
            branches.append(nn.Sequential())
        return _BLOCKS[block.kind](block, branches, self.record)


class SpecNet(nn.Module):
    """A parsed spec as a torch module. After each forward, :attr:`shapes` maps every layer and
    block name (and the input name) to its output (H, W, C); :attr:`aux_outputs` holds the
    auxiliary classifiers' outputs (with ``aux=True``)."""

    def __init__(self, net: Network, *, aux: bool = False) -> None:
        super().__init__()
        self._record = _Record(needed=names_read(net))
        self.input_name = net.input_name
        self.input_shape = (net.input.c, net.input.h, net.input.w)
        self.output_names = net.outputs
        self.body = _Builder(self._record, aux).sequence(net.nodes,
                                                         branch_head=net.input_name
                                                         in self._record.needed)

    @property
    def shapes(self) -> dict[str, Shape]:
        return self._record.shapes

    @property
    def aux_outputs(self) -> list[Tensor]:
        return self._record.aux_outputs

    @property
    def values(self) -> dict[str, Tensor]:
        """The tensors of the last forward kept by name: those some layer reads, and every
        row's once :attr:`keep_all` is set."""
        return self._record.values

    @property
    def keep_all(self) -> bool:
        return self._record.keep_all

    @keep_all.setter
    def keep_all(self, value: bool) -> None:
        self._record.keep_all = value

    @property
    def outputs(self) -> list[Tensor]:
        """The named outputs' tensors of the last forward (empty without an ``output`` line:
        then the forward's result is the output)."""
        return [self._record.values[n] for n in self.output_names]

    def forward(self, x: Tensor) -> Tensor:
        """The network's output; with named outputs, the first (all in :attr:`outputs`)."""
        self._record.clear()
        self._record.keep(self.input_name, x)
        out: Tensor = self.body(x)
        return self._record.values[self.output_names[0]] if self.output_names else out

    def dummy_input(self, batch: int = 1) -> Tensor:
        """Zeros of the spec's input size, (batch, C, H, W)."""
        return torch.zeros(batch, *self.input_shape)


def build_module(net: Network, *, aux: bool = False) -> SpecNet:
    """Build ``net`` as a torch module, materialise its lazy layers with one dummy forward, and
    return it in eval mode. Raises whatever torch raises (``RuntimeError``, ``ValueError``) when
    the architecture does not run, e.g. a branch mismatch or a window larger than its input."""
    module = SpecNet(net, aux=aux).eval()
    with torch.no_grad():
        module(module.dummy_input())
    return module


def measure(net: Network, *, aux: bool = False) -> dict[str, Any]:
    """Build ``net`` and measure it with one batch-1 forward pass on zeros.

    Returns ``shapes`` (name -> (H, W, C), layers, block merges and the input), ``output``
    (H, W, C), ``params`` (sum of ``p.numel()``: weights, biases and BatchNorm's scale and shift;
    running statistics are buffers, not parameters), ``macs`` (``FlopCounterMode``'s total / 2)
    and, per layer name, ``layer_params`` and ``layer_macs``. FlopCounterMode counts
    ``aten.convolution`` and matrix products (``mm``/``addmm``) at 2 FLOPs per multiply-add, bias
    additions excluded, and nothing else (no pooling, normalisation or activation), which is the
    engine's convention: conv and fc multiply-accumulates only.
    """
    module = build_module(net, aux=aux)
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        out = module(module.dummy_input())
    counts = counter.get_flop_counts()
    layers = {f"{type(module).__name__}.{path}": m for path, m in module.named_modules()
              if isinstance(m, _LayerModule)}
    return {
        "shapes": dict(module.shapes),
        "output": shape_of(out),
        "params": sum(p.numel() for p in module.parameters()),
        "macs": counter.get_total_flops() // 2,
        "layer_params": {m.spec_name: sum(p.numel() for p in m.parameters())
                         for m in layers.values()},
        "layer_macs": {m.spec_name: sum(counts.get(key, {}).values()) // 2
                       for key, m in layers.items()},
    }


def compare(net: Network, *, aux: bool = False) -> list[str]:
    """Engine vs torch on one network: one line per disagreement, empty when all agree.

    Compares every engine row's output volume (layers and block merges, by name) with the shape
    torch recorded, every name torch saw with the engine's rows, each layer's parameters and
    multiply-adds, and the totals. Raises what the engine or torch raises when either rejects
    the network.
    """
    from app.engine import analyze_network
    from app.engine.options import make_options

    analysis = analyze_network(net, make_options(aux=aux))
    seen = measure(net, aux=aux)
    torch_shapes: dict[str, Shape] = seen["shapes"]
    out: list[str] = []
    for row in analysis.layers:
        engine = (row.output.h, row.output.w, row.output.c)
        got = torch_shapes.get(row.name)
        if got != engine:
            out.append(f"{row.name} output: engine {_show(engine)}, torch {_show(got)}")
    out.extend(_compare_costs(analysis.layers, seen))
    for name in torch_shapes.keys() - {row.name for row in analysis.layers}:
        out.append(f"{name}: torch ran it, the engine has no row for it")
    for key, engine_total in (("params", analysis.totals.params), ("macs", analysis.totals.macs)):
        if seen[key] != engine_total:
            out.append(f"total {key}: engine {engine_total:,}, torch {seen[key]:,}")
    return out


def _compare_costs(rows: Sequence[LayerRow], seen: dict[str, Any]) -> list[str]:
    """Per layer: the engine's params and macs against what torch holds and counted."""
    out: list[str] = []
    for row in rows:
        for key, engine in (("params", row.params), ("macs", row.macs)):
            got = seen[f"layer_{key}"].get(row.name)
            if got is not None and got != engine:
                out.append(f"{row.name} {key}: engine {engine:,}, torch {got:,}")
    return out


def _show(shape: Shape | None) -> str:
    return "nothing" if shape is None else "x".join(map(str, shape))
