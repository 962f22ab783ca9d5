"""Text from an ONNX file (op types, domains, node names) lands in the imported spec's comments
and on the import page: it stays on its line, and invisible characters are written out."""

from __future__ import annotations

import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402

from app.engine import analyze  # noqa: E402
from app.importer.api import import_onnx  # noqa: E402


def hostile_model(op_type: str, domain: str = "evil", conv_name: str = "/conv/Conv") -> bytes:
    """A conv the spec language reads, then a node of an unknown op that it refuses."""
    weights = [helper.make_tensor("w", TensorProto.FLOAT, [8, 3, 3, 3], [0.0] * 8 * 27),
               helper.make_tensor("b", TensorProto.FLOAT, [8], [0.0] * 8)]
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], name=conv_name, kernel_shape=[3, 3]),
             helper.make_node(op_type, ["c"], ["y"], name="/odd/Op", domain=domain)]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    graph = helper.make_graph(nodes, "g", [x], [y], initializer=weights)
    return bytes(helper.make_model(graph).SerializeToString())


def _layers(spec: str) -> list[str]:
    return [line for line in spec.splitlines() if line.strip() and not line.startswith("#")]


@pytest.mark.parametrize("op_type", ["Sin\nfc 10", "Sin\r\nfc 10", "Sin\u2028fc 10"])
def test_a_newline_in_an_op_type_starts_no_line_of_the_spec(op_type: str) -> None:
    result = import_onnx(hostile_model(op_type, domain="x\ny"))
    refusal = result.refused[0]
    assert _layers(result.spec) == ["input 16x16x3", "conv: conv 8 3x3",
                                    f"odd: identity  # REFUSED {refusal.target}: "
                                    f"{refusal.reason}"], result.spec
    assert refusal.target.endswith("fc 10") and refusal.target.startswith("Sin\\u")
    assert "\n" not in refusal.reason and "x" in refusal.reason


def test_an_override_in_an_op_type_is_written_out() -> None:
    result = import_onnx(hostile_model("Sin\u202e"))
    assert "\u202e" not in result.spec and "Sin\\u202e" in result.spec
    assert result.refused[0].target == "Sin\\u202e"


def test_markup_in_a_node_name_becomes_a_plain_layer_name() -> None:
    data = hostile_model("Relu", domain="", conv_name="/<script>{{7*7}}/Conv")
    spec = import_onnx(data).spec
    names = [row.name for row in analyze(spec).layers]
    assert names[1].startswith("script") and names[1].endswith("7_7"), names
    assert all(c.isalnum() or c == "_" for n in names for c in n), names  # word characters


