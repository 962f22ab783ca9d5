"""The ONNX reader's rules for one node each: convolution, pooling, normalisation, linear
layers, elementwise merges and the reshapes and transposes that move no number the spec sees.
"""

from __future__ import annotations

import math
import re
from typing import Any

from app.importer.graph import Node
from app.importer.onnx_names import spec_name
from app.importer.onnx_values import OnnxValues, Unsupported, int_list
from app.importer.spectext import conv_text, pool_text


class LayerRules(OnnxValues):
    """Mixed into the ONNX reader: the rules of the nodes that become one layer or merge."""

    def conv(self, node: Any, a: dict[str, Any], transpose: bool = False) -> None:
        if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
            raise Unsupported(f"auto_pad {a['auto_pad']!r} (write explicit pads)")
        dims = self._dims(node.input[1])
        if len(dims) != 4:
            raise Unsupported(f"a {len(dims) - 2}-d convolution")
        g = int(a.get("group", 1))
        out = dims[1] * g if transpose else dims[0]
        kh, kw = int_list(a, "kernel_shape", dims[2:], 2)
        s = int_list(a, "strides", [1, 1], 2)
        d = int_list(a, "dilations", [1, 1], 2)
        pads = int_list(a, "pads", [0, 0, 0, 0], 4)
        extra = self.pending_pad.pop(node.input[0], None)
        if extra is not None:
            if transpose:
                raise Unsupported("a transposed convolution of a padded input")
            pads = [p + e for p, e in zip(pads, extra, strict=True)]
        op = int_list(a, "output_padding", [0, 0], 2)
        bias = len(node.input) >= 3 and bool(node.input[2])
        text = conv_text(out, (kh, kw), (s[0], s[1]), (pads[0], pads[1], pads[2], pads[3]),
                         (d[0], d[1]), g, dims[1] == 1, bias, transpose, (op[0], op[1]))
        self._layer(node, text)

    def pool(self, node: Any, a: dict[str, Any], kind: str) -> None:
        if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
            raise Unsupported(f"auto_pad {a['auto_pad']!r}")
        kh, kw = int_list(a, "kernel_shape", [], 2)
        s = int_list(a, "strides", [1, 1], 2)
        p = int_list(a, "pads", [0] * 4, 4)
        d = int_list(a, "dilations", [1, 1], 2)
        self._layer(node, pool_text(kind, (kh, kw), (s[0], s[1]), (p[0], p[1], p[2], p[3]),
                                    (d[0], d[1]), bool(a.get("ceil_mode", 0))))

    def gemm(self, node: Any, a: dict[str, Any]) -> None:
        if a.get("transA", 0) or float(a.get("alpha", 1.0)) != 1.0:
            raise Unsupported("Gemm with transA or alpha != 1")
        dims = self._dims(node.input[1])
        out = dims[0] if a.get("transB", 0) else dims[1]
        bias = "" if len(node.input) > 2 and node.input[2] else " nobias"
        self._layer(node, f"fc {out}{bias}", "flat")

    def merge(self, node: Any, kind: str) -> None:
        a, b = node.input[0], node.input[1]
        if kind == "add" and (self._stored(a) or self._stored(b)):
            x, bias = (b, a) if self._stored(a) else (a, b)
            self._bias(node, x, bias)
            if x in self.nhwc:
                self.nhwc.add(node.output[0])
            return
        if a in self.nhwc or b in self.nhwc:
            raise Unsupported(f"{kind} of a channels-last tensor other than a Linear's bias")
        if self._stored(a) or self._stored(b):
            self._scale_by_constant(node, a, b, kind)
            return
        ins = (self._computed(a), self._computed(b))
        if kind == "mul" and self._silu(node, (a, b)):
            return
        name = spec_name(node.name, self.taken, kind)
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
            raise Unsupported("an addition of a constant that is not a layer's bias")
        self.graph.nodes[layer.name] = Node(layer.name, "layer", layer.inputs,
                                            layer.text.removesuffix(" nobias"),
                                            "bias from a separate Add")
        self.value_node[node.output[0]] = layer.name

    def matmul(self, node: Any, a: dict[str, Any]) -> None:
        """A Linear layer: on a flat input an ``fc``; on a channels-last map (ConvNeXt's
        pointwise layers) a 1x1 convolution, which computes the same."""
        dims = self._dims(node.input[1])
        channels_last = node.input[0] in self.nhwc
        flat = self.layout.get(self._v(node.input[0])) == "flat"
        if len(dims) != 2 or not (channels_last or flat):
            raise Unsupported("a MatMul other than a flat or channels-last input times a "
                              "K x N weight")
        if channels_last:
            self._layer(node, f"conv {dims[1]} 1x1 nobias", comment="a Linear on channels-last")
            self.nhwc.add(node.output[0])
        else:
            self._layer(node, f"fc {dims[1]} nobias", "flat")

    def transpose(self, node: Any, a: dict[str, Any]) -> None:
        """A permutation that moves no number between positions the spec sees: a weight's
        K x N (a Linear's, unfolded), NCHW to channels-last and back; else a channel shuffle's."""
        raw = node.input[0]
        src, perm = self.alias.get(raw, raw), list(a.get("perm", []))
        if src in self.inits and len(self.inits[src].dims) == 2 and perm == [1, 0]:
            self.transposed[node.output[0]] = list(self.inits[src].dims)[::-1]
        elif perm == [0, 2, 3, 1] and raw not in self.nhwc and self._nchw(raw):
            self.alias[node.output[0]] = src
            self.nhwc.add(node.output[0])
        elif perm == [0, 3, 1, 2] and raw in self.nhwc:
            self.alias[node.output[0]] = src
        else:
            self.shuffle_transpose(node, a)

    def layer_norm(self, node: Any, a: dict[str, Any]) -> None:
        """LayerNormalization over the channels of a channels-last map, with scale and bias
        (torchvision's LayerNorm2d and ConvNeXt's block norm)."""
        if node.input[0] not in self.nhwc:
            raise Unsupported("a LayerNormalization of other than a channels-last map")
        if int(a.get("axis", -1)) not in (-1, 3):
            raise Unsupported(f"a LayerNormalization from axis {a.get('axis')} (only over the "
                              "channels, axis -1)")
        if len(node.input) < 3 or not node.input[2]:
            raise Unsupported("a LayerNormalization without a bias")
        if len(self._dims(node.input[1])) != 1 or len(self._dims(node.input[2])) != 1:
            raise Unsupported("a LayerNormalization whose scale or bias is not one value a "
                              "channel")
        self._layer(node, "layernorm")
        self.nhwc.add(node.output[0])

    def pad(self, node: Any, a: dict[str, Any]) -> None:
        mode = a.get("mode", b"constant")
        pads = a.get("pads") or (self._small(node.input[1]) if len(node.input) > 1 else None)
        value = self._small(node.input[2]) if len(node.input) > 2 and node.input[2] else [0.0]
        if mode not in (b"constant", "constant") or not value or value[0] != 0.0 or \
                pads is None or len(pads) != 8 or any(pads[i] for i in (0, 1, 4, 5)):
            raise Unsupported(f"a Pad other than zeros around H and W (pads {pads})")
        users = self.readers.get(node.output[0], [])
        if self.uses.get(node.output[0], 0) != 1 or users[0].op_type != "Conv":
            raise Unsupported("a Pad whose result is not read by one convolution alone")
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
                name = spec_name(node.name, self.taken, "silu")
                self.graph.add(Node(name, "layer", (x,), "silu", "x * sigmoid(x)"))
                self.value_node[node.output[0]] = name
                self.layout[name] = self.layout.get(x, "nchw")
                return True
        return False

    def _scale_by_constant(self, node: Any, a: str, b: str, kind: str) -> None:
        param, x = (a, b) if self._stored(a) else (b, a)
        dims = [d for d in self._dims(param) if d != 1]
        if kind != "mul" or len(dims) != 1:
            raise Unsupported(f"{kind} with a constant of shape {list(self._dims(param))}")
        src = self._v(x)
        # torch names the constant after its parameter (features.1.0.layer_scale): the layer's
        # own name, where the node's scope is its block's
        name = self.taken.take(param.replace(".", "_")) if re.fullmatch(r"[A-Za-z_][\w.]*", param) \
            else spec_name(node.name, self.taken, "layerscale")
        self.graph.add(Node(name, "layer", (src,), "layerscale"))
        self.value_node[node.output[0]] = name
        self.layout[name] = self.layout.get(src, "nchw")

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
            raise Unsupported(f"Clip to [{lo}, {hi}] (only ReLU6's [0, 6])")

    def reshape(self, node: Any, a: dict[str, Any]) -> None:
        shape = self._small(node.input[1]) if len(node.input) > 1 else None
        if shape is not None and self.shuffle_reshape(node, [int(x) for x in shape]):
            return
        if node.input[0] in self.shuffles:
            raise Unsupported("a reshape of a channel shuffle's transpose to other than "
                              "N x C x H x W")
        if shape is not None and len(shape) == 2 and \
                (shape[1] == -1 or self._flattens(node.input[0], [int(x) for x in shape])):
            self._layer(node, "flatten", "flat")
        else:
            raise Unsupported(f"a reshape to {shape} (only to N x -1, a flatten)")

    def _flattens(self, value: str, target: list[int]) -> bool:
        """Whether a Reshape of ``value`` to ``target`` (N x K, written out as the dynamo
        exporter does) keeps the batch and puts everything else in one row."""
        shape = self.shapes.get(value)
        return shape is not None and len(shape) >= 2 and target[0] == shape[0] and \
            target[1] == math.prod(shape[1:])

    def constant(self, node: Any, a: dict[str, Any]) -> None:
        if "value" in a:
            self.consts[node.output[0]] = a["value"]

    def identity(self, node: Any, a: dict[str, Any]) -> None:
        self.alias[node.output[0]] = self.alias.get(node.input[0], node.input[0])

    def depth_to_space(self, node: Any, a: dict[str, Any]) -> None:
        mode = a.get("mode", b"DCR")
        mode = mode.decode() if isinstance(mode, bytes) else str(mode)
        if mode != "CRD":
            raise Unsupported(f"DepthToSpace in {mode} mode (TensorFlow's channel order); only "
                              "CRD, PyTorch's pixel shuffle, has a spec op")
        self._layer(node, f"pixelshuffle {int(a['blocksize'])}")

    def reduce_mean(self, node: Any, a: dict[str, Any]) -> None:
        axes = a.get("axes") or (self._small(node.input[1]) if len(node.input) > 1 else None)
        if axes is None or sorted(int(x) for x in axes) not in ([2, 3], [-2, -1]):
            raise Unsupported(f"a mean over axes {axes} (only over H and W)")
        self._layer(node, "gap", "nchw" if a.get("keepdims", 1) else "flat")
