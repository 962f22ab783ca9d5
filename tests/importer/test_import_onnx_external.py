"""ONNX at real sizes: a model saved with its weights as external data imports from the .onnx
file alone, from its declared dims, and the data file is never opened (an audit hook watches);
the recipe the CLI's help and the import page print makes such a file; an upload over the
limit is told to send it.
"""

from __future__ import annotations

import html
import os
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")

from fastapi.testclient import TestClient  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from app.cli import app as cli_app  # noqa: E402
from app.engine import analyze  # noqa: E402
from app.importer.api import ImportFailed, import_onnx  # noqa: E402
from app.importer.cli import import_command  # noqa: E402
from app.importer.onnx_file import GRAPH_ONLY_RECIPE, MAX_ONNX_BYTES, TOO_BIG_HINT  # noqa: E402
from app.web.app import create_app  # noqa: E402
from app.web.settings import Settings  # noqa: E402
from tests.importer import onnx_exports as ex  # noqa: E402
from tests.importer.openwatch import files_opened  # noqa: E402


def _recipe_from_help() -> list[str]:
    out = CliRunner().invoke(cli_app, ["import", "--help"], env={"COLUMNS": "80"}).output
    return [line.strip() for line in out.splitlines()
            if line.strip().startswith(("import onnx", "onnx.save("))]


def _run_recipe(lines: list[str], where: Path) -> None:
    subprocess.run([sys.executable, "-c", "\n".join(lines)], cwd=where, check=True, timeout=120)


def _counts(spec: str) -> tuple[int, int, tuple[int, int, int]]:
    a = analyze(spec)
    return a.totals.params, a.totals.macs, (a.output.h, a.output.w, a.output.c)


def test_the_cli_s_recipe_as_printed_makes_a_graph_that_imports_without_its_data(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = _recipe_from_help()
    assert lines == list(GRAPH_ONLY_RECIPE)
    (tmp_path / "model.onnx").write_bytes(ex.exported("squeezenet1_0", 64))
    _run_recipe(lines, tmp_path)
    graph, data = tmp_path / "graph.onnx", tmp_path / "graph.onnx.data"
    assert data.stat().st_size > 100 * graph.stat().st_size  # the weights left the graph
    with files_opened() as opened:
        status = import_command(str(graph))
    assert not [p for p in opened if p.endswith(".data")], opened
    assert status == 0
    assert _counts(capsys.readouterr().out) == ex.torch_counts("squeezenet1_0", 64)


def test_the_import_page_shows_the_same_recipe() -> None:
    with TestClient(create_app(Settings())) as client:
        page = client.get("/import")
    assert page.status_code == 200
    assert page.context["graph_only_recipe"] == "\n".join(GRAPH_ONLY_RECIPE)  # type: ignore[attr-defined]
    assert "\n".join(GRAPH_ONLY_RECIPE) in html.unescape(page.text)


def test_a_file_over_the_limit_is_told_to_send_its_graph_alone() -> None:
    data = ex.exported("squeezenet1_0", 64)
    with pytest.raises(ImportFailed) as info:
        import_onnx(data, max_bytes=2**20)
    assert "(max_import_bytes); " + TOO_BIG_HINT in str(info.value)
    assert "save_as_external_data=True" in TOO_BIG_HINT


@pytest.mark.parametrize("route", ["/api/import", "/import"])
def test_an_upload_over_the_limit_is_told_to_send_its_graph_alone(route: str) -> None:
    data = ex.exported("squeezenet1_0", 64)
    with TestClient(create_app(Settings(max_import_bytes=2**20))) as client:
        r = client.post(route, files={"file": ("squeezenet.onnx", data)})
    assert r.status_code == 413
    item = r.json()["errors"][0]
    assert item["limit"] == "max_import_bytes" and TOO_BIG_HINT in item["message"]


@pytest.mark.slow
def test_resnet50_at_224_imports_from_its_graph_alone_and_exactly(tmp_path: Path) -> None:
    whole = ex.export_module(ex.model("resnet50"), 224)
    assert len(whole) > MAX_ONNX_BYTES  # too big to upload with its weights
    (tmp_path / "model.onnx").write_bytes(whole)
    _run_recipe(list(GRAPH_ONLY_RECIPE), tmp_path)
    graph = (tmp_path / "graph.onnx").read_bytes()
    with files_opened() as opened:
        result = import_onnx(graph, "graph.onnx")
    assert not [p for p in opened if "graph.onnx" in p], opened  # neither file: bytes in hand
    assert result.refused == ()
    assert _counts(result.spec) == ex.torch_counts("resnet50", 224)


def test_a_graph_without_its_weights_uploads_and_imports_exactly() -> None:
    graph = ex.graph_only(ex.exported("squeezenet1_0", 64))
    assert len(graph) < 64 * 1024  # every weight left behind
    with TestClient(create_app(Settings())) as client:
        r = client.post("/api/import", files={"file": ("graph.onnx", graph)})
    assert r.status_code == 200, r.text
    totals, out = r.json()["analysis"]["totals"], r.json()["analysis"]["output"]
    assert (totals["params"], totals["macs"], (out["h"], out["w"], out["c"])) == \
        ex.torch_counts("squeezenet1_0", 64)


@pytest.mark.slow
def test_the_benchmark_runs_and_finds_the_counts_equal() -> None:
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "benchmarks/bench_onnx_external.py", "--short"],
                         cwd=root, capture_output=True, text=True, timeout=300, check=True,
                         env={**os.environ, "PYTHONPATH": str(root)}).stdout
    assert "import graph.onnx:" in out and "the same spec: True" in out, out
    assert out.rstrip().endswith(": equal"), out


def test_the_import_guide_gives_the_same_recipe() -> None:
    guide = Path(__file__).resolve().parents[2] / "docs" / "import.md"
    assert "\n  ".join(GRAPH_ONLY_RECIPE) in guide.read_text()
