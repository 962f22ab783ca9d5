"""Receptive fields as torch sees them: the engine's size and centre against the input pixels
whose gradient a chosen output unit has (a gradient test), for single paths and for merges,
where the field is the union of the branches' fields.

All weights are made positive, pools are average pools and the input is ones, so every pixel a
unit depends on gets a non-zero gradient and no other pixel does.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from app.engine import SpecError, analyze_network, parse_spec
from app.torchnet import build_module

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")


def torch_field(spec: str) -> tuple[tuple[int, float], tuple[int, float]]:
    """(size, centre) per axis of the middle output unit's field, from torch's gradient."""
    net = parse_spec(spec)
    module = build_module(net)
    v = net.input
    x = torch.ones(1, v.c, v.h, v.w)
    module(x)  # materialise the lazy modules
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(p.abs() + 0.05)
    module.eval()
    x.requires_grad_(True)
    y = module(x)
    i, j = y.shape[2] // 2, y.shape[3] // 2
    y[0, :, i, j].sum().backward()
    assert x.grad is not None
    g = x.grad.abs().sum(dim=(0, 1))
    out = []
    for axis, _unit in ((1, i), (0, j)):
        hit = torch.nonzero(g.sum(dim=axis)).flatten()
        lo, hi = int(hit.min()), int(hit.max())
        out.append((hi - lo + 1, (lo + hi) / 2))
    return out[0], out[1]


def inside(spec: str) -> bool:
    """Whether the middle unit's field lies inside the input. A field clipped by the input's
    edge is not comparable when strides leave holes (a 1x1 conv at stride 2 reads only even
    pixels: the last pixel the span reaches may be one it never reads)."""
    net = parse_spec(spec)
    last = analyze_network(net).layers[-1]
    for ax, n_out, n_in in ((last.rf.h, last.output.h, net.input.h),
                            (last.rf.w, last.output.w, net.input.w)):
        centre = ax.start + (n_out // 2) * ax.jump
        if centre - (ax.size - 1) / 2 < 0 or centre + (ax.size - 1) / 2 > n_in - 1:
            return False
    return True


def engine_field(spec: str) -> tuple[tuple[int, float], tuple[int, float]]:
    """The same unit's field from the engine's last row, clipped to the input as torch sees it."""
    net = parse_spec(spec)
    last = analyze_network(net).layers[-1]
    out = []
    for ax, n_out, n_in in ((last.rf.h, last.output.h, net.input.h),
                            (last.rf.w, last.output.w, net.input.w)):
        centre = ax.start + (n_out // 2) * ax.jump
        lo, hi = centre - (ax.size - 1) / 2, centre + (ax.size - 1) / 2
        lo, hi = max(lo, 0), min(hi, n_in - 1)
        out.append((int(hi - lo + 1), (lo + hi) / 2))
    return out[0], out[1]


MERGES = [
    # branches whose fields differ in size and centre: a 3x3 conv beside two stacked 2x2
    # 'pad same' convs: 4 pixels, centre 0.5
    ("input 64x64x4\nconcat {\n branch { conv 4 3x3 pad 1 }\n"
     " branch { conv 4 2x2 pad same; conv 4 2x2 pad same }\n}", 4),
    ("input 64x64x4\nresidual { conv 4 3x3 pad 1 } shortcut { conv 4 2x2 pad same; "
     "conv 4 2x2 pad same }", 4),
    ("input 64x64x4\njoin {\n branch { conv 4 5x1 pad 2x0 }\n branch { conv 4 1x5 pad 0x2 }\n}", 5),
    ("input 64x64x4\nresidual { conv 4 3x3 pad 1; conv 4 3x3 pad 1 }", 5),
    ("input 64x64x4\ndense { conv 4 3x3 pad 1 }", 3),
    # a split block: each branch reads its half of the channels; the field is still the union
    ("input 64x64x4\nsplit {\n branch { conv 2 5x5 pad 2 }\n branch { }\n}", 5),
    ("input 64x64x4\nsplit { branch { conv 2 3x3 pad 1 } branch { conv 2 1x7 pad 0x3 } }\n"
     "channelshuffle 2\nconv 4 3x3 pad 1", 9),
]


@pytest.mark.parametrize("spec", [
    "input 48x48x3\nconv 3 3x3 stride 2 pad 0,1\nconv 3 3x3 pad 1,2,0,1",
    "input 49x48x3\nconv 3 3x3 stride 2 pad same\nconv 3 5x5 stride 3 pad same",
    "input 48x48x3\navgpool 3x3 stride 2 pad 1,0,0,1\nconv 3 2x2 pad same",
])
def test_per_side_and_tf_same_padding_shift_the_field_as_torch_does(spec: str) -> None:
    assert engine_field(spec) == torch_field(spec)


@pytest.mark.parametrize("spec, size", MERGES)
def test_a_merge_sees_the_union_of_its_branches_fields(spec: str, size: int) -> None:
    assert engine_field(spec) == torch_field(spec)
    assert max(engine_field(spec)[0][0], engine_field(spec)[1][0]) == size


def test_the_union_of_a_3x3_and_two_2x2_same_convs_is_centred_at_half_a_pixel() -> None:
    merge = analyze_network(parse_spec(MERGES[0][0])).layers[-1]
    assert (merge.rf.h.size, merge.rf.h.start) == (4, 0.5)  # pixels -1..2


@st.composite
def chains(draw: st.DrawFn) -> str:
    lines = ["input 96x96x3"]
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["conv", "conv", "pool", "concat", "residual"]))
        k, s = draw(st.integers(1, 4)), draw(st.integers(1, 2))
        pad = f"pad {draw(st.integers(0, k // 2))}" if s > 1 or draw(st.booleans()) else "pad same"
        layer = (f"conv 3 {k}x{draw(st.integers(1, 4))} stride {s} {pad}" if kind == "conv"
                 else f"avgpool {k}x{k} stride {s}" if kind == "pool" else "")
        if kind == "concat":
            k2 = draw(st.integers(1, 4))
            layer = ("concat {\n branch { conv 3 " + f"{k}x{k} pad same" + " }\n branch { conv 3 "
                     + f"{k2}x{k2} pad same; conv 3 {k}x{k2} pad same" + " }\n}")
        if kind == "residual":
            layer = (f"residual {{ conv 3 {k}x{k} pad same; relu }} shortcut {{ conv 3 1x{k} "
                     f"pad same }}")
        lines.append(layer)
    return "\n".join(lines)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chains())
def test_random_chains_and_merges_agree_with_the_gradient(spec: str) -> None:
    try:
        net = parse_spec(spec)
        last = analyze_network(net).layers[-1]
    except SpecError:
        assume(False)
        return
    assume(last.output.h >= 1 and last.output.w >= 1)
    assume(inside(spec))
    assert engine_field(spec) == torch_field(spec), spec
