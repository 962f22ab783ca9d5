"""Hostile and malformed requests, one case each, and a fuzzer over every API route.

Each case holds one promise: a body that is not UTF-8 or nested 500 deep is answered in the
error shape (not Starlette's own 400); a lone surrogate in a spec is a 422, not a 500; JSON is
typed strictly (``batch: "5"`` is refused); a zoo model's input volume is blamed on ``input``,
not on a line of a spec the user never saw; engine calls have threads of their own, and a
runaway cannot keep a server that got SIGTERM alive.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.exceptions import HTTPException as StarletteHTTPException

import app.engine
from app import zoo
from app.engine.limits import LIMITS
from app.engine.options import DEFAULTS, DTYPES, OPTIMIZERS, Options
from app.engine.result import to_jsonable
from app.web.app import create_app
from app.web.errors import error_body
from app.web.jsonbody import MAX_JSON_DEPTH, json_body_problems
from app.web.middleware import BodyLimitMiddleware
from app.web.routers.zoo import ModelQuery
from app.web.schemas import AnalyzeQuery, AnalyzeRequest, ErrorItem, LayerRequest
from app.web.settings import Settings
from tests.liveserver import free_port

Items = Callable[[Any], list[dict[str, Any]]]
ROOT = Path(__file__).resolve().parents[2]
JSON = {"Content-Type": "application/json"}
SPEC = "input 32x32x3\nconv 8 3x3\n"
#: 49 bytes that ask for an endless loop: refused by counting, never run
RUNAWAY = "input 8x8x3\nrepeat 999999999999999999 { }"


def _only(items: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(items) == 1, items
    return items[0]


# -- bodies: every malformed one is a 422 in the shape, naming where it went wrong -------------

MALFORMED: list[tuple[str, bytes, str, str, str | None]] = [
    # (case, body, parameter, words in the message, limit)
    ("not UTF-8", b'{"spec": "input 8x8x3\xff"}', "body", "UTF-8", None),
    ("nested 500 deep", b'{"spec": ' + b"[" * 500 + b"]" * 500 + b"}", "body", "501 deep",
     "max_json_depth"),
    ("lone surrogate", b'{"spec": "input 8x8x3\\nconv \\ud800 3x3"}', "spec", "surrogate", None),
    ("lone surrogate in a key", b'{"spec": "input 8x8x3", "\\udfff": 1}', "\\udfff",
     "surrogate", None),
    ("309-digit number", b'{"spec": {"input": {"h": 8, "w": 8, "c": 3}, "layers": '
     b'[{"op": "dropout", "p": ' + b"9" * 309 + b"}]}}", "spec", "spec.layers.0.p", "max_total"),
    ("NaN", b'{"spec": "input 8x8x3", "batch": NaN}', "batch", "NaN", None),
    ("-Infinity", b'{"spec": "input 8x8x3", "batch": -Infinity}', "batch", "-Infinity", None),
    ("1e400", b'{"spec": "input 8x8x3", "batch": 1e400}', "batch", "too large", None),
    ("4,301 digits", b'{"spec": "input 8x8x3", "batch": ' + b"1" * 4301 + b"}", "body",
     "more than 4,300 digits", "max_total"),
    ("a number past 2^53", b'{"spec": "input 8x8x3", "batch": 9007199254740993}', "batch",
     "9007199254740993", "max_total"),
    ("4,301 digits in broken JSON", b'{"spec": ' + b"1" * 4301 + b",", "body", "4,300 digits",
     "max_total"),
    ("broken JSON", b'{"spec": "input 8x8x3",', "body", "not valid JSON", None),
]


@pytest.mark.parametrize("body,parameter,words,limit", [m[1:] for m in MALFORMED],
                         ids=[m[0] for m in MALFORMED])
def test_malformed_body_is_a_422_naming_where(client: TestClient, error_items: Items,
                                               body: bytes, parameter: str, words: str,
                                               limit: str | None) -> None:
    response = client.post("/api/analyze", content=body, headers=JSON)
    assert response.status_code == 422, response.text
    item = _only(error_items(response.json()))
    assert item["line"] == 0 and item["parameter"] == parameter, item
    assert words in item["message"] and item.get("limit") == limit, item


def test_every_refused_number_is_reported_at_once(client: TestClient, error_items: Items) -> None:
    body = b'{"spec": "input 8x8x3", "batch": NaN, "aux": 1e999, "dtype": -Infinity}'
    response = client.post("/api/analyze", content=body, headers=JSON)
    assert response.status_code == 422
    assert [i["parameter"] for i in error_items(response.json())] == ["batch", "aux", "dtype"]


def test_nesting_at_the_limit_is_read(client: TestClient, error_items: Items) -> None:
    inner = MAX_JSON_DEPTH - 2  # the body object and "spec"'s object are two levels
    spec = b'{"input": {"h": 8, "w": 8, "c": 3}, "layers": ' + b"[" * inner + b"]" * inner + b"}"
    response = client.post("/api/analyze", content=b'{"spec": ' + spec + b"}", headers=JSON)
    assert response.status_code == 422
    assert "max_json_depth" not in response.text  # the engine's own complaint, not the depth


def test_brackets_inside_strings_do_not_count(client: TestClient) -> None:
    spec = SPEC + "# " + "[{" * 200 + "\n"
    response = client.post("/api/analyze", content=json.dumps({"spec": spec}), headers=JSON)
    assert response.status_code == 200, response.text


def test_a_body_with_a_byte_order_mark_is_read(client: TestClient) -> None:
    body = b"\xef\xbb\xbf" + json.dumps({"spec": SPEC}).encode()
    assert client.post("/api/analyze", content=body, headers=JSON).status_code == 200


_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=10)
FINE_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-LIMITS.max_total, LIMITS.max_total)
    | st.floats(allow_nan=False, allow_infinity=False) | _TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=30)
PLANTED = ["NaN", "-Infinity", "1e400", "-9007199254740992", '"x\\ud800"', '{"\\udc00": 1}',
           "1" * 400]


@settings(max_examples=200, deadline=None)
@given(value=FINE_JSON)
def test_the_checker_refuses_no_body_archcalc_accepts(value: object) -> None:
    assert json_body_problems(json.dumps(value).encode()) == []


@settings(max_examples=200, deadline=None)
@given(value=FINE_JSON, bad=st.sampled_from(PLANTED))
def test_the_checker_finds_a_planted_bad_value(value: object, bad: str) -> None:
    body = json.dumps({"fine": value, "bad": "MARK"}).replace('"MARK"', bad)
    problems = json_body_problems(body.encode())
    assert problems and all(p.parameter == "bad" for p in problems), (body, problems)


def test_a_body_fastapi_cannot_read_is_a_422_not_a_400(error_items: Items) -> None:
    web = create_app()

    @web.post("/api/_unreadable")
    def unreadable() -> None:  # what FastAPI raises when reading a body fails
        raise StarletteHTTPException(400, "There was an error parsing the body")

    with TestClient(web) as client:
        response = client.post("/api/_unreadable")
    assert response.status_code == 422
    assert _only(error_items(response.json()))["parameter"] == "body"


def test_a_body_whose_last_part_passes_the_limit_is_answered_at_once(
        error_items: Items) -> None:
    """uvicorn hands a streamed body over in parts as they arrive. When the part that passed the
    limit was the last, the middleware read on, and uvicorn's next message comes only when the
    client hangs up, while the client waited for the answer: 2 to 4 in 200 chunked requests
    through a real server timed out (tests/web/test_server.py's chunked test, on a busy
    machine)."""
    parts = [{"type": "http.request", "body": b"x" * 60, "more_body": True},
             {"type": "http.request", "body": b"x" * 60, "more_body": False}]
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if parts:
            return parts.pop(0)
        await asyncio.Event().wait()  # as uvicorn: nothing more until the client disconnects
        return {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    async def app_behind(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("a refused body never reaches the app")

    scope = {"type": "http", "method": "POST", "path": "/api/analyze", "headers": []}
    guarded = BodyLimitMiddleware(app_behind, max_bytes=100)
    asyncio.run(asyncio.wait_for(guarded(scope, receive, send), timeout=2))
    assert sent[0]["status"] == 413
    assert _only(error_items(json.loads(sent[1]["body"])))["limit"] == "max_body_bytes"


def test_messages_quoting_surrogates_still_encode() -> None:
    body = error_body([ErrorItem(line=2, message="conv: unexpected '\ud800'", layer="\udfff")])
    encoded = json.dumps(body, ensure_ascii=False).encode("utf-8")
    assert json.loads(encoded)["errors"] == [
        {"line": 2, "message": "conv: unexpected '\\ud800'", "layer": "\\udfff"}]


def test_every_spec_problem_is_listed_with_only_its_own_limit(client: TestClient,
                                                               error_items: Items) -> None:
    spec = f"input 32x32x3\nconv {LIMITS.max_channels + 1} 3x3\nfc ten\nconv 8 3x3 strid 2\n"
    response = client.post("/api/analyze", json={"spec": spec})
    assert response.status_code == 422
    items = error_items(response.json())
    assert [(i["line"], i.get("limit")) for i in items] == [
        (2, "max_channels"), (3, None), (4, None)]
    assert "did you mean `stride`?" in items[2]["message"]


# -- strict types in a JSON body; query strings stay strings that parse ------------------------

@pytest.mark.parametrize("path,body,parameter", [
    ("/api/analyze", {"spec": SPEC, "batch": "5"}, "batch"),
    ("/api/analyze", {"spec": SPEC, "batch": 5.0}, "batch"),
    ("/api/analyze", {"spec": SPEC, "aux": "true"}, "aux"),
    ("/api/analyze", {"spec": SPEC, "batch": True}, "batch"),
    ("/api/layer", {"layer": "conv 8 3x3", "input": "32x32x3", "batch": "5"}, "batch"),
    ("/api/layer", {"layer": "conv 8 3x3", "input": {"h": "32", "w": 32, "c": 3}}, "input"),
])
def test_mistyped_body_fields_are_422(client: TestClient, error_items: Items, path: str,
                                      body: dict[str, Any], parameter: str) -> None:
    response = client.post(path, json=body)
    assert response.status_code == 422, response.text
    assert _only(error_items(response.json()))["parameter"] == parameter


def test_query_strings_parse_numbers(client: TestClient) -> None:
    one = client.get("/api/analyze", params={"spec": SPEC}).json()["totals"]
    five = client.get("/api/analyze", params={"spec": SPEC, "batch": "5"}).json()["totals"]
    assert five["activation_bytes"] == one["activations"] * 4 * 5


# -- errors in request parameters name the parameter, at line 0 --------------------------------

GET_ROUTES = ["/api/analyze?spec=" + urllib.parse.quote(SPEC), "/api/models/alexnet"]
BAD_OPTIONS = [("dtype", "float64"), ("batch", "0"), ("batch", "many"),
               ("batch", str(LIMITS.max_batch + 1)), ("optimizer", "rmsprop"), ("aux", "maybe")]


@pytest.mark.parametrize("route", GET_ROUTES, ids=["analyze", "model"])
@pytest.mark.parametrize("name,value", BAD_OPTIONS, ids=[f"{n}={v}" for n, v in BAD_OPTIONS])
def test_bad_option_names_its_parameter(client: TestClient, error_items: Items, route: str,
                                        name: str, value: str) -> None:
    sep = "&" if "?" in route else "?"
    response = client.get(f"{route}{sep}{name}={value}")
    assert response.status_code == 422, response.text
    item = _only(error_items(response.json()))
    assert item["parameter"] == name and item["line"] == 0, item


@pytest.mark.parametrize("value,words,limit", [
    ("0x0x0", "at least 1", None),
    ("99999x224x3", "max_hw", "max_hw"),
    ("224x224x100000", "max_channels", "max_channels"),
    ("224x224", "HxWxC", None),
])
def test_zoo_input_volume_is_blamed_on_the_input_parameter(
        client: TestClient, error_items: Items, value: str, words: str,
        limit: str | None) -> None:
    response = client.get(f"/api/models/alexnet?input={value}")
    assert response.status_code == 422, response.text
    item = _only(error_items(response.json()))
    assert item["line"] == 0 and item["parameter"] == "input", item
    assert words in item["message"] and item.get("limit") == limit, item


def test_aux_on_a_model_without_aux_names_aux(client: TestClient, error_items: Items) -> None:
    response = client.get("/api/models/alexnet?aux=true")
    assert response.status_code == 422
    assert _only(error_items(response.json()))["parameter"] == "aux"


@pytest.mark.parametrize("body,parameter", [
    (None, "body"), ({"dtype": "float32"}, "spec"), ({"spec": SPEC, "bacth": 2}, "bacth"),
])
def test_body_errors_name_the_field(client: TestClient, error_items: Items,
                                    body: dict[str, Any] | None, parameter: str) -> None:
    response = client.post("/api/analyze", json=body) if body else client.post("/api/analyze")
    assert response.status_code == 422
    assert _only(error_items(response.json()))["parameter"] == parameter


def test_misspelt_field_gets_a_suggestion(client: TestClient, error_items: Items) -> None:
    response = client.post("/api/analyze", json={"spec": SPEC, "bacth": 2})
    assert "did you mean 'batch'?" in _only(error_items(response.json()))["message"]


def test_layer_input_volume_names_input(client: TestClient, error_items: Items) -> None:
    response = client.post("/api/layer", json={"layer": "conv 8 3x3", "input": "0x32x3"})
    assert response.status_code == 422
    assert _only(error_items(response.json()))["parameter"] == "input"


def test_oversized_body_and_query_spec_name_their_parameter(error_items: Items) -> None:
    with TestClient(create_app(Settings(max_body_bytes=64))) as small:
        body = small.post("/api/analyze", json={"spec": SPEC * 10})
        query = small.get("/api/analyze", params={"spec": SPEC * 10})
    assert body.status_code == 413 and query.status_code == 422  # a query string is no body
    assert _only(error_items(body.json()))["parameter"] == "body"
    assert _only(error_items(query.json()))["parameter"] == "spec"


def test_openapi_documents_the_parameter_field(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    item = schema["components"]["schemas"]["ErrorItem"]
    assert {"line", "message", "layer", "limit", "parameter"} == set(item["properties"])
    for path, methods in schema["paths"].items():
        if path.startswith("/api/"):
            for method, operation in methods.items():
                assert {"422", "503"} <= set(operation["responses"]), (method, path)


# -- one set of defaults: the engine's Options ------------------------------------------------

def test_request_options_are_the_engines_options() -> None:
    names = [f.name for f in fields(Options)]
    for model in (AnalyzeRequest, AnalyzeQuery, ModelQuery):
        assert [n for n in model.model_fields if n in names] == names, model
        for name in names:
            assert model.model_fields[name].default == getattr(DEFAULTS, name), (model, name)
    assert LayerRequest.model_fields["dtype"].default == DEFAULTS.dtype
    assert LayerRequest.model_fields["batch"].default == DEFAULTS.batch


def test_openapi_allows_exactly_the_engines_values(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()["components"]["schemas"]["AnalyzeRequest"]
    props = schema["properties"]
    assert tuple(props["dtype"]["enum"]) == DTYPES
    assert tuple(props["optimizer"]["enum"]) == OPTIMIZERS
    assert props["batch"]["maximum"] == LIMITS.max_batch
    assert {k: props[k]["default"] for k in ("dtype", "batch", "optimizer", "aux")} == {
        f.name: getattr(DEFAULTS, f.name) for f in fields(Options)}


def test_an_empty_request_counts_with_the_default_options(client: TestClient) -> None:
    got = client.post("/api/analyze", json={"spec": SPEC}).json()
    assert got == to_jsonable(app.engine.analyze(SPEC, DEFAULTS))


# -- engine calls run apart from the other routes ---------------------------------------------

def test_static_and_docs_answer_while_every_analysis_place_is_taken() -> None:
    app = create_app(Settings(analysis_threads=2, answer_cache_entries=0))  # every request runs
    with TestClient(app) as client:
        assert client.post("/api/analyze", json={"spec": SPEC}).status_code == 200
        limiter, portal = app.state.analysis_runner.limiter, client.portal
        assert portal is not None
        held = [object(), object()]
        for token in held:
            portal.call(limiter.acquire_on_behalf_of, token)
        answers: list[int] = []
        waiting = threading.Thread(target=lambda: answers.append(
            client.post("/api/analyze", json={"spec": SPEC}).status_code))
        waiting.start()
        try:
            assert client.get("/static/app.css").status_code == 200
            assert client.get("/openapi.json").status_code == 200
            assert client.get("/api/models/alexnet/spec").status_code == 200  # no engine call
            waiting.join(0.5)
            assert waiting.is_alive() and not answers  # the analysis waits for a place
        finally:  # else a failure leaves the request waiting, and the client's exit with it
            for token in held:
                portal.call(limiter.release_on_behalf_of, token)
        waiting.join(10)
        assert answers == [200]


def test_a_request_behind_busy_places_answers_503_on_time(error_items: Items) -> None:
    app = create_app(Settings(analysis_threads=1, analysis_seconds=0.3, answer_cache_entries=0))
    with TestClient(app) as client:
        assert client.post("/api/analyze", json={"spec": SPEC}).status_code == 200
        limiter, portal, held = app.state.analysis_runner.limiter, client.portal, object()
        assert portal is not None
        portal.call(limiter.acquire_on_behalf_of, held)  # as a runaway would hold it
        started = time.monotonic()
        response = client.post("/api/analyze", json={"spec": SPEC})
        assert time.monotonic() - started < 3
        assert response.status_code == 503 and response.headers["retry-after"] == "1"
        assert _only(error_items(response.json()))["limit"] == "analysis_threads"
        portal.call(limiter.release_on_behalf_of, held)
        assert client.post("/api/analyze", json={"spec": SPEC}).status_code == 200


def test_a_runaway_call_answers_422_on_time_and_frees_its_place(
        monkeypatch: pytest.MonkeyPatch, error_items: Items) -> None:
    release = threading.Event()
    threads: list[threading.Thread] = []

    def stuck(*args: object, **kwargs: object) -> None:
        threads.append(threading.current_thread())
        release.wait(30)
        raise RuntimeError("released")

    real = app.engine.analyze
    monkeypatch.setattr(app.engine, "analyze", stuck)
    web = create_app(Settings(analysis_threads=1, analysis_seconds=0.3))
    with TestClient(web) as client:
        started = time.monotonic()
        response = client.post("/api/analyze", json={"spec": SPEC})
        assert time.monotonic() - started < 3
        assert response.status_code == 422
        assert _only(error_items(response.json()))["limit"] == "analysis_seconds"
        assert threads and threads[0].daemon  # cannot keep the process alive at exit
        monkeypatch.setattr(app.engine, "analyze", real)
        release.set()
        threads[0].join(5)
        assert client.post("/api/analyze", json={"spec": SPEC}).status_code == 200


@pytest.fixture()
def uvicorn_server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int, Path]]:
    port, log = free_port(), tmp_path / "uvicorn.log"
    env = os.environ | {"ARCHCALC_ANALYSIS_SECONDS": "2"}
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "app.main:app", "--host",
                                 "127.0.0.1", "--port", str(port)], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
        yield proc, port, log
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _post_status(port: int, payload: object, into: list[int], sent: threading.Event) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", "/api/analyze", body=json.dumps(payload), headers=JSON)
        sent.set()
        into.append(conn.getresponse().status)
    except (OSError, http.client.HTTPException):
        into.append(-1)
    finally:
        sent.set()
        conn.close()


def test_server_stops_on_sigterm_during_heavy_requests(
        uvicorn_server: tuple[subprocess.Popen[bytes], int, Path]) -> None:
    proc, port, log = uvicorn_server
    heavy = "input 64x64x64\n" + "conv 64 3x3 pad 1\nrelu\n" * ((LIMITS.max_layers - 2) // 2)
    assert len(heavy.encode()) < LIMITS.max_body_bytes - 100
    bodies = [{"spec": heavy, "batch": 64}, {"spec": zoo.model_spec("resnet152")},
              {"spec": RUNAWAY}]
    statuses: list[int] = []
    sent = [threading.Event() for _ in bodies]
    clients = [threading.Thread(target=_post_status, args=(port, body, statuses, done))
               for body, done in zip(bodies, sent, strict=True)]
    for client in clients:
        client.start()
    assert all(done.wait(10) for done in sent)
    time.sleep(0.2)  # the server reads what was sent: the requests are in flight
    proc.send_signal(signal.SIGTERM)
    started = time.monotonic()
    try:
        proc.wait(timeout=8)
    except subprocess.TimeoutExpired:
        pytest.fail(f"uvicorn still running 8 s after SIGTERM:\n{log.read_text()}")
    assert time.monotonic() - started < 8
    for client in clients:
        client.join(5)
    # the valid ones were answered before the server went; the runaway got a 422 (the engine's
    # limit, or analysis_seconds), never a hang
    assert sorted(statuses) == [200, 200, 422], (statuses, log.read_text())


# -- a fuzzer over every API route: random bytes, random JSON, hostile strings ------------------

HOSTILE = ["\ud800", "\udfff\ud800", "²", "٣", "9" * 400, "1e400", "NaN", "-0", "\x00",
           "\u202e", "0x0x0", "99999x99999x99999", "{" * 100, "[" * 100, "\\", '"', "\n" * 50,
           "a" * 2000, "float32\x00", "TRUE", " 5 ", "input 1x1x1\nrepeat 3000 { relu }",
           "input 8x8x3\nconv ² 3x3", "input 8x8x3\nsurvival linear 0.5.5", "%ff", "%ED%A0%80"]
FIELDS = ["spec", "layer", "input", "dtype", "batch", "optimizer", "aux", "h", "w", "c"]
JSON_LEAVES = (st.none() | st.booleans() | st.integers() | st.floats()
               | st.sampled_from(HOSTILE) | st.text(max_size=20))
JSON_VALUES = st.recursive(JSON_LEAVES, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=5),
                                             inner, max_size=5), max_leaves=25)
RAW = [b"NaN", b"[" * 3000, b'{"spec": ' * 100, b'"\\ud800"', b"\xff\xfe", b"1" * 5000,
       b'{"spec": "\\ud800\\udc00"}', b'{"spec": 1e99999}', b"{" + b'"a":1,' * 2000 + b"}"]


def _api_paths() -> list[str]:
    """Every route under /api, as the OpenAPI description lists them."""
    paths = sorted(p for p in create_app().openapi()["paths"] if p.startswith("/api/"))
    assert len(paths) >= 6, paths
    return paths


API_PATHS = _api_paths()
PATH_VALUES = ["alexnet", "googlenet", "nope", "..", "%ff", "a" * 300, "%00"]


def _fill(path: str, value: str) -> str:
    """The path with every ``{parameter}`` replaced by ``value``."""
    return re.sub(r"\{[^}]+\}", value, path)


def _bodies() -> st.SearchStrategy[bytes]:
    as_json = JSON_VALUES.map(lambda v: json.dumps(v).encode())
    with_fields = st.dictionaries(st.sampled_from(FIELDS), JSON_LEAVES, max_size=6).map(
        lambda v: json.dumps(v).encode())
    return st.binary(max_size=300) | as_json | with_fields | st.sampled_from(RAW)


def _assert_4xx_in_shape(response: Any, error_items: Items) -> None:
    assert response.status_code < 500, response.text[:500]
    if response.status_code >= 400:
        error_items(response.json())


@settings(max_examples=400, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(API_PATHS), value=st.sampled_from(PATH_VALUES), body=_bodies(),
       kind=st.sampled_from(["application/json", "application/json; charset=utf-8",
                             "text/plain", "application/x-www-form-urlencoded",
                             "application/vnd.api+json"]))
def test_any_post_to_any_api_route_is_never_a_5xx(client: TestClient, error_items: Items,
                                                  path: str, value: str, body: bytes,
                                                  kind: str) -> None:
    response = client.post(_fill(path, value), content=body, headers={"Content-Type": kind})
    _assert_4xx_in_shape(response, error_items)


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(API_PATHS), value=st.sampled_from(PATH_VALUES),
       params=st.dictionaries(st.sampled_from(FIELDS), st.sampled_from(HOSTILE)
                              | st.text(max_size=20), max_size=5))
def test_any_query_to_any_api_route_is_never_a_5xx(client: TestClient, error_items: Items,
                                                   path: str, value: str,
                                                   params: dict[str, str]) -> None:
    # lone surrogates cannot be sent as UTF-8: they go out as the bytes a broken client sends
    query = "&".join(f"{k}={urllib.parse.quote(v.encode('utf-8', 'surrogatepass'))}"
                     for k, v in params.items())
    response = client.get(f"{_fill(path, value)}?{query}")
    _assert_4xx_in_shape(response, error_items)
