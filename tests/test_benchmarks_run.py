"""The load test and the speed benchmarks run (in their short modes): not their figures, but
that they start a server, measure, print every table and stop by themselves."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(script: str, timeout: float) -> str:
    result = subprocess.run([sys.executable, f"benchmarks/{script}", "--short"], cwd=ROOT,
                            capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def test_the_load_test_runs_and_stops_by_itself() -> None:
    out = _run("load.py", timeout=90)
    assert "| **classroom mix** |" in out and "| trivial " in out, out
    for kind in ("page", "fragment", "analyze small", "analyze resnet152", "model"):
        assert f"|   {kind} |" in out, (kind, out)
    assert "met: errors: 0" in out, out  # the short run has no errors either
    assert "mix p99" in out and "of the trivial endpoint's requests/s" in out


def test_the_speed_benchmark_runs() -> None:
    pytest.importorskip("torch")
    pytest.importorskip("torchinfo")
    out = _run("bench_speed.py", timeout=180)
    assert "| lenet5 |" in out and "FlopCounterMode" in out, out
    assert "POST /api/analyze resnet152 through uvicorn" in out
    assert "engine / dump_json" in out and "per-layer time from" in out
