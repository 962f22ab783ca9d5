"""CSV, Markdown and LaTeX exports of three zoo models against golden files, and the figures
in them against the arithmetic (written as formulas, never pasted from the output)."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from app.export import FORMATS, Subject, for_accept, get_format, subject_from_spec
from app.zoo import model_spec

GOLDEN = Path(__file__).parent / "golden"
MODELS = ("lenet5", "alexnet", "resnet18")
SUFFIX = {"csv": ".csv", "md": ".md", "latex": ".tex"}


def subject(model_id: str) -> Subject:
    return subject_from_spec(model_spec(model_id), model_id)


@pytest.mark.parametrize("fmt", list(SUFFIX))
@pytest.mark.parametrize("model_id", MODELS)
def test_export_matches_its_golden_file(model_id: str, fmt: str, regen_golden: bool) -> None:
    text = FORMATS[fmt].render(subject(model_id))
    path = GOLDEN / f"{model_id}{SUFFIX[fmt]}"
    if regen_golden:
        path.write_text(text, encoding="utf-8")
    assert path.read_text(encoding="utf-8") == text


def _csv_rows(text: str) -> list[dict[str, str]]:
    body = "".join(line + "\n" for line in text.splitlines() if not line.startswith("#"))
    return list(csv.DictReader(io.StringIO(body)))


def test_alexnet_csv_figures_are_the_arithmetic() -> None:
    rows = {r["name"]: r for r in _csv_rows(FORMATS["csv"].render(subject("alexnet")))}
    conv1, conv2 = rows["conv1"], rows["conv2"]
    assert conv1["output"] == "55x55x96"
    assert int(conv1["weights"]) == 11 * 11 * 3 * 96
    assert int(conv1["params"]) == 11 * 11 * 3 * 96 + 96
    assert int(conv1["macs"]) == 55 * 55 * 96 * 11 * 11 * 3
    assert int(conv1["activations"]) == 55 * 55 * 96
    assert conv1["rf"] == "11"
    # two-GPU groups: each filter sees 48 of the 96 channels
    assert int(conv2["weights"]) == 5 * 5 * 48 * 256
    assert int(rows["fc6"]["weights"]) == 6 * 6 * 256 * 4096


def test_csv_total_row_is_the_column_sums_and_the_totals() -> None:
    s = subject("resnet18")
    rows = _csv_rows(FORMATS["csv"].render(s))
    layers, total = rows[:-1], rows[-1]
    assert total["name"] == "total" and len(layers) == len(s.analysis.layers)
    for key in ("weights", "biases", "params", "macs", "activations"):
        assert int(total[key]) == sum(int(r[key]) for r in layers)
        assert int(total[key]) == getattr(s.analysis.totals, key)


def test_every_export_states_its_conventions() -> None:
    s = subject_from_spec("input 32x32x3\nconv 8 3x3\nfc 10\n", "small", dtype="float16",
                          batch=8, optimizer="adam")
    for name, fmt in FORMATS.items():
        if name == "json":
            continue
        head = "\n".join(fmt.render(s).splitlines()[:20])
        for fact in ("dtype float16 (2 bytes a value), batch 8, optimizer adam",
                     "MACs are multiply-accumulates (FLOPs = 2 x MACs)",
                     "MB = 10^6 bytes, MiB = 2^20 bytes"):
            assert fact in head, (name, fact)
    data = json.loads(FORMATS["json"].render(s))
    assert data["options"] == {"dtype": "float16", "batch": 8, "optimizer": "adam", "aux": False}
    assert data["conventions"]["flops"].startswith("2 x macs")


def test_markdown_row_reads_as_the_arithmetic() -> None:
    text = FORMATS["md"].render(subject("alexnet"))
    row = (f"| 1 | conv1 |  | conv | 55x55x96 | {11 * 11 * 3 * 96:,} | 96 | "
           f"{11 * 11 * 3 * 96 + 96:,} | {55 * 55 * 96 * 11 * 11 * 3:,} | {55 * 55 * 96:,} | "
           f"{55 * 55 * 96 * 4 / 10**6:.3g} MB | 11 |")  # three significant figures
    assert row in text.splitlines()


def test_latex_escapes_and_shows_working() -> None:
    s = subject_from_spec("input 8x8x3\nconv_a: conv 4 3x3 pad 1   # 50% & $\nfc 2\n", "a_b")
    text = FORMATS["latex"].render(s)
    assert r"conv\_a" in text and "conv_a" not in text.replace(r"conv\_a", "")
    assert r"\toprule" in text and r"\midrule" in text and r"\bottomrule" in text
    assert r"& weights & $\displaystyle 3 \cdot 3 \cdot 3 \cdot 4 = 108$" in text  # structured
    assert r"& h & $\displaystyle \frac{8 - 3 + 2 \cdot 1}{1} + 1 = 8$" in text


def test_formats_by_name_alias_and_accept() -> None:
    assert get_format("markdown") is FORMATS["md"] and get_format("TEX") is FORMATS["latex"]
    assert for_accept("text/html, text/csv;q=0.9") is FORMATS["csv"]
    assert for_accept("text/html") is None
    with pytest.raises(ValueError, match="unknown format 'xlsx'"):
        get_format("xlsx")


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
@pytest.mark.parametrize("model_id", ["lenet5", "resnet18", "googlenet"])
def test_latex_export_compiles_and_fits_the_page(model_id: str, tmp_path: Path) -> None:
    (tmp_path / "table.tex").write_text(FORMATS["latex"].render(subject(model_id)))
    for _ in range(2):  # longtable lines its columns up on the second run
        done = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error",
                               "table.tex"], cwd=tmp_path, check=False, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stdout[-3000:]
    assert (tmp_path / "table.pdf").stat().st_size > 1000
    log = (tmp_path / "table.log").read_text(errors="replace")
    assert "Overfull \\hbox" not in log, log[log.index("Overfull"):][:300]
    assert "Rerun" not in log
