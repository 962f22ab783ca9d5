"""The worker's docs and API description stay honest: every setting in its document, every runs
route in the OpenAPI with the error shape."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from app.web.app import create_app
from app.worker.settings import WorkerSettings

DOC = (Path(__file__).resolve().parents[2] / "docs" / "runs-and-deployment.md").read_text(
    encoding="utf-8")


def test_every_worker_setting_is_in_its_document() -> None:
    for name in WorkerSettings.model_fields:
        assert f"`ARCHCALC_{name.upper()}`" in DOC, name


def test_the_runs_routes_are_documented_with_their_error_shapes() -> None:
    with TestClient(create_app()) as client:
        paths = client.get("/openapi.json").json()["paths"]
    error = {"$ref": "#/components/schemas/ErrorResponse"}
    create = paths["/api/runs"]["post"]["responses"]
    assert set(create) >= {"200", "202", "422", "503"}
    assert create["503"]["content"]["application/json"]["schema"] == error
    assert create["422"]["content"]["application/json"]["schema"] == error
    for method in ("get", "delete"):
        responses = paths["/api/runs/{run_id}"][method]["responses"]
        assert responses["404"]["content"]["application/json"]["schema"] == error
    assert "/healthz" in paths and "/readyz" in paths
    assert "/runs" not in paths  # the page routes are not API
