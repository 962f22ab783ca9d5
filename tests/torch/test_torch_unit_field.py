"""The exact field of a unit by its position, against torch's gradient: after transposed
convs and upsampling (where units of one row differ), at the borders (where padding stands in
for pixels), and through named graphs; and the range of field sizes over a row."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from app.engine import SpecError, analyze_network, parse_spec
from app.engine.unitfield import row_range, unit_field
from tests.torch.gradient import positive_module, support
from tests.torch.test_torch_graph import FPN, UNET

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")

SPECS = [
    # max pools route their gradient to one pixel: the U-Net's pools are averages here
    UNET.replace("maxpool", "avgpool"),
    FPN,
    # odd bilinear factors put some taps at a weight of exactly 0, which torch's float32
    # arithmetic turns into about 1e-8: even factors only
    "input 20x20x2\nconvtranspose 2 3x3 stride 2 pad 1\nupsample 2 bilinear\n"
    "conv 2 3x3 stride 2 pad 1\nupsample 4 bilinear\nupsample 3",
    "input 15x15x2\nconv 2 3x3 stride 2 pad 2 dilation 2\n"
    "convtranspose 2 5x5 stride 3 pad 1 dilation 2 outpad 1\navgpool 3x3 stride 2 pad 1 ceil\n"
    "adaptiveavgpool 5x5\nconv 2 2x2 pad same\nsepconv 2 3x3 stride 2 pad same",
]


def _units(n: int) -> list[int]:
    return sorted({0, 1, n // 2, n - 1} & set(range(n)))


@pytest.mark.parametrize("spec", SPECS)
def test_every_units_field_is_the_gradients(spec: str) -> None:
    net = parse_spec(spec)
    a = analyze_network(net)
    module = positive_module(net)
    module.keep_all = True
    module(torch.ones(1, net.input.c, net.input.h, net.input.w))
    checked = 0
    # every row that changes the shape or the field (the others share their input's units)
    rows = [r for r in a.layers[1:] if r.output != r.input or r.op in ("conv", "sepconv")]
    for row in rows:
        for i, j in zip(_units(row.output.h), reversed(_units(row.output.w)), strict=False):
            got = unit_field(net, a, row.name, (i, j))
            if got.h is None or got.w is None:  # reads only padding: no pixel at all
                x = torch.ones(1, net.input.c, net.input.h, net.input.w, requires_grad=True)
                module(x)
                module.values[row.name][0, :, i, j].sum().backward()
                assert x.grad is not None and not x.grad.any(), (row.name, i, j)
                continue
            assert ((got.h.first, got.h.last), (got.w.first, got.w.last)) == \
                support(net, row.name, (i, j), module=module), (row.name, i, j)
            checked += 1
    assert checked > 10


def test_a_transposed_convs_units_alternate_and_the_range_says_so() -> None:
    spec = "input 16x16x1\nconv 1 3x3\nconvtranspose 1 3x3 stride 2\nconv 1 3x3"
    net = parse_spec(spec)
    a = analyze_network(net)
    h, w = row_range(net, a, "conv2")
    sizes = {unit_field(net, a, "conv2", (u, u)).h.size for u in range(4, 20)}
    assert (h.smallest, h.largest) == (min(sizes), max(sizes)) and h.smallest < h.largest
    assert h == w and h.units == a.layers[-1].output.h
    # the row's one field is its widest unit's
    assert a.layers[-1].rf.h.size == h.largest


def test_unit_field_names_its_bad_arguments() -> None:
    net = parse_spec("input 8x8x1\nconv 1 3x3")
    a = analyze_network(net)
    with pytest.raises(SpecError, match="no row named"):
        unit_field(net, a, "nope", (0, 0))
    with pytest.raises(SpecError, match="outside"):
        unit_field(net, a, "conv1", (6, 0))
