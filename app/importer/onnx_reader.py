"""Read an ONNX file (the ``onnx`` package, no runtime) into the importer's graph.

Only the graph's structure, the nodes' attributes and the initializers' dimensions are read;
weights are never decoded (except the few scalars of Clip's bounds and Reshape's target, when
they are small constants). Hostile files are refused before any work with a clear reason
(app.importer.onnx_file checks the file itself: size, counts, external data, tensors), then here:
an input that is not one N x C x H x W image within the engine's limits, a node reading a value
nothing produces, a cycle, a malformed node (named, whatever Python raised reading it).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from typing import Any

from app.engine.limits import LIMITS
from app.importer.graph import Graph, Node, Refusal
from app.importer.onnx_file import (
    Bounds,
    Checked,
    External,
    OnnxRefused,
    attributes,
    node_label,
    parse,
    small_values,
)
from app.importer.onnx_shapes import ShapeRules, ShapeUnsupported
from app.importer.spectext import conv_text, pool_text, refused_row


class _Unsupported(Exception):
    pass


class _Malformed(ValueError):
    """A node whose attributes contradict ONNX's own rules (the file is refused)."""


def _ints(a: dict[str, Any], key: str, default: list[int], n: int) -> list[int]:
    """An int-list attribute that must hold ``n`` values (a 2-d Conv's strides: 2, pads: 4)."""
    value = a.get(key, default)
    if not isinstance(value, list) or len(value) != n or \
            not all(isinstance(x, int) for x in value):
        shown = value[:8] if isinstance(value, list) else value
        raise _Malformed(f"its attribute {key!r} is {shown!r}; {n} integers are needed here")
    return value


class UniqueNames:
    """Names handed out once each: ``conv``, ``conv_2``, ``conv_3``... Each base remembers the
    last number it reached, so a file of thousands of nodes of one name is named in linear time."""

    def __init__(self) -> None:
        self.used: set[str] = set()
        self.last: dict[str, int] = {}

    def __contains__(self, name: object) -> bool:
        return name in self.used

    def take(self, base: str) -> str:
        out, n = base, self.last.get(base, 1)
        while out in self.used:
            n += 1
            out = f"{base}_{n}"
        self.last[base] = n
        self.used.add(out)
        return out


def _clean(name: str, taken: UniqueNames, fallback: str) -> str:
    """A spec name from an ONNX node name: ``/layer1/layer1.0/conv1/Conv`` -> ``layer1_0_conv1``."""
    parts = [p for p in name.split("/") if p][:-1]  # the scopes; the last part is the op
    qual, prev = "", ""
    for part in parts:  # torch's scopes repeat their parent: layer2, layer2.0, conv1
        if prev and part.startswith(prev + "."):
            qual = qual[: len(qual) - len(prev)] + part
        else:
            qual = f"{qual}.{part}" if qual else part
        prev = part
    base = re.sub(r"[^\w]", "_", qual).strip("_") or fallback
    return taken.take(base)


class OnnxReader(ShapeRules):
    def __init__(self, checked: Checked) -> None:
        self.model = model = checked.model
        #: values stored as external data (never read), and the file each names
        self.external = checked.external
        g = model.graph
        self.inits = {t.name: t for t in g.initializer}
        self.consts: dict[str, Any] = {}
        self.alias: dict[str, str] = {}
        self.value_node: dict[str, str] = {}  # ONNX value -> my node name
        self.layout: dict[str, str] = {}
        self.refused: list[Refusal] = []
        self.taken = UniqueNames()
        self.producers: dict[str, Any] = {}
        #: how many nodes (and graph outputs) read each ONNX value
        self.uses: dict[str, int] = {}
        #: the nodes that read each ONNX value
        self.readers: dict[str, list[Any]] = {}
        #: zero padding (top, left, bottom, right) a Pad node adds, by its output value
        self.pending_pad: dict[str, list[int]] = {}
        self.graph = Graph("", (0, 0, 0))
        self.ints: dict[str, list[int]] = {}
        self.shapes: dict[str, list[int]] = {}
        self.shuffles: dict[str, tuple[str, int, int]] = {}

    # -- structure checks --------------------------------------------------------------------

    def _input(self) -> None:
        inputs = [i for i in self.model.graph.input if i.name not in self.inits]
        if len(inputs) != 1:
            raise OnnxRefused(f"the graph has {len(inputs)} inputs; one image input is needed")
        dims = inputs[0].type.tensor_type.shape.dim
        shape = [d.dim_value if d.HasField("dim_value") else None for d in dims]
        if len(shape) != 4 or any(s is None or s <= 0 for s in shape[1:]):
            raise OnnxRefused(f"input {inputs[0].name!r} has shape {shape}; an N x C x H x W "
                              "image of fixed C, H and W is needed")
        _, c, h, w = shape
        assert c is not None and h is not None and w is not None
        if h > LIMITS.max_hw or w > LIMITS.max_hw or c > LIMITS.max_channels:
            raise OnnxRefused(f"input {inputs[0].name!r} is {h}x{w}x{c}, over the engine's "
                              f"limits (max_hw {LIMITS.max_hw:,}, max_channels "
                              f"{LIMITS.max_channels:,})")
        name = _clean(inputs[0].name, self.taken, "input")
        self.graph = Graph(name, (h, w, c))
        self.graph.add(Node(name, "input"))
        self.value_node[inputs[0].name] = name
        self.shapes[inputs[0].name] = [int(s or 0) for s in shape]
        self.layout[name] = "nchw"

    def _ordered(self) -> list[Any]:
        """The nodes in topological order; a cycle or a value nothing produces is refused."""
        nodes = list(self.model.graph.node)
        known = set(self.inits) | {i.name for i in self.model.graph.input}
        producer: dict[str, int] = {}
        for i, n in enumerate(nodes):
            for o in n.output:
                producer[o] = i
        for n in nodes:
            for v in n.input:
                if v and v not in known and v not in producer:
                    raise OnnxRefused(f"node {n.name or n.op_type!r} reads {v!r}, which no "
                                      "node produces")
        indeg = [sum(1 for v in n.input if v in producer) for n in nodes]
        users: dict[int, list[int]] = {}
        for i, n in enumerate(nodes):
            for v in n.input:
                if v in producer:
                    users.setdefault(producer[v], []).append(i)
        ready = deque(i for i, d in enumerate(indeg) if d == 0)
        order: list[int] = []
        while ready:
            i = ready.popleft()
            order.append(i)
            for u in users.get(i, []):
                indeg[u] -= 1
                if indeg[u] == 0:
                    ready.append(u)
        if len(order) != len(nodes):
            stuck = next(n for i, n in enumerate(nodes) if indeg[i] > 0)
            where = stuck.name or stuck.op_type
            raise OnnxRefused(f"the graph has a cycle (through node {where!r})")
        return [nodes[i] for i in order]

    # -- reading ---------------------------------------------------------------------------

    def read(self) -> Graph:
        self._input()
        ordered = self._ordered()
        self.infer_shapes(self.model)
        for node in ordered:
            for v in node.input:
                self.uses[v] = self.uses.get(v, 0) + 1
                self.readers.setdefault(v, []).append(node)
        for out in self.model.graph.output:
            self.uses[out.name] = self.uses.get(out.name, 0) + 1
        for node in ordered:
            for o in node.output:
                self.producers[o] = node
            self._read_node(node)
        outs = [o.name for o in self.model.graph.output]
        if len(outs) != 1:
            raise OnnxRefused(f"the graph has {len(outs)} outputs; one is needed")
        if outs[0] in self.shuffles or outs[0] in self.ints:
            raise OnnxRefused("the graph's output is not an image or a vector of scores")
        self.graph.output = self._v(outs[0])
        if self.graph.output not in self.graph.nodes:
            raise OnnxRefused("the graph's output is not computed from its image input")
        return self.graph

    def _read_node(self, node: Any) -> None:
        """One node: a layer, a refusal (no spec op), or the whole file refused naming it."""
        try:
            self._node(node)
        except (_Unsupported, ShapeUnsupported) as exc:
            self._refuse(node, str(exc))
        except OnnxRefused:
            raise
        except External as exc:
            raise OnnxRefused(f"node {node_label(node, 0)} ({node.op_type}): {exc}") from None
        except Exception as exc:  # a malformed node, whatever its attributes made Python raise
            why = str(exc) if isinstance(exc, _Malformed) else f"{type(exc).__name__}: {exc}"
            raise OnnxRefused(f"node {node_label(node, 0)} ({node.op_type}) is malformed: "
                              f"{why}") from None

    def _v(self, value: str) -> str:
        value = self.alias.get(value, value)
        return self.value_node.get(value, value)

    def _refuse(self, node: Any, reason: str) -> None:
        name = _clean(node.name, self.taken, node.op_type.lower())
        self.refused.append(Refusal(name, node.op_type, reason))
        ins = [self.shuffles[v][0] if v in self.shuffles else v for v in node.input]
        src = next((self._v(v) for v in ins if self._v(v) in self.graph.nodes), None)
        if src is not None:
            self.graph.add(refused_row(name, src, node.op_type, reason))
            for o in node.output:
                self.value_node[o] = name

    def _name(self, onnx_name: str, fallback: str) -> str:
        return _clean(onnx_name, self.taken, fallback)

    def _computed(self, value: str) -> str:
        """The graph node standing for ``value``, which must be computed from the image."""
        v = self._v(value)
        if v not in self.graph.nodes:
            raise _Unsupported(f"it reads {value[:200]!r}, which is not computed from the "
                               "image input (a constant, or arithmetic on shapes)")
        return v

    def _layer(self, node: Any, text: str, layout: str | None = None, comment: str = "") -> None:
        src = self._computed(node.input[0])
        name = _clean(node.name, self.taken, node.op_type.lower())
        self.graph.add(Node(name, "layer", (src,), text, comment))
        self.value_node[node.output[0]] = name
        self.layout[name] = layout or self.layout.get(src, "nchw")

    def _dims(self, value: str) -> list[int]:
        value = self.alias.get(value, value)
        if value not in self.inits:
            raise _Unsupported(f"its weight {value!r} is computed, not an initializer")
        return list(self.inits[value].dims)

    def _small(self, value: str, need: bool = True) -> list[float] | None:
        """A small constant's values (Clip bounds, Reshape shapes); None if it is not one.
        One stored as external data raises :class:`External` when ``need`` is set (the node
        cannot be read without it), else counts as not known."""
        value = self.alias.get(value, value)
        if value in self.ints:
            return [float(x) for x in self.ints[value]]
        if value in self.external:
            if need:
                raise External(value, self.external[value])
            return None
        t = self.inits.get(value) or self.consts.get(value)
        if t is None:
            return None
        return small_values(t)

    def _node(self, node: Any) -> None:
        op = node.op_type
        if node.domain not in ("", "ai.onnx"):
            raise _Unsupported(f"an operator of domain {node.domain!r}")
        attrs = attributes(node)
        if self.fold(node, attrs):
            return
        if op not in ("Transpose", "Reshape") and any(v in self.shuffles for v in node.input):
            raise _Unsupported("it reads a 5-d reshape that is not part of a channel shuffle")
        rule = _RULES.get(op)
        if rule is None:
            raise _Unsupported("no spec op for it")
        rule(self, node, attrs)

    # -- rules ---------------------------------------------------------------------------

    def conv(self, node: Any, a: dict[str, Any], transpose: bool = False) -> None:
        if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
            raise _Unsupported(f"auto_pad {a['auto_pad']!r} (write explicit pads)")
        dims = self._dims(node.input[1])
        if len(dims) != 4:
            raise _Unsupported(f"a {len(dims) - 2}-d convolution")
        g = int(a.get("group", 1))
        out = dims[1] * g if transpose else dims[0]
        kh, kw = _ints(a, "kernel_shape", dims[2:], 2)
        s = _ints(a, "strides", [1, 1], 2)
        d = _ints(a, "dilations", [1, 1], 2)
        pads = _ints(a, "pads", [0, 0, 0, 0], 4)
        extra = self.pending_pad.pop(node.input[0], None)
        if extra is not None:
            if transpose:
                raise _Unsupported("a transposed convolution of a padded input")
            pads = [p + e for p, e in zip(pads, extra, strict=True)]
        op = _ints(a, "output_padding", [0, 0], 2)
        bias = len(node.input) >= 3 and bool(node.input[2])
        text = conv_text(out, (kh, kw), (s[0], s[1]), (pads[0], pads[1], pads[2], pads[3]),
                         (d[0], d[1]), g, dims[1] == 1, bias, transpose, (op[0], op[1]))
        self._layer(node, text)

    def pool(self, node: Any, a: dict[str, Any], kind: str) -> None:
        if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
            raise _Unsupported(f"auto_pad {a['auto_pad']!r}")
        kh, kw = _ints(a, "kernel_shape", [], 2)
        s = _ints(a, "strides", [1, 1], 2)
        p = _ints(a, "pads", [0] * 4, 4)
        d = _ints(a, "dilations", [1, 1], 2)
        self._layer(node, pool_text(kind, (kh, kw), (s[0], s[1]), (p[0], p[1], p[2], p[3]),
                                    (d[0], d[1]), bool(a.get("ceil_mode", 0))))

    def gemm(self, node: Any, a: dict[str, Any]) -> None:
        if a.get("transA", 0) or float(a.get("alpha", 1.0)) != 1.0:
            raise _Unsupported("Gemm with transA or alpha != 1")
        dims = self._dims(node.input[1])
        out = dims[0] if a.get("transB", 0) else dims[1]
        bias = "" if len(node.input) > 2 and node.input[2] else " nobias"
        self._layer(node, f"fc {out}{bias}", "flat")

    def merge(self, node: Any, kind: str) -> None:
        a, b = node.input[0], node.input[1]
        if kind == "add" and (a in self.inits or b in self.inits):
            self._bias(node, *((b, a) if a in self.inits else (a, b)))
            return
        if a in self.inits or b in self.inits:
            self._scale_by_constant(node, a, b, kind)
            return
        ins = (self._computed(a), self._computed(b))
        if kind == "mul" and self._silu(node, (a, b)):
            return
        name = _clean(node.name, self.taken, kind)
        self.graph.add(Node(name, "add" if kind == "add" else "mul", ins))
        self.value_node[node.output[0]] = name
        self.layout[name] = "nchw"

    def _bias(self, node: Any, x: str, bias: str) -> None:
        """conv or MatMul + a bias constant, as some exporters write a layer's bias: the bias
        is folded into that layer (``nobias`` dropped)."""
        layer = self.graph.nodes.get(self._v(x))
        size = 1
        for d in self._dims(bias):
            size *= d
        out = int(layer.text.split()[1]) if layer is not None and layer.kind == "layer" \
            and layer.text.split()[0] in ("fc", "conv") else -1
        if layer is None or not layer.text.endswith(" nobias") or size != out \
                or self.uses.get(x, 0) != 1:
            raise _Unsupported("an addition of a constant that is not a layer's bias")
        self.graph.nodes[layer.name] = Node(layer.name, "layer", layer.inputs,
                                            layer.text.removesuffix(" nobias"),
                                            "bias from a separate Add")
        self.value_node[node.output[0]] = layer.name

    def matmul(self, node: Any, a: dict[str, Any]) -> None:
        dims = self._dims(node.input[1])
        if len(dims) != 2 or self.layout.get(self._v(node.input[0])) != "flat":
            raise _Unsupported("a MatMul other than a flat input times a K x N weight")
        self._layer(node, f"fc {dims[1]} nobias", "flat")

    def pad(self, node: Any, a: dict[str, Any]) -> None:
        mode = a.get("mode", b"constant")
        pads = a.get("pads") or (self._small(node.input[1]) if len(node.input) > 1 else None)
        value = self._small(node.input[2]) if len(node.input) > 2 and node.input[2] else [0.0]
        if mode not in (b"constant", "constant") or not value or value[0] != 0.0 or \
                pads is None or len(pads) != 8 or any(pads[i] for i in (0, 1, 4, 5)):
            raise _Unsupported(f"a Pad other than zeros around H and W (pads {pads})")
        users = self.readers.get(node.output[0], [])
        if self.uses.get(node.output[0], 0) != 1 or users[0].op_type != "Conv":
            raise _Unsupported("a Pad whose result is not read by one convolution alone")
        t, left, b, r = (int(pads[i]) for i in (2, 3, 6, 7))
        self.pending_pad[node.output[0]] = [t, left, b, r]
        self.alias[node.output[0]] = self.alias.get(node.input[0], node.input[0])

    def _silu(self, node: Any, onnx_ins: tuple[str, str]) -> bool:
        """x * sigmoid(x), as exporters write SiLU, read as ``silu`` (when nothing else reads
        the sigmoid)."""
        for xo, so in (onnx_ins, onnx_ins[::-1]):
            x, s = self._v(xo), self._v(so)
            gate = self.graph.nodes.get(s)
            if gate is not None and gate.text == "sigmoid" and gate.inputs == (x,) \
                    and self.uses.get(so, 0) == 1:
                del self.graph.nodes[s]
                name = _clean(node.name, self.taken, "silu")
                self.graph.add(Node(name, "layer", (x,), "silu", "x * sigmoid(x)"))
                self.value_node[node.output[0]] = name
                self.layout[name] = self.layout.get(x, "nchw")
                return True
        return False

    def _scale_by_constant(self, node: Any, a: str, b: str, kind: str) -> None:
        param, x = (a, b) if a in self.inits else (b, a)
        dims = [d for d in self._dims(param) if d != 1]
        if kind != "mul" or len(dims) != 1:
            raise _Unsupported(f"{kind} with a constant of shape {list(self._dims(param))}")
        src = self._v(x)
        name = _clean(node.name, self.taken, "layerscale")
        self.graph.add(Node(name, "layer", (src,), "layerscale"))
        self.value_node[node.output[0]] = name
        self.layout[name] = self.layout.get(src, "nchw")

    def concat(self, node: Any, a: dict[str, Any]) -> None:
        if int(a.get("axis", 0)) not in (1, -3):
            raise _Unsupported(f"a concatenation along axis {a.get('axis')}")
        name = _clean(node.name, self.taken, "concat")
        value = self.graph.add_cat(name, tuple(self._computed(v) for v in node.input))
        self.value_node[node.output[0]] = value
        self.layout[value] = "nchw"

    def _bound(self, node: Any, a: dict[str, Any], key: str, i: int) -> float | None:
        """Clip's bound: an attribute (opset < 11) or a small constant input."""
        if key in a:
            return float(a[key])
        if len(node.input) > i and node.input[i]:
            values = self._small(node.input[i])
            return values[0] if values else None
        return None

    def clip(self, node: Any, a: dict[str, Any]) -> None:
        lo, hi = self._bound(node, a, "min", 1), self._bound(node, a, "max", 2)
        if (lo, hi) == (0.0, 6.0):
            self._layer(node, "relu6")
        elif (lo, hi) == (0.0, None):
            self._layer(node, "relu")
        else:
            raise _Unsupported(f"Clip to [{lo}, {hi}] (only ReLU6's [0, 6])")

    def reshape(self, node: Any, a: dict[str, Any]) -> None:
        shape = self._small(node.input[1]) if len(node.input) > 1 else None
        if shape is not None and self.shuffle_reshape(node, [int(x) for x in shape]):
            return
        if node.input[0] in self.shuffles:
            raise _Unsupported("a reshape of a channel shuffle's transpose to other than "
                               "N x C x H x W")
        if shape is not None and len(shape) == 2 and shape[1] == -1:
            self._layer(node, "flatten", "flat")
        else:
            raise _Unsupported(f"a reshape to {shape} (only to N x -1, a flatten)")

    def constant(self, node: Any, a: dict[str, Any]) -> None:
        if "value" in a:
            self.consts[node.output[0]] = a["value"]

    def identity(self, node: Any, a: dict[str, Any]) -> None:
        self.alias[node.output[0]] = self.alias.get(node.input[0], node.input[0])

    def depth_to_space(self, node: Any, a: dict[str, Any]) -> None:
        mode = a.get("mode", b"DCR")
        mode = mode.decode() if isinstance(mode, bytes) else str(mode)
        if mode != "CRD":
            raise _Unsupported(f"DepthToSpace in {mode} mode (TensorFlow's channel order); only "
                               "CRD, PyTorch's pixel shuffle, has a spec op")
        self._layer(node, f"pixelshuffle {int(a['blocksize'])}")

    def reduce_mean(self, node: Any, a: dict[str, Any]) -> None:
        axes = a.get("axes") or (self._small(node.input[1]) if len(node.input) > 1 else None)
        if axes is None or sorted(int(x) for x in axes) not in ([2, 3], [-2, -1]):
            raise _Unsupported(f"a mean over axes {axes} (only over H and W)")
        self._layer(node, "gap", "nchw" if a.get("keepdims", 1) else "flat")


def _el(text: str) -> Callable[[OnnxReader, Any, dict[str, Any]], None]:
    return lambda r, n, a: r._layer(n, text)


_RULES: dict[str, Callable[[OnnxReader, Any, dict[str, Any]], None]] = {
    "Conv": lambda r, n, a: r.conv(n, a),
    "ConvTranspose": lambda r, n, a: r.conv(n, a, transpose=True),
    "MaxPool": lambda r, n, a: r.pool(n, a, "maxpool"),
    "AveragePool": lambda r, n, a: r.pool(n, a, "avgpool"),
    "GlobalAveragePool": _el("gap"),
    "BatchNormalization": _el("bn"),
    "Relu": _el("relu"), "Sigmoid": _el("sigmoid"), "Tanh": _el("tanh"),
    "HardSwish": _el("hardswish"), "HardSigmoid": _el("hardsigmoid"), "Gelu": _el("gelu"),
    "Softmax": _el("softmax"),
    "LeakyRelu": lambda r, n, a: r._layer(n, f"leakyrelu {float(a.get('alpha', 0.01)):g}"),
    "LRN": lambda r, n, a: r._layer(n, f"lrn size {int(a['size'])}"),
    "Dropout": lambda r, n, a: r._layer(n, "dropout"),
    "Flatten": lambda r, n, a: r._layer(n, "flatten", "flat") if int(a.get("axis", 1)) == 1
    else (_ for _ in ()).throw(_Unsupported("Flatten from an axis other than 1")),
    "Gemm": OnnxReader.gemm, "MatMul": OnnxReader.matmul, "Pad": OnnxReader.pad,
    "Add": lambda r, n, a: r.merge(n, "add"), "Mul": lambda r, n, a: r.merge(n, "mul"),
    "Concat": OnnxReader.concat, "Clip": OnnxReader.clip, "Reshape": OnnxReader.reshape,
    "Constant": OnnxReader.constant, "Identity": OnnxReader.identity,
    "ReduceMean": OnnxReader.reduce_mean,
    "Slice": OnnxReader.slice_part, "Split": OnnxReader.split_parts,
    "Transpose": OnnxReader.transpose, "DepthToSpace": OnnxReader.depth_to_space,
}
#: the ONNX op types this reader reads (the op registry names which of them each op comes from,
#: and a meta-test holds the two together)
READS = frozenset(_RULES)


def read_onnx(data: bytes, bounds: Bounds) -> tuple[Graph, list[Refusal]]:
    """The graph of the ONNX model in ``data`` and the nodes refused."""
    reader = OnnxReader(parse(data, bounds))
    return reader.read(), reader.refused
