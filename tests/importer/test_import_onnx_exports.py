"""Real exports, read back: torchvision CNNs exported by torch.onnx import exactly (parameters,
multiply-adds as FlopCounterMode's total / 2, output shape, all equal to torch's), vision
transformers are refused node by node, never with an exception.

Inputs are small (32 to 75 pixels), where every count is still exact, so an export takes
seconds; each file is made once a session (tests/importer/onnx_exports.py). ConvNeXt and
Inception-v3 have more weights than an upload may hold: they are read as their graph alone, the
weights saved beside it and never read.
"""

from __future__ import annotations

from typing import Any

import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")

from app.engine import analyze  # noqa: E402
from app.importer.api import import_onnx  # noqa: E402
from tests.importer import onnx_exports as ex  # noqa: E402

#: (builder, input size): the smallest sizes at which every layer still has an output
#: the quick lane's (their files serve test_import_onnx.py too), then the slow lane's
CNNS = [("resnet18", 64), ("mobilenet_v3_small", 64), ("squeezenet1_0", 64),
        ("shufflenet_v2_x1_0", 64),
        *(pytest.param(name, size, marks=pytest.mark.slow) for name, size in [
            ("mobilenet_v2", 64), ("efficientnet_b0", 64), ("googlenet", 64),
            ("densenet121", 32)])]
#: over 64 MiB of weights: imported from the graph alone
BIG = [pytest.param("convnext_tiny", 32, marks=pytest.mark.slow),
       pytest.param("inception_v3", 75, marks=pytest.mark.slow)]


def _counts(spec: str) -> tuple[int, int, tuple[int, int, int]]:
    analysis = analyze(spec)
    out = analysis.output
    return analysis.totals.params, analysis.totals.macs, (out.h, out.w, out.c)


@pytest.mark.parametrize(("name", "size"), [*CNNS, *BIG])
def test_a_torchscript_export_imports_exactly(name: str, size: int) -> None:
    result = import_onnx(ex.exported(name, size), f"{name}.onnx")
    assert result.refused == ()
    assert _counts(result.spec) == ex.torch_counts(name, size)


@pytest.mark.slow
def test_convnext_s_channels_last_layers_read_as_the_fx_importer_writes_them() -> None:
    data = ex.exported("convnext_tiny", 32)
    assert len(data) < 1024 * 1024  # the graph alone
    spec = import_onnx(data).spec
    assert "features_0_1: layernorm" in spec
    assert "# features_5_0 ... features_5_8: 9 identical units" in spec
    assert "    conv 384 7x7 pad 3 depthwise\n    layernorm\n    conv 1536 1x1\n    gelu\n" \
        "    conv 384 1x1\n    layerscale\n" in spec


@pytest.mark.slow
def test_inception_s_flattened_concatenations_are_nested_again() -> None:
    """The exporter writes Mixed_7b's cat([a, cat([b, c]), cat([d, e]), f]) as one Concat of
    six; the reader nests the runs that fork from their own layer, so Mixed_7b and Mixed_7c
    are the blocks torch's module wrote, and one repeat."""
    spec = import_onnx(ex.exported("inception_v3", 75)).spec
    assert "# Mixed_7b ... Mixed_7c: 2 identical units\nrepeat 2 {\n  concat {" in spec
    nested = "      concat {\n        branch {\n          conv 384 1x3 pad 0x1 nobias\n"
    assert spec.count(nested) == 2


# -- equal weights stored once -----------------------------------------------------------------

class _Twins(torch.nn.Module):
    """Two equal convolutions, a layer scale of ones (ConvNeXt's, untrained) and a Linear over
    channels-last: the TorchScript exporter stores each set of equal values once."""

    def __init__(self) -> None:
        super().__init__()
        self.a = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.b = torch.nn.Conv2d(8, 8, 3, padding=1)
        self.c = torch.nn.Conv2d(8, 8, 3, padding=1)
        self.scale_b = torch.nn.Parameter(torch.ones(8, 1, 1))
        self.scale_c = torch.nn.Parameter(torch.ones(8, 1, 1))
        self.norm = torch.nn.LayerNorm(8)
        self.fc = torch.nn.Linear(8, 8)
        for conv in (self.b, self.c):
            torch.nn.init.constant_(conv.weight, 0.5)
            torch.nn.init.zeros_(conv.bias)

    def forward(self, x: Any) -> Any:
        x = self.a(x)
        x = x + self.scale_b * self.b(x)
        x = x + self.scale_c * self.c(x)
        x = self.fc(self.norm(x.permute(0, 2, 3, 1))).permute(0, 3, 1, 2)
        return x


def test_equal_weights_stored_once_are_counted_for_each_layer() -> None:
    module = _Twins().eval()
    data = ex.export_module(module, 16)
    stored = onnx.load_model_from_string(data).graph.initializer
    assert len(stored) < len(list(module.parameters()))  # the exporter did share them
    result = import_onnx(data)
    assert result.refused == ()
    assert _counts(result.spec) == ex.measure(module, 16)


@pytest.mark.slow
def test_equal_weights_read_by_two_nodes_in_a_dynamo_export() -> None:
    pytest.importorskip("onnxscript")
    module = _Twins().eval()
    data = ex.export_module(module, 16, dynamo=True)
    m = onnx.load_model_from_string(data)
    readers = [v for n in m.graph.node for v in n.input
               if v in {t.name for t in m.graph.initializer}]
    assert len(readers) > len(set(readers))  # one initializer read by two nodes
    result = import_onnx(data)
    assert result.refused == ()
    params, macs, out = _counts(result.spec)
    assert (params, macs, out) == (ex.stored_weights(data), *ex.measure(module, 16)[1:])


# -- the dynamo exporter -----------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize(("name", "size"), [("resnet18", 64), ("mobilenet_v3_small", 64)])
def test_a_dynamo_export_imports_exactly(name: str, size: int) -> None:
    """It folds BatchNorm into the convolutions: the parameters are the file's own."""
    pytest.importorskip("onnxscript")
    data = ex.exported(name, size, dynamo=True)
    result = import_onnx(data)
    assert result.refused == ()
    params, macs, out = _counts(result.spec)
    _, torch_macs, torch_out = ex.torch_counts(name, size)
    assert (params, macs, out) == (ex.stored_weights(data), torch_macs, torch_out)


# -- vision transformers -----------------------------------------------------------------------

def _small_vit() -> Any:
    models = ex.torchvision_models()  # loaded the way the importer loads it
    return models.VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=2,
                             hidden_dim=32, mlp_dim=64).eval()


def _refused_by_name(data: bytes) -> set[str]:
    result = import_onnx(data)
    assert result.refused
    assert all(r.node and r.target and r.reason for r in result.refused)
    assert "# REFUSED" in result.spec
    return {r.target for r in result.refused}


def test_a_vision_transformer_is_refused_node_by_node() -> None:
    targets = _refused_by_name(ex.export_module(_small_vit(), 32))
    assert {"ConstantOfShape", "LayerNormalization", "MatMul"} <= targets


@pytest.mark.slow
def test_a_vision_transformer_from_the_dynamo_exporter_is_refused_node_by_node() -> None:
    pytest.importorskip("onnxscript")
    assert "MatMul" in _refused_by_name(ex.export_module(_small_vit(), 32, dynamo=True))


@pytest.mark.slow
def test_torchvision_s_vit_b_16_is_refused_node_by_node() -> None:
    assert "MatMul" in _refused_by_name(ex.exported("vit_b_16", 224))


@pytest.mark.parametrize("route", ["/api/import", "/import"])
def test_a_vision_transformer_uploaded_is_answered_with_its_refusals(route: str) -> None:
    from fastapi.testclient import TestClient

    from app.web.app import create_app
    from app.web.settings import Settings

    data = ex.export_module(_small_vit(), 32)
    with TestClient(create_app(Settings())) as client:
        r = client.post(route, files={"file": ("vit.onnx", data)})
    assert r.status_code == 200, r.text[-2000:]
    if route == "/api/import":
        body = r.json()
        assert body["analysis"] is None
        assert "ConstantOfShape" in {item["target"] for item in body["refused"]}
    else:
        assert "refused" in r.text and "ConstantOfShape" in r.text
