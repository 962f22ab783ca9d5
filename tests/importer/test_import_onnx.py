"""ONNX import: torchvision models exported with torch.onnx, read back with the
``onnx`` package, analysed by the engine, against the torch model; hostile files refused.

The exports use the TorchScript exporter (``dynamo=False``) with BatchNorm kept
(``do_constant_folding=False``, eval mode preserved), so the file has the model's own layers; a
default export, whose BatchNorm the exporter folds into the convolutions, is checked against the
file's own initializers. The sweep of torchvision's CNNs is test_import_onnx_exports.py.
"""

from __future__ import annotations

import io
import warnings
from typing import Any

import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402

from app.engine import analyze  # noqa: E402
from app.importer.api import ImportFailed, import_onnx  # noqa: E402
from app.importer.tv import build  # noqa: E402
from tests.importer import onnx_exports as ex  # noqa: E402

SIZE = 64


def export(model: Any, size: int = SIZE, keep_bn: bool = True) -> bytes:
    f = io.BytesIO()
    kwargs: dict[str, Any] = {"dynamo": False}
    if keep_bn:
        kwargs |= {"training": torch.onnx.TrainingMode.PRESERVE, "do_constant_folding": False}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(model, (torch.zeros(1, 3, size, size),), f, **kwargs)
    return f.getvalue()


def test_names_and_blocks_come_from_the_export() -> None:
    spec = import_onnx(ex.exported("resnet18", SIZE)).spec
    assert "layer2_0_conv1: conv 128 3x3 stride 2 pad 1 nobias" in spec
    assert "layer2_0: residual {" in spec and "} shortcut {" in spec
    assert "layer2_0_downsample_0: conv 128 1x1 stride 2 nobias" in spec


@pytest.mark.parametrize("name", ["resnet18", "shufflenet_v2_x1_0"])
def test_a_default_export_with_folded_batch_norm_counts_the_file_s_weights(name: str) -> None:
    data = export(build(name), keep_bn=False)
    model = onnx.load_model_from_string(data)
    stored = {t.name: t for t in model.graph.initializer}
    used = {i for n in model.graph.node if n.op_type in ("Conv", "Gemm") for i in n.input[1:]}
    aliases = {n.output[0]: n.input[0] for n in model.graph.node if n.op_type == "Identity"}
    size = 0
    for name in used:
        dims = stored[aliases.get(name, name)].dims
        n = 1
        for d in dims:
            n *= d
        size += n
    assert analyze(import_onnx(data).spec).totals.params == size


# -- small graphs written with onnx.helper ---------------------------------------------------

def _model(nodes: list[Any], inits: list[Any], shape: list[Any], out: str = "y",
           inputs: list[Any] | None = None) -> bytes:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)
    y = helper.make_tensor_value_info(out, TensorProto.FLOAT, None)
    graph = helper.make_graph(nodes, "g", inputs or [x], [y], initializer=inits)
    return helper.make_model(graph).SerializeToString()


def _weight(name: str, dims: list[int]) -> Any:
    n = 1
    for d in dims:
        n *= d
    return helper.make_tensor(name, TensorProto.FLOAT, dims, [0.0] * n)


CONV = [_weight("w", [8, 3, 3, 3]), _weight("b", [8])]


def test_a_hand_written_graph_with_asymmetric_padding() -> None:
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], name="/conv/Conv",
                              kernel_shape=[3, 3], strides=[2, 2], pads=[0, 0, 1, 1]),
             helper.make_node("Relu", ["c"], ["y"], name="/act/Relu")]
    spec = import_onnx(_model(nodes, CONV, [1, 3, 16, 16])).spec
    assert "conv: conv 8 3x3 stride 2 pad 0,1,0,1" in spec
    row = analyze(spec).layers[1]
    assert (row.output.h, row.params, row.macs) == (8, 3 * 3 * 3 * 8 + 8, 8 * 8 * 8 * 3 * 3 * 3)


def test_an_unsupported_op_is_refused_by_name_with_its_node() -> None:
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], name="/conv/Conv",
                              kernel_shape=[3, 3]),
             helper.make_node("Sin", ["c"], ["y"], name="/odd/Sin")]
    result = import_onnx(_model(nodes, CONV, [1, 3, 16, 16]))
    assert [(r.node, r.target) for r in result.refused] == [("odd", "Sin")]
    assert "# REFUSED odd (Sin): no spec op for it" in result.spec


def test_an_oversized_file_is_refused_before_it_is_read() -> None:
    data = _model([helper.make_node("Relu", ["x"], ["y"])], [], [1, 3, 8, 8])
    with pytest.raises(ImportFailed, match=r"over the limit of 16 \(max_import_bytes\)"):
        import_onnx(data, max_bytes=16)


@pytest.mark.parametrize("data", [b"", b"\x00\x01garbage\xff" * 10, b"not onnx at all"])
def test_garbage_is_refused(data: bytes) -> None:
    with pytest.raises(ImportFailed, match="not a valid ONNX file"):
        import_onnx(data)


def test_a_truncated_file_is_refused() -> None:
    data = ex.exported("squeezenet1_0", SIZE)
    with pytest.raises(ImportFailed, match="not a valid ONNX file"):
        import_onnx(data[: len(data) // 2])


def test_a_cyclic_graph_is_refused() -> None:
    nodes = [helper.make_node("Add", ["x", "b2"], ["a"], name="/add1/Add"),
             helper.make_node("Relu", ["a"], ["b2"], name="/relu/Relu"),
             helper.make_node("Relu", ["a"], ["y"], name="/out/Relu")]
    with pytest.raises(ImportFailed, match="cycle"):
        import_onnx(_model(nodes, [], [1, 3, 8, 8]))


def test_a_value_nothing_produces_is_refused() -> None:
    nodes = [helper.make_node("Add", ["x", "ghost"], ["y"], name="/add/Add")]
    with pytest.raises(ImportFailed, match="'ghost', which no node produces"):
        import_onnx(_model(nodes, [], [1, 3, 8, 8]))


@pytest.mark.parametrize(("shape", "match"), [
    ([1, 3, 10**9, 10**9], "over the engine's limits"),
    ([1, 3, "h", "w"], "fixed C, H and W"),
    ([1, 3, 224], "N x C x H x W"),
])
def test_absurd_input_shapes_are_refused(shape: list[Any], match: str) -> None:
    nodes = [helper.make_node("Relu", ["x"], ["y"])]
    with pytest.raises(ImportFailed, match=match):
        import_onnx(_model(nodes, [], shape))


def test_an_absurd_kernel_reaches_the_engine_s_limit() -> None:
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], name="/conv/Conv",
                              kernel_shape=[5000, 5000])]
    spec = import_onnx(_model(nodes, [_weight("w", [1, 3, 1, 1])], [1, 3, 8, 8])).spec
    assert "conv 1 5000x5000" in spec
    with pytest.raises(Exception, match="max_kernel"):
        analyze(spec)


def _ints(name: str, values: list[int]) -> Any:
    return helper.make_tensor(name, TensorProto.INT64, [len(values)], values)


def test_tensorflow_style_pad_then_conv_becomes_per_side_padding() -> None:
    # TF SAME at stride 2 on 16: out 8, total padding 1, all of it after (bottom, right)
    nodes = [helper.make_node("Pad", ["x", "pads"], ["p"], name="/pad/Pad", mode="constant"),
             helper.make_node("Conv", ["p", "w"], ["y"], name="/conv/Conv", kernel_shape=[3, 3],
                              strides=[2, 2])]
    inits = [_ints("pads", [0, 0, 0, 0, 0, 0, 1, 1]), _weight("w", [8, 3, 3, 3])]
    spec = import_onnx(_model(nodes, inits, [1, 3, 16, 16])).spec
    assert "conv: conv 8 3x3 stride 2 pad 0,1,0,1 nobias" in spec
    row = analyze(spec).layers[1]
    assert (row.output.h, row.output.w) == ((16 + 1 - 3) // 2 + 1, (16 + 1 - 3) // 2 + 1)
    assert row.macs == 8 * 8 * 8 * 3 * 3 * 3


def test_a_reflecting_pad_is_refused() -> None:
    nodes = [helper.make_node("Pad", ["x", "pads"], ["p"], name="/pad/Pad", mode="reflect"),
             helper.make_node("Conv", ["p", "w"], ["y"], name="/conv/Conv", kernel_shape=[3, 3])]
    inits = [_ints("pads", [0, 0, 1, 1, 0, 0, 1, 1]), _weight("w", [8, 3, 3, 3])]
    result = import_onnx(_model(nodes, inits, [1, 3, 16, 16]))
    assert [(r.node, r.target) for r in result.refused] == [("pad", "Pad")]


def test_matmul_and_separate_bias_adds_are_layers_with_bias() -> None:
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="/conv/Conv", kernel_shape=[1, 1]),
             helper.make_node("Add", ["c", "cb"], ["cc"], name="/conv/Add"),
             helper.make_node("Flatten", ["cc"], ["f"], name="/flat/Flatten"),
             helper.make_node("MatMul", ["f", "m"], ["mm"], name="/fc/MatMul"),
             helper.make_node("Add", ["mm", "mb"], ["y"], name="/fc/Add")]
    inits = [_weight("w", [8, 3, 1, 1]), _weight("cb", [8, 1, 1]),
             _weight("m", [4 * 4 * 8, 10]), _weight("mb", [10])]
    spec = import_onnx(_model(nodes, inits, [1, 3, 4, 4])).spec
    totals = analyze(spec).totals
    assert totals.params == (3 * 8 + 8) + (4 * 4 * 8 * 10 + 10)
    assert totals.macs == 4 * 4 * 8 * 3 + 4 * 4 * 8 * 10


# -- channel splits and shuffles (ShuffleNet V2) ------------------------------------------------

def test_shufflenet_s_slices_and_shuffles_become_split_blocks_and_channelshuffle() -> None:
    spec = import_onnx(ex.exported("shufflenet_v2_x1_0", SIZE)).spec
    assert "# stage3_1 ... stage3_7: 7 identical units\nrepeat 7 {\n  split {" in spec
    assert "stage2_0_channel_shuffle: channelshuffle 2" in spec
    assert "REFUSED" not in spec


def _shuffle_nodes(x: str, out: str, g: int, c: int, hw: int, perm: list[int]) -> list[Any]:
    return [helper.make_node("Reshape", [x, "s5"], ["r5"], name="/cs/Reshape"),
            helper.make_node("Transpose", ["r5"], ["t5"], name="/cs/Transpose", perm=perm),
            helper.make_node("Reshape", ["t5", "s4"], [out], name="/cs/Reshape_1")]


def _shapes(g: int, c: int, hw: int) -> list[Any]:
    return [_ints("s5", [1, g, c // g, hw, hw]), _ints("s4", [1, c, hw, hw])]


def test_a_split_node_into_equal_parts_is_a_split_block() -> None:
    # y = shuffle(cat(a, conv(b))) with a, b = Split(x) along the channels (opset 13)
    nodes = [helper.make_node("Split", ["x", "sizes"], ["a", "b"], name="/unit/Split", axis=1),
             helper.make_node("Conv", ["b", "w"], ["c"], name="/unit/conv/Conv",
                              kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("Concat", ["a", "c"], ["cat"], name="/unit/Concat", axis=1),
             *_shuffle_nodes("cat", "y", 2, 8, 6, [0, 2, 1, 3, 4])]
    inits = [_ints("sizes", [4, 4]), _weight("w", [4, 4, 3, 3]), *_shapes(2, 8, 6)]
    result = import_onnx(_model(nodes, inits, [1, 8, 6, 6]))
    assert result.refused == ()
    assert "unit: split {\n  branch { }\n  branch {\n    unit_conv: conv 4 3x3 pad 1 nobias" \
        in result.spec
    assert "cs_channel_shuffle: channelshuffle 2" in result.spec
    totals = analyze(result.spec).totals
    assert (totals.params, totals.macs) == (4 * 4 * 3 * 3, 6 * 6 * 4 * 4 * 3 * 3)


@pytest.mark.parametrize(("nodes", "inits", "target", "words"), [
    ([helper.make_node("Slice", ["x", "st", "en", "ax"], ["y"], name="/s/Slice")],
     [_ints("st", [0]), _ints("en", [3]), _ints("ax", [1])], "Slice", "not an equal share"),
    (_shuffle_nodes("x", "y", 2, 8, 6, [0, 1, 2, 4, 3]), _shapes(2, 8, 6), "Transpose",
     "other than a channel shuffle"),
    ([helper.make_node("Split", ["x", "sizes"], ["a", "y"], name="/s/Split", axis=1)],
     [_ints("sizes", [3, 5])], "Split", "equal shares"),
])
def test_channel_slices_and_transposes_other_than_shufflenet_s_are_refused(
        nodes: list[Any], inits: list[Any], target: str, words: str) -> None:
    result = import_onnx(_model(nodes, inits, [1, 8, 6, 6]))
    refused = [r for r in result.refused if r.target == target]
    assert refused and words in refused[0].reason, result.refused


# -- equal weights stored once, channels-last layers ---------------------------------------------

def test_one_initializer_read_by_two_convolutions_counts_for_each() -> None:
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c1"], name="/a/Conv",
                              kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("Conv", ["c1", "w2", "b"], ["c2"], name="/b/Conv",
                              kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("Identity", ["w2"], ["w2_again"], name="Identity_0"),
             helper.make_node("Conv", ["c2", "w2_again", "b"], ["y"], name="/c/Conv",
                              kernel_shape=[3, 3], pads=[1, 1, 1, 1])]
    inits = [_weight("w", [8, 3, 3, 3]), _weight("w2", [8, 8, 3, 3]), _weight("b", [8])]
    result = import_onnx(_model(nodes, inits, [1, 3, 8, 8]))
    assert result.refused == ()
    totals = analyze(result.spec).totals
    assert totals.params == (3 * 3 * 3 * 8 + 8) + 2 * (3 * 3 * 8 * 8 + 8)
    assert totals.macs == 8 * 8 * 8 * 3 * 3 * (3 + 8 + 8)


def _channels_last(middle: list[Any], inits: list[Any]) -> bytes:
    """x -> NHWC -> middle (reads "t", writes "m") -> NCHW -> y."""
    nodes = [helper.make_node("Transpose", ["x"], ["t"], name="/n/Transpose", perm=[0, 2, 3, 1]),
             *middle,
             helper.make_node("Transpose", ["m"], ["y"], name="/n/Transpose_1",
                              perm=[0, 3, 1, 2])]
    return _model(nodes, inits, [1, 8, 4, 4])


def test_layer_norm_and_a_linear_on_channels_last_are_layernorm_and_a_1x1_conv() -> None:
    middle = [helper.make_node("LayerNormalization", ["t", "g", "beta"], ["n"],
                               name="/norm/LayerNormalization", axis=-1),
              helper.make_node("Transpose", ["fc_w"], ["fc_wt"], name="/fc/Transpose",
                               perm=[1, 0]),
              helper.make_node("MatMul", ["n", "fc_wt"], ["mm"], name="/fc/MatMul"),
              helper.make_node("Add", ["fc_b", "mm"], ["m"], name="/fc/Add")]
    inits = [_weight("g", [8]), _weight("beta", [8]), _weight("fc_w", [16, 8]),
             _weight("fc_b", [16])]
    result = import_onnx(_channels_last(middle, inits))
    assert result.refused == ()
    assert "norm: layernorm\nfc: conv 16 1x1" in result.spec
    totals = analyze(result.spec).totals
    assert (totals.params, totals.macs) == (2 * 8 + 8 * 16 + 16, 4 * 4 * 8 * 16)


@pytest.mark.parametrize(("middle", "target", "words"), [
    ([helper.make_node("Conv", ["t", "w"], ["m"], name="/c/Conv", kernel_shape=[1, 1])],
     "Conv", "channels-last"),
    ([helper.make_node("LayerNormalization", ["t", "g"], ["m"], name="/n/LayerNormalization")],
     "LayerNormalization", "without a bias"),
    ([helper.make_node("LayerNormalization", ["t", "g", "g"], ["m"], axis=1,
                       name="/n/LayerNormalization")], "LayerNormalization", "from axis 1"),
])
def test_what_channels_last_cannot_be_is_refused_by_name(middle: list[Any], target: str,
                                                         words: str) -> None:
    result = import_onnx(_channels_last(middle, [_weight("w", [8, 8, 1, 1]), _weight("g", [8])]))
    refused = [r for r in result.refused if r.target == target]
    assert refused and words in refused[0].reason, result.refused


def test_a_layer_norm_of_an_nchw_map_is_refused_by_name() -> None:
    nodes = [helper.make_node("LayerNormalization", ["x", "g", "g"], ["y"],
                              name="/n/LayerNormalization", axis=-1)]
    result = import_onnx(_model(nodes, [_weight("g", [4])], [1, 8, 4, 4]))
    assert [(r.node, r.target) for r in result.refused] == [("n", "LayerNormalization")]


def _relu(x: str, y: str, name: str) -> Any:
    return helper.make_node("Relu", [x], [y], name=f"/{name}/Relu")


def test_a_concat_the_exporter_flattened_is_nested_where_a_run_forks_from_its_own_layer() -> None:
    # cat([a(x), cat([b(s), c(s)]) with s = stem(x)]) written as one Concat of three
    nodes = [_relu("x", "a", "blk/a"), _relu("x", "s", "blk/s"), _relu("s", "b", "blk/s_b"),
             _relu("s", "c", "blk/s_c"),
             helper.make_node("Concat", ["a", "b", "c"], ["y"], name="/blk/Concat", axis=1)]
    spec = import_onnx(_model(nodes, [], [1, 3, 4, 4])).spec
    assert "concat {\n  branch {\n    blk_a: relu\n  }\n  branch {\n    blk_s: relu\n" \
        "    blk_s_2: concat {\n" in spec
    assert analyze(spec).output.c == 9


def test_a_concat_of_branches_that_fork_together_stays_flat() -> None:
    nodes = [_relu("x", "a", "blk/a"), _relu("x", "b", "blk/b"), _relu("x", "c", "blk/c"),
             helper.make_node("Concat", ["a", "b", "c"], ["y"], name="/blk/Concat", axis=1)]
    spec = import_onnx(_model(nodes, [], [1, 3, 4, 4])).spec
    assert spec.count("concat {") == 1 and spec.count("branch {") == 3


def test_an_op_in_the_forward_of_a_module_holding_others_leaves_the_name_to_the_block() -> None:
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], name="/blk/conv/Conv",
                              kernel_shape=[1, 1]),
             helper.make_node("Add", ["c", "x2"], ["y"], name="/blk/Add"),
             helper.make_node("Relu", ["x"], ["x2"], name="/blk/act/Relu")]
    inits = [_weight("w", [3, 3, 1, 1]), _weight("b", [3])]
    spec = import_onnx(_model(nodes, inits, [1, 3, 4, 4])).spec
    assert "blk: residual {\n  blk_conv: conv 3 1x1\n" in spec, spec
