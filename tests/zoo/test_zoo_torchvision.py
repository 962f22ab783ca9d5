"""The zoo's torchvision-built networks against the real torchvision modules.

Each spec is analysed by the engine; the torchvision model (``weights=None``) runs one forward
pass under ``torch.utils.flop_counter.FlopCounterMode``, with forward hooks recording every
convolution and linear layer in the order it ran. The test compares, row by row, the engine's
conv and fc rows (output volume, parameters, multiply-adds) with those modules, and the totals:
parameters exactly (and against torchvision's published figure), multiply-adds as the flop
counter's FLOPs / 2.
"""

from __future__ import annotations

from typing import Any

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from app import zoo  # noqa: E402
from app.engine import Analysis  # noqa: E402
from app.engine.optable import WEIGHT_OPS  # noqa: E402
from app.importer.tv import build  # noqa: E402

#: torchvision docs, <Model>_Weights.IMAGENET1K_V1, "num_params" (the source says X).
#: Inception-v3's figure includes its auxiliary classifier (torchvision builds it by default).
PUBLISHED = {
    "mobilenet_v2": 3_504_872, "mobilenet_v3_small": 2_542_856,
    "efficientnet_b0": 5_288_548, "inception_v3": 27_161_264, "convnext_tiny": 28_589_128,
    "shufflenet_v2_x1_0": 2_278_604,
}
Row = tuple[tuple[int, int, int], int, int]


def _volume(t: Any, linear: bool) -> tuple[int, int, int]:
    """(H, W, C) of a conv's NCHW output, or a linear layer's N x C (or channels-last NHWC)."""
    if linear:
        return (1, 1, t.shape[-1]) if t.dim() == 2 else (t.shape[1], t.shape[2], t.shape[3])
    return (t.shape[2], t.shape[3], t.shape[1])


def measure_torchvision(name: str, size: int, aux: bool) -> tuple[list[Row], int, int]:
    """Conv and linear rows in the order they ran (volume, params, MACs), total params, MACs."""
    model = build(name)
    if aux:  # torchvision runs Inception's auxiliary head only in training mode
        model.train()
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d | nn.Dropout):
                m.eval()
    order: list[tuple[str, tuple[int, int, int], int]] = []
    names = {m: n for n, m in model.named_modules()}

    def hook(m: nn.Module, _: Any, out: Any) -> None:
        order.append((names[m], _volume(out, isinstance(m, nn.Linear)),
                      sum(p.numel() for p in m.parameters())))

    for m in model.modules():
        if isinstance(m, nn.Conv2d | nn.Linear):
            m.register_forward_hook(hook)
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(torch.zeros(1, 3, size, size))
    counts = counter.get_flop_counts()
    prefix = type(model).__name__ + "."
    rows = [(vol, params, sum(counts.get(prefix + n, {}).values()) // 2)
            for n, vol, params in order]
    params = sum(p.numel() for p in model.parameters())
    if not aux and getattr(model, "AuxLogits", None) is not None:  # built, but not run
        params -= sum(p.numel() for p in model.AuxLogits.parameters())
    return rows, params, counter.get_total_flops() // 2


def engine_rows(analysis: Analysis) -> list[Row]:
    return [((r.output.h, r.output.w, r.output.c), r.params, r.macs)
            for r in analysis.layers if r.op in WEIGHT_OPS]


#: (zoo id, input size, aux): nominal inputs, and Inception-v3 with and without its aux head
CASES = [("mobilenet_v2", 224, False), ("mobilenet_v3_small", 224, False),
         ("efficientnet_b0", 224, False), ("convnext_tiny", 224, False),
         ("inception_v3", 299, False), ("inception_v3", 299, True),
         ("shufflenet_v2_x1_0", 224, False)]


@pytest.mark.parametrize(("model_id", "size", "aux"), CASES,
                         ids=[f"{m}{'+aux' if a else ''}" for m, _, a in CASES])
def test_zoo_model_equals_torchvision_row_by_row(model_id: str, size: int, aux: bool) -> None:
    analysis = zoo.analyze_model(model_id, aux=aux)
    assert zoo.get_model(model_id).input.h == size
    rows, params, macs = measure_torchvision(zoo.get_model(model_id).torchvision or "", size, aux)
    mine = engine_rows(analysis)
    assert len(mine) == len(rows)
    for i, (engine, tv) in enumerate(zip(mine, rows, strict=True)):
        assert engine == tv, f"weighted layer {i}: engine {engine}, torchvision {tv}"
    assert analysis.totals.params == params
    assert analysis.totals.macs == macs


@pytest.mark.parametrize("model_id", sorted(PUBLISHED))
def test_zoo_model_has_torchvision_s_published_parameter_count(model_id: str) -> None:
    aux = zoo.get_model(model_id).has_aux
    assert zoo.analyze_model(model_id, aux=aux).totals.params == PUBLISHED[model_id]


def test_every_torchvision_built_new_model_is_checked() -> None:
    new = {m.id for m in zoo.list_models() if m.id in PUBLISHED}
    assert new == set(PUBLISHED) == {m for m, _, _ in CASES}
