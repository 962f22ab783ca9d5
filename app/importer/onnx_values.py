"""The ONNX reader's state and the lookups every node rule shares.

Which graph node stands for an ONNX value (through Identity aliases), an initializer's dimensions,
a small constant's values; and the two ways a node fails: not read (a refusal row) or malformed
(the whole file refused).
"""

from __future__ import annotations

from typing import Any

from app.importer.graph import Graph, Node, Refusal
from app.importer.onnx_file import Checked, External, small_values
from app.importer.onnx_names import UniqueNames, spec_name
from app.importer.onnx_shapes import ShapeRules
from app.importer.spectext import refused_row


class Unsupported(Exception):
    """A node with no spec op for it (becomes a refusal; the rest of the file is read)."""


class Malformed(ValueError):
    """A node whose attributes contradict ONNX's own rules (the file is refused)."""


def int_list(a: dict[str, Any], key: str, default: list[int], n: int) -> list[int]:
    """An int-list attribute that must hold ``n`` values (a 2-d Conv's strides: 2, pads: 4)."""
    value = a.get(key, default)
    if not isinstance(value, list) or len(value) != n or \
            not all(isinstance(x, int) for x in value):
        shown = value[:8] if isinstance(value, list) else value
        raise Malformed(f"its attribute {key!r} is {shown!r}; {n} integers are needed here")
    return value


class OnnxValues(ShapeRules):
    """What the reader knows about the file's values so far, and the lookups on it."""

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
        #: values in channels-last order (N x H x W x C), as ConvNeXt's LayerNorm and Linear
        #: layers see them between two Transposes
        self.nhwc: set[str] = set()
        #: initializers read through a Transpose (a Linear's weight, unfolded): their dims
        self.transposed: dict[str, list[int]] = {}

    def _v(self, value: str) -> str:
        value = self.alias.get(value, value)
        return self.value_node.get(value, value)

    def _refuse(self, node: Any, reason: str) -> None:
        name = spec_name(node.name, self.taken, node.op_type.lower())
        self.refused.append(Refusal(name, node.op_type, reason))
        ins = [self.shuffles[v][0] if v in self.shuffles else v for v in node.input]
        src = next((self._v(v) for v in ins if self._v(v) in self.graph.nodes), None)
        if src is not None:
            self.graph.add(refused_row(name, src, node.op_type, reason))
            for o in node.output:
                self.value_node[o] = name

    def _name(self, onnx_name: str, fallback: str) -> str:
        return spec_name(onnx_name, self.taken, fallback)

    def _computed(self, value: str) -> str:
        """The graph node standing for ``value``, which must be computed from the image."""
        v = self._v(value)
        if v not in self.graph.nodes:
            raise Unsupported(f"it reads {value[:200]!r}, which is not computed from the "
                              "image input (a constant, or arithmetic on shapes)")
        return v

    def _layer(self, node: Any, text: str, layout: str | None = None, comment: str = "") -> None:
        src = self._computed(node.input[0])
        name = spec_name(node.name, self.taken, node.op_type.lower())
        self.graph.add(Node(name, "layer", (src,), text, comment))
        self.value_node[node.output[0]] = name
        self.layout[name] = layout or self.layout.get(src, "nchw")

    def _dims(self, value: str) -> list[int]:
        value = self.alias.get(value, value)
        if value in self.transposed:
            return self.transposed[value]
        if value not in self.inits:
            raise Unsupported(f"its weight {value!r} is computed, not an initializer")
        return list(self.inits[value].dims)

    def _stored(self, value: str) -> bool:
        """Whether ``value`` is an initializer, read directly or through Identity nodes (an
        exporter stores equal weights once and gives each reader an Identity of it)."""
        return self.alias.get(value, value) in self.inits

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

    def _nchw(self, value: str) -> bool:
        """Whether ``value`` is an N x C x H x W map computed from the image."""
        v = self._v(value)
        shape = self.shapes.get(value)
        return v in self.graph.nodes and self.layout.get(v, "nchw") == "nchw" and \
            (shape is None or len(shape) == 4)
