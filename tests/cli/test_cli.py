"""The command line: ``show`` is the API's JSON, ``check`` grades with its exit status, every
export and the PyTorch code come out as the library renders them, errors are one line."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app import lecture
from app.cli import app
from app.cli.check import PROGRESS_FROM
from app.examples import ALEXNET_SLIDE, VGG16_NOTES
from app.export import FORMATS
from app.present.claims import key as claims_key
from app.web.app import create_app

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(create_app())


def test_show_json_is_what_the_api_answers(client: TestClient) -> None:
    result = runner.invoke(app, ["show", "vgg16", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == client.get("/api/models/vgg16").json()


def test_show_json_of_a_file_is_what_post_analyze_answers(client: TestClient,
                                                          tmp_path: Path) -> None:
    spec = tmp_path / "net.spec"
    spec.write_text(ALEXNET_SLIDE)
    result = runner.invoke(app, ["show", str(spec), "-f", "json", "--dtype", "float16",
                                 "--batch", "8", "--optimizer", "adam"])
    body = {"spec": ALEXNET_SLIDE, "dtype": "float16", "batch": 8, "optimizer": "adam"}
    assert json.loads(result.stdout) == client.post("/api/analyze", json=body).json()


def test_show_json_form_file_and_input_override(client: TestClient, tmp_path: Path) -> None:
    spec = {"input": {"h": 32, "w": 32, "c": 3},
            "layers": [{"op": "conv", "name": "c1", "out": 8, "kernel": 3},
                       {"op": "fc", "out": 10}]}
    path = tmp_path / "net.json"
    path.write_text(json.dumps(spec))
    shown = json.loads(runner.invoke(app, ["show", str(path), "-f", "json"]).stdout)
    assert shown == client.post("/api/analyze", json={"spec": spec}).json()
    assert shown["layers"][1]["macs"] == 30 * 30 * 8 * 3 * 3 * 3
    small = json.loads(runner.invoke(app, ["show", "vgg16", "--input", "64x64x3",
                                           "-f", "json"]).stdout)
    assert small == client.get("/api/models/vgg16?input=64x64x3").json()


def test_show_table_is_torchinfo_style() -> None:
    result = runner.invoke(app, ["show", "alexnet"])
    assert result.exit_code == 0
    conv1 = next(line for line in result.stdout.splitlines() if " conv1 " in line)
    for figure in ("55x55x96", f"{11 * 11 * 3 * 96 + 96:,}", f"{55 * 55 * 96 * 11 * 11 * 3:,}"):
        assert figure in conv1
    assert f"{60_965_224:,}" in result.stdout  # the published AlexNet (two groups) count
    assert "MB = 10^6 bytes" in result.stdout


@pytest.mark.parametrize("fmt", ["csv", "md", "latex", "pytorch"])
def test_show_formats_are_the_web_downloads(fmt: str, client: TestClient) -> None:
    result = runner.invoke(app, ["show", "lenet5", "--format", fmt])
    assert result.exit_code == 0
    download = client.get(f"/api/export/models/lenet5?format={fmt}")
    assert result.stdout == download.text
    assert FORMATS[fmt].media_type in download.headers["content-type"]


def test_torch_prints_code_that_runs(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    result = runner.invoke(app, ["torch", "lenet5"])
    namespace: dict[str, object] = {"__name__": "generated"}
    exec(result.stdout, namespace)  # the point of the test: the printed code runs
    model = namespace["LeNet5"]()  # type: ignore[operator]  # the zoo's name, LeNet-5
    assert sum(p.numel() for p in model.parameters()) == 61_706
    assert tuple(model(torch.zeros(1, 1, 32, 32)).shape) == (1, 10)
    out = tmp_path / "lenet5.py"
    runner.invoke(app, ["torch", "lenet5", "-o", str(out)])
    assert out.read_text() == result.stdout


def _listing(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_check_names_both_wrong_lines_and_exits_1(tmp_path: Path) -> None:
    lines = ALEXNET_SLIDE.splitlines()
    assert lines[1].startswith("[55x55x96] CONV1") and lines[5].startswith("[13x13x256] MAX POOL2")
    lines[1] = lines[1].replace("[55x55x96]", "[54x54x96]")
    lines[5] = lines[5].replace("[13x13x256]", "[13x13x384]")
    path = _listing(tmp_path, "hw.txt", "\n".join(lines) + "\n")
    result = runner.invoke(app, ["check", path])
    assert result.exit_code == 1
    wrong = [line for line in result.stdout.splitlines() if line.startswith(f"{path}:")]
    assert wrong[0].startswith(f"{path}:2: CONV1: output '54x54x96'")
    assert wrong[1].startswith(f"{path}:6: MAX POOL2: output '13x13x384'")
    assert "(227 - 11 + 2*0)/4 + 1 = 55" in result.stdout  # the working of the right answer
    assert f"{path}: 13 claims, 11 right, 2 wrong" in result.stdout


def test_check_a_right_listing_exits_0(tmp_path: Path) -> None:
    result = runner.invoke(app, ["check", _listing(tmp_path, "ok.txt", ALEXNET_SLIDE)])
    assert result.exit_code == 0, result.output
    assert "13 claims, 13 right, 0 wrong" in result.stdout


def test_check_judges_a_rounded_figure_as_the_page_and_the_lecture_do(
        client: TestClient, tmp_path: Path) -> None:
    """"35K" for CONV1's 34,944 parameters is right only to the precision written: "rounded"
    here, on the calculator page and on /lecture alike, and not wrong (exit 0)."""
    params = 11 * 11 * 3 * 96 + 96
    listing = ALEXNET_SLIDE.replace("pad 0", "pad 0, params: 35K", 1)
    path = _listing(tmp_path, "rounded.txt", listing)
    result = runner.invoke(app, ["check", path])
    assert result.exit_code == 0, result.output
    assert f"{path}:2: CONV1: params '35K': rounded: right: {params:,}" in result.stdout
    assert f"{path}: 14 claims, 13 right, 1 rounded, 0 wrong" in result.stdout
    assert result.stdout.splitlines()[-1] == claims_key(icons=False)  # what "rounded" means
    page = client.get("/", params={"spec": listing})
    assert "13 right, 1 rounded, 0 wrong" in page.text
    assert page.text.count('<span class="claim rounded">') >= 1
    assert lecture.judge("35K", params) == "rounded"


def test_check_finds_the_total_line_of_a_whole_network_claim(tmp_path: Path) -> None:
    path = _listing(tmp_path, "vgg.txt", VGG16_NOTES)
    result = runner.invoke(app, ["check", path])
    total = VGG16_NOTES.splitlines().index(next(line for line in VGG16_NOTES.splitlines()
                                                if line.startswith("TOTAL memory"))) + 1
    assert result.exit_code == 1
    assert f"{path}:{total}: TOTAL: activations '24M'" in result.stdout


def test_check_unreadable_or_invalid_exits_2(tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.txt")
    binary = tmp_path / "scan.txt"
    binary.write_bytes(b"\xff\xfe\x00 not text")
    bad = _listing(tmp_path, "bad.txt", "input 32x32x3\nconv 8 3x3\nconv 8 99x99\n")
    for path in (missing, str(binary), bad):
        result = runner.invoke(app, ["check", path])
        assert result.exit_code == 2, result.output
        assert result.stderr.strip().startswith(f"{path}:"), result.stderr
        assert "Traceback" not in result.output
    assert f"{bad}:3: " in runner.invoke(app, ["check", bad]).stderr


def test_check_many_files_summarises_all(tmp_path: Path) -> None:
    paths = [_listing(tmp_path, f"s{i}.txt", ALEXNET_SLIDE) for i in range(PROGRESS_FROM)]
    paths.append(_listing(tmp_path, "wrong.txt", ALEXNET_SLIDE.replace("[4096] FC6", "[4000] FC6")))
    result = runner.invoke(app, ["check", *paths])
    assert result.exit_code == 1
    count = len(paths)
    summary = f"all {count} files: {13 * count} claims, {13 * count - 1} right, 1 wrong"
    assert summary in result.stdout


def test_compare_puts_totals_side_by_side() -> None:
    result = runner.invoke(app, ["compare", "resnet18", "resnet50"])
    assert result.exit_code == 0
    params = next(line for line in result.stdout.splitlines() if line.startswith("│ parameters"))
    assert f"{11_689_512:,}" in params and f"{25_557_032:,}" in params  # torchvision's counts


def test_errors_are_one_line_with_the_place() -> None:
    result = runner.invoke(app, ["show", "no-such-model"])
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("no-such-model:0: no such file, nor a zoo model")
    result = runner.invoke(app, ["show", "vgg16", "--input", "0x0x0"])
    assert result.exit_code == 2 and result.stderr.startswith("--input")
    result = runner.invoke(app, ["show", "vgg16", "--dtype", "float64"])
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert result.exit_code == 2 and len(errors) == 1 and "float64" in errors[0]
    assert "╭" not in result.stderr  # a plain line, not a box


def test_run_and_worker_say_how_to_enable_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without torch or app.worker, both say in one line what to install."""
    import app.cli.runs

    monkeypatch.setattr(app.cli.runs, "worker_module", lambda name="app.worker": None)
    for args in (["run", "vgg16"], ["worker"]):
        result = runner.invoke(app.cli.app, args)
        assert result.exit_code == 2
        assert len(result.stderr.strip().splitlines()) == 1 and "torch" in result.stderr


def test_run_measures_for_real_beside_the_engine(tmp_path: Path) -> None:
    """archcalc run through the embedded queue (no Redis: one local worker child): the
    measured parameters and FLOPs agree with the engine's, and it exits 0."""
    pytest.importorskip("torch")
    pytest.importorskip("celery")
    env = {**os.environ, "ARCHCALC_EMBEDDED_DIR": str(tmp_path / "queue")}
    env.pop("ARCHCALC_BROKER_URL", None)
    done = subprocess.run([sys.executable, "-m", "app", "run", "lenet5", "--batch", "1",
                           "--batch", "2", "--wait", "150"], cwd=ROOT, env=env, check=False,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    params = next(line for line in done.stdout.splitlines() if "parameters" in line)
    assert params.count(f"{61_706:,}") == 2 and "yes" in params
    flops = next(line for line in done.stdout.splitlines() if "FLOPs per image" in line)
    assert flops.count(f"{2 * 416_520:,}") == 2
    batches = [line.split()[1] for line in done.stdout.splitlines()
               if re.match(r"^│\s+[12]\s+│", line)]
    assert batches == ["1", "2"]


def test_run_refuses_a_dtype_the_worker_cannot_run() -> None:
    pytest.importorskip("celery")
    result = runner.invoke(app, ["run", "lenet5", "--dtype", "int8"])
    assert result.exit_code == 2
    assert result.stderr.startswith("--dtype: ") and len(result.stderr.splitlines()) == 1


def test_worker_hands_its_arguments_to_app_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where app.worker is installed, ``archcalc worker`` is its ``__main__.main``."""
    import types

    import app.cli.runs

    calls: list[list[str]] = []
    fake = types.SimpleNamespace(main=calls.append)
    monkeypatch.setattr(app.cli.runs, "worker_module", lambda name="app.worker": fake)
    result = runner.invoke(app.cli.app, ["worker", "--name", "gpu0", "--", "--loglevel", "DEBUG"])
    assert result.exit_code == 0, result.output
    assert calls == [["--name", "gpu0", "--", "--loglevel", "DEBUG"]]


def test_python_dash_m_app_runs_the_cli() -> None:
    done = subprocess.run([sys.executable, "-m", "app", "show", "lenet5", "--format", "csv"],
                          cwd=ROOT, check=False, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1].startswith(",total,")
