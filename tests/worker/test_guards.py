"""The guards bound all of a job's work before it is queued: multiply-adds, memory, and the
bytes it moves through memory (elementwise layers have no multiply-adds); and an answer that
started no job costs no run quota."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient

from app.engine import analyze
from app.web.app import create_app
from app.web.settings import Settings
from app.worker import guards
from app.worker.models import RunRequest
from app.worker.settings import WorkerSettings
from tests.worker.conftest import Worker, tiny_spec, worker_settings


def test_traffic_counts_every_rows_input_and_output_and_the_parameters() -> None:
    relu = analyze("input 16x16x8\nrelu\n", dtype="float16", batch=3)
    # the input row and the relu row each read and write 16x16x8 values of 2 bytes, 3 images
    assert guards.traffic(relu) == 2 * (2 * 16 * 16 * 8) * 2 * 3
    conv = analyze("input 16x16x8\nconv 4 1x1\n")
    assert guards.traffic(conv) == (2 * 16 * 16 * 8 + 16 * 16 * 8 + 16 * 16 * 4) * 4 + (
        8 * 4 + 4) * 4


def test_elementwise_work_without_multiply_adds_is_refused_before_queueing(
        tmp_path: Path) -> None:
    app = create_app()
    app.state.worker_settings = worker_settings(None, embedded_dir=tmp_path)
    spec = "input 1024x1024x64\nrepeat 4999 {\n  relu\n}\n"
    assert analyze(spec).totals.macs == 0
    with TestClient(app) as client:
        answer = client.post("/api/runs", json={"spec": spec, "batch_sizes": [1]})
    assert answer.status_code == 422, answer.text
    (item,) = answer.json()["errors"]
    assert item["limit"] == "max_job_traffic"
    settings: WorkerSettings = app.state.worker_settings
    job = guards.resolve(RunRequest(spec=spec, batch_sizes=[1]), settings)
    per_iteration = guards.traffic(analyze(spec))
    assert f"{per_iteration:,} per iteration" in item["message"]
    assert f"{per_iteration * (settings.warmup + settings.repeats):,} bytes" in item["message"]
    assert f"{settings.traffic_limit(job.device):,}" in item["message"]
    assert not (tmp_path / "worker.log").exists()  # refused before a worker was started


def test_answers_that_start_no_job_cost_no_run_quota(settings: WorkerSettings,
                                                     worker: Worker) -> None:
    app = create_app(Settings(runs_burst=1, runs_per_minute=0.01))
    app.state.worker_settings = settings
    body = {"spec": tiny_spec(80), "batch_sizes": [1]}
    with TestClient(app) as client:
        first = client.post("/api/runs", json=body)
        assert first.status_code == 202, first.text
        deadline = time.monotonic() + 45
        while client.get(f"/api/runs/{first.json()['id']}").json()["status"] != "done":
            assert time.monotonic() < deadline
            time.sleep(0.2)
        # the stored answer, again and again: no job, no quota
        for _ in range(3):
            again = client.post("/api/runs", json=body)
            assert again.status_code == 200 and again.json()["cached"], again.text
        # the one run of the burst went to the first question: a new one is refused
        other = client.post("/api/runs", json={"spec": tiny_spec(81), "batch_sizes": [1]})
    assert other.status_code == 429, other.text
    assert other.json()["errors"][0]["limit"] == "runs_per_minute"
