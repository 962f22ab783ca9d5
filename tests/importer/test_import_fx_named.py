"""torch.fx import of graphs that are not nested blocks: written with layers by name.

Each small module below is imported by fx; the spec must re-parse, and the engine's parameters,
multiply-adds (FlopCounterMode's FLOPs / 2), output shapes and the shape of every row named
after a module must equal torch's own on a forward pass. Where a graph is nested blocks, the
blocks are kept.
"""

from __future__ import annotations

from typing import Any

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from app.engine import analyze, parse_spec  # noqa: E402
from app.importer.api import import_module  # noqa: E402
from app.importer.blocks import nested_items  # noqa: E402
from app.importer.emit import render  # noqa: E402
from app.importer.fx import read_module  # noqa: E402
from app.importer.graph import BlockItem  # noqa: E402
from app.importer.named import named_items  # noqa: E402
from app.importer.tv import build  # noqa: E402


def _conv(i: int, o: int, k: int = 3, s: int = 1) -> nn.Conv2d:
    return nn.Conv2d(i, o, k, stride=s, padding=k // 2)


class UNetTwoSkips(nn.Module):
    """A U-Net whose last decoder also reads the first encoder's map at half size: a second
    skip from an earlier layer, so the skips cross."""

    def __init__(self) -> None:
        super().__init__()
        self.enc1, self.enc2, self.enc3 = _conv(3, 8), _conv(8, 16, s=2), _conv(16, 32, s=2)
        self.down1 = nn.MaxPool2d(2)
        self.up3 = nn.ConvTranspose2d(32, 16, 2, stride=2)
        self.dec2 = _conv(16 + 16 + 8, 16)
        self.up2 = nn.ConvTranspose2d(16, 8, 2, stride=2)
        self.dec1 = _conv(8 + 8, 8)
        self.head = nn.Conv2d(8, 2, 1)

    def forward(self, x: Any) -> Any:
        e1 = torch.relu(self.enc1(x))
        e2 = torch.relu(self.enc2(e1))
        e3 = torch.relu(self.enc3(e2))
        d2 = torch.relu(self.dec2(torch.cat([e2, self.up3(e3), self.down1(e1)], 1)))
        d1 = torch.relu(self.dec1(torch.cat([e1, self.up2(d2)], 1)))
        return self.head(d1)


class FPN(nn.Module):
    """A backbone of three stages, lateral 1x1 convolutions, a top-down path of upsampling and
    additions, and one 3x3 output convolution for each level: three outputs."""

    def __init__(self) -> None:
        super().__init__()
        self.c1, self.c2, self.c3 = _conv(3, 8, s=2), _conv(8, 16, s=2), _conv(16, 32, s=2)
        self.lat1, self.lat2, self.lat3 = (nn.Conv2d(c, 12, 1) for c in (8, 16, 32))
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.out1, self.out2, self.out3 = (_conv(12, 12) for _ in range(3))

    def forward(self, x: Any) -> Any:
        c1 = torch.relu(self.c1(x))
        c2 = torch.relu(self.c2(c1))
        c3 = torch.relu(self.c3(c2))
        p3 = self.lat3(c3)
        p2 = self.lat2(c2) + self.up(p3)
        p1 = self.lat1(c1) + self.up(p2)
        return self.out1(p1), self.out2(p2), self.out3(p3)


class TwoHeads(nn.Module):
    """A classifier and a box regressor on one backbone."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(_conv(3, 16, s=2), nn.BatchNorm2d(16), nn.ReLU(),
                                  _conv(16, 32, s=2), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                                  nn.Flatten())
        self.cls = nn.Linear(32, 10)
        self.box = nn.Sequential(nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 4))

    def forward(self, x: Any) -> Any:
        f = self.body(x)
        return self.cls(f), self.box(f)


class SixWayConcat(nn.Module):
    """A chain of six convolutions, every one's output concatenated at the end."""

    def __init__(self) -> None:
        super().__init__()
        self.convs = nn.ModuleList([_conv(3, 4)] + [_conv(4, 4) for _ in range(5)])
        self.fuse = nn.Conv2d(24, 8, 1)

    def forward(self, x: Any) -> Any:
        outs = []
        for conv in self.convs:
            x = torch.relu(conv(x))
            outs.append(x)
        return self.fuse(torch.cat(outs, 1))


class ThreeReaders(nn.Module):
    """A tensor read by three consumers in merges that do not nest."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = _conv(3, 8)
        self.a, self.b = _conv(8, 8), _conv(8, 8, k=1)

    def forward(self, x: Any) -> Any:
        t = self.stem(x)
        a, b = self.a(t), self.b(t)
        return torch.cat([a + b, a + t, b * t], 1)


class SameTwice(nn.Module):
    """A merge that reads one tensor twice (the spec names each input once: the second reads
    a view of it), and two outputs."""

    def __init__(self) -> None:
        super().__init__()
        self.conv, self.head = nn.Conv2d(3, 4, 1), nn.Conv2d(4, 2, 3, padding=1)

    def forward(self, x: Any) -> Any:
        a = self.conv(x)
        return torch.cat([a, a, x], 1), self.head(a * a)


class Nested(nn.Module):
    """Blocks all through (a residual unit, then an inception-like concat): no names needed."""

    def __init__(self) -> None:
        super().__init__()
        self.stem, self.body = _conv(3, 8), _conv(8, 8)
        self.p, self.q = nn.Conv2d(8, 4, 1), _conv(8, 6)

    def forward(self, x: Any) -> Any:
        x = torch.relu(self.stem(x))
        x = x + self.body(x)
        return torch.cat([self.p(x), self.q(x)], 1)


def _torch_side(model: nn.Module, chw: tuple[int, int, int],
                ) -> tuple[int, int, list[tuple[int, ...]], dict[str, tuple[int, ...]]]:
    """Parameters, multiply-adds, the output shapes and each leaf module's output shape (by
    its name as the importer writes it; a module called twice has two rows, and is left out)
    of one forward pass."""
    shapes: dict[str, tuple[int, ...]] = {}
    twice: set[str] = set()
    hooks = []
    for name, m in model.named_modules():
        if name and not list(m.children()):
            def hook(_m: nn.Module, _i: Any, out: Any, key: str = name.replace(".", "_")) -> None:
                if key in shapes:
                    twice.add(key)
                shapes[key] = tuple(out.shape)
            hooks.append(m.register_forward_hook(hook))
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        out = model(torch.zeros(1, *chw))
    for h in hooks:
        h.remove()
    outs = list(out) if isinstance(out, tuple) else [out]
    params = sum(p.numel() for p in model.parameters())
    once = {k: v for k, v in shapes.items() if k not in twice}
    return params, counter.get_total_flops() // 2, [tuple(o.shape) for o in outs], once


CASES = {
    "unet_two_skips": (UNetTwoSkips, (3, 32, 32), (" from ", ": concat ")),
    "fpn": (FPN, (3, 32, 32), ("output ", ": add ", " from ")),
    "two_heads": (TwoHeads, (3, 32, 32), ("output cls box_2",)),
    "six_way_concat": (SixWayConcat, (3, 16, 16), ("concat ",)),
    "three_readers": (ThreeReaders, (3, 16, 16), ("add ", "mul ")),
    "nested": (Nested, (3, 16, 16), ("residual {", "concat {")),
    "same_twice": (SameTwice, (3, 8, 8), ("concat conv conv_view input", "output cat head")),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_graph_imports_exactly(case: str) -> None:
    make, chw, words = CASES[case]
    model = make().eval()
    result = import_module(model, (chw[1], chw[2], chw[0]), case)
    assert result.refused == (), result.refused
    parse_spec(result.spec)  # the emitted text reads back
    analysis = analyze(result.spec)
    params, macs, out_shapes, shapes = _torch_side(model, chw)
    assert (analysis.totals.params, analysis.totals.macs) == (params, macs), result.spec
    rows = {row.name: row for row in analysis.layers}
    outs = [rows[n].output for n in analysis.outputs] or [analysis.output]
    assert [(1, v.c, v.h, v.w)[:len(shape)] for v, shape in zip(outs, out_shapes, strict=True)] \
        == out_shapes
    checked = 0
    for name, shape in shapes.items():
        if name in rows and len(shape) == 4:
            v = rows[name].output
            assert (1, v.c, v.h, v.w) == shape, name
            checked += 1
        elif name in rows:
            assert (1, rows[name].output.c) == shape, name
            checked += 1
    assert checked >= 2
    for word in words:
        assert word in result.spec, (word, result.spec)


def test_nested_blocks_need_no_names() -> None:
    spec = import_module(Nested().eval(), (16, 16, 3), "nested").spec
    body = spec.split("\n", 1)[1]  # after the header, which says where it comes from
    assert " from " not in body and "output " not in body


@pytest.mark.parametrize(("make", "size"), [
    (Nested, 16), (lambda: build("resnet18", meta=True), 64),
    (lambda: build("densenet121", meta=True), 64),
])
def test_written_by_name_a_nested_graph_counts_the_same(make: Any, size: int) -> None:
    """The same graph written as nested blocks and with every merge by name (no repeats, so
    every row keeps its name): every row's output, parameters, multiply-adds and receptive
    field agree; writing by name changes no number."""
    graph, _, _ = read_module(make(), (size, size, 3))
    nested = analyze(f"input {size}x{size}x3\n" + "\n".join(render(nested_items(graph))))
    items, _ = named_items(graph, keep_blocks=False)
    assert not any(isinstance(item, BlockItem) for item in items)
    named = analyze(f"input {size}x{size}x3\n" + "\n".join(render(items)))
    assert (named.totals.params, named.totals.macs) == (nested.totals.params,
                                                        nested.totals.macs)
    assert named.output == nested.output
    merge_ops = ("add", "concat", "mul", "scale", "dense", "residual")
    merges = [sorted(repr((row.output, row.rf)) for row in a.layers if row.op in merge_ops)
              for a in (nested, named)]
    assert merges[0] == merges[1]  # named after their blocks, or after their nodes
    rows = {row.name: row for row in nested.layers if row.op not in merge_ops}
    layers = [row for row in named.layers if row.op not in merge_ops]
    assert len(layers) == len(rows)
    for row in layers:
        assert (row.output, row.params, row.macs, row.rf) == (
            rows[row.name].output, rows[row.name].params, rows[row.name].macs,
            rows[row.name].rf), row.name
