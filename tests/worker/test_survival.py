"""A deployment that survives its broker and its workers, end to end: a redis-server that keeps
its data (append-only file) on a free port, two ``python -m app.worker`` processes and the web
app under its production command (``python -m app.web.serve``).

The jobs spread over both workers; N identical requests make one job; Redis stopped for 5 s
mid-job loses nothing and the page says "reconnecting"; a worker killed outright has its job
re-queued once to the other worker, and a second loss fails the job with the reason.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest

from app.engine import analyze
from app.worker import store
from app.worker.client import Runs
from app.worker.embedded import settings_env
from app.worker.models import Fault, RunRequest
from app.worker.settings import WorkerSettings
from tests.liveserver import live_server
from tests.worker.conftest import (
    LOST_AFTER_S,
    Worker,
    free_port,
    poll_api,
    start_worker,
    stop,
    tiny_spec,
    wait_for_workers,
    worker_settings,
)

HX = {"HX-Request": "true"}


@dataclass
class DurableRedis:
    """A redis-server that writes every change to its append-only file, restartable in place."""

    port: int
    workdir: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        exe = shutil.which("redis-server")
        assert exe is not None, "redis-server is not installed: run .ci/setup.d/30-redis.sh"
        self.proc = subprocess.Popen(
            [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        import redis

        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis(port=self.port).ping()
                return
            except redis.ConnectionError:
                assert time.monotonic() < deadline and self.proc.poll() is None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


@dataclass
class Deployment:
    redis: DurableRedis
    settings: WorkerSettings
    runs: Runs
    workers: dict[str, Worker]
    base: str

    def client(self, **kwargs: object) -> httpx2.Client:
        return httpx2.Client(base_url=self.base, timeout=20, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp("survival")
    broker = DurableRedis(free_port(), root)
    broker.start()
    # a longer hard limit than the other modules: a result written after a 5 s outage must
    # not be killed for the wait
    settings = worker_settings(broker.url, time_limit_s=40.0)
    runs = Runs(settings)
    workers: dict[str, Worker] = {}
    port = free_port()
    env = os.environ | settings_env(settings) | {
        "ARCHCALC_RATE_PER_SECOND": "1000", "ARCHCALC_RATE_BURST": "1000",
        "ARCHCALC_RUNS_PER_MINUTE": "1000", "ARCHCALC_RUNS_BURST": "1000"}
    try:
        for name in ("wa@survival", "wb@survival"):
            workers[name] = start_worker(settings, name, root / f"{name}.log")
        wait_for_workers(runs, set(workers), list(workers.values()))
        with live_server(["app.web.serve", "--port", str(port)], root / "web.log", port,
                         env=env, ready="/healthz") as base:
            yield Deployment(broker, settings, runs, workers, base)
    finally:
        runs.close()
        for w in workers.values():
            stop(w.proc)
        broker.stop()


def _submit(d: Deployment, width: int, sleep: float = 0.0) -> str:
    fault = Fault(kind="sleep", seconds=sleep) if sleep else None
    return d.runs.submit(RunRequest(spec=tiny_spec(width), batch_sizes=[1]), fault).id


def _running_on(d: Deployment, run_id: str, seconds: float = 30) -> str:
    """The worker that runs ``run_id``, once it runs."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status = d.runs.status(run_id)
        assert status is not None
        if status.status == "running" and status.progress is not None:
            return status.progress.worker
        assert status.status == "queued", status
        time.sleep(0.1)
    raise TimeoutError(f"run {run_id} did not start within {seconds} s")


def test_jobs_from_the_web_app_spread_over_both_workers(deployment: Deployment) -> None:
    with deployment.client() as client:
        ids = [client.post("/api/runs", json={"spec": tiny_spec(60 + i), "batch_sizes": [1]}
                           ).json()["id"] for i in range(4)]
        done = [poll_api(client, run_id, seconds=90) for run_id in ids]
    assert [d["status"] for d in done] == ["done"] * 4, done
    assert {d["result"]["worker"] for d in done} == set(deployment.workers)


def test_eight_identical_requests_at_once_make_one_job(deployment: Deployment) -> None:
    body = {"spec": tiny_spec(70), "batch_sizes": [1]}
    taken = _received(deployment)
    answers: list[httpx2.Response] = []
    start = threading.Barrier(8)

    def ask() -> None:
        with deployment.client() as client:
            start.wait()
            answers.append(client.post("/api/runs", json=body))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {a.status_code for a in answers} <= {200, 202}, [a.text for a in answers]
    ids = {a.json()["id"] for a in answers}
    assert len(ids) == 1, ids
    # only the request that made the job may cancel it
    assert sum(a.json()["token"] is not None for a in answers) == 1
    with deployment.client() as client:
        assert poll_api(client, ids.pop(), seconds=60)["status"] == "done"
    assert _received(deployment) == taken + 1


def _received(d: Deployment) -> int:
    """Jobs the workers have received, by their own logs (Celery logs each one at INFO)."""
    return sum(w.log.read_text(errors="replace").count("] received") for w in d.workers.values())


def test_a_five_second_broker_outage_mid_job_loses_nothing(deployment: Deployment) -> None:
    run_id = _submit(deployment, 72, sleep=8.0)
    _running_on(deployment, run_id)
    seen: dict[str, set[int]] = {"api": set(), "ready": set(), "page": set()}
    pages: list[str] = []
    deployment.redis.stop()
    stopped = time.monotonic()
    with deployment.client() as client:
        while time.monotonic() - stopped < 5:
            seen["api"].add(client.get(f"/api/runs/{run_id}").status_code)
            seen["ready"].add(client.get("/readyz").status_code)
            page = client.get(f"/runs/{run_id}", headers=HX)
            seen["page"].add(int(page.headers["X-Archcalc-Status"]))
            pages.append(page.text)
            time.sleep(0.3)
        deployment.redis.start()
        body = poll_api_through_blips(client, run_id)
        after = [client.get("/readyz").status_code for _ in range(3)]
    assert body["status"] == "done", body
    assert body["result"]["worker"] in deployment.workers
    assert 503 in seen["api"] and seen["api"] <= {200, 503}, seen
    assert seen["ready"] <= {200, 503} and 500 not in after, (seen, after)
    # the page said so and kept polling; it never claimed the run could not start
    blip = [p for p in pages if "reconnecting" in p]
    assert blip and all('hx-trigger="every 2s"' in p for p in blip)
    assert not any("could not start" in p for p in pages)


def poll_api_through_blips(client: httpx2.Client, run_id: str, seconds: float = 60) -> dict:
    """Like poll_api, but a 503 right after the broker returns is waited out, not failed."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        answer = client.get(f"/api/runs/{run_id}")
        assert answer.status_code in (200, 503), answer.text
        if answer.status_code == 200 and answer.json()["status"] in ("done", "failed",
                                                                     "cancelled"):
            return dict(answer.json())
        time.sleep(0.2)
    raise TimeoutError(f"run {run_id} did not end within {seconds} s")


def test_cancelling_needs_the_token_of_who_started_the_run(deployment: Deployment) -> None:
    request, fault = RunRequest(spec=tiny_spec(74), batch_sizes=[1]), Fault(kind="sleep",
                                                                           seconds=20)
    accepted = deployment.runs.submit(request, fault)
    assert accepted.token
    same = deployment.runs.submit(request, fault)  # the same question: the same run, no token
    assert same.id == accepted.id and same.token is None
    with deployment.client() as client:
        nobody = client.delete(f"/api/runs/{accepted.id}")
        wrong = client.delete(f"/api/runs/{accepted.id}",
                              headers={"Authorization": "Bearer " + "x" * 32})
        assert nobody.status_code == wrong.status_code == 403, nobody.text
        assert "Authorization: Bearer" in nobody.json()["errors"][0]["message"]
        assert client.get(f"/api/runs/{accepted.id}").json()["status"] in ("queued", "running")
        done = client.delete(f"/api/runs/{accepted.id}",
                             headers={"Authorization": f"Bearer {accepted.token}"})
        assert done.status_code == 200 and done.json()["status"] == "cancelled"


def test_the_page_keeps_the_token_for_the_browser_that_pressed_the_button(
        deployment: Deployment) -> None:
    with deployment.client() as mine, deployment.client() as theirs:
        started = mine.post("/runs", data={"spec": tiny_spec(76), "batch_sizes": "1"},
                            headers=HX)
        run_id = re.search(r'id="run-([0-9a-f]{32})"', started.text)
        assert run_id is not None, started.text
        cookie = started.headers["set-cookie"]
        assert f"Path=/runs/{run_id[1]}" in cookie and "HttpOnly" in cookie
        assert "samesite=strict" in cookie.lower()
        assert "Cancel</button>" in started.text
        # another browser sees the run without a cancel button, and cannot cancel it
        assert "Cancel</button>" not in theirs.get(f"/runs/{run_id[1]}", headers=HX).text
        refused = theirs.post(f"/runs/{run_id[1]}/cancel", headers=HX)
        assert refused.headers["X-Archcalc-Status"] == "403"
        assert "not cancelled" in refused.text
        mine_cancel = mine.post(f"/runs/{run_id[1]}/cancel", headers=HX)
        assert mine_cancel.headers["X-Archcalc-Status"] == "200"
        assert poll_api(mine, run_id[1])["status"] in ("cancelled", "done")


def test_a_model_page_runs_at_the_pages_input(deployment: Deployment) -> None:
    with deployment.client() as client:
        page = client.get("/models/lenet5", params={"input": "40x40x1"})
        assert page.status_code == 200
        hidden = re.search(r'name="page_input" value="([^"]*)"', page.text)
        assert hidden is not None and hidden[1] == "40x40x1"
        answer = client.post("/runs", data={"model": "lenet5", "page_input": hidden[1],
                                            "batch_sizes": "1"})
        assert answer.status_code == 303, answer.text
        run_id = answer.headers["location"].rsplit("/", 1)[1]
        body = poll_api(client, run_id, seconds=60)
        html = client.get(f"/runs/{run_id}").text
    assert body["status"] == "done", body
    result = body["result"]
    from app import zoo

    engine = zoo.analyze_model("lenet5", input=zoo.parse_volume("40x40x1"))
    default = zoo.analyze_model("lenet5")
    assert engine.totals.params != default.totals.params  # the input changes the network
    assert result["input"] == [40, 40, 1]
    assert result["measured_params"] == engine.totals.params
    assert result["measured_flops"] == engine.totals.flops
    assert result["batch_sizes"] == [1] and result["device"]["kind"] == "cpu"
    assert result["hostname"] and result["worker"] in deployment.workers
    assert "input 40x40x1" in html and f"worker {result['worker']}" in html


def test_a_network_without_parameters_runs(deployment: Deployment) -> None:
    spec = "input 12x12x3\nmaxpool 2x2\nrelu\navgpool 2x2\n"
    with deployment.client() as client:
        answer = client.post("/api/runs", json={"spec": spec, "batch_sizes": [1, 2]})
        assert answer.status_code == 202, answer.text
        body = poll_api(client, answer.json()["id"], seconds=60)
        training = client.post("/api/runs", json={"spec": spec, "mode": "training"})
    assert body["status"] == "done", body
    engine = analyze(spec)
    assert body["result"]["measured_params"] == engine.totals.params == 0
    assert [r["measured_shape"] for r in body["result"]["layers"]] == [
        [r.output.h, r.output.w, r.output.c] for r in engine.layers]
    assert training.status_code == 422
    assert "needs parameters" in training.json()["errors"][0]["message"]


def _kill_worker(d: Deployment, name: str) -> int:
    """SIGKILL the worker's main process only; returns its job's child pid, which must die with
    it (the child asked for that)."""
    worker = d.workers[name]
    with open(f"/proc/{worker.proc.pid}/task/{worker.proc.pid}/children") as f:
        children = [int(p) for p in f.read().split()]
    os.kill(worker.proc.pid, signal.SIGKILL)
    worker.proc.wait()
    return children[0]


def _gone(pid: int, seconds: float = 5) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


def test_a_worker_killed_outright_has_its_job_run_once_more_then_failed_with_the_reason(
        deployment: Deployment) -> None:
    run_id = _submit(deployment, 78, sleep=4.0)
    first = _running_on(deployment, run_id)
    killed_at = time.monotonic()
    child = _kill_worker(deployment, first)
    assert _gone(child), "the job's child outlived its worker"
    # noticed from the missing heartbeat and re-queued to the other worker, same run id
    second = _running_on_other(deployment, run_id, first)
    assert time.monotonic() - killed_at < LOST_AFTER_S + 10
    status = deployment.runs.status(run_id)
    assert status is not None and status.note is not None and "re-queued" in status.note
    # the first attempt (task id = run id) never answered, and never will
    assert store.job_meta(deployment.runs.backend, run_id)["status"] != "SUCCESS"
    # the second attempt is lost too: now the job fails, with the reason, and is not re-run
    _kill_worker(deployment, second)
    deadline = time.monotonic() + LOST_AFTER_S + 15
    while (status := deployment.runs.status(run_id)) is not None and \
            status.status == "running" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert status is not None and status.status == "failed", status
    assert status.error is not None and "stopped sending heartbeats" in status.error
    assert "re-queued once already" in status.error and second in status.error
    with deployment.client() as client:  # the same question asked again runs anew
        again = client.post("/api/runs", json={"spec": tiny_spec(78), "batch_sizes": [1]})
    assert again.status_code == 202 and again.json()["id"] != run_id


def _running_on_other(d: Deployment, run_id: str, first: str,
                      seconds: float = LOST_AFTER_S + 20) -> str:
    deadline = time.monotonic() + seconds
    with d.client() as client:  # the web app's polling is what notices the loss
        while time.monotonic() < deadline:
            body = client.get(f"/api/runs/{run_id}").json()
            worker = (body.get("progress") or {}).get("worker")
            if body["status"] == "running" and worker and worker != first:
                return str(worker)
            assert body["status"] in ("running", "queued"), body
            time.sleep(0.2)
    raise TimeoutError(f"run {run_id} was not re-queued within {seconds} s")
