"""The benchmark script runs, and engine and torchinfo agree on the parameter count."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

pytest.importorskip("torch")
pytest.importorskip("torchinfo")

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_zoo_vs_torchinfo.py"


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_zoo_vs_torchinfo", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_benchmark_runs_and_parameter_counts_agree(capsys: pytest.CaptureFixture[str]) -> None:
    bench = load_script()
    assert bench.main(["--models", "lenet5,squeezenet1_1", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert "lenet5" in out and "squeezenet1_1" in out and " NO" not in out
