"""Faults inside a worker's child, each reported with its reason and followed by a job that
succeeds: the child was replaced and the worker goes on."""

from __future__ import annotations

import os
import signal

import pytest

from app.worker.client import Runs
from app.worker.models import Fault, RunRequest
from tests.worker.conftest import (
    TIME_LIMIT_S,
    WebServer,
    Worker,
    poll_api,
    poll_runs,
    tiny_spec,
)


def _normal_job_succeeds(web: WebServer, width: int) -> None:
    with web.client() as client:
        answer = client.post("/api/runs", json={"spec": tiny_spec(width), "batch_sizes": [1]})
        assert answer.status_code == 202, answer.text
        body = poll_api(client, answer.json()["id"])
    assert body["status"] == "done", body


def _child_pids(worker: Worker) -> set[int]:
    with open(f"/proc/{worker.proc.pid}/task/{worker.proc.pid}/children") as f:
        return {int(p) for p in f.read().split()}


def test_a_job_past_the_hard_time_limit_is_killed_and_reported(
        runs: Runs, web: WebServer, worker: Worker) -> None:
    accepted = runs.submit(RunRequest(spec=tiny_spec(40), batch_sizes=[1]),
                           Fault(kind="sleep", seconds=10 * TIME_LIMIT_S))
    status = poll_runs(runs, accepted.id, seconds=4 * TIME_LIMIT_S)
    assert status.status == "failed"
    assert status.error is not None
    assert f"hard time limit of {TIME_LIMIT_S:g} s" in status.error
    _normal_job_succeeds(web, 41)


def test_a_child_killed_mid_job_is_reported_and_replaced(
        runs: Runs, web: WebServer, worker: Worker) -> None:
    accepted = runs.submit(RunRequest(spec=tiny_spec(42), batch_sizes=[1]),
                           Fault(kind="sleep", seconds=30))
    running = poll_runs(runs, accepted.id, until=("running",), seconds=20)
    assert running.progress is not None
    pid = running.progress.pid
    assert pid in _child_pids(worker)
    os.kill(pid, signal.SIGKILL)
    status = poll_runs(runs, accepted.id, seconds=20)
    assert status.status == "failed"
    assert status.error is not None and "signal 9 (SIGKILL)" in status.error
    _normal_job_succeeds(web, 43)
    assert pid not in _child_pids(worker)


def test_a_child_out_of_memory_is_reported(runs: Runs, web: WebServer) -> None:
    # 20 MB more address space, and a layer whose output alone is 16 x 64 x 128 x 128 floats
    spec = "input 128x128x3\nconv 64 3x3 pad 1\nrelu\nconv 64 3x3 pad 1\n"
    assert 16 * 64 * 128 * 128 * 4 > 20_000_000
    accepted = runs.submit(RunRequest(spec=spec, batch_sizes=[16]),
                           Fault(kind="address_space", bytes=20_000_000))
    status = poll_runs(runs, accepted.id)
    assert status.status == "failed"
    assert status.error is not None and status.error.startswith("out of memory")
    assert "batch 16" in status.error
    _normal_job_succeeds(web, 45)


def test_a_cuda_style_runtime_error_is_reported(runs: Runs, web: WebServer) -> None:
    accepted = runs.submit(RunRequest(spec=tiny_spec(46), batch_sizes=[1]),
                           Fault(kind="cuda_error"))
    status = poll_runs(runs, accepted.id)
    assert status.status == "failed"
    assert status.error is not None and status.error.startswith("CUDA error")
    assert "illegal memory access" in status.error
    _normal_job_succeeds(web, 47)


def test_a_failed_question_runs_again_when_asked_again(runs: Runs) -> None:
    request = RunRequest(spec=tiny_spec(48), batch_sizes=[1])
    failed = runs.submit(request, Fault(kind="cuda_error"))
    assert poll_runs(runs, failed.id).status == "failed"
    again = runs.submit(request, Fault(kind="cuda_error"))
    assert again.id != failed.id and not again.cached


def test_the_worker_checks_the_limits_itself(runs: Runs) -> None:
    """A job sent to the queue around the web app's guard is refused by the worker."""
    from app.worker import guards
    from app.worker.tasks import TASK_NAME

    job = guards.resolve(RunRequest(model="vgg16", batch_sizes=[64]), runs.settings)
    with pytest.raises(Exception, match="max_job_macs"):
        guards.check(job, runs.settings)
    from app.worker import store

    store.mark_queued(runs.backend, "guard-test", job.label)
    runs.celery.send_task(TASK_NAME, args=[job.model_dump(mode="json")], task_id="guard-test",
                          queue=runs.settings.queue)
    status = poll_runs(runs, "guard-test")
    assert status.status == "failed"
    assert status.error is not None and "(max_job_macs)" in status.error
