"""An uploaded ONNX file, parsed and checked before the reader looks at its graph.

Everything here is about the file being hostile, not about what its graph means:

* **Bounds first.** The byte size, then the nodes (subgraphs and functions included), the
  tensors, value_info entries and attribute values are counted before any work that grows with
  them (shape inference, naming, block recovery). Over a bound, the file is refused naming it.
* **External data is never read.** A tensor may say that its values live in another file
  (``data_location = EXTERNAL`` and a ``location`` key). Every such tensor is found right after
  parsing and turned into a tensor of its declared dims and no data, so no later step (ONNX's
  shape inference, ``numpy_helper.to_array``, anything else) can resolve a path from an upload.
  Where the importer needs such a tensor's values, it refuses the file saying so.
* **Values are decoded here only**, for the few small constants the reader needs (Clip's bounds,
  Reshape's target), with their type, dims and byte count checked, never by ``onnx``'s helpers.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

#: the largest ONNX file read (the web app's setting max_import_bytes defaults to it)
MAX_ONNX_BYTES = 64 * 1024 * 1024
#: how to save a model's graph without its weights, which the importer never reads: the weights
#: go to graph.onnx.data (tensors under 1 KiB, such as Reshape's target shapes, stay inline)
GRAPH_ONLY_RECIPE = (
    "import onnx",
    'onnx.save(onnx.load("model.onnx"), "graph.onnx", save_as_external_data=True, '
    'location="graph.onnx.data")',
)
#: what a message about a file over the size limit adds
TOO_BIG_HINT = ("the importer reads the graph alone, never the weights: save it without them "
                "(" + "; ".join(GRAPH_ONLY_RECIPE) + ") and import graph.onnx")
#: nodes in the whole file, subgraphs and functions included (setting import_max_nodes)
MAX_NODES = 20_000
#: values of one attribute (a Conv's pads has four) and characters of a name the reader keeps
MAX_ATTRIBUTE_VALUES = 64
MAX_NAME_CHARS = 1024
#: the largest dimension a tensor may declare (no image, channel count or weight comes near)
MAX_DIM = 2**31 - 1
#: constants of at most this many values are decoded (Clip bounds, Reshape shapes)
SMALL = 16

# TensorProto.DataType: struct format of one value in raw_data, the typed field holding values
_TYPES: dict[int, tuple[str, str]] = {
    1: ("f", "float_data"), 2: ("B", "int32_data"), 3: ("b", "int32_data"),
    4: ("H", "int32_data"), 5: ("h", "int32_data"), 6: ("i", "int32_data"),
    7: ("q", "int64_data"), 9: ("?", "int32_data"), 10: ("e", "int32_data"),
    11: ("d", "double_data"), 12: ("I", "uint64_data"), 13: ("Q", "uint64_data"),
}
_EXTERNAL = 1  # TensorProto.EXTERNAL


class OnnxRefused(ValueError):
    """The file cannot be imported at all; the message says why."""


@dataclass(frozen=True, slots=True)
class Bounds:
    """What one import may read: the file's bytes and its nodes (other counts follow)."""

    max_bytes: int = MAX_ONNX_BYTES
    max_nodes: int = MAX_NODES

    @property
    def max_entries(self) -> int:
        """Tensors, value_info entries, graph inputs and outputs, each: four per node."""
        return 4 * self.max_nodes + 64


@dataclass
class Checked:
    """A parsed model whose external tensors were emptied, and where they pointed."""

    model: Any
    #: tensor or Constant output name -> the file its values would have been read from
    external: dict[str, str] = field(default_factory=dict)


def parse(data: bytes, bounds: Bounds) -> Checked:
    """The ModelProto in ``data``: size, well-formedness and counts checked, external data cut."""
    if len(data) > bounds.max_bytes:
        raise OnnxRefused(f"the file is {len(data):,} bytes, over the limit of "
                          f"{bounds.max_bytes:,} (max_import_bytes); {TOO_BIG_HINT}")
    import onnx
    from google.protobuf.message import DecodeError  # type: ignore[import-untyped]

    try:  # parses bytes only: unlike onnx.load, it never looks for external data
        model = onnx.load_model_from_string(data)
    except (DecodeError, ValueError, RuntimeError, TypeError) as exc:
        raise OnnxRefused(f"not a valid ONNX file (truncated or not ONNX): {exc}") from exc
    if not model.HasField("graph") or not model.graph.node:
        raise OnnxRefused("not a valid ONNX file: it has no graph nodes")
    checked = Checked(model)
    _Walk(bounds, checked).model(model)
    return checked


class _Walk:
    """One pass over every graph, node, attribute and tensor of the file (no recursion: a
    subgraph is queued), counting against the bounds and cutting external data."""

    def __init__(self, bounds: Bounds, checked: Checked) -> None:
        self.bounds, self.checked = bounds, checked
        self.nodes = 0
        self.totals: dict[str, int] = {}

    def model(self, model: Any) -> None:
        graphs = [model.graph]
        for fn in model.functions:
            self._nodes(fn.node, f"function {_short(fn.name)!r}", graphs)
        while graphs:
            g = graphs.pop()
            for what in ("initializer", "sparse_initializer", "value_info", "input", "output"):
                self._count(len(getattr(g, what)), what)
            for t in g.initializer:
                self._tensor(t, f"initializer {_short(t.name)!r}", t.name)
            for s in g.sparse_initializer:
                self._tensor(s.values, f"sparse initializer {_short(s.values.name)!r}",
                             s.values.name)
                self._tensor(s.indices, f"sparse initializer {_short(s.values.name)!r}", "")
            self._nodes(g.node, "the graph", graphs)

    def _count(self, n: int, what: str) -> None:
        """``n`` more entries of ``what``, counted over every graph of the file."""
        total = self.totals[what] = self.totals.get(what, 0) + n
        if total > self.bounds.max_entries:
            raise OnnxRefused(f"the graph has {total:,} {what} entries, over the limit of "
                              f"{self.bounds.max_entries:,} (4 x import_max_nodes)")

    def _nodes(self, nodes: Any, where: str, graphs: list[Any]) -> None:
        self.nodes += len(nodes)
        if self.nodes > self.bounds.max_nodes:
            raise OnnxRefused(f"the file has over {self.bounds.max_nodes:,} nodes (subgraphs "
                              "and functions counted), the limit (import_max_nodes)")
        for i, node in enumerate(nodes):
            label = node_label(node, i)
            if len(node.name) > MAX_NAME_CHARS or len(node.op_type) > MAX_NAME_CHARS:
                raise OnnxRefused(f"node #{i} of {where} has a name or op type over "
                                  f"{MAX_NAME_CHARS:,} characters")
            if len(node.input) + len(node.output) > self.bounds.max_entries:
                raise OnnxRefused(f"node {label} has {len(node.input) + len(node.output):,} "
                                  "inputs and outputs, over the limit")
            for a in node.attribute:
                self._attribute(a, node, label, graphs)

    def _attribute(self, a: Any, node: Any, label: str, graphs: list[Any]) -> None:
        if a.HasField("t"):
            owner = node.output[0] if node.op_type == "Constant" and node.output else ""
            self._tensor(a.t, f"attribute {_short(a.name)!r} of node {label}", owner)
        for t in a.tensors:
            self._tensor(t, f"attribute {_short(a.name)!r} of node {label}", "")
        if a.HasField("sparse_tensor"):
            self._tensor(a.sparse_tensor.values, f"attribute {_short(a.name)!r} of node {label}",
                         "")
        if a.HasField("g"):
            graphs.append(a.g)
        graphs.extend(a.graphs)

    def _tensor(self, t: Any, where: str, owner: str) -> None:
        """Negative dims refused; external data recorded under ``owner`` and cut away."""
        if any(d < 0 or d > MAX_DIM for d in t.dims):
            raise OnnxRefused(f"tensor {_short(t.name)!r} ({where}) declares dims "
                              f"{list(t.dims)[:8]}: each must be from 0 to {MAX_DIM:,}")
        if t.data_location != _EXTERNAL and not len(t.external_data):
            return
        location = next((e.value for e in t.external_data if e.key == "location"), "")
        if owner:
            self.checked.external[owner] = _short(location)
        # nothing downstream may find a path: the declared dims stay, the pointer goes
        del t.external_data[:]
        t.ClearField("data_location")
        t.ClearField("raw_data")


def node_label(node: Any, index: int) -> str:
    """How a message names a node: its name, else its op type and position."""
    return repr(_short(node.name)) if node.name else f"#{index} ({_short(node.op_type)})"


def _short(text: str, n: int = 200) -> str:
    return text if len(text) <= n else text[:n] + "..."


def attributes(node: Any) -> dict[str, Any]:
    """A node's attributes as Python values; one with more than MAX_ATTRIBUTE_VALUES values, or
    a string longer than MAX_NAME_CHARS, is refused (no operator the importer reads needs one)."""
    import onnx

    out: dict[str, Any] = {}
    for a in node.attribute:
        count = len(a.ints) + len(a.floats) + len(a.strings) + len(a.tensors) + len(a.graphs)
        if count > MAX_ATTRIBUTE_VALUES or len(a.s) > MAX_NAME_CHARS:
            raise OnnxRefused(f"node {node_label(node, 0)}: its attribute {_short(a.name)!r} "
                              f"holds {max(count, len(a.s)):,} values; the importer reads at "
                              f"most {MAX_ATTRIBUTE_VALUES} ({MAX_NAME_CHARS:,} characters)")
        try:
            out[a.name] = onnx.helper.get_attribute_value(a)
        except Exception as exc:  # an attribute type onnx does not know
            raise OnnxRefused(f"node {node_label(node, 0)}: its attribute {_short(a.name)!r} "
                              f"cannot be read: {exc}") from exc
    return out


class External(Exception):
    """A value the importer needs is stored as external data, which it never reads."""

    def __init__(self, name: str, location: str) -> None:
        super().__init__(f"it needs the values of {name!r}, which the file stores as external "
                         f"data (in {location!r}); external data is never read: save the model "
                         "with its data inside (onnx.save without save_as_external_data)")


def small_values(t: Any) -> list[float] | None:
    """The values of a constant of at most SMALL values; None for a larger one. Decoded from its
    raw bytes or typed field after checking type, dims and length (OnnxRefused otherwise)."""
    n = 1
    for d in t.dims:
        n *= d
    if n > SMALL:
        return None
    name = _short(t.name) or "a constant"
    kind = _TYPES.get(t.data_type)
    if kind is None:
        raise OnnxRefused(f"tensor {name!r} has data type {t.data_type}, whose values the "
                          "importer does not read (it reads numbers: floats, ints, bool)")
    fmt, typed = kind
    if t.raw_data:
        size = struct.calcsize(fmt)
        if len(t.raw_data) != n * size:
            raise OnnxRefused(f"tensor {name!r} holds {len(t.raw_data):,} bytes of raw data; "
                              f"its dims {list(t.dims)} need {n * size:,}")
        return [float(x) for x in struct.unpack(f"<{n}{fmt}", t.raw_data)]
    values = list(getattr(t, typed))
    if len(values) != n:
        raise OnnxRefused(f"tensor {name!r} holds {len(values):,} values; its dims "
                          f"{list(t.dims)} need {n:,}")
    if fmt == "e":  # float16 values are stored as their bit patterns in int32_data
        bits = [x & 0xFFFF for x in values]
        return [float(x) for x in struct.unpack(f"<{n}e", struct.pack(f"<{n}H", *bits))]
    return [float(x) for x in values]
