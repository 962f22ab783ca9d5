"""End to end: a real uvicorn server, a real Redis, a real Celery worker running torch.

The measured numbers are checked against the engine's, computed here by the engine (shapes,
parameters, 2 x multiply-accumulates), and the small case also against its arithmetic.
"""

from __future__ import annotations

import time

from app.engine import analyze
from app.worker.client import Runs
from tests.worker.conftest import WebServer, poll_api, tasks_run, tiny_spec


def test_a_small_spec_measured_equals_analytic(web: WebServer) -> None:
    spec = tiny_spec(32)
    with web.client() as client:
        answer = client.post("/api/runs", json={"spec": spec, "batch_sizes": [1, 4],
                                                "mode": "inference"})
        assert answer.status_code == 202, answer.text
        assert answer.json()["status"] == "queued"
        body = poll_api(client, answer.json()["id"])
    assert body["status"] == "done", body
    result = body["result"]
    engine = analyze(spec)
    assert [row["name"] for row in result["layers"]] == [row.name for row in engine.layers]
    for row, expected in zip(result["layers"], engine.layers, strict=True):
        out = expected.output
        assert row["measured_shape"] == [out.h, out.w, out.c], row
        assert row["measured_params"] == expected.params, row
        assert row["measured_flops"] == 2 * expected.macs, row
    conv1 = result["layers"][1]
    assert conv1["measured_flops"] == 2 * (32 * 32 * 8 * 3 * 3 * 3)
    assert conv1["measured_params"] == 8 * 3 * 3 * 3 + 8
    assert result["measured_params"] == engine.totals.params
    assert result["measured_flops"] == engine.totals.flops == 2 * engine.totals.macs
    assert [t["batch"] for t in result["timings"]] == [1, 4]
    for t in result["timings"]:
        assert 0 < t["median_ms"] <= t["p90_ms"]
        assert abs(t["images_per_s"] - t["batch"] / (t["median_ms"] / 1e3)) < 1e-6 * t[
            "images_per_s"]
        assert t["repeats"] == 3 and t["warmup"] == 1
        assert t["peak_bytes"] is not None and t["peak_bytes"] > 0
        expected_bytes = analyze(spec, batch=t["batch"]).totals
        assert t["analytic_bytes"] == expected_bytes.param_bytes + expected_bytes.activation_bytes
    assert result["device"]["kind"] == "cpu"
    assert result["version"] == 1


def test_a_training_step_of_a_zoo_free_json_spec(web: WebServer) -> None:
    spec = {"input": {"h": 20, "w": 20, "c": 3},
            "layers": [{"op": "conv", "name": "c1", "out": 6, "kernel": 5},
                       {"op": "relu"}, {"op": "fc", "name": "f0", "out": 16}, {"op": "relu"},
                       {"op": "dropout", "p": 0.5}, {"op": "fc", "name": "f1", "out": 4}]}
    with web.client() as client:
        answer = client.post("/api/runs", json={"spec": spec, "batch_sizes": [2],
                                                "mode": "training", "optimizer": "adam"})
        assert answer.status_code == 202, answer.text
        body = poll_api(client, answer.json()["id"])
    assert body["status"] == "done", body
    result = body["result"]
    engine = analyze(spec, batch=2, optimizer="adam")
    assert result["mode"] == "training" and result["optimizer"] == "adam"
    assert result["measured_params"] == engine.totals.params == (6 * 5 * 5 * 3 + 6) + (
        16 * 16 * 6 * 16 + 16) + (16 * 4 + 4)
    # forward + backward: more than the forward pass (the input's gradient is not needed)
    assert result["measured_flops"] < result["measured_training_flops"] <= 3 * result[
        "measured_flops"]
    assert result["timings"][0]["analytic_bytes"] == engine.totals.training_bytes


def test_the_same_question_is_answered_from_the_stored_result(web: WebServer,
                                                              runs: Runs) -> None:
    request = {"spec": tiny_spec(24), "batch_sizes": [2, 1]}
    with web.client() as client:
        first = client.post("/api/runs", json=request)
        assert first.status_code == 202
        done = poll_api(client, first.json()["id"])
        assert done["status"] == "done"
        taken = tasks_run(runs)
        # the same question: batch sizes in another order, same spec and options
        again = client.post("/api/runs", json=request | {"batch_sizes": [1, 2]})
        assert again.status_code == 200, again.text
        assert again.json() == {"id": first.json()["id"], "status": "done", "cached": True,
                                "token": None, "queue": None}
        assert client.get(f"/api/runs/{first.json()['id']}").json()["result"] == done["result"]
    assert tasks_run(runs) == taken


def test_a_spec_over_the_limits_is_refused_before_anything_runs(web: WebServer,
                                                                runs: Runs) -> None:
    spec = "input 224x224x3\nconv 64 3x3 pad 1\nconv 64 3x3 pad 1\nfc 10\n"
    taken, waiting = tasks_run(runs), runs.waiting()
    with web.client() as client:
        answer = client.post("/api/runs", json={"spec": spec, "batch_sizes": [64, 128, 256],
                                                "mode": "training"})
    assert answer.status_code == 422, answer.text
    (item,) = answer.json()["errors"]
    assert item["limit"] == "max_job_macs"
    per_image = analyze(spec).totals.macs
    needed = per_image * (64 + 128 + 256) * (1 + 3) * 3
    assert f"{needed:,}" in item["message"] and f"{per_image:,}" in item["message"]
    assert f"{runs.settings.job_macs_limit:,}" in item["message"]
    assert tasks_run(runs) == taken and runs.waiting() == waiting


def test_unknown_runs_and_bad_requests_keep_the_error_shape(web: WebServer) -> None:
    with web.client() as client:
        missing = client.get("/api/runs/no-such-run")
        both = client.post("/api/runs", json={"spec": "input 8x8x3", "model": "vgg16"})
        int8 = client.post("/api/runs", json={"model": "lenet5", "dtype": "int8"})
        unknown = client.post("/api/runs", json={"model": "vgg17"})
    assert missing.status_code == 404 and "no-such-run" in missing.json()["errors"][0]["message"]
    assert both.status_code == 422 and "either 'spec'" in both.json()["errors"][0]["message"]
    assert int8.status_code == 422 and "dtype" in int8.json()["errors"][0]["message"]
    assert unknown.status_code == 422 and "vgg17" in unknown.json()["errors"][0]["message"]


def test_health_and_readiness(web: WebServer) -> None:
    with web.client() as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        # checked in the background every second here: a worker too busy to answer one check
        # in time (a loaded machine) is counted by the next
        deadline = time.monotonic() + 10
        while (ready := client.get("/readyz")).status_code != 200 and \
                time.monotonic() < deadline:
            time.sleep(0.5)
    assert ready.status_code == 200, ready.text
    assert "w1@archcalc-test" in ready.json()["workers"]
    assert ready.json()["queues"] == {"archcalc.cpu": ["w1@archcalc-test"]}


def test_cancel_a_queued_or_running_job(web: WebServer, runs: Runs) -> None:
    from app.worker.models import Fault, RunRequest

    accepted = runs.submit(RunRequest(spec=tiny_spec(26), batch_sizes=[1]),
                           Fault(kind="sleep", seconds=5))
    assert accepted.token is not None
    with web.client() as client:
        poll_api(client, accepted.id, until=("running",), seconds=20)
        cancelled = client.delete(f"/api/runs/{accepted.id}",
                                  headers={"Authorization": f"Bearer {accepted.token}"})
        assert cancelled.status_code == 200
        assert cancelled.json()["status"] == "cancelled"
        assert poll_api(client, accepted.id)["status"] == "cancelled"
        after = client.post("/api/runs", json={"spec": tiny_spec(27), "batch_sizes": [1]})
        assert poll_api(client, after.json()["id"])["status"] == "done"
