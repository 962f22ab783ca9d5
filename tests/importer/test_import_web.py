"""POST /api/import and the /import page, through FastAPI's test client.

Counts in the answers are cross-checked against the torch model (torchvision) or written as the
arithmetic (small ONNX graphs made with onnx.helper); every error answer has the one shape.
"""

from __future__ import annotations

import io
import re
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
from fastapi.testclient import TestClient  # noqa: E402
from onnx import TensorProto, helper  # noqa: E402

from app.importer.tv import CLASSIFIERS, build  # noqa: E402
from app.web.app import create_app  # noqa: E402
from app.web.settings import Settings  # noqa: E402

ERROR_KEYS = {"line", "message", "layer", "limit", "parameter"}


class ImportSettings(Settings):
    """The app's settings with the upload limit the importer reads (max_import_bytes)."""

    max_import_bytes: int = 64 * 1024 * 1024


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(create_app()) as c:
        yield c


def errors(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 422, response.text
    body = response.json()
    assert set(body) == {"errors"} and body["errors"]
    for item in body["errors"]:
        assert set(item) <= ERROR_KEYS and item["message"].strip()
    return list(body["errors"])


def small_onnx(op: str = "Relu", kernel: int = 3) -> bytes:
    """conv 8 3x3 (the kernel_shape attribute says ``kernel``) and ``op``, on 16x16x3."""
    w = helper.make_tensor("w", TensorProto.FLOAT, [8, 3, 3, 3], [0.0] * (8 * 3 * 3 * 3))
    b = helper.make_tensor("b", TensorProto.FLOAT, [8], [0.0] * 8)
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], name="/conv/Conv",
                              kernel_shape=[kernel, kernel], pads=[1, 1, 1, 1]),
             helper.make_node(op, ["c"], ["y"], name=f"/act/{op}")]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], initializer=[w, b])
    return helper.make_model(graph).SerializeToString()


def test_a_torchvision_model_imports_with_torch_s_parameter_count(client: TestClient) -> None:
    r = client.post("/api/import", json={"torchvision": "resnet18", "size": 64})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["refused"] == [] and "layer2_0: residual {" in body["spec"]
    assert body["analysis"]["totals"]["params"] == sum(
        p.numel() for p in build("resnet18").parameters())
    again = client.post("/api/analyze", json={"spec": body["spec"]}).json()
    assert again["totals"] == body["analysis"]["totals"]


@pytest.mark.parametrize("name", ["vit_b_16", "maxvit_t", "swin_v2_t"])
def test_a_transformer_by_name_is_refused_node_by_node(client: TestClient, name: str) -> None:
    r = client.post("/api/import", json={"torchvision": name})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["refused"] and body["analysis"] is None
    assert all(item["node"] and item["reason"] for item in body["refused"])
    assert "# REFUSED " in body["spec"]


def test_no_process_to_import_in_is_a_503_not_a_500(client: TestClient,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    def cannot_fork(*_: Any) -> Any:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr("app.importer.pool.run_in_child", cannot_fork)
    r = client.post("/api/import", json={"torchvision": "resnet18"})
    assert r.status_code == 503 and r.headers["retry-after"]
    assert "no import process could be started" in r.json()["errors"][0]["message"]


def test_an_onnx_upload_is_analysed(client: TestClient) -> None:
    r = client.post("/api/import", files={"file": ("net.onnx", small_onnx())})
    assert r.status_code == 200, r.text
    totals = r.json()["analysis"]["totals"]
    assert totals["params"] == 3 * 3 * 3 * 8 + 8
    assert totals["macs"] == 16 * 16 * 8 * 3 * 3 * 3


def test_a_real_export_uploads_within_the_import_limit() -> None:
    model = build("squeezenet1_0")
    f = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(model, (torch.zeros(1, 3, 64, 64),), f, dynamo=False)
    data = f.getvalue()
    assert len(data) > 2**20  # megabytes: past the 64 KiB body limit of the other routes
    # the other routes keep their 64 KiB body limit; the import routes take max_import_bytes
    settings = ImportSettings(max_import_bytes=len(data) + 2**16)
    assert settings.max_body_bytes < len(data)
    with TestClient(create_app(settings)) as c:
        r = c.post("/api/import", files={"file": ("squeezenet.onnx", data)})
        assert r.status_code == 200, r.text
        assert r.json()["analysis"]["totals"]["params"] == sum(
            p.numel() for p in model.parameters())
        refused = c.post("/api/analyze", content=data,
                         headers={"Content-Type": "application/json"})
        assert refused.status_code == 413
        assert refused.json()["errors"][0]["limit"] == "max_body_bytes"
    small = ImportSettings(max_import_bytes=2**20)
    with TestClient(create_app(small)) as c:
        r = c.post("/api/import", files={"file": ("squeezenet.onnx", data)})
        assert r.status_code == 413
        item = r.json()["errors"][0]
        assert item["limit"] == "max_import_bytes" and f"{2**20:,} bytes" in item["message"]


def test_refused_nodes_are_listed_and_the_spec_is_not_analysed(client: TestClient) -> None:
    r = client.post("/api/import", files={"file": ("odd.onnx", small_onnx("Sin"))})
    assert r.status_code == 200
    body = r.json()
    assert body["refused"] == [{"node": "act", "target": "Sin", "reason": "no spec op for it"}]
    assert body["analysis"] is None and "# REFUSED act (Sin)" in body["spec"]


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"files": {"file": ("x.onnx", b"\x08\x07garbage")}}, "not a valid ONNX file"),
    ({"files": {"file": ("x.onnx", small_onnx()[:40])}}, "not a valid ONNX file"),
    ({"files": {"other": ("x.onnx", b"")}}, "multipart field 'file'"),
    ({"json": {"torchvision": "resnet19"}}, "unknown torchvision model 'resnet19'"),
    ({"json": {"torchvision": "resnet18", "size": 5}}, "size"),
    ({"json": {"model": "resnet18"}}, "torchvision"),
    ({"json": [1, 2]}, "must be a JSON object"),
    ({"content": b"{not json", "headers": {"content-type": "application/json"}}, "not valid JSON"),
    ({"content": b"", "headers": {"content-type": "application/json"}}, "body is empty"),
])
def test_bad_requests_answer_422_in_the_one_shape(client: TestClient, kwargs: dict[str, Any],
                                                  match: str) -> None:
    items = errors(client.post("/api/import", **kwargs))
    assert match in items[0]["message"]


def test_an_absurd_kernel_is_the_engine_s_422(client: TestClient) -> None:
    items = errors(client.post("/api/import", files={"file": ("k.onnx", small_onnx(kernel=99))}))
    assert items[0]["limit"] == "max_kernel"


def test_the_route_is_documented(client: TestClient) -> None:
    op = client.get("/openapi.json").json()["paths"]["/api/import"]["post"]
    assert set(op["requestBody"]["content"]) == {"multipart/form-data", "application/json"}
    assert "422" in op["responses"] and "200" in op["responses"]
    assert "/import" not in client.get("/openapi.json").json()["paths"]


# -- the page --------------------------------------------------------------------------------

def _no_inline_code(html: str) -> None:
    assert " style=" not in html
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert not re.search(r"\son[a-z]+=", html)


def test_the_page_offers_every_torchvision_name_and_an_upload(client: TestClient) -> None:
    r = client.get("/import")
    assert r.status_code == 200
    for name in CLASSIFIERS:
        assert f'<option value="{name}"' in r.text
    assert 'enctype="multipart/form-data"' in r.text and 'type="file"' in r.text
    _no_inline_code(r.text)


def test_the_page_opens_the_result_in_the_calculator(client: TestClient) -> None:
    r = client.post("/import", data={"torchvision": "mobilenet_v3_small"})
    assert r.status_code == 200 and '<option value="mobilenet_v3_small" selected>' in r.text
    _no_inline_code(r.text)
    form = re.search(r'<form class="import-open" method="get" action="/">(.*?)</form>',
                     r.text, re.S)
    assert form is not None and 'name="spec"' in form.group(1)
    spec = r.context["result"].spec
    params = f"{sum(p.numel() for p in build('mobilenet_v3_small').parameters()):,}"
    assert params in r.text
    calc = client.get("/", params={"spec": spec})
    assert calc.status_code == 200 and params in calc.text


def test_the_page_lists_every_refused_node(client: TestClient) -> None:
    r = client.post("/import", files={"file": ("odd.onnx", small_onnx("Sin"))})
    assert r.status_code == 200
    assert "1 node refused" in r.text and "<code>act</code> (Sin)" in r.text
    r = client.post("/import", data={"torchvision": "shufflenet_v2_x1_0"})
    assert r.status_code == 200 and not r.context["result"].refused
    assert "split {" in r.context["result"].spec and "node refused" not in r.text


def test_the_page_shows_why_a_file_could_not_be_read(client: TestClient) -> None:
    r = client.post("/import", files={"file": ("x.onnx", b"\x08\x07garbage")})
    assert r.status_code == 422 and "not a valid ONNX file" in r.text


def test_the_web_app_loads_no_torch_or_onnx_even_after_imports() -> None:
    """Imports run in child processes: the web process never loads torch, torchvision or
    onnx, before or after a torchvision and an ONNX import."""
    import subprocess
    import sys

    code = ("import sys; from fastapi.testclient import TestClient; from app.web.app import "
            "create_app; c = TestClient(create_app()); assert c.get('/import').status_code == "
            "200; r = c.post('/api/import', json={'torchvision': 'alexnet', 'size': 64}); "
            "assert r.status_code == 200, r.text; r = c.post('/api/import', files={'file': "
            f"('n.onnx', {small_onnx()!r})}}); assert r.status_code == 200, r.text; "
            "bad = [m for m in ('torch', 'torchvision', 'onnx') if m in sys.modules]; "
            "assert not bad, bad")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=240)
    assert done.returncode == 0, done.stderr


def test_nested_or_huge_json_is_a_422(client: TestClient) -> None:
    for body in (b"[" * 40 + b"]" * 40, b'{"torchvision": ' + b"9" * 100 + b"}"):
        items = errors(client.post("/api/import", content=body,
                                   headers={"content-type": "application/json"}))
        assert "JSON object" in items[0]["message"] or "torchvision" in items[0]["message"]
