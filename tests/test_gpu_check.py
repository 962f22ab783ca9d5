"""``scripts/gpu_check.py``, the check a GPU machine runs, runs here too: on the CPU with a flag,
through either queue, and says plainly when there is no GPU instead of failing its jobs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("celery")

import torch

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "gpu_check.py"


def _check(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHCALC_")}
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_without_a_gpu_it_says_so_and_runs_nothing(tmp_path: Path) -> None:
    done = _check("--log", str(tmp_path / "worker.log"), timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("no GPU: torch ") and "--device cpu" in done.stderr
    assert done.stdout == "" and not (tmp_path / "worker.log").exists()


@pytest.mark.slow
@pytest.mark.parametrize("broker", ["embedded", "redis"])
def test_the_cpu_check_runs_and_agrees(broker: str, tmp_path: Path) -> None:
    done = _check("--device", "cpu", "--tiny", "--models", "lenet5", "--batches", "1,2",
                  "--repeats", "1", "--broker", broker, "--log", str(tmp_path / "worker.log"))
    assert done.returncode == 0, done.stdout + done.stderr
    rows = [line.split() for line in done.stdout.splitlines() if line.startswith("lenet5 ")]
    # inference and training, each at batch 1 and 2, each measured shapes, params, FLOPs equal
    assert [(r[1], r[2]) for r in rows] == [("inference", "1"), ("inference", "2"),
                                            ("training", "1"), ("training", "2")], done.stdout
    assert all(line.endswith("shapes, params, FLOPs match")
               for line in done.stdout.splitlines() if line.startswith("lenet5 "))
    assert "device: " in done.stdout and "(cpu)" in done.stdout
    assert f"queue: {broker}" in done.stderr
