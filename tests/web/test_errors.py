"""Every error path answers 4xx with the one error shape; bad input never gives a 500."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, MutableMapping
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.engine.limits import LIMITS
from app.web.app import create_app
from app.web.middleware import BodyLimitMiddleware
from app.web.settings import Settings, get_settings

Items = Callable[[Any], list[dict[str, Any]]]
SPEC = "input 32x32x3\nconv 8 3x3\n"


def _post_json(client: TestClient, path: str, payload: object) -> Any:
    return client.post(path, content=json.dumps(payload),
                       headers={"Content-Type": "application/json"})


BAD_ANALYZE_BODIES: list[tuple[str, object, str]] = [
    ("missing spec", {"dtype": "float32"}, "spec"),
    ("spec a number", {"spec": 42}, "spec"),
    ("spec a list", {"spec": ["input 32x32x3"]}, "spec"),
    ("spec null", {"spec": None}, "spec"),
    ("unknown dtype", {"spec": SPEC, "dtype": "float64"}, "dtype"),
    ("unknown optimizer", {"spec": SPEC, "optimizer": "rmsprop"}, "optimizer"),
    ("batch 0", {"spec": SPEC, "batch": 0}, "batch"),
    ("batch negative", {"spec": SPEC, "batch": -3}, "batch"),
    ("batch text", {"spec": SPEC, "batch": "many"}, "batch"),
    ("batch fractional", {"spec": SPEC, "batch": 1.5}, "batch"),
    ("aux not a bool", {"spec": SPEC, "aux": "perhaps"}, "aux"),
    ("unknown field", {"spec": SPEC, "bacth": 2}, "bacth"),
    ("body a list", [SPEC], "body"),
    ("body a string", SPEC, "body"),
]


@pytest.mark.parametrize("payload,field", [(p, f) for _, p, f in BAD_ANALYZE_BODIES],
                         ids=[name for name, _, _ in BAD_ANALYZE_BODIES])
def test_bad_analyze_bodies(client: TestClient, error_items: Items, payload: object,
                            field: str) -> None:
    response = _post_json(client, "/api/analyze", payload)
    assert response.status_code == 422, response.text
    items = error_items(response.json())
    assert items[0]["line"] == 0 and items[0]["parameter"] == field, items
    assert field in items[0]["message"], items


def test_malformed_json(client: TestClient, error_items: Items) -> None:
    response = client.post("/api/analyze", content=b'{"spec": "input 32x32x3",',
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert "not valid JSON" in error_items(response.json())[0]["message"]


@pytest.mark.parametrize("raw", [
    b'{"spec": "input 32x32x3", "batch": Infinity}',
    b'{"spec": "input 32x32x3", "batch": NaN}',
    b'{"spec": {"input": {"h": Infinity, "w": 8, "c": 3}, "layers": []}}',
    b'{"spec": {"input": {"h": 8, "w": 8, "c": 3}, "layers": [{"op": "conv", "out": NaN}]}}',
])
def test_non_finite_numbers(client: TestClient, error_items: Items, raw: bytes) -> None:
    response = client.post("/api/analyze", content=raw,
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    error_items(response.json())


def test_no_body(client: TestClient, error_items: Items) -> None:
    response = client.post("/api/analyze")
    assert response.status_code == 422
    assert "missing" in error_items(response.json())[0]["message"]


def test_body_not_declared_json(client: TestClient, error_items: Items) -> None:
    response = client.post("/api/analyze", content=json.dumps({"spec": SPEC}),
                           headers={"Content-Type": "text/plain"})
    assert response.status_code == 422
    assert "application/json" in error_items(response.json())[0]["message"]


def test_batch_over_the_limit_names_it(client: TestClient, error_items: Items) -> None:
    response = client.post("/api/analyze", json={"spec": SPEC, "batch": 5000})
    assert response.status_code == 422
    item = error_items(response.json())[0]
    assert item["limit"] == "max_batch"
    assert "5000" in item["message"] and str(LIMITS.max_batch) in item["message"]


def test_batch_at_the_limit_is_fine(client: TestClient) -> None:
    response = client.post("/api/analyze", json={"spec": SPEC, "batch": LIMITS.max_batch})
    assert response.status_code == 200, response.text


def test_bad_spec_line_is_named(client: TestClient, error_items: Items) -> None:
    spec = "input 32x32x3\nconv 8 3x3\nfrobnicate 7\nrelu\n"
    response = client.post("/api/analyze", json={"spec": spec})
    assert response.status_code == 422
    assert [item["line"] for item in error_items(response.json())] == [3]


def test_bad_json_form_layer_is_named(client: TestClient, error_items: Items) -> None:
    spec = {"input": {"h": 32, "w": 32, "c": 3},
            "layers": [{"op": "conv", "out": 8, "kernel": 3}, {"op": "frobnicate"}]}
    response = client.post("/api/analyze", json={"spec": spec})
    assert response.status_code == 422
    assert error_items(response.json())[0]["line"] == 2


def test_engine_limit_error_names_the_limit(client: TestClient, error_items: Items) -> None:
    spec = f"input 32x32x3\nconv {LIMITS.max_channels + 1} 3x3\n"
    response = client.post("/api/analyze", json={"spec": spec})
    assert response.status_code == 422
    assert error_items(response.json())[0].get("limit") == "max_channels"


def test_body_over_64_kib(client: TestClient, error_items: Items) -> None:
    spec = "input 32x32x3\n" + "relu\n" * (LIMITS.max_body_bytes // 5)
    response = client.post("/api/analyze", json={"spec": spec})
    assert response.status_code == 422
    item = error_items(response.json())[0]
    assert item["limit"] == "max_body_bytes"


def test_body_just_under_the_limit_passes_the_middleware(client: TestClient) -> None:
    spec = "input 32x32x3\n" + "#" * (LIMITS.max_body_bytes - 100)
    response = client.post("/api/analyze", json={"spec": spec})
    assert response.status_code in {200, 422}
    assert "max_body_bytes" not in response.text


def test_query_spec_over_the_limit(error_items: Items) -> None:
    app = create_app(Settings(max_body_bytes=64))
    with TestClient(app) as client:
        response = client.get("/api/analyze", params={"spec": SPEC * 10})
    assert response.status_code == 422
    assert error_items(response.json())[0]["limit"] == "max_body_bytes"


def test_settings_override_through_the_dependency(error_items: Items) -> None:
    app = create_app()
    app.dependency_overrides[get_settings] = lambda: Settings(max_body_bytes=10)
    with TestClient(app) as client:
        response = client.get("/api/analyze", params={"spec": SPEC})
    assert response.status_code == 422
    assert error_items(response.json())[0]["limit"] == "max_body_bytes"


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARCHCALC_MAX_BODY_BYTES", "100")
    assert Settings().max_body_bytes == 100
    with TestClient(create_app()) as client:
        response = client.post("/api/analyze", json={"spec": SPEC + "#" * 200})
    assert response.status_code == 422 and "max_body_bytes" in response.text


BAD_LAYER_BODIES: list[tuple[str, object, str, str | None]] = [
    ("missing layer", {"input": "227x227x3"}, "layer", None),
    ("missing input", {"layer": "relu"}, "input", None),
    ("volume text", {"layer": "relu", "input": "227 by 227"}, "input", None),
    ("volume zero", {"layer": "relu", "input": "0x227x3"}, "input", None),
    ("volume too tall", {"layer": "relu", "input": {"h": LIMITS.max_hw + 1, "w": 1, "c": 1}},
     "input.h", "max_hw"),
    ("too many channels", {"layer": "relu", "input": f"8x8x{LIMITS.max_channels + 1}"},
     "input.c", "max_channels"),
    ("volume missing c", {"layer": "relu", "input": {"h": 8, "w": 8}}, "input.c", None),
    ("batch 5000", {"layer": "relu", "input": "8x8x3", "batch": 5000}, "batch", "max_batch"),
]


@pytest.mark.parametrize("payload,field,limit", [(p, f, lim) for _, p, f, lim in BAD_LAYER_BODIES],
                         ids=[name for name, *_ in BAD_LAYER_BODIES])
def test_bad_layer_bodies(client: TestClient, error_items: Items, payload: object, field: str,
                          limit: str | None) -> None:
    response = _post_json(client, "/api/layer", payload)
    assert response.status_code == 422, response.text
    item = error_items(response.json())[0]
    assert field in item["message"] and item.get("limit") == limit, item


@pytest.mark.parametrize("layer", ["frobnicate", "conv 8 99x99", "input 3x3x3", "", "{"])
def test_bad_layer_lines(client: TestClient, error_items: Items, layer: str) -> None:
    response = client.post("/api/layer", json={"layer": layer, "input": "32x32x3"})
    assert response.status_code == 422, response.text
    error_items(response.json())


def test_unknown_api_route(client: TestClient, error_items: Items) -> None:
    response = client.get("/api/nothing-here")
    assert response.status_code == 404
    assert "/api/nothing-here" in error_items(response.json())[0]["message"]


def test_http_exception_detail_is_kept(error_items: Items) -> None:
    from fastapi import HTTPException

    app = create_app()

    @app.get("/api/test-missing")
    def missing() -> None:
        raise HTTPException(404, detail="no zoo model 'lenet9'")

    with TestClient(app) as client:
        response = client.get("/api/test-missing")
    assert response.status_code == 404
    assert error_items(response.json())[0]["message"] == "no zoo model 'lenet9'"


def test_wrong_method(client: TestClient, error_items: Items) -> None:
    response = client.delete("/api/analyze")
    assert response.status_code == 405
    error_items(response.json())


def test_unexpected_exception_is_a_500_in_the_shape(monkeypatch: pytest.MonkeyPatch,
                                                    error_items: Items) -> None:
    import app.engine

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(app.engine, "analyze", broken)
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        response = client.post("/api/analyze", json={"spec": SPEC})
    assert response.status_code == 500
    assert "RuntimeError" in error_items(response.json())[0]["message"]


def _asgi_post(chunks: list[bytes], max_bytes: int) -> tuple[list[MutableMapping[str, Any]],
                                                             bool]:
    """Send ``chunks`` with no Content-Length through the middleware; return what it sent."""
    reached: list[bool] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        reached.append(True)

    pending = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
               for i, c in enumerate(chunks)]
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/api/analyze", "headers": []}
    asyncio.run(BodyLimitMiddleware(inner, max_bytes)(scope, receive, send))
    return sent, bool(reached)


def test_streamed_body_is_counted_without_content_length(error_items: Items) -> None:
    sent, reached = _asgi_post([b"x" * 40] * 3, max_bytes=100)
    assert not reached
    assert sent[0]["status"] == 422
    assert error_items(json.loads(sent[1]["body"]))[0]["limit"] == "max_body_bytes"


def test_streamed_body_within_the_limit_is_replayed() -> None:
    sent, reached = _asgi_post([b"x" * 40] * 2, max_bytes=100)
    assert reached and not sent


SPEC_WORDS = ["input", "conv", "maxpool", "avgpool", "fc", "relu", "bn", "lrn", "dropout",
              "gap", "concat", "residual", "shortcut", "dense", "join", "aux", "branch",
              "repeat", "survival", "linear", "{", "}", ";", ":", "stride", "pad", "same",
              "groups", "dilation", "nobias", "ceil", "0", "1", "3", "-1", "7", "0.5",
              "99999999", "3x3", "11x11", "0x0", "227x227x3", "1x1x1", "224x224x3", "[55x55x96]",
              "CONV1:", "params:", "35K", "TOTAL", "memory:", "#", "x", "\n", "padchannels"]


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(words=st.lists(st.sampled_from(SPEC_WORDS), max_size=40))
def test_spec_like_text_never_500s(client: TestClient, error_items: Items,
                                   words: list[str]) -> None:
    response = client.post("/api/analyze", json={"spec": " ".join(words)})
    assert response.status_code in {200, 422}, response.text
    if response.status_code == 422:
        error_items(response.json())


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=200))
def test_any_text_never_500s(client: TestClient, error_items: Items, text: str) -> None:
    response = client.post("/api/analyze", json={"spec": text})
    assert response.status_code in {200, 422}, response.text
    if response.status_code == 422:
        error_items(response.json())


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 300)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["op", "out", "kernel", "stride", "pad", "layers", "input", "h", "w", "c",
                         "branches", "body", "shortcut", "times", "bias", "name"]),
        inner, max_size=5),
    max_leaves=20)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=st.dictionaries(st.sampled_from(["input", "layers"]), JSON_VALUES, max_size=2))
def test_any_json_spec_never_500s(client: TestClient, error_items: Items,
                                  spec: dict[str, Any]) -> None:
    response = client.post("/api/analyze", json={"spec": spec})
    assert response.status_code in {200, 422}, response.text
    if response.status_code == 422:
        error_items(response.json())


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(words=st.lists(st.sampled_from(SPEC_WORDS), max_size=12))
def test_any_layer_line_never_500s(client: TestClient, error_items: Items,
                                   words: list[str]) -> None:
    response = client.post("/api/layer", json={"layer": " ".join(words), "input": "32x32x3"})
    assert response.status_code in {200, 422}, response.text
    if response.status_code == 422:
        error_items(response.json())
