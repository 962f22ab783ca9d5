"""The embedded mode (no Redis): files for the broker, SQLite for results, one local worker
started by the web app; and the same task code as with Redis."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.engine import analyze
from app.web.app import create_app
from app.worker import celery_app, embedded
from app.worker.tasks import TASK_NAME
from tests.worker.conftest import tiny_spec, worker_settings


def test_the_same_task_code_serves_redis_and_the_embedded_mode(tmp_path: Path) -> None:
    with_redis = celery_app.make_celery(worker_settings("redis://127.0.0.1:1/0"))
    local = celery_app.make_celery(worker_settings(None, embedded_dir=tmp_path))
    assert with_redis.conf.broker_url.startswith("redis://")
    assert local.conf.broker_url.startswith("filesystem://")
    assert local.conf.result_backend == f"db+sqlite:///{tmp_path / 'results.sqlite'}"
    a, b = with_redis.tasks[TASK_NAME], local.tasks[TASK_NAME]
    assert type(a).__wrapped__ is type(b).__wrapped__ is celery_app._run  # type: ignore[attr-defined]


def test_the_embedded_mode_runs_a_job_without_redis(tmp_path: Path) -> None:
    app = create_app()
    app.state.worker_settings = worker_settings(None, embedded_dir=tmp_path)
    spec = tiny_spec(28)
    with TestClient(app) as client:
        # ready before the first job, so that a load balancer lets that job in
        before = client.get("/readyz")
        assert before.status_code == 200, before.text
        assert before.json()["notes"] == ["the embedded worker starts with the first job"]
        assert not (tmp_path / "worker.log").exists()
        answer = client.post("/api/runs", json={"spec": spec, "batch_sizes": [1, 2]})
        assert answer.status_code == 202, answer.text
        deadline = time.monotonic() + 60
        while (body := client.get(f"/api/runs/{answer.json()['id']}").json())["status"] not in (
                "done", "failed") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert body["status"] == "done", body
        assert client.get("/readyz").status_code == 200
        local = app.state.runs.local
        assert local is not None and local.running()
    assert not local.running()  # stopped with the app
    engine = analyze(spec)
    assert body["result"]["measured_params"] == engine.totals.params
    assert body["result"]["measured_flops"] == 2 * engine.totals.macs
    assert (tmp_path / "results.sqlite").exists() and (tmp_path / "data").is_dir()


def test_without_torch_the_api_and_page_say_how_to_enable_runs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embedded, "torch_installed", lambda: False)
    app = create_app()
    app.state.worker_settings = worker_settings(None, embedded_dir=tmp_path)
    with TestClient(app) as client:
        api = client.post("/api/runs", json={"model": "lenet5"})
        page = client.post("/runs", data={"model": "lenet5"}, headers={"HX-Request": "true"})
    assert api.status_code == 503
    assert "pip install -e '.[torch]'" in api.json()["errors"][0]["message"]
    assert page.headers["X-Archcalc-Status"] == "503"
    assert "pip install -e &#39;.[torch]&#39;" in page.text
    assert not (tmp_path / "worker.log").exists()  # no worker was started


def test_the_web_app_runs_without_the_worker_extra() -> None:
    """With Celery not importable, the app starts, the calculator works and runs say what to
    install (a fresh interpreter, so that nothing already imported hides the import)."""
    import subprocess
    import sys

    code = """
import sys
sys.modules["celery"] = None  # as if the worker extra were not installed
from fastapi.testclient import TestClient
from app.web.app import create_app
with TestClient(create_app()) as client:
    assert client.post("/api/analyze", json={"spec": "input 8x8x3"}).status_code == 200
    answer = client.post("/api/runs", json={"model": "lenet5"})
    assert answer.status_code == 503, answer.text
    print(answer.json()["errors"][0]["message"])
assert "torch" not in sys.modules
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False, timeout=120, cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr
    assert "pip install -e '.[worker]'" in done.stdout
