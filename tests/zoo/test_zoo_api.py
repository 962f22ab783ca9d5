"""The zoo and lecture routes, their options, their errors, and the spec round trip."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app import zoo
from app.engine.result import to_jsonable
from app.web.app import create_app


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(create_app()) as test_client:
        yield test_client


def errors(body: Any) -> list[dict[str, Any]]:
    """The app's one error shape: {"errors": [{"line": int, "message": str, ...}]}."""
    assert isinstance(body, dict) and set(body) == {"errors"}, body
    for item in body["errors"]:
        assert {"line", "message"} <= set(item) <= {"line", "message", "layer", "limit",
                                                    "parameter"}
        assert isinstance(item["line"], int) and item["message"]
    return list(body["errors"])


def test_list_models(client: TestClient) -> None:
    response = client.get("/api/models")
    assert response.status_code == 200
    body = response.json()
    assert [m["id"] for m in body] == zoo.model_ids()
    alexnet = next(m for m in body if m["id"] == "alexnet")
    assert alexnet["input"] == {"h": 227, "w": 227, "c": 3}
    assert alexnet["top5_error"] == 16.4 and alexnet["top1_source"]
    assert alexnet["totals"]["params"] == zoo.analyze_model("alexnet").totals.params
    for m in body:
        assert {"name", "year", "source", "top1", "top5_error", "has_aux"} <= set(m)


def test_one_model(client: TestClient) -> None:
    body = client.get("/api/models/vgg16").json()
    assert body["totals"]["params"] == 138_357_544
    assert body == to_jsonable(zoo.analyze_model("vgg16"))


def test_options_reach_the_engine(client: TestClient) -> None:
    base = client.get("/api/models/resnet18").json()["totals"]
    half = client.get("/api/models/resnet18?dtype=float16&batch=8").json()["totals"]
    assert half["activation_bytes"] == base["activation_bytes"] // 4 * 2 * 8
    adam = client.get("/api/models/resnet18?optimizer=adam").json()["totals"]
    assert adam["training_bytes"] - base["training_bytes"] == base["param_bytes"]


def test_input_override(client: TestClient) -> None:
    body = client.get("/api/models/resnet50?input=320x320x3").json()
    assert body["input"] == {"h": 320, "w": 320, "c": 3}
    assert body["totals"] == to_jsonable(zoo.analyze_model(
        "resnet50", input=zoo.parse_volume("320x320x3")).totals)


def test_aux(client: TestClient) -> None:
    plain = client.get("/api/models/googlenet").json()["totals"]["params"]
    with_aux = client.get("/api/models/googlenet?aux=true").json()
    assert with_aux["options"]["aux"] is True and with_aux["totals"]["params"] > plain


def test_spec_is_text(client: TestClient) -> None:
    response = client.get("/api/models/alexnet/spec")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == zoo.model_spec("alexnet")


@pytest.mark.parametrize("model_id", zoo.model_ids())
def test_spec_round_trip(client: TestClient, model_id: str) -> None:
    """The spec text pasted into POST /api/analyze gives exactly the model's analysis."""
    text = client.get(f"/api/models/{model_id}/spec").text
    posted = client.post("/api/analyze", json={"spec": text})
    assert posted.status_code == 200
    assert posted.json() == client.get(f"/api/models/{model_id}").json()


@pytest.mark.parametrize("path", ["/api/models/alexnet2", "/api/models/alexnet2/spec"])
def test_unknown_id_is_404(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    (item,) = errors(response.json())
    assert item["line"] == 0 and "alexnet2" in item["message"] and "vgg16" in item["message"]


@pytest.mark.parametrize(("query", "needle"), [
    ("aux=true", "no auxiliary classifiers"), ("input=224x224", "HxWxC"),
    ("input=99999x224x3", "max_hw"), ("input=16x16x3", "pool"), ("dtype=float64", "dtype"),
    ("batch=0", "batch"), ("aux=maybe", "aux")])
def test_bad_options_are_422(client: TestClient, query: str, needle: str) -> None:
    response = client.get(f"/api/models/vgg16?{query}")
    assert response.status_code == 422
    items = errors(response.json())
    assert any(needle in (i["message"] + i.get("limit", "")) for i in items), items


def test_lecture(client: TestClient) -> None:
    response = client.get("/api/lecture")
    assert response.status_code == 200
    body = response.json()
    assert [c["row"] for c in body] == list(range(1, 20))
    assert {c["status"] for c in body} == {"match", "rounded", "differs"}
    assert body[13]["computed"] == 271_351_808 and body[13]["status"] == "differs"


def test_routes_are_documented(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/api/models", "/api/models/{model_id}", "/api/models/{model_id}/spec",
                 "/api/lecture"):
        assert paths[path]["get"]["description"], path
