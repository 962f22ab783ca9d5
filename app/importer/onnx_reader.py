"""Read an ONNX file (the ``onnx`` package, no runtime) into the importer's graph.

Only the graph's structure, the nodes' attributes and the initializers' dimensions are read;
weights are never decoded (except the few scalars of Clip's bounds and Reshape's target, when
they are small constants). Hostile files are refused before any work with a clear reason
(app.importer.onnx_file checks the file itself: size, counts, external data, tensors), then here:
an input that is not one N x C x H x W image within the engine's limits, a node reading a value
nothing produces, a cycle, a malformed node (named, whatever Python raised reading it).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from app.engine.limits import LIMITS
from app.importer.graph import Graph, Node, Refusal
from app.importer.onnx_concat import ConcatRules
from app.importer.onnx_file import Bounds, External, OnnxRefused, attributes, node_label, parse
from app.importer.onnx_layers import LayerRules
from app.importer.onnx_names import UniqueNames, module_path, spec_name
from app.importer.onnx_shapes import ShapeUnsupported
from app.importer.onnx_values import Malformed, Unsupported

#: names other modules import from here
__all__ = ["READS", "OnnxReader", "UniqueNames", "read_onnx"]


class OnnxReader(LayerRules, ConcatRules):
    """The graph walk: the image input, the nodes in order, each node to its rule."""

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
        name = spec_name(inputs[0].name, self.taken, "input")
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
        self.taken = UniqueNames([module_path(n.name) for n in self.model.graph.node])
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
        except (Unsupported, ShapeUnsupported) as exc:
            self._refuse(node, str(exc))
        except OnnxRefused:
            raise
        except External as exc:
            raise OnnxRefused(f"node {node_label(node, 0)} ({node.op_type}): {exc}") from None
        except Exception as exc:  # a malformed node, whatever its attributes made Python raise
            why = str(exc) if isinstance(exc, Malformed) else f"{type(exc).__name__}: {exc}"
            raise OnnxRefused(f"node {node_label(node, 0)} ({node.op_type}) is malformed: "
                              f"{why}") from None

    def _node(self, node: Any) -> None:
        op = node.op_type
        if node.domain not in ("", "ai.onnx"):
            raise Unsupported(f"an operator of domain {node.domain!r}")
        attrs = attributes(node)
        if self.fold(node, attrs):
            return
        if op not in ("Transpose", "Reshape") and any(v in self.shuffles for v in node.input):
            raise Unsupported("it reads a 5-d reshape that is not part of a channel shuffle")
        rule = _RULES.get(op)
        if rule is None:
            raise Unsupported("no spec op for it")
        last = any(v in self.nhwc for v in node.input)
        if last and op not in _CHANNELS_LAST_OPS:
            raise Unsupported("it reads a channels-last (N x H x W x C) tensor; only "
                              "elementwise ops, LayerNormalization and a Linear's MatMul are "
                              "read there")
        rule(self, node, attrs)
        if last and op in _ELEMENTWISE:
            self.nhwc.update(node.output)


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
    else (_ for _ in ()).throw(Unsupported("Flatten from an axis other than 1")),
    "Gemm": OnnxReader.gemm, "MatMul": OnnxReader.matmul, "Pad": OnnxReader.pad,
    "Add": lambda r, n, a: r.merge(n, "add"), "Mul": lambda r, n, a: r.merge(n, "mul"),
    "Concat": OnnxReader.concat, "Clip": OnnxReader.clip, "Reshape": OnnxReader.reshape,
    "Constant": OnnxReader.constant, "Identity": OnnxReader.identity,
    "ReduceMean": OnnxReader.reduce_mean,
    "Slice": OnnxReader.slice_part, "Split": OnnxReader.split_parts,
    "Transpose": OnnxReader.transpose, "LayerNormalization": OnnxReader.layer_norm,
    "DepthToSpace": OnnxReader.depth_to_space,
}
#: the ONNX op types this reader reads (the op registry names which of them each op comes from,
#: and a meta-test holds the two together)
READS = frozenset(_RULES)
#: ops that keep a channels-last tensor channels-last (each value keeps its place)
_ELEMENTWISE = frozenset({"Relu", "Sigmoid", "Tanh", "HardSwish", "HardSigmoid", "Gelu",
                          "LeakyRelu", "Dropout", "Clip", "Identity"})
#: ops read on a channels-last tensor (their rules know it); every other is refused there
_CHANNELS_LAST_OPS = _ELEMENTWISE | {"Transpose", "LayerNormalization", "MatMul", "Add"}


def read_onnx(data: bytes, bounds: Bounds) -> tuple[Graph, list[Refusal]]:
    """The graph of the ONNX model in ``data`` and the nodes refused."""
    reader = OnnxReader(parse(data, bounds))
    return reader.read(), reader.refused
