"""Graphs written with names, against real torch modules: a U-Net with unpadded convs and
cropped skips, an FPN-style top-down path and a two-headed network. The torch builder runs the
same parsed spec; shapes, parameters and multiply-adds (FlopCounterMode / 2) must agree row by
row, and receptive fields agree with the input pixels torch's gradient reaches."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from app.engine import analyze_network, parse_spec
from app.torchnet import build_module, compare, measure
from tests.torch.gradient import field, positive_module, support

UNET = """\
input 60x60x1
conv 8 3x3; relu
conv 8 3x3; enc1: relu                 # 56x56x8
maxpool 2x2
conv 16 3x3; relu
conv 16 3x3; enc2: relu                # 24x24x16
maxpool 2x2
conv 32 3x3; relu
conv 32 3x3; relu                      # 8x8x32
up2: convtranspose 16 2x2 stride 2     # 16x16x16
skip2: crop to up2 from enc2
cat2: concat skip2 up2
conv 16 3x3; relu
conv 16 3x3; relu                      # 12x12x16
up1: convtranspose 8 2x2 stride 2      # 24x24x8
skip1: crop to up1 from enc1
cat1: concat skip1 up1
conv 8 3x3; relu
conv 8 3x3; relu
out: conv 2 1x1                        # 20x20x2
"""

FPN = """\
input 64x64x3
c2: conv 16 3x3 stride 2 pad 1; relu           # 32x32
c3: conv 32 3x3 stride 2 pad 1; relu           # 16x16
c4: conv 64 3x3 stride 2 pad 1; relu           # 8x8
p4: conv 32 1x1 from c4
up4: upsample 2 from p4
l3: conv 32 1x1 from c3
p3: add l3 up4
up3: upsample 2 from p3
l2: conv 32 1x1 from c2
p2: add l2 up3
o4: conv 32 3x3 pad 1 from p4
o3: conv 32 3x3 pad 1 from p3
o2: conv 32 3x3 pad 1 from p2
output o2 o3 o4
"""

TWO_HEADS = """\
input 32x32x3
conv 16 3x3 pad 1; bn; trunk: relu
conv 32 3x3 stride 2 pad 1; relu
gap; cls: fc 10
box: conv 4 1x1 from trunk
sepconv 8 3x3 pad same from trunk
gate: sigmoid
gap from trunk; conv 8 1x1; g: hardsigmoid
mask: mul gate g
output cls box mask
"""

RESIDUAL_BY_NAME = """\
input 24x24x8
x0: conv 8 3x3 pad 1
a: conv 8 3x3 pad 1; relu; b: conv 8 3x3 pad 1
s1: add x0 b
relu
c: conv 8 5x5 pad 2 from x0
s2: add s1 c input
"""


@pytest.mark.parametrize("spec", [UNET, FPN, TWO_HEADS, RESIDUAL_BY_NAME])
def test_named_graphs_agree_with_torch_row_by_row(spec: str) -> None:
    assert compare(parse_spec(spec)) == []


def test_the_unet_has_the_papers_shapes_and_its_totals_are_torchs() -> None:
    net = parse_spec(UNET)
    a = analyze_network(net)
    rows = {r.name: r for r in a.layers}
    assert (rows["skip2"].output.h, rows["cat2"].output.c) == (16, 32)
    assert (rows["out"].output.h, rows["out"].output.w) == (20, 20)
    seen = measure(net)
    assert (a.totals.params, a.totals.macs) == (seen.params, seen.macs)


def test_every_output_of_a_multi_output_graph_is_torchs() -> None:
    net = parse_spec(FPN)
    module = build_module(net)
    with torch.no_grad():
        module(module.dummy_input())
    a = analyze_network(net)
    rows = {r.name: r for r in a.layers}
    assert a.outputs == ("o2", "o3", "o4")
    got = [tuple(t.shape[1:]) for t in module.outputs]
    assert got == [(rows[n].output.c, rows[n].output.h, rows[n].output.w) for n in a.outputs]


def _engine_span(net, name: str, n_in: tuple[int, int]) -> tuple[tuple[int, float], ...]:
    """The engine's field of the middle unit of row ``name``, clipped to the input."""
    row = {r.name: r for r in analyze_network(net).layers}[name]
    out = []
    for ax, n_out, n in ((row.rf.h, row.output.h, n_in[0]), (row.rf.w, row.output.w, n_in[1])):
        centre = ax.start + (n_out // 2) * ax.jump
        lo, hi = max(centre - (ax.size - 1) / 2, 0), min(centre + (ax.size - 1) / 2, n - 1)
        out.append((int(hi - lo + 1), (lo + hi) / 2))
    return tuple(out)


@pytest.mark.parametrize("spec, rows", [
    (RESIDUAL_BY_NAME, ["s1", "c", "s2"]),
    # saturating gates have no gradient at large inputs: identities keep the same graph
    (TWO_HEADS.replace("bn; ", "").replace("hardsigmoid", "identity").replace("sigmoid",
                                                                              "identity"),
     ["box", "mask", "trunk"]),
    ("input 40x40x2\na: conv 2 3x3 stride 2 pad 1\nb: avgpool 3x3 stride 1 pad 1\n"
     "c: conv 2 5x5 pad 2 from a\nd: concat b c\ne: conv 2 3x3 pad 1", ["d", "e"]),
])
def test_fields_through_named_graphs_are_the_gradients(spec: str, rows: list[str]) -> None:
    net = parse_spec(spec)
    module = positive_module(net)
    module.keep_all = True
    for name in rows:
        spans = support(net, name, module=module)
        assert tuple(field(s) for s in spans) == _engine_span(net, name,
                                                              (net.input.h, net.input.w)), name


def test_a_flattened_fc_sees_its_whole_input() -> None:
    net = parse_spec("input 8x8x1\nconv 1 3x3\nflatten\nfc 10")
    fc = analyze_network(net).layers[-1]
    assert (fc.rf.h.size, fc.rf.w.size) == (8, 8)
    assert support(net) == ((0, 7), (0, 7))
