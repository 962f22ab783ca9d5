"""``pixelshuffle R`` (sub-pixel upsampling, ``nn.PixelShuffle``) against torch: shapes,
parameters and multiply-adds through the torch builder; every unit's receptive field by the
gradient; the generated PyTorch code; and the three ways in: an fx trace (the module and
``F.pixel_shuffle``), an ONNX ``DepthToSpace`` (CRD) and a pasted ``nn.PixelShuffle`` line."""

from __future__ import annotations

import io
import warnings
from typing import Any

import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
from torch import nn
from torch.nn import functional
from torch.utils.flop_counter import FlopCounterMode

from app.engine import SpecError, analyze, analyze_network, parse_spec
from app.engine.unitfield import unit_field
from app.export import subject_from_spec
from app.export.pytorch import model_class, render
from app.importer.api import import_module, import_onnx
from app.torchnet import compare
from tests.torch.gradient import field, positive_module, support

#: ESPCN's head (Shi et al. 2016) on a small image, and a shuffle by 3 between convolutions
ESPCN = ("input 12x10x3\nconv 32 5x5 pad 2\ntanh\nconv 16 3x3 pad 1\ntanh\n"
         "conv 12 3x3 pad 1\nps: pixelshuffle 2\n")
SPECS = [
    ESPCN,
    "input 7x5x18\nps: pixelshuffle 3\nconv 4 3x3 pad 1\npixelshuffle 2\nconv 2 3x3 stride 2",
    "input 8x8x8\nresidual { conv 16 3x3 pad 1; pixelshuffle 2; conv 8 2x2 stride 2 }",
]


@pytest.mark.parametrize("spec", SPECS)
def test_shapes_params_and_macs_agree_with_torch(spec: str) -> None:
    assert compare(parse_spec(spec)) == []


def test_the_shape_is_the_formula() -> None:
    ps = analyze("input 7x5x18\nps: pixelshuffle 3").layers[-1]
    assert (ps.output.h, ps.output.w, ps.output.c) == (7 * 3, 5 * 3, 18 // (3 * 3))
    assert ps.params == 0 and ps.macs == 0
    assert ps.working["c"] is not None


def test_the_field_keeps_its_size_and_its_jump_divides_by_r() -> None:
    rows = analyze("input 16x16x8\nc1: conv 8 3x3 pad 1\nps: pixelshuffle 2\n"
                   "c2: conv 2 3x3 pad 1").layers
    c1, ps, c2 = rows[1].rf.h, rows[2].rf.h, rows[3].rf.h
    assert (ps.size, ps.jump) == (c1.size, c1.jump / 2)
    # the next 3x3 reads three units of the shuffled map: 1 + 2 jumps of 1/2 input unit more
    assert c2.size == c1.size + (3 - 1) * ps.jump == 4


def _units(n: int) -> list[int]:
    return sorted({0, 1, n // 2, n - 1} & set(range(n)))


@pytest.mark.parametrize("spec", ["input 6x5x2\nconv 8 3x3 pad 1\nps: pixelshuffle 2\n"
                                  "conv 2 3x3 pad 1", SPECS[1]])
def test_every_units_field_is_the_gradients(spec: str) -> None:
    net = parse_spec(spec)
    a = analyze_network(net)
    module = positive_module(net)
    module.keep_all = True
    module(torch.ones(1, net.input.c, net.input.h, net.input.w))
    checked = 0
    for row in a.layers[1:]:
        for i, j in zip(_units(row.output.h), reversed(_units(row.output.w)), strict=False):
            got = unit_field(net, a, row.name, (i, j))
            assert got.h is not None and got.w is not None
            assert ((got.h.first, got.h.last), (got.w.first, got.w.last)) == \
                support(net, row.name, (i, j), module=module), (row.name, i, j)
            checked += 1
    assert checked > 10


def test_the_middle_units_field_size_is_the_gradients() -> None:
    spec = "input 16x16x8\nconv 8 3x3 pad 1\nps: pixelshuffle 2\nconv 2 3x3 pad 1"
    net = parse_spec(spec)
    last = analyze_network(net).layers[-1]
    rows, cols = support(net)
    assert field(rows)[0] == field(cols)[0] == last.rf.h.size == 4


def test_channels_that_do_not_divide_are_refused_with_the_arithmetic() -> None:
    with pytest.raises(SpecError, match=r"divisible by R\*R = 4; 6 reach it \(6/4 = 1.5"):
        analyze("input 8x8x6\npixelshuffle 2")
    with pytest.raises(SpecError, match="needs its upscale factor"):
        analyze("input 8x8x4\npixelshuffle")


def test_the_generated_code_runs_to_the_engine_s_shapes() -> None:
    subject = subject_from_spec(ESPCN, "espcn")
    code = render(subject)
    assert "nn.PixelShuffle(2)" in code
    namespace: dict[str, Any] = {}
    exec(compile(code, "espcn.py", "exec"), namespace)
    model = namespace[model_class(subject)]().eval()
    with torch.no_grad():
        y = model(torch.zeros(1, 3, 12, 10))
    out = subject.analysis.output
    assert tuple(y.shape) == (1, out.c, out.h, out.w) == (1, 3, 24, 20)
    assert sum(p.numel() for p in model.parameters()) == subject.analysis.totals.params


class _SubPixel(nn.Module):
    """A module and a functional pixel shuffle, as super-resolution code writes both."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 48, 3, padding=1)
        self.shuffle = nn.PixelShuffle(2)
        self.conv2 = nn.Conv2d(12, 27, 3, padding=1)

    def forward(self, x: Any) -> Any:
        return functional.pixel_shuffle(self.conv2(self.shuffle(self.conv1(x))), 3)


def _counts(model: nn.Module, chw: tuple[int, int, int]) -> tuple[int, int]:
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(torch.zeros(1, *chw))
    return sum(p.numel() for p in model.parameters()), counter.get_total_flops() // 2


def test_an_fx_trace_reads_the_module_and_the_function() -> None:
    model = _SubPixel().eval()
    result = import_module(model, (8, 6, 3), "SubPixel")
    assert result.refused == ()
    assert "shuffle: pixelshuffle 2" in result.spec and "pixelshuffle 3" in result.spec
    analysis = analyze(result.spec)
    assert (analysis.output.h, analysis.output.w, analysis.output.c) == (8 * 6, 6 * 6, 3)
    assert (analysis.totals.params, analysis.totals.macs) == _counts(model, (3, 8, 6))


def _onnx(model: nn.Module, chw: tuple[int, int, int]) -> bytes:
    f = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(model, (torch.zeros(1, *chw),), f, dynamo=False)
    return f.getvalue()


def test_an_onnx_export_reads_depth_to_space_as_pixelshuffle() -> None:
    model = _SubPixel().eval()
    data = _onnx(model, (3, 8, 6))
    kinds = {n.op_type for n in onnx.load_model_from_string(data).graph.node}
    assert "DepthToSpace" in kinds
    result = import_onnx(data, "subpixel.onnx")
    assert result.refused == () and result.spec.count("pixelshuffle") == 2
    analysis = analyze(result.spec)
    assert (analysis.totals.params, analysis.totals.macs) == _counts(model, (3, 8, 6))


def test_depth_to_space_in_tensorflow_s_order_is_refused() -> None:
    from onnx import TensorProto, helper

    node = helper.make_node("DepthToSpace", ["x"], ["y"], blocksize=2, mode="DCR")
    graph = helper.make_graph(
        [node], "d2s", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, 4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 8, 8])])
    data = helper.make_model(graph).SerializeToString()
    result = import_onnx(data, "dcr.onnx")
    assert any("DCR" in r.reason for r in result.refused)


def test_a_pasted_pixelshuffle_line_reads_as_the_module() -> None:
    ps = analyze("input 4x4x8\nnn.PixelShuffle(upscale_factor=2)").layers[-1]
    assert ps.op == "pixelshuffle" and (ps.output.h, ps.output.c) == (8, 2)
