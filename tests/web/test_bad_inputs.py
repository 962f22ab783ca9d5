"""A catalogue of malformed and hostile inputs: each is a 4xx in the one error shape, naming the
line or the parameter at fault, answered within a bounded time, and the next request is served
normally.

The malformed bodies (not UTF-8, 500 deep, NaN, 1e400, 309 and 4,301 digits, lone
surrogates, ...) are ``MALFORMED`` in tests/web/test_hardening.py, which checks what each
answer says; here they run again only for the time bound and the request after.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.engine.limits import LIMITS
from tests.web.test_hardening import HOSTILE, MALFORMED, RUNAWAY

Items = Callable[[Any], list[dict[str, Any]]]
I8 = "input 8x8x3\n"
#: no bad input may take longer than this to be answered (the engine's bound is 100 ms)
SECONDS = 2.0
JSON = "application/json"


@dataclass(frozen=True)
class Bad:
    """One hostile request and what its answer must name."""

    name: str
    method: str
    path: str
    body: bytes | None = None
    content_type: str | None = JSON
    params: dict[str, str] = field(default_factory=dict)
    line: int | None = None  #: the spec line the first problem names
    parameter: str | None = None  #: the request parameter some problem names
    status: int = 422


def _spec(name: str, spec: str, line: int) -> Bad:
    return Bad(name, "POST", "/api/analyze", json.dumps({"spec": spec}).encode(), line=line)


def _body(name: str, payload: object, parameter: str, path: str = "/api/analyze") -> Bad:
    return Bad(name, "POST", path, json.dumps(payload).encode(), parameter=parameter)


SPECS = [
    # unbalanced braces and misplaced blocks
    _spec("brace left open", I8 + "repeat 2 { relu", 2),
    _spec("brace never opened", I8 + "relu }", 2),
    _spec("branch left open", I8 + "concat { branch { conv 8 1x1 }", 2),
    _spec("brace inside brace", I8 + "residual { { relu } }", 2),
    _spec("branch outside concat", I8 + "branch { relu }", 2),
    _spec("shortcut alone", I8 + "shortcut { relu }", 2),
    # zero and negative sizes
    _spec("input 0x8x3", "input 0x8x3", 1),
    _spec("input -8x8x3", "input -8x8x3", 1),
    _spec("conv 0 filters", I8 + "conv 0 3x3", 2),
    _spec("conv -5 filters", I8 + "conv -5 3x3", 2),
    _spec("kernel 0x0", I8 + "conv 8 0x0", 2),
    _spec("stride 0", I8 + "conv 8 3x3 stride 0", 2),
    _spec("stride -1", I8 + "conv 8 3x3 stride -1", 2),
    _spec("pool 0x0", I8 + "maxpool 0x0", 2),
    _spec("fc 0", I8 + "fc 0", 2),
    _spec("fc -1", I8 + "fc -1", 2),
    _spec("pad -1", I8 + "conv 8 3x3 pad -1", 2),
    _spec("dropout -0.5", I8 + "dropout -0.5", 2),
    _spec("dropout 1.5", I8 + "dropout 1.5", 2),
    _spec("kernel larger than its input", I8 + "conv 8 11x11", 2),
    # sizes past the limits
    _spec("10^9 filters", I8 + "conv 1000000000 3x3", 2),
    _spec("10^9 input channels", "input 8x8x1000000000", 1),
    _spec("10^9 neurons", I8 + "fc 1000000000", 2),
    _spec("100000x100000 input", "input 100000x100000x3", 1),
    _spec("kernel 1000", I8 + "conv 8 1000x1000", 2),
    _spec("stride 1000", I8 + "conv 8 3x3 stride 1000", 2),
    _spec("10^9 groups", I8 + "conv 8 3x3 groups 1000000000", 2),
    _spec("dilation 100000", I8 + "conv 8 3x3 dilation 100000", 2),
    _spec("groups that do not divide", I8 + "conv 8 3x3 groups 5", 2),
    _spec("a 400-digit claim", "[227x227x3] INPUT\nconv 8 3x3 params: " + "9" * 400, 2),
    # repeat explosions
    _spec("repeat 10^18 of nothing", RUNAWAY, 2),
    _spec("repeat 10^5 of repeat 10^5", I8 + "repeat 100000 { repeat 100000 { relu } }", 2),
    _spec("three nested repeats of 1000",
          I8 + "repeat 1000 { repeat 1000 { repeat 1000 { conv 3 3x3 pad 1 } } }", 2),
    _spec("repeat -1", I8 + "repeat -1 { relu }", 2),
    _spec("repeat 0", I8 + "repeat 0 { relu }", 2),
    _spec("repeat many", I8 + "repeat many { relu }", 2),
    # deep nesting
    _spec("500 nested repeats on one line", I8 + "repeat 1 { " * 500 + "relu" + " }" * 500, 2),
    _spec("500 nested repeats, a line each", I8 + "repeat 1 {\n" * 500 + "relu\n" + "}\n" * 500,
          1 + 17),  # the input, then the 17th repeat inside the others is one too deep
    _spec("250 nested concats", I8 + "concat { branch { " * 250 + "relu" + " } }" * 250, 2),
    _spec("17 nested residuals", I8 + "residual { " * 17 + "relu" + " }" * 17, 2),
    # NUL, control and look-alike characters
    _spec("NUL in a line", I8 + "conv 8\x00 3x3", 2),
    _spec("only NULs", "\x00" * 100, 1),
    _spec("NUL after the input", "input 8x8x3\x00", 1),
    _spec("an escape sequence", I8 + "conv 8 3x3\x1b[2J", 2),
    _spec("DEL in a line", I8 + "relu\x7f", 2),
    _spec("a C1 control", I8 + "relu\n\x9b31m", 3),
    _spec("form feeds break no line", I8 + "relu\x0c\x0c\x0c\nfrob", 3),
    _spec("line separators break no line", I8 + "relu\u2028\u2029\x85\nfrob", 3),
    _spec("a byte-order mark, then CR line ends", "\ufeffinput 8x8x3\rrelu\rfrob", 3),
    _spec("right-to-left override", I8 + "conv 8 3x3 \u202e", 2),
    _spec("superscript digit", I8 + "conv ² 3x3", 2),
    _spec("Arabic-Indic digit", I8 + "conv ٣ 3x3", 2),
    _spec("full-width digit", I8 + "conv ８ 3x3", 2),
    # markup and template syntax
    _spec("a script element", I8 + "<script>alert(1)</script>", 2),
    _spec("an img onerror", I8 + '<img src=x onerror="alert(1)">', 2),
    _spec("a Jinja expression", I8 + "{{ 7*7 }}", 2),
    _spec("a Jinja expression as a name", I8 + "{{7*7}}: frobnicate 3", 2),
    _spec("a Jinja statement", I8 + "{% for x in y %}", 2),
    _spec("markup as a name", I8 + "<b>x</b>: conv", 2),
    _spec("a template literal as a name", I8 + "${7*7}: conv 8 3x3 strid 2", 2),
    # slide listings with garbage
    _spec("slide without its input", "[55x55x96] CONV1: 96 11x11 filters at stride 4, pad 0", 1),
    _spec("slide volume of letters",
          "[227x227x3] INPUT\n[abcxdef] CONV1: 96 11x11 filters at stride 4, pad 0", 2),
    _spec("slide total of bananas", "[227x227x3] INPUT\n"
          "[55x55x96] CONV1: 96 11x11 filters at stride 4, pad 0\nTOTAL params: banana", 3),
    _spec("slide four-axis volume",
          "[227x227x3] INPUT\n[55x55x96x7] CONV1: 96 11x11 filters at stride 4, pad 0", 2),
    _spec("slide negative filters",
          "[227x227x3] INPUT\n[55x55x96] CONV1: -96 11x11 filters at stride 4, pad 0", 2),
    _spec("slide without a count", "[227x227x3] INPUT\n[55x55x96] CONV1: filters at stride 4",
          2),
    # structure
    _spec("two inputs", "input 8x8x3\ninput 8x8x3", 2),
    _spec("no input", "conv 8 3x3", 1),
    _spec("empty", "", 1),
    _spec("only blanks", "   \n\n ", 1),
    _spec("only a comment", "# hi", 1),
    _spec("a 3,000-character line", I8 + "conv 8 3x3 " + "x" * 3000, 2),
    _spec("500 bad lines", I8 + "frob\n" * 500, 2),
    _spec("an unknown op", I8 + "frobnicate 7", 2),
    _spec("a PyTorch line for other channels", I8 + "nn.Conv2d(4, 8, 3)", 2),
    _spec("PyTorch gibberish", I8 + "nn.Conv2d(((", 2),
    _spec("PyTorch positional after keyword", I8 + "nn.Conv2d(3, 8, kernel_size=3, 2)", 2),
    _spec("PyTorch keyword repeated", I8 + "relu\nnn.Conv2d(3, 8, 3, stride=1, stride=2)", 3),
    _spec("PyTorch same padding with a stride", I8 + "nn.Conv2d(3, 8, 3, 2, 'same')", 2),
    _spec("PyTorch **kwargs", I8 + "nn.Conv2d(3, 8, **{'kernel_size': 3})", 2),
    _spec("PyTorch call 300 deep", I8 + "nn.Conv2d(3, 8, " + "(" * 300 + "3" + ")" * 300 + ")",
          2),
    _spec("PyTorch string slope", I8 + "nn.LeakyReLU('a')", 2),
    _spec("an option twice", I8 + "conv 8 3x3 stride 2 stride 3", 2),
    _spec("survival 0.5.5", I8 + "survival linear 0.5.5", 2),
    _spec("residual of another shape", I8 + "residual { conv 16 3x3 pad 1 }", 2),
    _spec("concat of other sizes", I8 + "concat { branch { conv 8 3x3 } branch { } }", 2),
    _spec("concat of one branch", I8 + "concat { branch { relu } }", 2),
    _spec("prelu with other channels", I8 + "prelu 5", 2),
    _spec("padchannels below the channels", I8 + "padchannels 1", 2),
    _spec("a five-axis volume", "input 8x8x3x3x3", 1),
]

FORM = {"h": 8, "w": 8, "c": 3}
BODIES = [
    # the JSON form, wrong
    _body("spec a number", {"spec": 5}, "spec"),
    _body("spec an array", {"spec": []}, "spec"),
    _body("spec null", {"spec": None}, "spec"),
    _body("spec true", {"spec": True}, "spec"),
    Bad("form input a string", "POST", "/api/analyze",
        json.dumps({"spec": {"input": "x", "layers": []}}).encode(), line=0),
    Bad("form layers a number", "POST", "/api/analyze",
        json.dumps({"spec": {"input": FORM, "layers": 5}}).encode(), line=0),
    Bad("form unknown op", "POST", "/api/analyze", json.dumps(
        {"spec": {"input": FORM, "layers": [{"op": "frobnicate"}]}}).encode(), line=1),
    Bad("form out as text", "POST", "/api/analyze", json.dumps(
        {"spec": {"input": FORM, "layers": [{"op": "conv", "out": "ten", "kernel": 3}]}}
    ).encode(), line=1),
    Bad("form kernel of three axes", "POST", "/api/analyze", json.dumps(
        {"spec": {"input": FORM, "layers": [{"op": "conv", "out": 8, "kernel": [1, 2, 3]}]}}
    ).encode(), line=1),
    Bad("form times 10^15", "POST", "/api/analyze", json.dumps(
        {"spec": {"input": FORM, "layers": [{"op": "repeat", "times": 10**15, "body": []}]}}
    ).encode(), line=1),
    Bad("form times 10^18", "POST", "/api/analyze", json.dumps(
        {"spec": {"input": FORM, "layers": [{"op": "repeat", "times": 10**18, "body": []}]}}
    ).encode(), parameter="spec"),  # past 2^53: refused as a number before it is read
    Bad("form huge integer", "POST", "/api/analyze", json.dumps(
        {"spec": {"input": FORM, "layers": [{"op": "fc", "out": 2**63}]}}).encode(),
        parameter="spec"),
    Bad("form Infinity", "POST", "/api/analyze", b'{"spec": {"input": {"h": 8, "w": 8, "c": 3},'
        b' "layers": [{"op": "dropout", "p": Infinity}]}}', parameter="spec"),
    Bad("form 1e400", "POST", "/api/analyze", b'{"spec": {"input": {"h": 1e400, "w": 8, "c": 3'
        b'}, "layers": []}}', parameter="spec"),
    # the options, wrong
    _body("batch as text", {"spec": I8, "batch": "5"}, "batch"),
    _body("batch 5.5", {"spec": I8, "batch": 5.5}, "batch"),
    _body("batch -1", {"spec": I8, "batch": -1}, "batch"),
    _body("batch 10^9", {"spec": I8, "batch": 10**9}, "batch"),
    _body("dtype a number", {"spec": I8, "dtype": 7}, "dtype"),
    _body("dtype float64", {"spec": I8, "dtype": "float64"}, "dtype"),
    _body("optimizer null", {"spec": I8, "optimizer": None}, "optimizer"),
    _body("aux yes", {"spec": I8, "aux": "yes"}, "aux"),
    _body("an unknown field", {"spec": I8, "<script>": 1}, "<script>"),
    _body("layer missing", {"input": "8x8x3"}, "layer", "/api/layer"),
    _body("layer input of letters", {"layer": "conv 8 3x3", "input": "axbxc"}, "input",
          "/api/layer"),
    _body("layer input negative", {"layer": "conv 8 3x3", "input": {"h": -1, "w": 8, "c": 3}},
          "input", "/api/layer"),
    Bad("layer of markup", "POST", "/api/layer", json.dumps(
        {"layer": "<svg onload=alert(1)>", "input": "8x8x3"}).encode(), line=1),
    # wrong content types and bodies
    Bad("JSON sent as text/plain", "POST", "/api/analyze", json.dumps({"spec": I8}).encode(),
        content_type="text/plain", parameter="body"),
    Bad("a form post", "POST", "/api/analyze", b"spec=input+8x8x3",
        content_type="application/x-www-form-urlencoded", parameter="body"),
    Bad("multipart", "POST", "/api/analyze", b"--x\r\nContent-Disposition: form-data; "
        b'name="spec"\r\n\r\ninput 8x8x3\r\n--x--\r\n', content_type="multipart/form-data; "
        "boundary=x", parameter="body"),
    Bad("XML", "POST", "/api/analyze", b"<spec>input 8x8x3</spec>",
        content_type="application/xml", parameter="body"),
    Bad("no content type", "POST", "/api/analyze", json.dumps({"spec": I8}).encode(),
        content_type=None, parameter="body"),
    Bad("a JSON array", "POST", "/api/analyze", b"[1, 2]", parameter="body"),
    Bad("a JSON string", "POST", "/api/analyze", b'"input 8x8x3"', parameter="body"),
    Bad("an empty body", "POST", "/api/analyze", b"", parameter="body"),
    Bad("a body of NULs", "POST", "/api/analyze", b"\x00" * 64, parameter="body"),
    Bad("a body in UTF-16", "POST", "/api/analyze", json.dumps({"spec": I8}).encode("utf-16"),
        parameter="body"),
    Bad("a body in Latin-1", "POST", "/api/analyze", '{"spec": "input 8x8x3 é"}'.encode(
        "latin-1"), parameter="body"),
    Bad("a body over the limit", "POST", "/api/analyze",
        b'{"spec": "' + b" " * LIMITS.max_body_bytes + b'"}', parameter="body", status=413),
]

#: hostile values for the query parameters of the GET routes (the API's and the pages')
QUERY_VALUES: dict[str, list[str]] = {
    "spec": ["\ud800", "%ff", "input 8x8x3\nconv ² 3x3", "<script>alert(1)</script>",
             "{{7*7}}", "input 8x8x3\x00"],
    "batch": ["1e400", "-1", "9" * 400, "NaN", "0x10", " 5 5"],
    "dtype": ["float64", "\x00", "<b>", ""],
    "optimizer": ["rmsprop", "{{x}}"],
    "aux": ["maybe", "2"],
    "input": ["-1x-1x-1", "0x0x0", "1e9x1x1", "<svg>"],
}
GET_ROUTES: dict[str, list[str]] = {
    "/api/analyze?spec=input+8x8x3": ["batch", "dtype", "optimizer", "aux"],
    "/api/analyze": ["spec"],
    "/api/models/alexnet": ["batch", "dtype", "optimizer", "aux", "input"],
    "/": ["spec", "batch", "dtype", "optimizer"],
    "/calc": ["batch", "dtype"],
    "/analyze": ["spec", "batch"],
    "/rf": ["spec", "batch", "dtype"],
}
QUERIES = [Bad(f"GET {route} {name}={value!r}", "GET", route, params={name: value},
               parameter=name if name != "spec" else None)
           for route, names in GET_ROUTES.items() for name in names
           for value in QUERY_VALUES[name][:3]]

CATALOGUE = SPECS + BODIES + QUERIES


def test_the_catalogue_is_large() -> None:
    assert len(SPECS) + len(BODIES) >= 80, len(SPECS) + len(BODIES)
    assert len({bad.name for bad in CATALOGUE}) == len(CATALOGUE)


def _send(client: TestClient, bad: Bad) -> Any:
    headers = {"Content-Type": bad.content_type} if bad.content_type else {}
    if bad.method == "GET":
        sep = "&" if "?" in bad.path else "?"
        query = "&".join(f"{k}={urllib.parse.quote(v.encode('utf-8', 'surrogatepass'))}"
                         for k, v in bad.params.items())
        return client.get(f"{bad.path}{sep}{query}")
    return client.request(bad.method, bad.path, content=bad.body, headers=headers)


def _served_normally(client: TestClient) -> None:
    """The request after: a small analysis, with its numbers right."""
    answer = client.get("/api/analyze", params={"spec": I8 + "conv 8 3x3"})
    assert answer.status_code == 200
    assert answer.json()["totals"]["macs"] == 6 * 6 * 8 * 3 * 3 * 3


def _check_page(bad: Bad, response: Any) -> None:
    """A page answers its errors in the page: the status, the parameter named, markup inert."""
    assert response.headers["content-type"].startswith("text/html"), response.headers
    text = response.text
    for value in bad.params.values():
        if "<" in value:
            assert value not in text, "markup from the query came back unescaped"
    if bad.parameter:
        assert bad.parameter in text, (bad.name, text[:300])


@pytest.mark.parametrize("bad", CATALOGUE, ids=[bad.name for bad in CATALOGUE])
def test_bad_input_is_a_4xx_naming_where(client: TestClient, error_items: Items,
                                         bad: Bad) -> None:
    started = time.monotonic()
    response = _send(client, bad)
    assert time.monotonic() - started < SECONDS, bad.name
    assert response.status_code == bad.status, (bad.name, response.text[:500])
    if not bad.path.startswith("/api/"):
        _check_page(bad, response)
    else:
        items = error_items(response.json())
        if bad.line is not None:
            assert items[0]["line"] == bad.line, items
            assert bad.line == 0 or "parameter" not in items[0], items
        if bad.parameter is not None:
            assert bad.parameter in [item.get("parameter") for item in items], items
    _served_normally(client)


@pytest.mark.parametrize("body", [m[1] for m in MALFORMED], ids=[m[0] for m in MALFORMED])
def test_issue_6_bodies_are_answered_on_time_and_the_next_is_served(client: TestClient,
                                                                    body: bytes) -> None:
    started = time.monotonic()
    response = client.post("/api/analyze", content=body, headers={"Content-Type": JSON})
    assert time.monotonic() - started < SECONDS and response.status_code == 422
    _served_normally(client)


@pytest.mark.parametrize("value", HOSTILE[:12], ids=[repr(v)[:20] for v in HOSTILE[:12]])
def test_hostile_strings_as_a_layer_name_are_refused_or_inert(client: TestClient,
                                                                value: str) -> None:
    """A name is free text: it may be accepted, but never echoed as markup or a 5xx."""
    spec = f"input 8x8x3\n{value}: conv 8 3x3\n"
    response = client.get("/", params={"spec": spec.encode("utf-8", "surrogatepass").decode(
        "utf-8", "replace")})
    assert response.status_code in {200, 422}
    assert "<script" not in response.text.split("</head>")[-1].lower()
