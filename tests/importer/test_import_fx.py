"""torch.fx import: torchvision models -> spec -> engine, against the model itself.

For each model the spec imported at a small input, analysed by the engine, must give exactly the
model's parameter count (of the modules that ran: GoogLeNet's and Inception-v3's auxiliary
classifiers do not run in eval mode) and the multiply-adds torch's FlopCounterMode counts on a
forward pass at the same input (its FLOPs / 2).
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from app import zoo  # noqa: E402
from app.engine import Volume, analyze, analyze_network  # noqa: E402
from app.importer.api import (  # noqa: E402
    ImportFailed,
    import_factory,
    import_module,
    import_torchvision,
)
from app.importer.tv import build  # noqa: E402

SIZE = 64
#: model -> the input it is imported at (Inception-v3's unpadded reductions need 75 at least)
MODELS = {
    "resnet18": SIZE, "resnet50": SIZE, "resnext50_32x4d": SIZE, "mobilenet_v2": SIZE,
    "mobilenet_v3_small": SIZE, "vgg11": SIZE, "alexnet": SIZE, "squeezenet1_0": SIZE,
    "densenet121": SIZE, "efficientnet_b0": SIZE, "googlenet": SIZE, "convnext_tiny": SIZE,
    "regnet_y_400mf": SIZE, "mnasnet0_5": SIZE, "inception_v3": 80, "shufflenet_v2_x1_0": SIZE,
}
#: a block each imported spec must have recovered from the graph
BLOCKS = {
    "resnet18": ("residual {", "shortcut {", "repeat 2 {"), "densenet121": ("dense {",),
    "googlenet": ("concat {",), "efficientnet_b0": ("scale {", "residual {"),
    "inception_v3": ("concat {",), "convnext_tiny": ("layerscale", "layernorm"),
    "mobilenet_v3_small": ("scale {", "hardsigmoid"),
    "shufflenet_v2_x1_0": ("split {\n    branch { }\n", "channelshuffle 2", "repeat 7 {",
                           "concat {"),
}


def measured(model: nn.Module, size: int) -> tuple[int, int]:
    """Parameters of the modules that ran (each module's own), and FlopCounterMode's
    multiply-adds."""
    ran: set[int] = set()
    hooks = [m.register_forward_hook(
        lambda m, *_: ran.update(id(p) for p in m.parameters(recurse=False)))
        for m in model.modules()]
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(torch.zeros(1, 3, size, size))
    for h in hooks:
        h.remove()
    params = sum(p.numel() for p in model.parameters() if id(p) in ran)
    return params, counter.get_total_flops() // 2


@pytest.fixture(scope="module")
def imported() -> dict[str, Any]:
    return {}


def _import(cache: dict[str, Any], name: str) -> Any:
    if name not in cache:
        cache[name] = import_torchvision(name, MODELS[name])
    return cache[name]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_imported_spec_counts_what_the_model_counts(name: str, imported: dict[str, Any]) -> None:
    result = _import(imported, name)
    assert result.refused == ()
    analysis = analyze(result.spec)
    params, macs = measured(build(name), MODELS[name])
    assert analysis.totals.params == params
    assert analysis.totals.macs == macs
    for block in BLOCKS.get(name, ()):
        assert block in result.spec, block


def test_names_follow_the_modules(imported: dict[str, Any]) -> None:
    spec = _import(imported, "resnet18").spec
    assert "layer2_0_conv1: conv 128 3x3 stride 2 pad 1 nobias" in spec
    assert "layer2_0_downsample_0: conv 128 1x1 stride 2 nobias" in spec
    assert "layer2_0: residual {" in spec
    assert "fc: fc 1000" in spec


def _train_counts(model: nn.Module, size: int) -> tuple[int, int]:
    """All parameters, and the multiply-adds of a training-mode forward pass (batch norms and
    dropouts in eval mode, which changes no count): the auxiliary classifiers run."""
    model.train()
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d | nn.Dropout):
            m.eval()
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(torch.zeros(1, 3, size, size))
    return sum(p.numel() for p in model.parameters()), counter.get_total_flops() // 2


@pytest.mark.parametrize(("name", "size", "heads"), [
    ("googlenet", SIZE, ("aux1", "aux2")),
    ("inception_v3", 299, ("AuxLogits",)),  # its aux head's 5x5 windows need the nominal input
])
def test_auxiliary_classifiers_become_aux_blocks(name: str, size: int,
                                                 heads: tuple[str, ...]) -> None:
    spec = import_torchvision(name, size).spec
    for head in heads:
        assert f"{head}: aux {{" in spec
    totals = analyze(spec, aux=True).totals
    assert (totals.params, totals.macs) == _train_counts(build(name), size)


def test_an_input_too_small_for_the_aux_head_imports_without_it(
        imported: dict[str, Any]) -> None:
    result = _import(imported, "inception_v3")
    assert "aux {" not in result.spec
    aux = sum(p.numel() for p in build("inception_v3").AuxLogits.parameters())
    assert f"AuxLogits ({aux:,} parameters)" in result.spec


def test_imported_zoo_models_equal_the_zoo_spec(imported: dict[str, Any]) -> None:
    for name in ("mobilenet_v2", "efficientnet_b0", "convnext_tiny", "mobilenet_v3_small",
                 "shufflenet_v2_x1_0"):
        mine = analyze(_import(imported, name).spec).totals
        theirs = analyze_network(zoo.load_network(name, Volume(SIZE, SIZE, 3))).totals
        assert (mine.params, mine.macs) == (theirs.params, theirs.macs), name


def test_shufflenet_s_units_are_split_blocks_repeated(imported: dict[str, Any]) -> None:
    spec = _import(imported, "shufflenet_v2_x1_0").spec
    assert "# stage2_1 ... stage2_3: 3 identical units\nrepeat 3 {\n  split {" in spec
    assert "stage2_0: concat {" in spec  # the first unit of a stage: two branches, stride 2
    assert spec.count("channelshuffle 2") == 3 + 3  # each stage's first unit's, and a repeat's


class Chunky(nn.Module):
    """Channel parts used other than as a split block's branches."""

    def __init__(self, mode: str) -> None:
        super().__init__()
        self.mode = mode
        self.conv = nn.Conv2d(4, 4, 1)

    def forward(self, x: Any) -> Any:
        a, b = self.conv(x).chunk(2, dim=1)
        if self.mode == "swapped":
            return torch.cat([b, a], 1)
        if self.mode == "unequal":
            c, d = x.split([1, 3], dim=1)
            return torch.cat([c, d], 1)
        return a + b


@pytest.mark.parametrize(("mode", "words"), [
    ("swapped", "every part of one chunk, in order"),
    ("added", "not concatenated with its other parts"),
    ("unequal", "only x.chunk(n, dim=1) into equal parts"),
])
def test_channel_parts_outside_a_split_block_are_refused(mode: str, words: str) -> None:
    result = import_module(Chunky(mode), (8, 8, 4), "Chunky")
    assert result.refused and any(words in r.reason for r in result.refused), result.refused


def test_a_split_of_three_parts_imports_as_one_block() -> None:
    class Three(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.c = nn.Conv2d(2, 5, 3, padding=1), nn.Conv2d(2, 2, 1)

        def forward(self, x: Any) -> Any:
            p, q, r = x.chunk(3, dim=1)
            return torch.cat([self.a(p), q, self.c(torch.relu(r))], dim=1)

    model = Three()
    result = import_module(model, (8, 8, 6), "Three")
    assert result.refused == () and "split {" in result.spec
    analysis = analyze(result.spec)
    assert analysis.totals.params == sum(p.numel() for p in model.parameters())
    assert analysis.totals.macs == measured_at(model, (6, 8, 8))
    assert analysis.output.c == 5 + 2 + 2


def measured_at(model: nn.Module, chw: tuple[int, int, int]) -> int:
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(torch.zeros(1, *chw))
    return counter.get_total_flops() // 2


class Odd(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)

    def forward(self, x: Any) -> Any:
        return torch.sin(self.conv(x))


class Tangled(nn.Module):
    """a = f(x), b = g(x); (a + b) and (a * b) both used: no block nests them."""

    def __init__(self) -> None:
        super().__init__()
        self.f = nn.Conv2d(3, 8, 1)
        self.g = nn.Conv2d(3, 8, 1)

    def forward(self, x: Any) -> Any:
        a, b = self.f(x), self.g(x)
        return torch.cat([a + b, a], 1)


def test_an_unsupported_function_is_refused_with_its_node() -> None:
    result = import_module(Odd(), (16, 16, 3), "Odd")
    assert [(r.node, r.target) for r in result.refused] == [("sin", "sin")]
    assert "conv: conv 8 3x3 pad 1" in result.spec


def test_a_graph_without_nested_blocks_is_written_by_name() -> None:
    model = Tangled().eval()
    result = import_module(model, (16, 16, 3), "Tangled")
    assert result.refused == ()
    assert "g: conv 8 1x1 from input\nadd: add f g\ncat: concat add f\n" in result.spec
    totals = analyze(result.spec).totals
    assert totals.params == sum(p.numel() for p in model.parameters())
    assert totals.macs == measured_at(model, (3, 16, 16))


def test_a_python_factory_is_imported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "mynet.py").write_text(textwrap.dedent("""
        from torch import nn
        def make():
            return nn.Sequential(nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16),
                                 nn.ReLU6(inplace=True), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                 nn.Linear(16, 10))
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    result = import_factory("mynet:make", 32)
    totals = analyze(result.spec).totals
    assert totals.params == (3 * 3 * 3 * 16 + 16) + 2 * 16 + (16 * 10 + 10)
    assert totals.macs == 16 * 16 * 16 * 3 * 3 * 3 + 16 * 10
    with pytest.raises(ImportFailed, match=r"package\.module:function"):
        import_factory("mynet.make")
    with pytest.raises(ImportFailed, match="nosuchmodule"):
        import_factory("nosuchmodule:make")


def test_an_unknown_torchvision_name_is_refused() -> None:
    with pytest.raises(ImportFailed, match="unknown torchvision model 'resnet19'"):
        import_torchvision("resnet19")
