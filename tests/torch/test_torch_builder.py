"""The torch builder on hand-built layer graphs: the registry, recording, blocks, in-place safety,
and the failures that make torch a check on the engine's validity rules."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from app.engine.graph import Block, Layer, Network, Node, Volume
from app.torchnet import build_module, measure


def L(op: str, name: str, **attrs: float | bool) -> Layer:
    return Layer(op, name, 1, dict(attrs))


def conv(name: str, out: int, k: int = 3, pad: int = 1, **more: int | bool) -> Layer:
    return L("conv", name, out=out, kh=k, kw=k, sh=1, sw=1, ph=pad, pw=pad, **more)


def net(h: int, w: int, c: int, *nodes: Node) -> Network:
    return Network(Volume(h, w, c), tuple(nodes))


def test_every_layer_and_merge_is_recorded() -> None:
    spec = net(8, 8, 4, conv("c1", 6),
               Block("concat", "cat", 1, ((conv("b1", 2, 1, 0),), ())),
               L("fc", "fc1", out=5))
    seen = measure(spec)
    assert seen.shapes == {"input": (8, 8, 4), "c1": (8, 8, 6), "b1": (8, 8, 2),
                              "cat": (8, 8, 2 + 6), "fc1": (1, 1, 5)}
    assert seen.params == (3 * 3 * 4 * 6 + 6) + (6 * 2 + 2) + (8 * 8 * 8 * 5 + 5)
    assert seen.macs == 8 * 8 * 6 * 3 * 3 * 4 + 8 * 8 * 2 * 6 + 8 * 8 * 8 * 5


def test_module_is_materialised_and_in_eval_mode() -> None:
    module = build_module(net(8, 8, 4, conv("c1", 6), L("bn", "bn1"), L("fc", "fc1", out=3)))
    assert not module.training
    assert all(not isinstance(p, torch.nn.parameter.UninitializedParameter)
               for p in module.parameters())


def test_relu_heading_a_branch_leaves_the_shortcut_intact() -> None:
    body = (L("relu", "r"), L("dropout", "d", p=0.5))
    module = build_module(net(2, 2, 1, Block("residual", "res", 1, (body, ()))))
    x = torch.tensor([[[[-1.0, 2.0], [3.0, -4.0]]]])
    # relu(x) + x, computed on an untouched x
    assert torch.equal(module(x.clone()), torch.relu(x) + x)


def test_aux_outputs_are_kept_apart() -> None:
    side = Block("aux", "aux1", 1, ((L("gap", "g"), L("fc", "afc", out=3)),))
    spec = net(4, 4, 2, side, conv("c1", 5))
    with_aux, without = build_module(spec, aux=True), build_module(spec)
    with torch.no_grad():
        with_aux(with_aux.dummy_input())
    assert [tuple(t.shape) for t in with_aux.aux_outputs] == [(1, 3, 1, 1)]
    assert "afc" not in without.shapes and "afc" in with_aux.shapes
    assert sum(p.numel() for p in with_aux.parameters()) \
        - sum(p.numel() for p in without.parameters()) == 2 * 3 + 3


def test_survival_scales_the_body_in_eval() -> None:
    spec = net(1, 1, 1, Block("residual", "res", 1, ((L("padchannels", "p", out=1),), ()),
                              survival=0.25))
    module = build_module(spec)
    x = torch.ones(1, 1, 1, 1)
    assert torch.equal(module(x), x * 0.25 + x)


@pytest.mark.parametrize("spec", [
    pytest.param(net(8, 8, 4, Block("residual", "res", 1, ((conv("c", 8),), ()))),
                 id="residual channels differ"),
    pytest.param(net(8, 8, 4, Block("residual", "res", 1, ((L("gap", "g"),), ()))),
                 id="residual would broadcast"),
    pytest.param(net(8, 8, 4, Block("join", "j", 1, ((conv("a", 4),), (conv("b", 4, pad=0),)))),
                 id="join shapes differ"),
    pytest.param(net(8, 8, 4, Block("concat", "cat", 1, ((conv("a", 4, pad=0),), ()))),
                 id="concat spatial sizes differ"),
    pytest.param(net(8, 8, 4, L("padchannels", "p", out=3)), id="padchannels would crop"),
    pytest.param(net(4, 4, 4, conv("c", 4, k=7, pad=0)), id="kernel larger than input"),
    pytest.param(net(8, 8, 4, conv("c", 4, groups=3)), id="groups do not divide"),
    # rules the engine's parser enforces, so the hypothesis test cannot reach them
    pytest.param(net(8, 8, 4, L("maxpool", "p", kh=2, kw=2, sh=2, sw=2, ph=2, pw=2)),
                 id="pool pad over half the kernel"),
    pytest.param(net(8, 8, 4, L("avgpool", "p", kh=2, kw=2, sh=2, sw=2, dh=2, dw=2)),
                 id="avgpool with dilation"),
])
def test_torch_rejects_what_cannot_run(spec: Network) -> None:
    with pytest.raises((RuntimeError, ValueError)):
        build_module(spec)
