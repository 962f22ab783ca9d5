"""What exporters write around a channel split and a channel shuffle, read back as blocks.

torch.onnx writes ``x.chunk(2, dim=1)`` as Slice nodes whose bounds are computed from the
tensor's shape (Shape, Gather, Add, Div, Mul of small integers), and torchvision's
``channel_shuffle`` as Reshape to N x G x C/G x H x W, Transpose (0, 2, 1, 3, 4) and Reshape back,
with target shapes put together by Unsqueeze and Concat. Here that integer arithmetic is
evaluated (only on values that are small integer vectors: constants, or a shape that ONNX's own
shape inference states), an equal channel Slice or Split becomes a ``part`` of the importer's
graph (a ``split { }`` block's branch starts on it) and the three shuffle nodes one
``channelshuffle G``. Nothing is run: no runtime, no weights decoded.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from app.importer.graph import Graph, Node

if TYPE_CHECKING:
    from app.importer.onnx_names import UniqueNames

#: integer-vector ops that are evaluated when every input is a known small integer vector
_FOLDED = frozenset({"Shape", "Gather", "Add", "Sub", "Mul", "Div", "Unsqueeze", "Squeeze",
                     "Concat", "Cast"})
_MAX_INTS = 16
#: folded integers stay below this: a chain of Mul nodes would otherwise square them unbounded
_MAX_INT = 2**62
_SHUFFLE_PERM = [0, 2, 1, 3, 4]


class ShapeUnsupported(Exception):
    """A split or shuffle pattern that does not match (becomes a refusal by the reader)."""


class ShapeRules:
    """Mixed into the ONNX reader: integer folding, channel parts and channel shuffles."""

    graph: Graph
    taken: UniqueNames
    value_node: dict[str, str]
    layout: dict[str, str]
    #: small integer vectors evaluated so far, by ONNX value
    ints: dict[str, list[int]]
    #: static shapes of values, from the graph's input and ONNX shape inference
    shapes: dict[str, list[int]]
    #: Reshape to N x G x C/G x H x W (stage 1) and its Transpose (stage 2): (source, G, stage)
    shuffles: dict[str, tuple[str, int, int]]

    def _v(self, value: str) -> str:  # pragma: no cover - the reader's
        raise NotImplementedError

    def _computed(self, value: str) -> str:  # pragma: no cover - the reader's
        raise NotImplementedError

    def _small(self, value: str, need: bool = True) -> list[float] | None:  # pragma: no cover
        raise NotImplementedError

    def _name(self, onnx_name: str, fallback: str) -> str:  # pragma: no cover - the reader's
        raise NotImplementedError

    def _scoped(self, node: Any, word: str) -> str:
        """A name in the node's scope: ``/stage2/stage2.1/Slice`` -> ``stage2_1_part``, so the
        block keeps the scope's own name."""
        scope = node.name.rsplit("/", 1)[0] if "/" in node.name else ""
        return self._name(f"{scope}/{word}/{node.op_type}", word)

    def infer_shapes(self, model: Any) -> None:
        """Static shapes of every value ONNX's shape inference can state (none if it fails)."""
        import onnx

        try:
            inferred = onnx.shape_inference.infer_shapes(model, data_prop=True)
        except Exception:  # an inference failure only means fewer shapes are known
            return
        for vi in [*inferred.graph.value_info, *inferred.graph.input]:
            dims = vi.type.tensor_type.shape.dim
            shape = [d.dim_value if d.HasField("dim_value") else -1 for d in dims]
            if shape and all(s > 0 for s in shape):
                self.shapes[vi.name] = shape

    def _known(self, value: str, need: bool = False) -> list[int] | None:
        """A small integer vector's values; without ``need``, one stored as external data
        counts as unknown (folding is opportunistic), with it the node is refused."""
        if value in self.ints:
            return self.ints[value]
        small = self._small(value, need)
        if small is None or not all(math.isfinite(x) and x == int(x) for x in small):
            return None
        return [int(x) for x in small]

    def fold(self, node: Any, a: dict[str, Any]) -> bool:
        """Evaluate an integer-vector node whose inputs are all known; False if it is not one."""
        op = node.op_type
        if op not in _FOLDED:
            return False
        if op == "Shape":
            shape = self.shapes.get(node.input[0])
            if shape is None or node.input[0] in self.ints:
                return False
            self.ints[node.output[0]] = shape[int(a.get("start", 0)):a.get("end", len(shape))]
            return True
        ins = [self._known(v) for v in node.input if v]
        if not ins or any(v is None for v in ins):
            return False
        vals: list[list[int]] = [v for v in ins if v is not None]
        out = _evaluate(op, vals, a)
        if out is None or len(out) > _MAX_INTS or any(abs(x) > _MAX_INT for x in out):
            return False
        self.ints[node.output[0]] = out
        return True

    def slice_part(self, node: Any, a: dict[str, Any]) -> None:
        """An equal share of the channels, ``x[:, i*s:(i+1)*s]``: part i of C/s."""
        src_value = node.input[0]
        if len(node.input) > 1:
            got = [self._known(v, need=True) if v else None for v in node.input[1:5]]
            starts, ends = got[0], got[1]
            axes = got[2] if len(got) > 2 and got[2] is not None else [0]
            steps = got[3] if len(got) > 3 and got[3] is not None else [1]
        else:  # opset < 10: attributes
            starts, ends = a.get("starts"), a.get("ends")
            axes, steps = list(a.get("axes", [0])), [1]
        shape = self.shapes.get(src_value)
        if starts is None or ends is None or shape is None or len(shape) != 4 \
                or len(starts) != 1 or list(axes) not in ([1], [-3]) or list(steps) != [1]:
            raise ShapeUnsupported("a Slice other than an equal share of the channels of an "
                                   "N x C x H x W tensor")
        c = shape[1]
        lo, hi = max(0, min(int(starts[0]), c)), max(0, min(int(ends[0]), c))
        size = hi - lo
        if size <= 0 or c % size or lo % size:
            raise ShapeUnsupported(f"a Slice of channels {lo}..{hi - 1} of {c}: not an equal "
                                   f"share")
        self._part(node, node.output[0], src_value, lo // size, c // size)

    def split_parts(self, node: Any, a: dict[str, Any]) -> None:
        """Split along the channels into equal parts: one ``part`` a output."""
        shape = self.shapes.get(node.input[0])
        n = len(node.output)
        sizes = a.get("split") or (self._known(node.input[1]) if len(node.input) > 1
                                   and node.input[1] else None)
        if shape is None or len(shape) != 4 or int(a.get("axis", 0)) not in (1, -3) or \
                (sizes is not None and len(set(sizes)) != 1) or shape[1] % n:
            raise ShapeUnsupported("a Split other than into equal shares of the channels")
        for i, out in enumerate(node.output):
            self._part(node, out, node.input[0], i, n)

    def _part(self, node: Any, out: str, src_value: str, index: int, count: int) -> None:
        src = self._computed(src_value)
        name = self._scoped(node, "part")
        self.graph.add(Node(name, "part", (src,), f"{index}/{count}"))
        self.value_node[out] = name
        self.layout[name] = "nchw"

    def shuffle_reshape(self, node: Any, target: list[int]) -> bool:
        """Stage 1 or 3 of a channel shuffle; False when this Reshape is not one."""
        src = node.input[0]
        shape = self.shapes.get(src)
        if len(target) == 5 and self.layout.get(self._v(src), "nchw") == "nchw":
            g = target[1]
            if shape is not None and len(shape) == 4:
                fits = g > 0 and shape[1] % g == 0 and target[2] in (shape[1] // g, -1) \
                    and target[3:] in ([shape[2], shape[3]], [shape[2], -1])
            else:  # a shape inference did not state: the target's own G x C/G x H x W
                fits = shape is None and g > 0 and all(t > 0 for t in target[2:])
            if fits:
                self.shuffles[node.output[0]] = (src, g, 1)
                return True
        pending = self.shuffles.get(src)
        if pending is not None and pending[2] == 2 and len(target) == 4:
            origin, g, _ = pending
            del self.shuffles[src]
            before = self._computed(origin)
            name = self._scoped(node, "channel_shuffle")
            self.graph.add(Node(name, "layer", (before,), f"channelshuffle {g}"))
            self.value_node[node.output[0]] = name
            self.layout[name] = "nchw"
            kept = self.shapes.get(origin) or (target if all(t > 0 for t in target) else None)
            if kept is not None:  # a shuffle keeps the shape
                self.shapes.setdefault(node.output[0], kept)
            return True
        return False

    def shuffle_transpose(self, node: Any, a: dict[str, Any]) -> None:
        pending = self.shuffles.get(node.input[0])
        if pending is None or pending[2] != 1 or list(a.get("perm", [])) != _SHUFFLE_PERM:
            raise ShapeUnsupported("a Transpose other than a channel shuffle's "
                                   "(N x G x C/G x H x W, perm 0 2 1 3 4)")
        del self.shuffles[node.input[0]]
        self.shuffles[node.output[0]] = (pending[0], pending[1], 2)


def _evaluate(op: str, vals: list[list[int]], a: dict[str, Any]) -> list[int] | None:
    if op in ("Unsqueeze", "Squeeze", "Cast"):
        return vals[0]
    if op == "Concat":
        return [x for v in vals for x in v] if int(a.get("axis", 0)) == 0 else None
    if op == "Gather":
        data, idx = vals[0], vals[1] if len(vals) > 1 else []
        if int(a.get("axis", 0)) != 0 or not all(-len(data) <= i < len(data) for i in idx):
            return None
        return [data[i] for i in idx]
    if len(vals) != 2:
        return None
    x, y = vals
    if len(x) != len(y):
        if 1 not in (len(x), len(y)):
            return None
        x, y = (x * len(y), y) if len(x) == 1 else (x, y * len(x))
    if op == "Div" and 0 in y:
        return None
    return [_arith(op, p, q) for p, q in zip(x, y, strict=True)]


def _arith(op: str, p: int, q: int) -> int:
    if op == "Add":
        return p + q
    if op == "Sub":
        return p - q
    if op == "Mul":
        return p * q
    return int(p / q)  # ONNX's integer Div truncates toward zero
