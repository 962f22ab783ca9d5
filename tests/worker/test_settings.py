"""Queues that cannot disagree: one setting names them, the web app and the workers derive what
they send to and consume from it, and compose.yaml gives the web app a queue a worker serves."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from app.worker.__main__ import worker_argv
from app.worker.settings import WorkerSettings

COMPOSE = Path(__file__).resolve().parents[2] / "compose.yaml"


def _settings(env: dict[str, str]) -> WorkerSettings:
    """The settings a process with exactly this environment reads (nothing from ours)."""
    values = {k.removeprefix("ARCHCALC_").lower(): v for k, v in env.items()
              if k.startswith("ARCHCALC_")}
    return WorkerSettings(**values)


def test_the_web_apps_queue_in_compose_is_a_workers_queue() -> None:
    services = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]
    web = _settings(services["web"]["environment"])
    workers = [_settings(s["environment"]) for s in services.values()
               if s.get("build", {}).get("target") == "worker"]
    assert workers, "compose.yaml has no worker service"
    served = {q for w in workers for q in w.worker_queues}
    # every queue the web app may send to has a worker, the first (its choice) above all
    assert web.queue in served, (web.queue_names, served)
    assert set(web.queue_names) <= served
    # and the web app's device kind, which picks its limits, is the workers'
    assert {w.device for w in workers} == {web.device}


def test_one_setting_names_the_queues_of_the_web_app_and_of_the_workers() -> None:
    both = _settings({"ARCHCALC_QUEUES": "archcalc.cuda, archcalc.cpu"})
    assert both.queue_names == ["archcalc.cuda", "archcalc.cpu"]
    assert both.device == "cuda" and both.worker_queues == ["archcalc.cuda"]
    cpu = _settings({"ARCHCALC_QUEUES": "archcalc.cuda,archcalc.cpu", "ARCHCALC_RUN_DEVICE": "cpu"})
    assert cpu.worker_queues == ["archcalc.cpu"]
    argv = worker_argv(cpu, "w@h")
    assert argv[argv.index("--queues") + 1] == "archcalc.cpu"
    # without ARCHCALC_QUEUES, the device alone names the queue
    assert _settings({"ARCHCALC_RUN_DEVICE": "cuda"}).queue_names == ["archcalc.cuda"]
    assert _settings({}).queue_names == ["archcalc.cpu"]
    pool = _settings({"ARCHCALC_QUEUES": "archcalc.cuda.big"})
    assert pool.device == "cuda" and pool.worker_queues == ["archcalc.cuda.big"]


@pytest.mark.parametrize("bad", ["celery", "archcalc.tpu", "archcalc.cuda big", "archcalc."])
def test_a_queue_that_names_no_device_is_refused_with_its_name(bad: str) -> None:
    with pytest.raises(ValidationError) as refused:
        _settings({"ARCHCALC_QUEUES": f"archcalc.cpu,{bad}"})
    assert f"queue '{bad}'" in str(refused.value)
    assert "a queue is archcalc.cpu or archcalc.cuda" in str(refused.value)


def test_a_worker_whose_device_has_no_queue_refuses_to_start() -> None:
    env = os.environ | {"ARCHCALC_QUEUES": "archcalc.cuda", "ARCHCALC_RUN_DEVICE": "cpu",
                        "PYTHONPATH": str(COMPOSE.parent)}
    done = subprocess.run([sys.executable, "-m", "app.worker"], env=env, capture_output=True,
                          text=True, timeout=60, check=False, cwd=COMPOSE.parent)
    assert done.returncode == 2, done.stderr
    assert "none of the queues archcalc.cuda is for this worker's device (cpu)" in done.stderr
