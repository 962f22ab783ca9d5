"""Every zoo model, engine vs torch: every row's shape, each layer's parameters and multiply-adds,
and the totals agree exactly.

Each model runs at a reduced input where that keeps CI fast and the network still works (64x64
for ImageNet networks; the CIFAR and MNIST networks at their own 32x32), and a few also at their
nominal input, where the published figures are quoted.
"""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

from app.engine import Volume
from app.torchnet import compare
from app.zoo import get_model, list_models, load_network

REDUCED = 64
#: ImageNet networks whose fixed-size windows (AlexNet's last pool, NiN's 6x6 and GoogLeNet's
#: 7x7 average pools, Inception-v3's unpadded reductions and 5x5 auxiliary pool) need their
#: nominal input; they run at it instead
NOMINAL_ONLY = frozenset({"alexnet", "nin", "googlenet", "inception_v3"})
NOMINAL = ("alexnet", "vgg16", "resnet50", "resnet152", "densenet121", "googlenet")


def reduced_input(model_id: str) -> Volume | None:
    """The input the model is checked at: None (nominal) or REDUCED x REDUCED."""
    nominal = get_model(model_id).input
    if model_id in NOMINAL_ONLY or max(nominal.h, nominal.w) <= REDUCED:
        return None
    return Volume(REDUCED, REDUCED, nominal.c)


def _runs() -> list[object]:
    runs: list[object] = []
    for model in list_models():
        for aux in (False, True) if model.has_aux else (False,):
            runs.append(pytest.param(model.id, aux, id=model.id + ("+aux" if aux else "")))
    return runs


@pytest.mark.parametrize(("model_id", "aux"), _runs())
def test_zoo_model_agrees_with_torch(model_id: str, aux: bool) -> None:
    assert compare(load_network(model_id, reduced_input(model_id)), aux=aux) == []


@pytest.mark.parametrize("model_id", [m for m in NOMINAL if m not in NOMINAL_ONLY])
def test_zoo_model_agrees_with_torch_at_nominal_input(model_id: str) -> None:
    assert compare(load_network(model_id)) == []


def test_nominal_list_names_zoo_models() -> None:
    ids = {m.id for m in list_models()}
    assert set(NOMINAL) | NOMINAL_ONLY <= ids
