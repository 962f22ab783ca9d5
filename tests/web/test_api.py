"""The JSON API answers with the engine's numbers, for text and JSON specs, POST and GET."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

Row = dict[str, Any]
FindRow = Callable[[list[Row], str], Row]


def _check_conv1(row: Row) -> None:
    """AlexNet conv1 on 227x227x3: 96 filters 11x11 stride 4."""
    assert (row["output"]["h"], row["output"]["w"], row["output"]["c"]) == (55, 55, 96)
    assert row["weights"] == 11 * 11 * 3 * 96
    assert row["biases"] == 96
    assert row["params"] == 11 * 11 * 3 * 96 + 96
    assert row["macs"] == 55 * 55 * 96 * 11 * 11 * 3
    assert row["activations"] == 55 * 55 * 96


def test_analyze_text_spec(client: TestClient, small_spec: str, find_row: FindRow) -> None:
    response = client.post("/api/analyze", json={"spec": small_spec})
    assert response.status_code == 200, response.text
    body = response.json()
    _check_conv1(find_row(body["layers"], "conv1"))
    assert body["input"] == {"h": 227, "w": 227, "c": 3}
    assert body["output"] == {"h": (55 - 3) // 2 + 1, "w": (55 - 3) // 2 + 1, "c": 96}
    assert body["options"] == {"dtype": "float32", "batch": 1, "optimizer": "sgd", "aux": False}


def test_analyze_json_spec(client: TestClient, small_json: dict[str, Any],
                           find_row: FindRow) -> None:
    response = client.post("/api/analyze", json={"spec": small_json})
    assert response.status_code == 200, response.text
    _check_conv1(find_row(response.json()["layers"], "conv1"))


def test_text_and_json_forms_agree(client: TestClient, small_spec: str,
                                   small_json: dict[str, Any]) -> None:
    from_text = client.post("/api/analyze", json={"spec": small_spec}).json()
    from_json = client.post("/api/analyze", json={"spec": small_json}).json()
    assert from_text["totals"] == from_json["totals"]


def test_totals_are_the_column_sums(client: TestClient, small_spec: str) -> None:
    body = client.post("/api/analyze", json={"spec": small_spec}).json()
    totals = body["totals"]
    for column in ("params", "weights", "biases", "macs", "activations"):
        assert totals[column] == sum(row[column] for row in body["layers"]), column
    assert totals["flops"] == 2 * totals["macs"]


def test_options_change_the_memory(client: TestClient, small_spec: str) -> None:
    base = client.post("/api/analyze", json={"spec": small_spec}).json()["totals"]
    half = client.post("/api/analyze", json={"spec": small_spec, "dtype": "float16",
                                              "batch": 8, "optimizer": "adam"}).json()
    assert half["options"] == {"dtype": "float16", "batch": 8, "optimizer": "adam", "aux": False}
    assert half["totals"]["activation_bytes"] == base["activations"] * 2 * 8
    assert half["totals"]["param_bytes"] == base["params"] * 2


def test_get_twin_matches_post(client: TestClient, small_spec: str) -> None:
    options: dict[str, Any] = {"dtype": "int8", "batch": 3, "optimizer": "adam", "aux": True}
    posted = client.post("/api/analyze", json={"spec": small_spec, **options})
    fetched = client.get("/api/analyze", params={"spec": small_spec, **options})
    assert fetched.status_code == 200, fetched.text
    assert fetched.json() == posted.json()


def test_layer_with_text_volume(client: TestClient) -> None:
    response = client.post("/api/layer", json={"layer": "conv 96 11x11 stride 4",
                                               "input": "227x227x3"})
    assert response.status_code == 200, response.text
    _check_conv1(response.json())


def test_layer_with_object_volume(client: TestClient) -> None:
    response = client.post("/api/layer", json={"layer": "conv 96 11x11 stride 4",
                                               "input": {"h": 227, "w": 227, "c": 3},
                                               "dtype": "float16", "batch": 2})
    assert response.status_code == 200, response.text
    _check_conv1(response.json())


def test_layer_pool_has_no_parameters(client: TestClient) -> None:
    row = client.post("/api/layer", json={"layer": "maxpool 3x3 stride 2",
                                          "input": "55x55x96"}).json()
    assert row["output"] == {"h": (55 - 3) // 2 + 1, "w": (55 - 3) // 2 + 1, "c": 96}
    assert row["params"] == 0 and row["macs"] == 0


def test_openapi_lists_the_endpoints(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    assert {"post", "get"} <= set(paths["/api/analyze"])
    assert "post" in paths["/api/layer"]
    for method in ("post", "get"):
        operation = paths["/api/analyze"][method]
        assert operation["description"] or operation["summary"]
        assert "Analysis" in str(operation["responses"]["200"])
        assert "ErrorResponse" in str(operation["responses"]["422"])
    assert "LayerRow" in str(paths["/api/layer"]["post"]["responses"]["200"])
    assert "/" not in paths and "/analyze" not in paths  # pages are not API


def test_docs_page(client: TestClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    assert "openapi.json" in response.text
