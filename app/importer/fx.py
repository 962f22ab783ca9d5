"""Read a PyTorch ``nn.Module`` with torch.fx into the importer's graph.

The module is traced symbolically (modules of ``torch.nn`` are leaves, as fx makes them, and so
are torchvision's LayerNorm2d and StochasticDepth), and one forward pass on zeros at the given
input (fx's ShapeProp) gives every value's shape: the reader needs it to tell a Linear layer
applied channels-last (ConvNeXt's MLP: a 1x1 convolution) from a classifier. Each node becomes
a spec layer, a merge, or an alias (views such as ``permute`` and ``contiguous`` add nothing);
anything else is refused by name.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import torch
import torch.fx as fx
from torch import nn
from torch.fx.passes.shape_prop import ShapeProp

from app.importer.graph import Graph, Node, Refusal

Layout = str  # "nchw", "nhwc" or "flat"


class _Tracer(fx.Tracer):
    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        if type(m).__name__ in ("LayerNorm2d", "StochasticDepth"):
            return True
        return super().is_leaf_module(m, qualname)


def _pair(v: Any) -> tuple[int, int]:
    if isinstance(v, int):
        return v, v
    a, b = v
    return int(a), int(b)


def _hw(v: tuple[int, int]) -> str:
    return str(v[0]) if v[0] == v[1] else f"{v[0]}x{v[1]}"


def window(kernel: Any, stride: Any, pad: Any, dilation: Any = 1, pool: bool = False) -> str:
    """``3x3 stride 2 pad 1`` with the defaults (stride 1, pad 0, dilation 1) left out; a pool's
    stride is always written (the spec's pools default to the kernel, PyTorch's too, but a
    written stride 1 must stay 1)."""
    k, s, d = _pair(kernel), _pair(stride), _pair(dilation)
    parts = [f"{k[0]}x{k[1]}"]
    if s != (1, 1) or pool:
        parts.append(f"stride {_hw(s)}")
    if isinstance(pad, str):
        parts.append("pad same" if pad == "same" else "")
    elif _pair(pad) != (0, 0):
        parts.append(f"pad {_hw(_pair(pad))}")
    if d != (1, 1):
        parts.append(f"dilation {_hw(d)}")
    return " ".join(p for p in parts if p)


class Unsupported(Exception):
    """One node the spec language cannot express (becomes a :class:`Refusal`)."""


def _conv(m: nn.Conv2d) -> str:
    if m.padding_mode != "zeros":
        raise Unsupported(f"padding_mode {m.padding_mode!r} (only zero padding is counted)")
    text = f"conv {m.out_channels} " + window(m.kernel_size, m.stride, m.padding, m.dilation)
    if m.groups != 1:
        text += " depthwise" if m.groups == m.in_channels else f" groups {m.groups}"
    return text + ("" if m.bias is not None else " nobias")


def _convtranspose(m: nn.ConvTranspose2d) -> str:
    text = f"convtranspose {m.out_channels} " + window(m.kernel_size, m.stride, m.padding,
                                                        m.dilation)
    if _pair(m.output_padding) != (0, 0):
        text += f" outpad {_hw(_pair(m.output_padding))}"
    if m.groups != 1:
        text += f" groups {m.groups}"
    return text + ("" if m.bias is not None else " nobias")


def _pool(kind: str, kernel: Any, stride: Any, pad: Any, ceil: bool, dilation: Any = 1) -> str:
    stride = kernel if stride is None or stride == [] else stride
    return f"{kind} " + window(kernel, stride, pad, dilation, pool=True) + (
        " ceil" if ceil else "")


def _adaptive(size: Any) -> str:
    h, w = _pair(size)
    return "gap" if (h, w) == (1, 1) else f"adaptiveavgpool {h}x{w}"


def _bn(m: nn.BatchNorm2d) -> str:
    if not m.affine:
        raise Unsupported("BatchNorm2d without affine parameters (the spec's bn has 2C)")
    return "bn"


def _layernorm(m: nn.LayerNorm, layout: Layout) -> str:
    if type(m).__name__ != "LayerNorm2d" and layout != "nhwc":
        raise Unsupported("LayerNorm over other than the channels of a channels-last map")
    if len(m.normalized_shape) != 1 or not m.elementwise_affine or m.bias is None:
        raise Unsupported("LayerNorm over more than the channels, or without weight and bias")
    return "layernorm"


def _upsample(m: nn.Upsample) -> str:
    f = m.scale_factor
    if m.size is not None or f is None or float(f if not isinstance(f, tuple) else f[0]) % 1:
        raise Unsupported("Upsample other than by a whole scale_factor")
    factor = int(f if not isinstance(f, tuple) else f[0])
    if m.mode not in ("nearest", "bilinear"):
        raise Unsupported(f"Upsample mode {m.mode!r}")
    return f"upsample {factor} {m.mode}"


_PLAIN: dict[type[nn.Module], str] = {
    nn.ReLU: "relu", nn.ReLU6: "relu6", nn.Hardswish: "hardswish", nn.Hardsigmoid: "hardsigmoid",
    nn.SiLU: "silu", nn.GELU: "gelu", nn.Sigmoid: "sigmoid", nn.Tanh: "tanh",
    nn.Flatten: "flatten",
}
_ALIAS_MODULES = (nn.Identity,)


def module_text(m: nn.Module, layout: Layout) -> str | None:
    """The spec text of a leaf module; None for one that passes its input on unchanged."""
    if isinstance(m, _ALIAS_MODULES) or type(m).__name__ == "StochasticDepth":
        return None
    for cls, text in _PLAIN.items():
        if type(m) is cls:
            return text
    rule = _MODULE_RULES.get(type(m)) or _MODULE_RULES.get(type(m).__mro__[1])
    if rule is None:
        raise Unsupported(f"no spec op for {type(m).__name__}")
    return rule(m, layout)


_MODULE_RULES: dict[type[nn.Module], Callable[[Any, Layout], str]] = {
    nn.Conv2d: lambda m, _: _conv(m),
    nn.ConvTranspose2d: lambda m, _: _convtranspose(m),
    nn.BatchNorm2d: lambda m, _: _bn(m),
    nn.MaxPool2d: lambda m, _: _pool("maxpool", m.kernel_size, m.stride, m.padding, m.ceil_mode,
                                     m.dilation),
    nn.AvgPool2d: lambda m, _: _pool("avgpool", m.kernel_size, m.stride, m.padding, m.ceil_mode),
    nn.AdaptiveAvgPool2d: lambda m, _: _adaptive(m.output_size),
    nn.Dropout: lambda m, _: f"dropout {m.p:g}",
    nn.Dropout2d: lambda m, _: f"dropout {m.p:g}",
    nn.LeakyReLU: lambda m, _: f"leakyrelu {m.negative_slope:g}",
    nn.PReLU: lambda m, _: "prelu" if m.num_parameters == 1 else f"prelu {m.num_parameters}",
    nn.LocalResponseNorm: lambda m, _: f"lrn size {m.size}",
    nn.Softmax: lambda m, _: "softmax",
    nn.ChannelShuffle: lambda m, _: f"channelshuffle {m.groups}",
    nn.Upsample: lambda m, _: _upsample(m),
    nn.PixelShuffle: lambda m, _: f"pixelshuffle {m.upscale_factor}",
    nn.LayerNorm: _layernorm,
}


class FxReader:
    """One traced module -> :class:`Graph` plus the refused nodes."""

    def __init__(self, model: nn.Module, size: tuple[int, int, int]) -> None:
        self.model = model
        self.modules = dict(model.named_modules())
        self.alias: dict[str, str] = {}
        self.layout: dict[str, Layout] = {}
        self.shape: dict[str, tuple[int, ...]] = {}
        self.refused: list[Refusal] = []
        self.refused_nodes: set[str] = set()
        #: NamedTuples of outputs (GoogLeNetOutputs, InceptionOutputs): their tensors
        self.tuples: dict[str, list[fx.Node]] = {}
        self.names: set[str] = set()
        self.used_params: set[int] = set()
        #: x.chunk(n, dim=1) nodes: their input value and n
        self.chunks: dict[str, tuple[str, int]] = {}
        self.graph = Graph("", size)
        #: what was left out, by kind (modules that pass their input on, layout changes)
        self.left_out: dict[str, int] = {}

    def read(self) -> Graph:
        traced = self._trace()
        for node in traced.graph.nodes:
            meta = node.meta.get("tensor_meta")
            if meta is not None and hasattr(meta, "shape"):
                self.shape[node.name] = tuple(meta.shape)
            try:
                self._node(node)
            except Unsupported as exc:
                self._refuse(node, str(exc))
        return self.graph

    def _trace(self) -> fx.GraphModule:
        from app.importer.tv import channel_shuffle_functions

        tracer = _Tracer(autowrap_functions=channel_shuffle_functions())
        g = tracer.trace(self.model)
        gm = fx.GraphModule(tracer.root, g, type(self.model).__name__)
        h, w, c = self.graph.input_shape
        # on the parameters' device: a model built on "meta" propagates shapes without
        # computing anything (no memory for activations, no time for the convolutions)
        device = next((p.device for p in self.model.parameters()), torch.device("cpu"))
        with torch.no_grad():
            ShapeProp(gm).propagate(torch.zeros(1, c, h, w, device=device))
        return gm

    def _refuse(self, node: fx.Node, reason: str) -> None:
        target = node.target if isinstance(node.target, str) else getattr(
            node.target, "__name__", str(node.target))
        ins = self._tensor_inputs(node)
        name = self._display(node) if ins else node.name
        self.refused.append(Refusal(name, str(target), reason))
        self.refused_nodes.add(name)
        if ins:  # kept as a pass-through so the rest still reads; the spec says REFUSED
            self.graph.add(Node(name, "layer", (ins[0],), "identity",
                                f"REFUSED {target}: {reason}"))
            self.layout[name] = self.layout.get(ins[0], "nchw")

    def _display(self, node: fx.Node) -> str:
        """The spec name of a node: a module's own qualified name (fx's, dots as underscores);
        a function called inside a module gets that module's name before its own
        (``F.relu`` in ``conv1`` -> ``conv1_relu``), so blocks are named after their modules."""
        stack = node.meta.get("nn_module_stack")
        if node.op == "call_module":
            name = str(node.target).replace(".", "_")
        elif not stack:
            name = node.name
        else:
            scope = str(list(stack)[-1]).replace(".", "_")
            base = re.sub(r"_\d+$", "", node.name)
            name = f"{scope}_{base}"
        out, n = name, 1
        while out in self.graph.nodes or out in self.names:
            n += 1
            out = f"{name}_{n}"
        self.names.add(out)
        if out != node.name:
            self.alias[node.name] = out
        return out

    def _v(self, arg: Any) -> str:
        name = arg.name if isinstance(arg, fx.Node) else str(arg)
        return self.alias.get(name, name)

    def _tensor_inputs(self, node: fx.Node) -> list[str]:
        return [self._v(a) for a in node.all_input_nodes
                if a.op != "get_attr" and self._v(a) in self.graph.nodes]

    def _layer(self, node: fx.Node, text: str | None, src: str, layout: Layout | None = None,
               comment: str = "", name: str | None = None) -> None:
        if text is None:
            self.alias[node.name] = src
            return
        if name is None or name in self.graph.nodes or name in self.names:
            name = self._display(node)
        else:
            self.names.add(name)
            self.alias[node.name] = name
        self.graph.add(Node(name, "layer", (src,), text, comment))
        self.layout[name] = layout or self.layout.get(src, "nchw")

    def _node(self, node: fx.Node) -> None:
        if node.op == "placeholder":
            if self.graph.input:
                raise Unsupported("a second input")
            self.graph.input = node.name
            self.graph.add(Node(node.name, "input"))
            self.layout[node.name] = "nchw"
        elif node.op == "output":
            out = node.args[0]
            if isinstance(out, fx.Node) and out.name in self.tuples:
                out = tuple(self.tuples[out.name])
            outs = [out] if isinstance(out, fx.Node) else list(out) if isinstance(
                out, tuple | list) else []
            if not outs or not all(isinstance(o, fx.Node) for o in outs):
                raise Unsupported("an output that is not a tensor or a tuple of tensors")
            self.graph.output = self._v(outs[0])
            self.graph.aux_outputs = [self._v(o) for o in outs[1:] if o is not None]
        elif node.op == "call_module":
            self._module(node)
        elif node.op == "get_attr":
            pass  # read where used (layer scale)
        else:
            self._function(node)

    def _module(self, node: fx.Node) -> None:
        m = self.modules[str(node.target)]
        src = self._v(node.args[0])
        layout = self.layout.get(src, "nchw")
        text: str | None
        layout_out: Layout | None = None
        if isinstance(m, nn.Linear):
            text, layout_out = self._linear(m, src, layout)
        else:
            text = module_text(m, layout)
            if text is None:
                kind = type(m).__name__
                self.left_out[kind] = self.left_out.get(kind, 0) + 1
        self.used_params.update(id(p) for p in m.parameters())
        self._layer(node, text, src, layout_out,
                    "Linear applied channels-last: a 1x1 convolution"
                    if isinstance(m, nn.Linear) and layout == "nhwc" else "")

    def _linear(self, m: nn.Linear, src: str, layout: Layout) -> tuple[str, Layout]:
        bias = "" if m.bias is not None else " nobias"
        if layout == "nhwc":
            return f"conv {m.out_features} 1x1{bias}", "nhwc"
        return f"fc {m.out_features}{bias}", "flat"

    def _function(self, node: fx.Node) -> None:
        target = node.target
        if isinstance(target, type) and issubclass(target, tuple):  # a NamedTuple of outputs
            self.tuples[node.name] = [a for a in (*node.args, *node.kwargs.values())
                                      if isinstance(a, fx.Node)]
            return
        name = target if isinstance(target, str) else getattr(target, "__name__", "")
        handler = _FUNCTIONS.get(name)
        if name == "chunk":
            self.chunk(node)
            return
        if name in ("split", "split_with_sizes", "tensor_split"):
            raise Unsupported(f"a channel split by {name}: only x.chunk(n, dim=1) into equal "
                              f"parts has a block (split {{ }})")
        if name == "getitem" and isinstance(node.args[0], fx.Node) and \
                node.args[0].name in self.chunks:
            self.part(node)
            return
        if name == "getitem":
            ins = self._tensor_inputs(node)
            if not ins:
                return  # a part of a size tuple
            if ins[0] in self.refused_nodes:  # a part of something refused already
                self.alias[node.name] = ins[0]
                return
        if handler is None:
            raise Unsupported(f"no spec op for {name or target}")
        handler(self, node)

    # -- functions and methods ------------------------------------------------------------

    def arg(self, node: fx.Node, i: int, key: str, default: Any = None) -> Any:
        if len(node.args) > i:
            return node.args[i]
        return node.kwargs.get(key, default)

    def merge(self, node: fx.Node, kind: str) -> None:
        a, b = node.args[0], node.args[1]
        if not (isinstance(a, fx.Node) and isinstance(b, fx.Node)):
            raise Unsupported(f"{kind} with a constant")
        if kind == "mul" and (a.op == "get_attr" or b.op == "get_attr"):
            self.layer_scale(node, a, b)
            return
        ins = (self._v(a), self._v(b))
        if any(self.layout.get(i, "nchw") != "nchw" for i in ins):
            raise Unsupported(f"{kind} of tensors that are not N x C x H x W")
        name = self._display(node)
        self.graph.add(Node(name, "add" if kind == "add" else "mul", ins))
        self.layout[name] = "nchw"

    def layer_scale(self, node: fx.Node, a: fx.Node, b: fx.Node) -> None:
        param, x = (a, b) if a.op == "get_attr" else (b, a)
        tensor = self.model.get_parameter(str(param.target))
        c = self.shape.get(x.name, (0, 0))[1]
        if tuple(tensor.shape) not in ((c, 1, 1), (c,)):
            raise Unsupported(f"a product with a parameter of shape {tuple(tensor.shape)}")
        self.used_params.add(id(tensor))
        self._layer(node, "layerscale", self._v(x), name=str(param.target).replace(".", "_"))

    def cat(self, node: fx.Node) -> None:
        tensors = self.arg(node, 0, "tensors")
        dim = self.arg(node, 1, "dim", 0)
        if dim not in (1, -3):
            raise Unsupported(f"a concatenation along dim {dim} (only channels, dim 1)")
        ins = tuple(self._v(t) for t in tensors)
        value = self.graph.add_cat(self._display(node), ins)
        self.alias[node.name] = value
        self.layout[value] = "nchw"

    def chunk(self, node: fx.Node) -> None:
        """``x.chunk(n, dim=1)``: read by the ``getitem`` of each part (:meth:`part`)."""
        src = self._v(node.args[0])
        n = int(self.arg(node, 1, "chunks"))
        dim = self.arg(node, 2, "dim", 0)
        shape = self.shape.get(node.args[0].name if isinstance(node.args[0], fx.Node) else "", ())
        if dim not in (1, -3) or len(shape) != 4 or self.layout.get(src, "nchw") != "nchw":
            raise Unsupported(f"a chunk along dim {dim} (only the channels of N x C x H x W)")
        if shape[1] % n:
            raise Unsupported(f"a chunk of {shape[1]} channels into {n} unequal parts")
        self.chunks[node.name] = (src, n)

    def part(self, node: fx.Node) -> None:
        """Part i of a channel chunk: where one branch of a ``split { }`` block starts."""
        chunk, i = node.args[0], node.args[1]
        assert isinstance(chunk, fx.Node)
        src, n = self.chunks[chunk.name]
        if not isinstance(i, int):
            raise Unsupported(f"a part {i!r} of a chunk")
        name = self._display(node)
        self.graph.add(Node(name, "part", (src,), f"{i % n}/{n}"))
        self.layout[name] = "nchw"

    def flatten(self, node: fx.Node) -> None:
        start = self.arg(node, 1, "start_dim", 0)
        if start != 1:
            raise Unsupported(f"flatten from dim {start} (only from dim 1)")
        self._layer(node, "flatten", self._v(node.args[0]), "flat")

    def view(self, node: fx.Node) -> None:
        src = self._v(node.args[0])
        shape = self.shape.get(node.name, ())
        if len(shape) == 2:
            self._layer(node, "flatten", src, "flat")
        elif shape == self.shape.get(node.args[0].name if isinstance(node.args[0], fx.Node)
                                     else "", None):
            self.alias[node.name] = src
        else:
            raise Unsupported(f"a reshape to {shape}")

    def permute(self, node: fx.Node) -> None:
        raw: Any = node.args[1:] if len(node.args) > 2 else node.args[1]
        dims = (raw,) if isinstance(raw, int) else tuple(raw)
        src = self._v(node.args[0])
        layout = self.layout.get(src, "nchw")
        self.left_out["permute"] = self.left_out.get("permute", 0) + 1
        if dims == (0, 2, 3, 1) and layout == "nchw":
            self.alias[node.name] = src
            self.layout[src] = "nhwc"
        elif dims == (0, 3, 1, 2) and layout == "nhwc":
            self.alias[node.name] = src
            self.layout[src] = "nchw"
        else:
            raise Unsupported(f"a permutation {dims} of a {layout} tensor")

    def mean(self, node: fx.Node) -> None:
        dims = self.arg(node, 1, "dim")
        keep = self.arg(node, 2, "keepdim", False)
        if sorted(tuple(dims)) not in ([2, 3], [-2, -1]):
            raise Unsupported(f"a mean over dims {dims} (only over H and W: a global pool)")
        self._layer(node, "gap", self._v(node.args[0]), "nchw" if keep else "flat")

    def function_pool(self, node: fx.Node, kind: str) -> None:
        k = self.arg(node, 1, "kernel_size")
        s = self.arg(node, 2, "stride", None)
        p = self.arg(node, 3, "padding", 0)
        ceil = self.arg(node, 5 if kind == "maxpool" else 4, "ceil_mode", False)
        d = self.arg(node, 4, "dilation", 1) if kind == "maxpool" else 1
        self._layer(node, _pool(kind, k, s, p, bool(ceil), d), self._v(node.args[0]))

    def layer_norm(self, node: fx.Node) -> None:
        src = self._v(node.args[0])
        if self.layout.get(src) != "nhwc":
            raise Unsupported("layer_norm over other than the channels of a channels-last map")
        for key, i in (("weight", 2), ("bias", 3)):
            p = self.arg(node, i, key)
            if not isinstance(p, fx.Node) or p.op != "get_attr":
                raise Unsupported("layer_norm without weight and bias")
            self.used_params.add(id(self.model.get_parameter(str(p.target))))
        self._layer(node, "layernorm", src)

    def dropout(self, node: fx.Node) -> None:
        self._layer(node, f"dropout {float(self.arg(node, 1, 'p', 0.5)):g}", self._v(node.args[0]))

    def alias_of_first(self, node: fx.Node) -> None:
        self.alias[node.name] = self._v(node.args[0])

    def ignore(self, node: fx.Node) -> None:
        """A value that is not a tensor (``x.size()``), used only by what reads it."""

    def shuffle(self, node: fx.Node) -> None:
        self._layer(node, f"channelshuffle {int(self.arg(node, 1, 'groups'))}",
                    self._v(node.args[0]))


def _el(op: str) -> Callable[[FxReader, fx.Node], None]:
    return lambda r, node: r._layer(node, op, r._v(node.args[0]))


_FUNCTIONS: dict[str, Callable[[FxReader, fx.Node], None]] = {
    "add": lambda r, n: r.merge(n, "add"), "iadd": lambda r, n: r.merge(n, "add"),
    "add_": lambda r, n: r.merge(n, "add"),
    "mul": lambda r, n: r.merge(n, "mul"), "imul": lambda r, n: r.merge(n, "mul"),
    "mul_": lambda r, n: r.merge(n, "mul"),
    "cat": FxReader.cat, "concat": FxReader.cat, "flatten": FxReader.flatten,
    "view": FxReader.view, "reshape": FxReader.view, "permute": FxReader.permute,
    "contiguous": FxReader.alias_of_first, "size": FxReader.ignore, "getattr": FxReader.ignore,
    "relu": _el("relu"), "relu_": _el("relu"), "relu6": _el("relu6"),
    "hardswish": _el("hardswish"), "hardsigmoid": _el("hardsigmoid"), "silu": _el("silu"),
    "gelu": _el("gelu"), "sigmoid": _el("sigmoid"), "tanh": _el("tanh"),
    "adaptive_avg_pool2d": lambda r, n: r._layer(n, _adaptive(r.arg(n, 1, "output_size")),
                                                 r._v(n.args[0])),
    "avg_pool2d": lambda r, n: r.function_pool(n, "avgpool"),
    "max_pool2d": lambda r, n: r.function_pool(n, "maxpool"),
    "mean": FxReader.mean, "layer_norm": FxReader.layer_norm, "dropout": FxReader.dropout,
    "channel_shuffle": FxReader.shuffle,
    "pixel_shuffle": lambda r, n: r._layer(
        n, f"pixelshuffle {int(r.arg(n, 1, 'upscale_factor'))}", r._v(n.args[0])),
}
#: the module classes and function names this reader reads (the op registry names which of
#: them each op comes from, and a meta-test holds the two together)
READS = frozenset({*(c.__name__ for c in (*_PLAIN, *_MODULE_RULES, *_ALIAS_MODULES, nn.Linear)),
                   *_FUNCTIONS})


def read_module(model: nn.Module, size: tuple[int, int, int], aux: bool = False,
                ) -> tuple[Graph, list[Refusal], list[str]]:
    """The graph of ``model`` at input ``size`` (H, W, C), what was refused, and notes on the
    parameters of modules that did not run (an auxiliary classifier in eval mode).

    With ``aux``, the model is traced in training mode (its batch norms and dropouts in eval
    mode, which changes no count), so auxiliary classifiers that run only in training
    (GoogLeNet's, Inception-v3's) are outputs too, and become ``aux { }`` blocks."""
    model.eval()
    if aux:
        model.train()
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm | nn.Dropout):
                m.eval()
    reader = FxReader(model, size)
    graph = reader.read()
    notes = [f"left out: {n} x {kind}" + (" (channels-last and back: the Linear layers between "
                                         "are written as 1x1 convolutions)" if kind == "permute"
                                         else " (passes its input on unchanged in eval mode)")
             for kind, n in reader.left_out.items()]
    for qual, m in model.named_children():
        idle = [p for p in m.parameters() if id(p) not in reader.used_params]
        if idle and len(idle) == len(list(m.parameters())):
            count = sum(p.numel() for p in idle)
            notes.append(f"not imported: {qual} ({count:,} parameters) does not run in eval "
                         "mode (an auxiliary classifier)")
    return graph, reader.refused, notes
