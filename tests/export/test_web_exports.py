"""The export routes and the format negotiation of the JSON routes, through the app."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from app.export import FORMATS
from app.web.app import create_app

SPEC = "input 32x32x3\nconv1: conv 8 3x3\nrelu\nfc 10\n"


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(create_app())


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_every_format_downloads_with_its_type_and_name(client: TestClient, fmt: str) -> None:
    f = FORMATS[fmt]
    r = client.get("/api/export/analyze", params={"spec": SPEC, "format": fmt})
    assert r.status_code == 200
    assert r.headers["content-type"].split(";")[0] == f.media_type
    assert r.headers["content-disposition"] == f'attachment; filename="analysis{f.suffix}"'
    m = client.get(f"/api/export/models/vgg16?format={fmt}&input=64x64x3&dtype=float16")
    assert m.status_code == 200
    assert m.headers["content-disposition"] == f'attachment; filename="vgg16{f.suffix}"'
    if fmt != "json":
        assert "float16 (2 bytes a value)" in m.text


def test_accept_header_picks_the_format(client: TestClient) -> None:
    for path in ("/api/models/alexnet", f"/api/analyze?spec={quote(SPEC)}"):
        r = client.get(path, headers={"Accept": "application/x-latex"})
        assert r.headers["content-type"].startswith("application/x-latex")
        assert r.headers["content-disposition"].startswith("inline;")
        assert r.text.lstrip().startswith("%")
        assert "application/json" in client.get(path).headers["content-type"]
        assert client.get(path, headers={"Accept": "application/json"}).json()["layers"]
    r = client.get("/api/export/models/alexnet", headers={"Accept": "text/x-python"})
    assert "class AlexNet(nn.Module):" in r.text


def test_the_query_format_wins_over_accept(client: TestClient) -> None:
    r = client.get("/api/models/lenet5?format=csv", headers={"Accept": "text/markdown"})
    assert r.headers["content-type"].startswith("text/csv")


def test_csv_from_the_api_is_the_same_numbers(client: TestClient) -> None:
    data = client.get("/api/models/alexnet").json()
    csv = client.get("/api/models/alexnet?format=csv").text
    total = csv.strip().splitlines()[-1].split(",")
    header = next(line for line in csv.splitlines() if line.startswith("index,")).split(",")
    assert int(total[header.index("params")]) == data["totals"]["params"]
    assert int(total[header.index("macs")]) == data["totals"]["macs"]


@pytest.mark.parametrize("path", ["/api/export/models/alexnet?format=xlsx",
                                  f"/api/export/analyze?format=xlsx&spec={quote(SPEC)}",
                                  "/api/models/alexnet?format=xlsx"])
def test_an_unknown_format_is_a_422_in_the_error_shape(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 422
    (item,) = r.json()["errors"]
    assert item["line"] == 0 and "unknown format 'xlsx'" in item["message"]


def test_errors_keep_the_one_shape(client: TestClient) -> None:
    r = client.get("/api/export/models/nope?format=csv")
    assert r.status_code == 404 and r.json()["errors"][0]["message"].startswith("no zoo model")
    r = client.get("/api/export/analyze", params={"spec": "input 8x8x3\nconv 4 9x9\n",
                                                  "format": "md"})
    assert r.status_code == 422 and r.json()["errors"][0]["line"] == 2


def test_openapi_documents_the_export_routes(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/api/export/analyze", "/api/export/models/{model_id}"):
        params = {p["name"] for p in paths[path]["get"]["parameters"]}
        assert "format" in params
        assert set(paths[path]["get"]["responses"]["200"]["content"]) >= {"text/csv",
                                                                          "text/x-python"}
