"""``archcalc import`` as a function (app.importer.cli.import_command): ONNX files, torchvision
names and Python factories; exit status 0, 1 (refused nodes) or 2 (unreadable), never another."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402

from app.engine import analyze  # noqa: E402
from app.importer.cli import import_command  # noqa: E402
from app.importer.tv import build  # noqa: E402


def test_a_torchvision_name_to_a_file(tmp_path: Path) -> None:
    out = tmp_path / "net.spec"
    assert import_command("torchvision:squeezenet1_1", out, size=64) == 0
    assert analyze(out.read_text()).totals.params == sum(
        p.numel() for p in build("squeezenet1_1").parameters())


def test_an_onnx_file_to_stdout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inits = [helper.make_tensor("w", TensorProto.FLOAT, [10, 3], [0.0] * 30),
             helper.make_tensor("b", TensorProto.FLOAT, [10], [0.0] * 10)]
    graph = helper.make_graph(
        [helper.make_node("Flatten", ["x"], ["f"], name="/flat/Flatten"),
         helper.make_node("Gemm", ["f", "w", "b"], ["y"], name="/fc/Gemm", transB=1)],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 1, 1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], initializer=inits)
    path = tmp_path / "tiny.onnx"
    path.write_bytes(helper.make_model(graph).SerializeToString())
    assert import_command(str(path)) == 0
    spec = capsys.readouterr().out
    assert "fc: fc 10" in spec and analyze(spec).totals.params == 3 * 10 + 10


def test_refused_nodes_exit_1_and_unreadable_files_exit_2(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "sinnet.py").write_text(textwrap.dedent("""
        import torch
        from torch import nn
        class Sin(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = nn.Conv2d(3, 4, 1)
            def forward(self, x):
                return torch.sin(self.conv(x))
        def make():
            return Sin()
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    assert import_command("sinnet:make", tmp_path / "s.spec", size=8) == 1
    assert "refused: sin (sin): no spec op for sin" in capsys.readouterr().err
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07garbage")
    assert import_command(str(bad)) == 2
    assert "not a valid ONNX file" in capsys.readouterr().err
    assert import_command(str(tmp_path / "missing.onnx")) == 2


def test_a_python_factory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                          capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "clinet.py").write_text(textwrap.dedent("""
        from torch import nn
        def make():
            return nn.Sequential(nn.Conv2d(3, 4, 1), nn.ReLU())
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    assert import_command("clinet:make", size=8) == 0
    assert analyze(capsys.readouterr().out).totals.params == 3 * 4 + 4


def test_a_vision_transformer_by_name_exits_1_naming_its_nodes(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert import_command("vit_b_16") == 1
    err = capsys.readouterr().err
    assert "refused: " in err and "Traceback" not in err


def test_a_factory_that_raises_or_returns_no_module_exits_2(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "oops.py").write_text(textwrap.dedent("""
        def boom():
            raise ZeroDivisionError("no")
        def notamodule():
            return 42
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    assert import_command("oops:boom", size=8) == 2
    assert "calling it raised ZeroDivisionError" in capsys.readouterr().err
    assert import_command("oops:notamodule", size=8) == 2
    assert "could not" in capsys.readouterr().err
