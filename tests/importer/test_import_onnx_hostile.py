"""Hostile ONNX files, read in this process: nothing but the upload is opened, every malformed
file is refused naming the node or tensor, and reading stays linear in the file's size.

An audit hook records every file this process opens while an import runs, so "never read"
is observed, not inferred from the answer.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402

from app.engine import analyze  # noqa: E402
from app.importer.api import ImportFailed, import_onnx  # noqa: E402
from tests.importer import hostile_onnx as h  # noqa: E402
from tests.importer.openwatch import files_opened  # noqa: E402


@pytest.fixture
def secret_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The working directory holds a secret and a symlink to it, where a relative external
    location would find them."""
    (tmp_path / "secret.bin").write_bytes(b"\x01\x00\x00\x00\x00\x00\x00\x00" * 2)
    (tmp_path / "link").symlink_to(tmp_path)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_a_model_saved_with_external_data_imports_from_declared_dims(tmp_path: Path) -> None:
    m = onnx.load_model_from_string(h.model(
        [h.conv(out="c0"), helper.make_node("Relu", ["c0"], ["y"], name="/act/Relu")],
        [h.conv_weight(out=16)]))
    onnx.save(m, tmp_path / "net.onnx", save_as_external_data=True,
              all_tensors_to_one_file=True, location="net.bin", size_threshold=0)
    data = (tmp_path / "net.onnx").read_bytes()
    os.chdir(tmp_path)  # where "net.bin" would resolve
    try:
        with files_opened() as opened:
            result = import_onnx(data)
    finally:
        os.chdir(Path(__file__).resolve().parents[2])
    assert not [p for p in opened if "net.bin" in p], opened
    assert result.refused == ()
    assert analyze(result.spec).totals.params == 16 * 3 * 3 * 3


@pytest.mark.parametrize("location", [*h.LOCATIONS, "link/secret.bin", "ABSOLUTE-SYMLINK"])
@pytest.mark.parametrize("maker", [h.external_reshape, h.external_constant,
                                   h.external_clip_bound])
def test_values_stored_as_external_data_are_refused_never_read(
        secret_dir: Path, location: str, maker: Any) -> None:
    if location == "ABSOLUTE-SYMLINK":
        location = str(secret_dir / "link" / "secret.bin")
    data = maker(location)
    with files_opened() as opened, pytest.raises(ImportFailed) as exc:
        import_onnx(data)
    assert opened == [], opened
    message = str(exc.value)
    assert "external data" in message and "never read" in message
    assert "/flatten/Reshape" in message or "/act/Clip" in message


@pytest.mark.parametrize("kw", [{"data_location": False}, {"offset": "0", "length": "16"}])
def test_an_external_pointer_is_refused_whatever_fields_say_it(secret_dir: Path,
                                                                kw: dict[str, Any]) -> None:
    """Entries in external_data without data_location = EXTERNAL, or with an offset and
    length, point at a file just the same."""
    with files_opened() as opened, pytest.raises(ImportFailed, match="external data"):
        import_onnx(h.external_reshape("secret.bin", **kw))
    assert opened == []


def test_an_external_tensor_with_no_location_is_refused() -> None:
    with pytest.raises(ImportFailed, match="external data"):
        import_onnx(h.external_reshape(None))


@pytest.mark.parametrize("case", list(h.MALFORMED))
def test_malformed_files_are_refused_naming_the_node_or_tensor(case: str) -> None:
    make, words = h.MALFORMED[case]
    with files_opened() as opened, pytest.raises(ImportFailed) as exc:
        import_onnx(make())
    for word in words:
        assert word in str(exc.value), (case, str(exc.value))
    assert opened == []


def test_a_float16_constant_is_decoded_from_its_bits() -> None:
    """ReLU6 as Clip with float16 bounds (values kept as bit patterns in int32_data)."""
    lo = helper.make_tensor("lo", TensorProto.FLOAT16, [], [0.0])
    hi = helper.make_tensor("hi", TensorProto.FLOAT16, [], [6.0])
    nodes = [h.conv(), helper.make_node("Clip", ["c", "lo", "hi"], ["y"], name="/act/Clip")]
    spec = import_onnx(h.model(nodes, [h.conv_weight(), lo, hi])).spec
    assert "act: relu6" in spec


def test_a_chain_of_20000_nodes_is_read_whole() -> None:
    result = import_onnx(h.relu_chain(20_000))
    assert result.refused == ()
    assert result.spec.count(": relu\n") == 20_000
    names = [line.split(":")[0] for line in result.spec.splitlines() if ": relu" in line]
    assert len(set(names)) == 20_000 and names[:3] == ["act", "act_2", "act_3"]


def test_blocks_nested_thousands_deep_are_written_by_name_not_by_recursion() -> None:
    result = import_onnx(h.nested_adds(5_000))
    assert result.refused == ()
    assert result.spec.count(": add ") == 5_000


def test_crossing_branches_are_written_by_name_without_walking_them_all() -> None:
    result = import_onnx(h.crossing_merges(6_000))
    assert result.refused == ()
    assert result.spec.count(": add ") == 5_999


def test_thousands_of_pads_before_convolutions_are_read_in_one_pass() -> None:
    result = import_onnx(h.pads_before_convs(5_000))
    assert result.refused == () and result.spec.count("pad 1") >= 1


def test_shape_arithmetic_does_not_grow_integers_without_bound() -> None:
    result = import_onnx(h.squaring_muls(40))
    assert "Reshape" in [r.target for r in result.refused]
    assert max(len(r.reason) for r in result.refused) < 300  # no number of 2^40 squared


@pytest.mark.parametrize(("make", "limit"), [(lambda: h.if_nodes(30), "import_max_nodes"),
                                             (lambda: h.value_infos(200), "value_info"),
                                             (lambda: h.relu_chain(51), "import_max_nodes")])
def test_counts_are_bounded_before_any_work(make: Any, limit: str) -> None:
    with pytest.raises(ImportFailed, match=limit):
        import_onnx(make(), max_nodes=25)


def _field(number: int, payload: bytes) -> bytes:
    """One length-delimited protobuf field."""
    def varint(n: int) -> bytes:
        out = b""
        while True:
            byte, n = n & 0x7F, n >> 7
            out += bytes([byte | (0x80 if n else 0)])
            if not n:
                return out
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def test_protobuf_nesting_past_its_recursion_limit_is_not_an_onnx_file() -> None:
    """A node whose If branch holds a node whose If branch holds...: 500 levels, written as
    protobuf bytes (ModelProto.graph 7, GraphProto.node 1, NodeProto.attribute 5,
    AttributeProto.name 1 and g 6), appended to a valid model's graph."""
    graph = b""
    for _ in range(500):
        attribute = _field(1, b"then_branch") + _field(6, graph)
        graph = _field(1, _field(5, attribute))
    data = h.model([h.conv(), helper.make_node("Relu", ["c"], ["y"])], [h.conv_weight()])
    with pytest.raises(ImportFailed, match="not a valid ONNX file"):
        import_onnx(data + _field(7, graph))


@pytest.mark.parametrize(("width", "depth"), [(5_000, 1), (64, 60)])
def test_a_wide_concat_of_deep_branches_is_read_in_bounded_work(width: int, depth: int) -> None:
    """Nesting a flattened Concat again walks up from each input a bounded way, and a Concat
    wider than any network's is kept flat without looking."""
    nodes = [helper.make_node("Relu", ["x"], ["s"], name="/stem/Relu")]
    for i in range(width):
        prev = "s"
        for j in range(depth):
            nodes.append(helper.make_node("Relu", [prev], [f"b{i}_{j}"], name=f"/b{i}/Relu"))
            prev = f"b{i}_{j}"
    nodes.append(helper.make_node("Concat", [f"b{i}_{depth - 1}" for i in range(width)], ["y"],
                                  name="/cat/Concat", axis=1))
    result = import_onnx(h.model(nodes))
    assert result.refused == ()
    assert result.spec.count(": relu") + result.spec.count("  relu") >= width * depth
