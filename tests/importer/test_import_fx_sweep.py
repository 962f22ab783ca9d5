"""Every classification builder of torchvision, imported by torch.fx and by name.

The by-name list is held equal to ``torchvision.models.list_models(module=torchvision.models)``.
Each model is built on the meta device (shapes, no weights) and imported twice: traced by fx
from the module, and by its name; both must give the same spec. A CNN's spec must count exactly
what torch counts at the same input (the parameters of the modules that ran; FlopCounterMode's
FLOPs / 2, which torch computes from shapes alone, so on the meta device too). The vision
transformers must be refused node by node, by name: ``# REFUSED`` lines, never an exception.

Slow as a whole (eighty models traced twice each): marked so, for ``pytest -m "not slow"``.
"""

from __future__ import annotations

from typing import Any

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from app.engine import analyze  # noqa: E402
from app.importer import tv  # noqa: E402
from app.importer.api import import_module, import_torchvision  # noqa: E402

pytestmark = pytest.mark.slow

#: the builders that are not CNNs: attention on patches, which the spec language cannot say
TRANSFORMERS = frozenset(n for n in tv.CLASSIFIERS if n.startswith(("vit_", "swin_", "maxvit")))
#: the input each is imported at: small for a CNN (its counts are exact at any size), the
#: nominal one where the model checks it (a ViT's fixed patch grid); Inception-v3's unpadded
#: reductions need 75 at least
SIZE = {n: 224 if n in TRANSFORMERS else 80 if n == "inception_v3" else 64
        for n in tv.CLASSIFIERS}


def test_the_names_are_torchvision_s_whole_list() -> None:
    models = tv.torchvision_models()
    assert sorted(tv.CLASSIFIERS) == sorted(models.list_models(module=models))


def _measured(model: nn.Module, size: int) -> tuple[int, int]:
    """Parameters of the modules that ran (each module's own), and FlopCounterMode's
    multiply-adds, on the meta device."""
    ran: set[int] = set()
    hooks = [m.register_forward_hook(
        lambda m, *_: ran.update(id(p) for p in m.parameters(recurse=False)))
        for m in model.modules()]
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(torch.zeros(1, 3, size, size, device="meta"))
    for h in hooks:
        h.remove()
    params = sum(p.numel() for p in model.parameters() if id(p) in ran)
    return params, counter.get_total_flops() // 2


def _body(spec: str) -> str:
    """The spec without its header comments, which name where it came from."""
    return "\n".join(line for line in spec.splitlines() if not line.startswith("# Imported"))


@pytest.mark.parametrize("name", sorted(tv.CLASSIFIERS))
def test_every_builder_imports_by_fx_and_by_name(name: str) -> None:
    size = SIZE[name]
    by_name = import_torchvision(name, size)
    model: Any = tv.build(name, meta=True)
    by_fx = import_module(model, (size, size, 3), name)
    if name in tv.WITH_AUX and "aux {" in by_name.spec:  # by name: traced with aux heads
        by_fx = import_module(tv.build(name, meta=True), (size, size, 3), name, aux=True)
    assert _body(by_fx.spec) == _body(by_name.spec)
    if name in TRANSFORMERS:
        assert by_name.refused, name
        assert all(r.node and r.target and r.reason for r in by_name.refused)
        assert f"# REFUSED {by_name.refused[0]}" in by_name.spec
        return
    assert by_name.refused == (), by_name.refused[:3]
    totals = analyze(by_name.spec).totals
    assert (totals.params, totals.macs) == _measured(model, size), name
