"""The queue itself: bounded (503 with Retry-After), readiness, and two workers sharing jobs."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.web.app import create_app
from app.worker.client import Runs
from app.worker.models import Fault, RunRequest
from tests.worker.conftest import (
    RedisServer,
    Worker,
    poll_runs,
    start_worker,
    stop,
    tiny_spec,
    wait_for_workers,
    worker_settings,
)


@pytest.fixture()
def unserved(redis_server: RedisServer) -> Iterator[TestClient]:
    """The web app on a Redis database that no worker serves, with room for two jobs."""
    import redis

    redis.Redis(port=redis_server.port, db=1).flushdb()
    app = create_app()
    app.state.worker_settings = worker_settings(redis_server.url(1), queue_max=2,
                                                retry_after_s=17)
    with TestClient(app) as client:
        yield client
    redis.Redis(port=redis_server.port, db=1).flushdb()


def test_a_full_queue_answers_503_with_retry_after(unserved: TestClient) -> None:
    for width in (30, 31):
        answer = unserved.post("/api/runs", json={"spec": tiny_spec(width), "batch_sizes": [1]})
        assert answer.status_code == 202, answer.text
    full = unserved.post("/api/runs", json={"spec": tiny_spec(32), "batch_sizes": [1]})
    assert full.status_code == 503
    assert full.headers["Retry-After"] == "17"
    (item,) = full.json()["errors"]
    assert "2 jobs are waiting" in item["message"] and "queue_max" in item["message"]
    # a question already queued is not a new job: it is answered with the waiting one
    same = unserved.post("/api/runs", json={"spec": tiny_spec(30), "batch_sizes": [1]})
    assert same.status_code == 202 and same.json()["status"] == "queued"


def test_not_ready_without_a_worker_or_with_a_full_queue(unserved: TestClient) -> None:
    ready = unserved.get("/readyz")
    assert ready.status_code == 503
    messages = [e["message"] for e in ready.json()["errors"]]
    assert any("no worker consumes the queue archcalc.cpu" in m for m in messages), messages
    for width in (33, 34):
        unserved.post("/api/runs", json={"spec": tiny_spec(width), "batch_sizes": [1]})
    # the answer is refreshed in the background (every second here): wait for the next check
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        messages = [e["message"] for e in unserved.get("/readyz").json()["errors"]]
        if any("the queue is full (archcalc.cpu: 2 jobs waiting" in m for m in messages):
            break
        time.sleep(0.2)
    assert any("the queue is full (archcalc.cpu: 2 jobs waiting" in m for m in messages), messages


def test_an_unreachable_broker_is_503_not_500() -> None:
    from tests.worker.conftest import free_port

    app = create_app()
    app.state.worker_settings = worker_settings(f"redis://127.0.0.1:{free_port()}/0")
    with TestClient(app) as client:
        answer = client.post("/api/runs", json={"spec": tiny_spec(20), "batch_sizes": [1]})
        ready = client.get("/readyz")
    assert answer.status_code == 503, answer.text
    assert "cannot be reached" in answer.json()["errors"][0]["message"]
    assert ready.status_code == 503 and "unreachable" in ready.json()["errors"][0]["message"]


def test_two_workers_on_one_redis_share_four_jobs(
        runs: Runs, worker: Worker, tmp_path_factory: pytest.TempPathFactory) -> None:
    second = start_worker(runs.settings, "w2@archcalc-test",
                          tmp_path_factory.mktemp("w2") / "log.txt")
    try:
        wait_for_workers(runs, {worker.name, second.name}, [worker, second])
        started = time.monotonic()
        # each job sleeps a second in its child first, so one worker cannot take all four
        ids = [runs.submit(RunRequest(spec=tiny_spec(50 + i), batch_sizes=[1]),
                           Fault(kind="sleep", seconds=1.0)).id for i in range(4)]
        results = [poll_runs(runs, job_id) for job_id in ids]
        assert [r.status for r in results] == ["done"] * 4, [r.error for r in results]
        served = {r.result.worker for r in results if r.result is not None}
        assert served == {worker.name, second.name}
        assert time.monotonic() - started > 1.0
    finally:
        stop(second.proc)


def test_readiness_counts_only_workers_on_the_queues_the_web_app_sends_to(
        redis_server: RedisServer, worker: Worker) -> None:
    """A cpu worker answers, but a web app that sends to archcalc.cuda is not ready (the
    mismatch a deployment's settings can make); one that may also send to archcalc.cpu sends
    there."""
    cuda_only = create_app()
    cuda_only.state.worker_settings = worker_settings(redis_server.url(0),
                                                      queues="archcalc.cuda")
    with TestClient(cuda_only) as client:
        ready = client.get("/readyz")
    assert ready.status_code == 503, ready.text
    (problem,) = [e["message"] for e in ready.json()["errors"]]
    assert problem.startswith("no worker consumes the queue archcalc.cuda")
    both = create_app()
    both.state.worker_settings = worker_settings(redis_server.url(0),
                                                 queues="archcalc.cuda,archcalc.cpu")
    with TestClient(both) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["queues"] == {"archcalc.cuda": [], "archcalc.cpu": [worker.name]}
        assert ready.json()["sends_to"] == ["archcalc.cpu"]
        answer = client.post("/api/runs", json={"spec": tiny_spec(35), "batch_sizes": [1]})
        assert answer.status_code == 202, answer.text
        assert answer.json()["queue"] == "archcalc.cpu"
        deadline = time.monotonic() + 45
        while (body := client.get(f"/api/runs/{answer.json()['id']}").json())["status"] not in (
                "done", "failed") and time.monotonic() < deadline:
            time.sleep(0.2)
    assert body["status"] == "done", body
    assert body["result"]["device"]["kind"] == "cpu" and body["result"]["worker"] == worker.name
