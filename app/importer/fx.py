"""Read a PyTorch ``nn.Module`` with torch.fx into the importer's graph.

The module is traced symbolically (modules of ``torch.nn`` are leaves, as fx makes them, and so
are torchvision's LayerNorm2d and StochasticDepth), and one forward pass on zeros at the given
input (fx's ShapeProp) gives every value's shape: the reader needs it to tell a Linear layer
applied channels-last (ConvNeXt's MLP: a 1x1 convolution) from a classifier. Each node becomes
a spec layer (a leaf module through app.importer.fx_modules' rules), a merge, or an alias
(views such as ``permute`` and ``contiguous`` add nothing); a value of shapes or constants
(``x.size(1) // 2``) is read only where used; anything else is refused by its node's name, and
so is a node whose rule fails on it, so no model crashes the reader.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import torch
import torch.fx as fx
from torch import nn
from torch.fx.passes.shape_prop import ShapeProp

from app.importer.fx_modules import (
    ALIAS_MODULES,
    MODULE_RULES,
    PLAIN,
    Layout,
    LeafTracer,
    Unsupported,
    adaptive,
    module_text,
    pool,
)
from app.importer.graph import Graph, Node, Refusal
from app.importer.spectext import refused_row


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
            except Exception as exc:  # a node no rule foresaw: refused by name, never a crash
                self._refuse(node, f"it could not be read ({type(exc).__name__}: "
                                   f"{str(exc)[:200]})")
        return self.graph

    def _trace(self) -> fx.GraphModule:
        from app.importer.tv import channel_shuffle_functions

        tracer = LeafTracer(autowrap_functions=channel_shuffle_functions())
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
            self.graph.add(refused_row(name, ins[0], str(target), reason))
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

    def _computed(self, value: str) -> str:
        """``value``, which must be a tensor computed from the input."""
        if value not in self.graph.nodes:
            raise Unsupported(f"it reads {value[:200]!r}, which is not computed from the input "
                              "(a parameter, a buffer, or arithmetic on shapes)")
        return value

    def _layer(self, node: fx.Node, text: str | None, src: str, layout: Layout | None = None,
               comment: str = "", name: str | None = None) -> None:
        if text is None:
            self.alias[node.name] = src
            return
        self._computed(src)
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
            self.graph.output = self._computed(self._v(outs[0]))
            self.graph.aux_outputs = [self._computed(self._v(o)) for o in outs[1:]
                                      if o is not None]
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
        ins = self._tensor_inputs(node)
        if not ins:  # a value of shapes or constants (x.size(1) // 2, torch._assert(...)), not
            return   # computed from the image: a layer that reads one is refused, by its name
        if name == "getitem" and ins[0] in self.refused_nodes:  # a part of something refused
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
        ins = (self._computed(self._v(a)), self._computed(self._v(b)))
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
        if not isinstance(tensors, list | tuple):
            raise Unsupported("a concatenation of other than a list of tensors")
        ins = tuple(self._computed(self._v(t)) for t in tensors)
        value = self.graph.add_cat(self._display(node), ins)
        self.alias[node.name] = value
        self.layout[value] = "nchw"

    def chunk(self, node: fx.Node) -> None:
        """``x.chunk(n, dim=1)``: read by the ``getitem`` of each part (:meth:`part`)."""
        src = self._computed(self._v(node.args[0]))
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
        if not isinstance(dims, list | tuple) or sorted(dims) not in ([2, 3], [-2, -1]):
            raise Unsupported(f"a mean over dims {dims} (only over H and W: a global pool)")
        self._layer(node, "gap", self._v(node.args[0]), "nchw" if keep else "flat")

    def function_pool(self, node: fx.Node, kind: str) -> None:
        k = self.arg(node, 1, "kernel_size")
        s = self.arg(node, 2, "stride", None)
        p = self.arg(node, 3, "padding", 0)
        ceil = self.arg(node, 5 if kind == "maxpool" else 4, "ceil_mode", False)
        d = self.arg(node, 4, "dilation", 1) if kind == "maxpool" else 1
        self._layer(node, pool(kind, k, s, p, bool(ceil), d), self._v(node.args[0]))

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
    "adaptive_avg_pool2d": lambda r, n: r._layer(n, adaptive(r.arg(n, 1, "output_size")),
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
READS = frozenset({*(c.__name__ for c in (*PLAIN, *MODULE_RULES, *ALIAS_MODULES, nn.Linear)),
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
    graph.aux_blocks = aux
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
