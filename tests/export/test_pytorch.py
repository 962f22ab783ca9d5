"""The generated PyTorch code runs and is the network the engine analysed.

For every zoo model (and GoogLeNet's with its auxiliary classifiers) the code is executed, the
class instantiated with no arguments and run forward: its parameter count and output shape equal
the engine's analysis at that input. Models run for real at a small input (64x64, or the nominal
input where a fixed window needs it) and on torch's meta device at their nominal input.
"""

from __future__ import annotations

import inspect
from typing import Any, Self

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from app.engine.graph import BLOCK_KINDS  # noqa: E402
from app.engine.optable import LAYER_OPS, MERGE_ROW_OPS  # noqa: E402
from app.export import FORMATS, Subject, subject_from_spec  # noqa: E402
from app.export.pytorch import (  # noqa: E402
    BLOCK_CODE,
    RESERVED,
    class_name,
    identifier,
    model_class,
)
from app.zoo import get_model, list_models, model_spec  # noqa: E402

SMALL = 64
#: fixed-size windows (AlexNet's last pool, NiN's 6x6, GoogLeNet's 7x7 average pool) need the
#: nominal input
NOMINAL_ONLY = frozenset({"alexnet", "nin", "googlenet", "inception_v3"})


def generated(subject: Subject) -> type[nn.Module]:
    """Execute the generated source; return its model class."""
    code = FORMATS["pytorch"].render(subject)
    namespace: dict[str, Any] = {"__name__": "archcalc_generated"}
    exec(compile(code, f"<{subject.title}.py>", "exec"), namespace)
    cls = namespace[model_class(subject)]
    assert isinstance(cls, type) and issubclass(cls, nn.Module)
    return cls


def expected_shape(subject: Subject, out: Any) -> tuple[int, ...]:
    """The engine's output volume in the tensor's layout: (C,) for a vector, else (C, H, W)."""
    v = subject.analysis.output
    return (v.c,) if out.dim() == 2 else (v.c, v.h, v.w)


def _runs() -> list[Any]:
    return [pytest.param(m.id, aux, id=m.id + ("+aux" if aux else ""))
            for m in list_models() for aux in ((False, True) if m.has_aux else (False,))]


def _small_spec(model_id: str) -> str:
    nominal = get_model(model_id).input
    if model_id in NOMINAL_ONLY or max(nominal.h, nominal.w) <= SMALL:
        return model_spec(model_id)
    from app.engine import Volume

    return model_spec(model_id, Volume(SMALL, SMALL, nominal.c))


@pytest.mark.parametrize(("model_id", "aux"), _runs())
def test_generated_code_runs_and_matches_the_engine(model_id: str, aux: bool) -> None:
    subject = subject_from_spec(_small_spec(model_id), model_id, aux=aux)
    cls = generated(subject)
    assert list(inspect.signature(cls).parameters) == []
    model = cls().eval()
    a = subject.analysis
    assert sum(p.numel() for p in model.parameters()) == a.totals.params
    with torch.no_grad(), LayerShapes(model, subject) as seen:
        out = model(torch.randn(2, a.input.c, a.input.h, a.input.w))
    assert out.shape[0] == 2 and tuple(out.shape[1:]) == expected_shape(subject, out)
    seen.check()


class LayerShapes:
    """Forward hooks on the modules named after the engine's rows (layers and block merges):
    each one's output shape and parameters against its row."""

    def __init__(self, model: nn.Module, subject: Subject) -> None:
        self.rows = {identifier(r.name): r for r in subject.analysis.layers[1:]}
        self.modules = {path.rpartition(".")[2]: m for path, m in model.named_modules()
                        if path.rpartition(".")[2] in self.rows}
        self.seen: dict[str, tuple[int, ...]] = {}
        self.hooks: list[Any] = []

    def __enter__(self) -> Self:
        for name, module in self.modules.items():
            def hook(m: nn.Module, args: Any, out: Any, name: str = name) -> None:
                self.seen[name] = tuple(out.shape[1:])
            self.hooks.append(module.register_forward_hook(hook))
        return self

    def __exit__(self, *exc: object) -> None:
        for h in self.hooks:
            h.remove()

    def check(self) -> None:
        assert set(self.seen) == set(self.rows), set(self.rows) - set(self.seen)
        for name, row in self.rows.items():
            v = row.output
            want = (v.c,) if len(self.seen[name]) == 1 else (v.c, v.h, v.w)
            assert self.seen[name] == want, (row.name, self.seen[name], want)
            if row.op not in MERGE_ROW_OPS:
                params = sum(p.numel() for p in self.modules[name].parameters())
                assert params == row.params, (row.name, params, row.params)


@pytest.mark.parametrize(("model_id", "aux"), _runs())
def test_generated_code_matches_at_the_nominal_input_on_the_meta_device(model_id: str,
                                                                        aux: bool) -> None:
    subject = subject_from_spec(model_spec(model_id), model_id, aux=aux)
    cls = generated(subject)
    a = subject.analysis
    with torch.device("meta"):
        model = cls().eval()
        out = model(torch.zeros(1, a.input.c, a.input.h, a.input.w))
    assert sum(p.numel() for p in model.parameters()) == a.totals.params
    assert tuple(out.shape[1:]) == expected_shape(subject, out)


#: every op and every block kind, with vectors going back into volumes
EVERY_OP = """\
# a network that uses every op and block kind
input 16x16x3
conv1: conv 8 3x3 pad 1; bn; relu        # 16x16x8
top: concat {
  branch { relu; conv 4 1x1 }
  branch { maxpool 3x3 stride 1 pad 1; conv 4 3x3 pad same dilation 1 }
  branch { }
}
d1: dense { bn; relu; conv 4 3x3 pad 1 nobias }
j1: join { branch { conv 16 3x3 pad 1 } branch { conv 16 1x1; tanh } }
r1: residual survival 0.5 { conv 16 3x3 pad 1; sigmoid }
r2: residual { conv 32 3x3 stride 2 pad 1 } shortcut { avgpool 2x2; padchannels 32 }
lrn size 3
depthwise 3x3 pad 1; relu6; conv 32 1x1 groups 4; channelshuffle 4; hardswish
se: scale { gap; fc 8; silu; fc 32; hardsigmoid }
sp: split { branch { } branch { conv 16 1x1 nobias; bn; relu; depthwise 3x3 pad 1 } }
up: convtranspose 16 3x3 stride 2 pad 1 outpad 1; layernorm; gelu; layerscale
upsample 2 bilinear; leakyrelu 0.1; prelu 16; identity; prelu; upsample 2
maxpool 4x4
conv 64 1x1; pixelshuffle 2; avgpool 2x2
sepconv 16 3x3 pad same; maxpool 3x3 stride 1 pad same; crop 14x15; avgpool 2x2 stride 1 pad same
conv 16 3x3 stride 2 pad same; maxpool 2x2 stride 2 pad 0,1,0,1; avgpool 2x2 stride 1 pad 1,0,1,0
tfpad: conv 16 2x2 pad 0,1,1,0
t2: conv 16 1x1; relu
s2: add tfpad t2
g2: gap from s2
m2: mul s2 g2
c2: concat m2 t2 tfpad; conv 16 1x1
side: aux { gap; fc 5; softmax }
adaptiveavgpool 4x4
flatten
fc 20 nobias
bn
dropout 0.2
conv 6 1x1
fc 10
softmax
"""


@pytest.mark.parametrize("aux", [False, True])
def test_every_op_and_block_kind_runs_and_matches(aux: bool) -> None:
    subject = subject_from_spec(EVERY_OP, "every op", aux=aux)
    ops = {row.op for row in subject.analysis.layers}
    if aux:  # gap is in the side classifier only
        assert set(LAYER_OPS) <= ops, set(LAYER_OPS) - ops
    model = generated(subject)()
    a = subject.analysis
    assert sum(p.numel() for p in model.parameters()) == a.totals.params
    x = torch.randn(3, a.input.c, a.input.h, a.input.w)
    for training in (True, False):  # stochastic depth and batch norm in both modes
        model.train(training)
        with LayerShapes(model, subject) as seen:
            out = model(x)
        assert tuple(out.shape) == (3, *expected_shape(subject, out))
        if not training:  # in training the stochastic-depth body may be skipped
            seen.check()
    if aux:
        assert tuple(model.side.output.shape) == (3, 5)


def test_code_keeps_the_spec_names_and_comments() -> None:
    code = FORMATS["pytorch"].render(subject_from_spec(model_spec("resnet18"), "resnet18"))
    assert "class Resnet18(nn.Module):" in code
    assert "self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)" in code
    assert "# conv2_x: 2 units, 56x56x64" in code  # a whole-line comment of the spec
    assert "self.pool1 = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)  # 56x56x64" in code
    assert "# ResNet-18: He, Zhang, Ren and Sun" in code  # the header comment
    assert "return self.body(x) + self.shortcut(x)" in code
    assert code.count("# conv2_x") == 1


def test_class_names() -> None:
    assert class_name("ResNet-18") == "ResNet18" and class_name("tv-resnet50") == "TvResnet50"
    assert class_name("my net.spec") == "MyNet" and class_name("3x3 stack") == "Net3x3Stack"
    s = subject_from_spec(model_spec("resnet18"), "resnet18")
    assert model_class(s) == "Resnet18"
    labelled = Subject(s.analysis, s.network, "resnet18", s.source, "ResNet-50 (torchvision)")
    assert model_class(labelled) == "ResNet50"


def test_layer_names_become_identifiers() -> None:
    assert identifier("MAX POOL1") == "max_pool1"
    assert identifier("CONV3-64") == "conv3_64"
    assert identifier("3a") == "layer_3a"
    assert identifier("forward") == "forward_" and identifier("class") == "class_"
    subject = subject_from_spec("input 8x8x3\nforward: conv 4 3x3\nforward: relu\nfc 2\n", "n")
    model = generated(subject)()
    assert {"forward_", "forward_2"} <= {name for name, _ in model.named_children()}


def test_codegen_has_one_class_per_block_kind() -> None:
    assert set(BLOCK_CODE) == set(BLOCK_KINDS)


def test_reserved_names_cover_every_module_attribute() -> None:
    public = {name for name in dir(nn.Sequential) if not name.startswith("_")}
    assert public <= RESERVED, sorted(public - RESERVED)


def _plain_models() -> list[Any]:
    """Zoo models without blocks: print(model) of their code lists every layer."""
    from app.engine.graph import Layer
    from app.zoo import load_network

    out = []
    for m in list_models():
        if not all(isinstance(n, Layer) for n in load_network(m.id).nodes):
            continue
        out.append(pytest.param(m.id, id=m.id))
    return out


@pytest.mark.parametrize("model_id", _plain_models())
def test_printed_module_pasted_back_gives_the_same_analysis(model_id: str) -> None:
    """A round trip through the engine's reader of PyTorch lines: print(model) of the generated
    code, pasted under the input line, is analysed to the same rows and totals."""
    from app.engine import analyze

    subject = subject_from_spec(model_spec(model_id), model_id)
    with torch.device("meta"):
        model = generated(subject)()
    a = subject.analysis
    printed = str(model).splitlines()[1:-1]  # the modules inside "Name(" ... ")"
    again = analyze(f"input {a.input.h}x{a.input.w}x{a.input.c}\n" + "\n".join(printed))
    assert [r.output for r in again.layers] == [r.output for r in a.layers]
    assert (again.totals.params, again.totals.macs) == (a.totals.params, a.totals.macs)


NAMED_GRAPHS = {
    "unet": "tests.torch.test_torch_graph:UNET",
    "fpn": "tests.torch.test_torch_graph:FPN",
    "two_heads": "tests.torch.test_torch_graph:TWO_HEADS",
}


@pytest.mark.parametrize("name", list(NAMED_GRAPHS))
def test_named_graphs_become_a_forward_with_variables(name: str) -> None:
    from tests.torch import test_torch_graph

    spec = getattr(test_torch_graph, NAMED_GRAPHS[name].split(":")[1])
    subject = subject_from_spec(spec, name)
    model = generated(subject)().eval()
    a = subject.analysis
    assert sum(p.numel() for p in model.parameters()) == a.totals.params
    with LayerShapes(model, subject) as seen, torch.no_grad():
        out = model(torch.randn(2, a.input.c, a.input.h, a.input.w))
    seen.check()
    outs = out if isinstance(out, tuple) else (out,)
    rows = {r.name: r for r in a.layers}
    for t, row_name in zip(outs, a.outputs or (a.layers[-1].name,), strict=True):
        v = rows[row_name].output
        assert tuple(t.shape[1:]) in ((v.c, v.h, v.w), (v.c,)), row_name


def test_a_named_read_inside_a_block_is_refused_by_line() -> None:
    from app.engine import SpecError

    subject = subject_from_spec("input 8x8x3\na: conv 4 1x1\n"
                                "residual { conv 4 1x1 from a }", "inside")
    with pytest.raises(SpecError, match="outside blocks") as exc:
        FORMATS["pytorch"].render(subject)
    assert exc.value.issues[0].line == 3
