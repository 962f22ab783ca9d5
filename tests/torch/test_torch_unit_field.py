"""The exact field of a unit by its position, against torch's gradient: after transposed
convs and upsampling (where units of one row differ), at the borders (where padding stands in
for pixels), and through named graphs; and the range of field sizes over a row."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from app.engine import SpecError, analyze_network, parse_spec
from app.engine.result import to_jsonable
from app.engine.unitfield import graph_inputs, unit_field, unit_reach
from tests.torch.gradient import field, positive_module, support
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
    spread = a.layers[-1].rf.spread
    assert spread is not None and spread.h is not None
    # units away from the borders, where no padding cuts the field the gradient shows
    sizes = {unit_field(net, a, "conv2", (u, u)).h.size for u in range(4, 20)}
    assert (spread.h.smallest, spread.h.largest) == (min(sizes), max(sizes))
    assert spread.h.smallest < spread.h.largest and spread.h == spread.w
    # the row's one field is its widest unit's
    assert a.layers[-1].rf.h.size == spread.h.largest


def test_unit_field_names_its_bad_arguments() -> None:
    net = parse_spec("input 8x8x1\nconv 1 3x3")
    a = analyze_network(net)
    with pytest.raises(SpecError, match="no row named"):
        unit_field(net, a, "nope", (0, 0))
    with pytest.raises(SpecError, match="outside"):
        unit_field(net, a, "conv1", (6, 0))


#: a U-Net-like stack (transposed convs and a nearest upsample, padded and unpadded convs, a
#: skip by name) whose units see differently by position
UPWARDS = """\
input 40x40x1
enc: conv 2 3x3 pad 1
conv 2 3x3 stride 2 pad 1
conv 2 3x3 stride 2
up1: convtranspose 2 3x3 stride 2
conv 2 3x3 pad 1
upsample 2
conv 2 2x2
crop to enc from enc
skip: add enc crop1
"""

SPREAD_SPECS = [UPWARDS, "input 20x20x1\nconv 1 3x3\nconvtranspose 1 3x3 stride 2\nconv 1 3x3",
                pytest.param(UNET.replace("maxpool", "avgpool"), marks=pytest.mark.slow, id="unet"),
                pytest.param(FPN, marks=pytest.mark.slow, id="fpn")]


@pytest.mark.parametrize("spec", SPREAD_SPECS)
def test_the_range_over_a_rows_units_is_the_gradients(spec: str) -> None:
    """Every row whose units see differently gives the range of their fields: each unit the
    padding does not reach has, by the gradient, a field inside that range, centred no further
    from start + index x jump than the row says, and some unit reaches each end."""
    net = parse_spec(spec)
    a = analyze_network(net)
    module = positive_module(net)
    module.keep_all = True
    inputs = graph_inputs(net, a)
    # an activation keeps its input's units: the row it follows is checked
    varied = [r for r in a.layers if r.rf.spread is not None and r.op != "relu"]
    assert varied
    x = torch.ones(1, net.input.c, net.input.h, net.input.w, requires_grad=True)
    module(x)
    for row in varied:
        assert row.rf.spread is not None
        y = module.values[row.name]
        for axis, ax, rf in (("h", row.rf.spread.h, row.rf.h), ("w", row.rf.spread.w, row.rf.w)):
            if ax is None:
                continue
            n = row.output.h if axis == "h" else row.output.w
            sizes, offsets = set(), []
            for o in range(n):
                reach = unit_reach(a.layers, inputs, row.index, o, axis)
                if any(r.seen != r.field for r in reach.values()):
                    continue  # the padding reaches it: the gradient shows less
                i, j = (o, row.output.w // 2) if axis == "h" else (row.output.h // 2, o)
                (g,) = torch.autograd.grad(y[0, :, i, j].sum(), x, retain_graph=True)
                hit = torch.nonzero(g.abs().sum(dim=(0, 1, 3 if axis == "h" else 2)))
                size, centre = field((int(hit.min()), int(hit.max())))
                sizes.add(size)
                offsets.append(abs(centre - (rf.start + o * rf.jump)))
                assert ax.smallest <= size <= ax.largest, (row.name, axis, o)
            assert {ax.smallest, ax.largest} <= sizes, (row.name, axis, sizes)
            assert max(offsets) == pytest.approx(ax.offset), (row.name, axis)
    # the range is in the JSON and in the working
    assert "by position" in varied[-1].formulas["rf"]
    assert to_jsonable(varied[-1])["rf"]["spread"]["h"]["largest"] == varied[-1].rf.spread.h.largest


RESHAPES = [
    ("input 8x8x1\nconv 1 3x3\nflatten\nfc 10", ("flatten1", "fc1")),
    ("input 8x6x1\nconv 1 3x3\ngap\nfc 3", ("pool1", "fc1")),
    ("input 9x7x1\nconv 1 3x3 stride 2\nfc 4", ("fc1",)),
    ("input 8x8x1\nconv 1 3x3\nadaptiveavgpool 1x1\nflatten\nfc 3\nsoftmax", ("pool1", "fc1")),
    ("input 16x16x1\nconv 1 3x3 stride 2 pad 1\nconvtranspose 1 2x2 stride 2\nflatten\nfc 5",
     ("flatten1", "fc1")),
    ("input 12x12x1\nconv 2 3x3\nmaxpool 2x2\ngap\nfc 6\nfc 2", ("fc2",)),
]


@pytest.mark.parametrize(("spec", "rows"), RESHAPES)
def test_reshapes_see_their_whole_input(spec: str, rows: tuple[str, ...]) -> None:
    """flatten, fc, global pooling and a 1x1 adaptive pool: every input pixel, by the
    gradient, by the row's numbers and by the unit's exact field."""
    net = parse_spec(spec.replace("maxpool", "avgpool"))
    a = analyze_network(net)
    module = positive_module(net)
    module.keep_all = True
    h, w = net.input.h, net.input.w
    for name in rows:
        row = next(r for r in a.layers if r.name == name)
        assert support(net, name, (0, 0), module) == ((0, h - 1), (0, w - 1)), name
        exact = unit_field(net, a, name, (0, 0))
        assert exact.h is not None and exact.w is not None
        assert (exact.h.first, exact.h.last, exact.w.first, exact.w.last) == (0, h - 1, 0, w - 1)
        # the row's field covers the input: centred on it, at least as wide
        for rf, n in ((row.rf.h, h), (row.rf.w, w)):
            assert rf.start - (rf.size - 1) / 2 <= 0 and rf.start + (rf.size - 1) / 2 >= n - 1
