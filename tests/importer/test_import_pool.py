"""The import pool's child processes: a memory cap and a deadline each, results and refusals
carried back, and nothing of an import left in the calling process."""

from __future__ import annotations

import asyncio
import functools
import time

import pytest

pytest.importorskip("torch")

from app.engine.errors import LimitError
from app.importer.api import ImportFailed, import_torchvision
from app.importer.pool import (
    ImportBusy,
    ImportPool,
    OnnxJob,
    PoolLimits,
    TorchvisionJob,
    run_in_child,
)
from tests.importer import hostile_onnx as h

ROOMY = PoolLimits(seconds=120)


def test_a_child_s_result_is_the_same_as_importing_here() -> None:
    assert run_in_child(TorchvisionJob("resnet18", 64), ROOMY) == import_torchvision("resnet18", 64)


def test_a_refusal_in_the_child_is_an_import_failure_here() -> None:
    with pytest.raises(ImportFailed, match="pads"):
        run_in_child(OnnxJob(h.conv_attr(pads=[1, 1, 1]), "x.onnx", 2**20, 100), ROOMY)


def test_an_import_over_its_memory_cap_is_refused_naming_the_limit() -> None:
    """A job that allocates 512 MiB (torchvision's models are traced on the meta device, with no
    memory for activations, so none of them makes the point): past 64 MiB allocations fail."""
    limits = PoolLimits(seconds=300, memory_bytes=64 * 2**20)
    with pytest.raises((LimitError, ImportFailed)) as exc:
        run_in_child(functools.partial(bytearray, 512 * 2**20), limits)  # type: ignore[arg-type]
    assert "import_memory_bytes" in str(exc.value)


def test_an_import_past_its_deadline_is_killed_at_the_deadline() -> None:
    run_in_child(TorchvisionJob("alexnet", 64), ROOMY)  # the fork server is up
    started = time.monotonic()
    # a job that would sleep for a minute: past a deadline of one second whatever the machine
    with pytest.raises(LimitError, match="import_seconds"):
        run_in_child(functools.partial(time.sleep, 60), PoolLimits(seconds=1))  # type: ignore[arg-type]
    assert time.monotonic() - started < 10


def test_the_pool_turns_away_what_its_queue_cannot_hold() -> None:
    pool = ImportPool(PoolLimits(processes=1, queue=1, seconds=120))

    async def many() -> list[object]:
        jobs = [pool.run(TorchvisionJob("regnet_y_400mf", 224)) for _ in range(4)]
        return await asyncio.gather(*jobs, return_exceptions=True)

    answers = asyncio.run(many())
    busy = [a for a in answers if isinstance(a, ImportBusy)]
    assert len(busy) == 2 and all("import_queue" in str(b) for b in busy)
    assert sum(1 for a in answers if not isinstance(a, BaseException)) == 2


def test_the_settings_defaults_are_the_pool_s_and_are_documented() -> None:
    from pathlib import Path

    from app.importer.onnx_file import MAX_NODES
    from app.web.settings import Settings

    s, limits = Settings(), PoolLimits()
    assert (s.import_processes, s.import_queue, s.import_seconds, s.import_memory_bytes,
            s.import_max_nodes) == (limits.processes, limits.queue, limits.seconds,
                                    limits.memory_bytes, MAX_NODES)
    doc = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text()
    for name in ("import_processes", "import_queue", "import_seconds", "import_memory_bytes",
                 "import_max_nodes"):
        value = getattr(s, name)
        shown = f"{value:,}" if isinstance(value, int) else f"{value:g}"
        assert f"| `ARCHCALC_{name.upper()}` | {shown} |" in doc, name
