"""The diagrams against torch: the input pixels and the units of every level that a unit of the
chosen layer depends on are those with a non-zero gradient of that unit.

Weights are all ones and there are no activations, so no gradient cancels: the non-zero rows of
each level's gradient are exactly the units the diagram marks as read (``seen``): under the
field, inside the map, and not reached only through the padding of a later layer (or dropped
by a floored size). The field itself (size, and the part in the padding) is the engine's.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from app.engine import analyze_network, parse_spec
from app.engine.unitfield import graph_inputs
from app.present.rfdiagram import Level, UnitChoice, rf_diagram

#: (spec, the same layers in torch on one channel)
CASES = {
    "three 3x3": ("input 12x12x1\nconv 1 3x3\nconv 1 3x3\nconv 1 3x3",
                  lambda: [nn.Conv2d(1, 1, 3), nn.Conv2d(1, 1, 3), nn.Conv2d(1, 1, 3)]),
    # conv1 gives 9 rows, the pool reads 8 of them
    "stride, pad, pool": (("input 17x17x1\nconv 1 3x3 stride 2 pad 1\navgpool 2x2\n"
                           "conv 1 3x3 pad 1\nconv 1 5x5 stride 2 pad 2"),
                          lambda: [nn.Conv2d(1, 1, 3, 2, 1), nn.AvgPool2d(2),
                                   nn.Conv2d(1, 1, 3, 1, 1), nn.Conv2d(1, 1, 5, 2, 2)]),
    "upsample": ("input 16x16x1\nconv 1 3x3 stride 2 pad 1\nupsample 2\nconv 1 3x3 pad 1",
                 lambda: [nn.Conv2d(1, 1, 3, 2, 1), nn.Upsample(scale_factor=2),
                          nn.Conv2d(1, 1, 3, 1, 1)]),
    "transposed, jump below 1": ("input 16x16x1\nconvtranspose 1 3x3 stride 2\nconv 1 3x3",
                                 lambda: [nn.ConvTranspose2d(1, 1, 3, 2), nn.Conv2d(1, 1, 3)]),
    "rectangular": ("input 15x11x1\nconv 1 1x5 pad 0x2\nconv 1 3x1 stride 2x1\nconv 1 3x3 pad 1",
                    lambda: [nn.Conv2d(1, 1, (1, 5), padding=(0, 2)),
                             nn.Conv2d(1, 1, (3, 1), stride=(2, 1)),
                             nn.Conv2d(1, 1, 3, padding=1)]),
}


#: after a transposed convolution of stride 2 and kernel 2, output units 2m and 2m + 1 both come
#: from input unit m, so no single (size, jump, start) gives every unit's field: the row's
#: start -0.5 is right for the first and last units, a pixel short for the centre one, which the
#: diagram draws as its own
TRANSPOSED = (("input 16x16x1\nconv 1 3x3 stride 2 pad 1\nconvtranspose 1 2x2 stride 2\n"
               "conv 1 3x3 pad 1"),
              lambda: [nn.Conv2d(1, 1, 3, 2, 1), nn.ConvTranspose2d(1, 1, 2, 2),
                       nn.Conv2d(1, 1, 3, 1, 1)])


def _ones(layers: list[nn.Module]) -> list[nn.Module]:
    for m in layers:
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    return layers


def _nonzero_span(grad: torch.Tensor, dim: int) -> tuple[int, int]:
    """First and last index along ``dim`` (2 = H, 3 = W) where the gradient is non-zero."""
    other = 3 if dim == 2 else 2
    hit = grad.abs().sum(dim=(0, 1, other)) > 0
    idx = torch.nonzero(hit).flatten().tolist()
    return idx[0], idx[-1]


@pytest.mark.parametrize("unit", ["first", "centre", "last"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_covered_units_are_torchs_gradient(case: str, unit: UnitChoice) -> None:
    _check(*CASES[case], case, unit)


#: a small U-Net-like stack: down by a stride, up by a transposed conv and by a nearest
#: upsample, so that units of one row see differently by position
UPWARDS = (("input 20x20x1\nconv 1 3x3 stride 2 pad 1\nconv 1 3x3 stride 2 pad 1\n"
            "convtranspose 1 3x3 stride 2\nconv 1 3x3 pad 1\nupsample 2\nconv 1 3x3 pad 1"),
           lambda: [nn.Conv2d(1, 1, 3, 2, 1), nn.Conv2d(1, 1, 3, 2, 1),
                    nn.ConvTranspose2d(1, 1, 3, 2), nn.Conv2d(1, 1, 3, 1, 1),
                    nn.Upsample(scale_factor=2), nn.Conv2d(1, 1, 3, 1, 1)])


@pytest.mark.parametrize("unit", ["first", "centre", "last", "3,4", "4,3", "5", "0,15"])
def test_transposed_conv_units_are_torchs_gradient(unit: UnitChoice) -> None:
    _check(*TRANSPOSED, "transposed", unit)


@pytest.mark.parametrize("unit", ["first", "centre", "last", "1,2", "10,11", "21,0", "13"])
def test_upsampled_units_are_torchs_gradient(unit: UnitChoice) -> None:
    _check(*UPWARDS, "upwards", unit)


def test_units_of_an_upsampled_row_see_differently() -> None:
    """The reason the diagram follows each unit: inside the map, away from the padding, the
    units' fields are not one field shifted by the jump."""
    net = parse_spec(UPWARDS[0])
    a = analyze_network(net)
    inputs = graph_inputs(net, a)
    fields = [rf_diagram(a.layers, inputs, len(a.layers) - 1, f"{u},{u}").field.h
              for u in range(8, 16)]
    assert len({(f.size, f.centre - u * f.jump) for u, f in enumerate(fields)}) > 1


def _check(spec: str, build: Callable[[], list[nn.Module]], case: str, unit: UnitChoice) -> None:
    net = parse_spec(spec)
    a = analyze_network(net)
    rows = a.layers
    d = rf_diagram(rows, graph_inputs(net, a), len(rows) - 1, unit)
    layers = _ones(build())
    x = torch.ones(1, 1, rows[0].output.h, rows[0].output.w, dtype=torch.float64,
                   requires_grad=True)
    outs = [x]
    for m in layers:
        outs.append(m.double()(outs[-1]))
        outs[-1].retain_grad()
    i, j = d.field.unit
    outs[-1][0, 0, i, j].backward()
    by_row = {r.index: outs[r.index] for r in rows}
    for p in d.pyramids:
        if p.layout != "wide":
            continue
        for dim, name in ((2, "H"), (3, "W")):
            if name not in p.axes:
                continue
            for lv in p.levels:
                if not isinstance(lv, Level):
                    continue
                grad = by_row[lv.row].grad
                assert grad is not None
                sp = lv.span
                seen = (sp.seen_first, sp.seen_last)
                assert _nonzero_span(grad, dim) == seen, (case, unit, lv.name, name)
                assert sp.seen + sp.unseen + sp.padding == sp.count
    f = d.field
    for dim, ax in ((2, f.h), (3, f.w)):
        assert _nonzero_span(x.grad, dim) == (ax.seen_first, ax.seen_last)
        assert ax.seen + ax.unseen == ax.inside
