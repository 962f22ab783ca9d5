"""HTTP as clients expect it: ``Allow`` on every 405, ``HEAD`` wherever ``GET`` is answered, a
schema that refuses what the app refuses, and the calculator's GET form carrying the largest
spec the app takes, through the production server where the transport is concerned."""

from __future__ import annotations

import http.client
import json
import os
import socket
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.engine.limits import LIMITS
from app.web.errors import METHODS
from app.web.settings import Settings
from tests.liveserver import free_port, live_server

#: pages and API reads, each answered 200 to a GET
GET_PATHS = ["/", "/calc", "/compare?preset=inception", "/models", "/models/alexnet", "/lecture",
             "/rf", "/layer", "/import", "/api/models", "/api/models/alexnet/spec",
             "/api/analyze?spec=input+8x8x3%0Arelu", "/healthz", "/static/app.css",
             "/openapi.json"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    port = free_port()
    env = os.environ | {"ARCHCALC_RATE_PER_SECOND": "100000", "ARCHCALC_RATE_BURST": "100000"}
    log = tmp_path_factory.mktemp("http") / "log.txt"
    with live_server(["app.web.serve", "--port", str(port)], log, port, env=env,
                     ready="/healthz"):
        yield port


def _ask(port: int, method: str, path: str) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path)
        answer = connection.getresponse()
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()
    finally:
        connection.close()


# -- HEAD --------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", GET_PATHS)
def test_head_is_answered_wherever_get_is(server: int, path: str) -> None:
    got_status, got, body = _ask(server, "GET", path)
    status, headers, empty = _ask(server, "HEAD", path)
    assert got_status == 200 and status == 200, (got_status, status)
    assert empty == b"" and headers["content-length"] == str(len(body))
    assert headers["content-type"] == got["content-type"]


def test_head_on_an_event_stream_ends_after_its_headers(server: int) -> None:
    """A live session's server-sent events never end for a GET; a HEAD gets the headers and
    the end of the answer at once."""
    connection = http.client.HTTPConnection("127.0.0.1", server, timeout=30)
    connection.request("POST", "/api/live", json.dumps({"spec": "input 8x8x3\nrelu"}),
                       {"Content-Type": "application/json"})
    created = connection.getresponse()
    assert created.status == 201, created.read()
    code = json.loads(created.read())["code"]
    connection.close()
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", server), timeout=10) as sock:
        # the HEAD's answer must end for the next request on the connection to be answered
        sock.sendall(f"HEAD /live/{code}/events HTTP/1.1\r\nHost: t\r\n\r\n"
                     "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
                     .encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert time.monotonic() - started < 5
    head, _, rest = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"text/event-stream" in head, head
    assert rest.startswith(b"HTTP/1.1 200") and rest.endswith(b'{"status":"ok"}'), rest


def test_head_on_a_post_only_route_is_a_405_naming_post(server: int) -> None:
    status, headers, body = _ask(server, "HEAD", "/api/layer")
    assert status == 405 and headers["allow"] == "POST" and body == b""


# -- Allow on 405 ------------------------------------------------------------------------------

@pytest.mark.parametrize(("method", "path", "allow"), [
    ("DELETE", "/api/analyze", "GET, HEAD, POST"),
    ("PUT", "/", "GET, HEAD"),
    ("POST", "/compare", "GET, HEAD"),
    ("GET", "/api/layer", "POST"),
    ("PATCH", "/api/runs", "POST"),
    ("POST", "/static/app.css", "GET, HEAD"),
    ("DELETE", "/s/abcdef", "GET, HEAD"),
])
def test_every_405_names_what_is_allowed(server: int, method: str, path: str,
                                         allow: str) -> None:
    status, headers, _ = _ask(server, method, path)
    assert status == 405 and headers["allow"] == allow, (status, headers.get("allow"))


def test_allow_is_the_schemas_methods_for_every_documented_path(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    for template, operations in schema["paths"].items():
        path = template.replace("{model_id}", "alexnet").replace("{run_id}", "x")
        documented = {m.upper() for m in operations}
        expected = [m for m in METHODS if m in documented or (m == "HEAD" and "GET" in documented)]
        for method in set(METHODS) - set(expected):
            response = client.request(method, path)
            assert response.status_code == 405, (method, path, response.status_code)
            assert response.headers["allow"] == ", ".join(expected), (method, path)


# -- the schema refuses the empty strings the app refuses --------------------------------------

def _strings(schema: dict[str, Any], components: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if "$ref" in schema:
        yield from _strings(components[schema["$ref"].rsplit("/", 1)[1]], components)
        return
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(key, []):
            yield from _strings(sub, components)
    if schema.get("type") == "string" and "enum" not in schema:
        yield schema


def _property(schema: dict[str, Any], name: str, components: dict[str, Any]) -> dict[str, Any]:
    """The schema of property ``name`` of a body, through references and alternatives."""
    if "$ref" in schema:
        return _property(components[schema["$ref"].rsplit("/", 1)[1]], name, components)
    if name in schema.get("properties", {}):
        found: dict[str, Any] = schema["properties"][name]
        return found
    for sub in schema.get("anyOf", []) + schema.get("oneOf", []):
        try:
            return _property(sub, name, components)
        except KeyError:
            continue
    raise KeyError(name)


@pytest.mark.parametrize(("method", "path", "where", "name", "request_args"), [
    ("get", "/api/analyze", "query", "spec", {"params": {"spec": ""}}),
    ("get", "/api/export/analyze", "query", "spec", {"params": {"spec": "", "format": "csv"}}),
    ("post", "/api/layer", "body", "layer", {"json": {"layer": "", "input": "8x8x3"}}),
    ("post", "/api/analyze", "body", "spec", {"json": {"spec": ""}}),
])
def test_an_empty_string_the_app_refuses_is_refused_by_the_schema(
        client: TestClient, method: str, path: str, where: str, name: str,
        request_args: dict[str, Any]) -> None:
    assert client.request(method, path, **request_args).status_code == 422
    schema = client.get("/openapi.json").json()
    operation, components = schema["paths"][path][method], schema["components"]["schemas"]
    if where == "query":
        field = next(p["schema"] for p in operation["parameters"] if p["name"] == name)
    else:
        body = operation["requestBody"]["content"]["application/json"]["schema"]
        field = _property(body, name, components)
    strings = list(_strings(field, components))
    assert strings and all(s.get("minLength", 0) >= 1 for s in strings), field


@pytest.mark.parametrize(("path", "params"), [
    ("/api/models/alexnet", {"input": ""}),
    ("/api/export/models/alexnet", {"format": ""}),
])
def test_an_empty_optional_string_is_read_as_absent(client: TestClient, path: str,
                                                   params: dict[str, str]) -> None:
    """The strings that stay without minLength: the app takes "" as not given."""
    assert client.get(path, params=params).status_code == 200


# -- the GET form carries the largest spec -----------------------------------------------------

def _largest_spec() -> str:
    """A spec of exactly max_body_bytes whose comments' bytes are all percent-encoded (lines
    of comments, each within the spec's line length)."""
    spec = "input 8x8x3\nrelu\n"
    comment = "# " + "é" * 900 + "\n"
    while len((spec + comment).encode()) <= LIMITS.max_body_bytes:
        spec += comment
    room = LIMITS.max_body_bytes - len(spec.encode())
    return spec + "#" + "é" * ((room - 1) // 2) + " " * ((room - 1) % 2)


def test_the_calculator_form_carries_the_largest_spec(server: int) -> None:
    spec = _largest_spec()
    assert len(spec.encode()) == LIMITS.max_body_bytes
    query = urllib.parse.urlencode({"spec": spec, "dtype": "float32", "batch": "1"})
    assert len(query) > 2.9 * LIMITS.max_body_bytes  # as a browser's form sends it
    status, _, body = _ask(server, "GET", "/?" + query)
    assert status == 200 and b"8x8x3" in body, body[:300]


def test_a_head_past_max_header_bytes_is_still_refused(server: int) -> None:
    limit = Settings().max_header_bytes
    status, headers, _ = _ask(server, "GET", "/?spec=" + "a" * limit)
    assert status == 400 and headers["content-type"] == "application/json"
