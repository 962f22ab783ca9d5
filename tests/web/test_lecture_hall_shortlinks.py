"""Short links: content-addressed, bounded, escaped, and kept across a restart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.web.app import create_app
from app.web.settings import Settings
from app.web.shortlinks import MAX_BYTES, ShortLinkError, ShortLinkStore, canonical, link_id

HX = {"HX-Request": "true"}
SPEC = ("input 32x32x3\nconv1: conv 16 3x3 pad 1   # trailing words kept\nrelu\n\n"
        "maxpool 2x2 stride 2\n")


def _client(data: Path, **settings: Any) -> TestClient:
    return TestClient(create_app(Settings(data_dir=data, **settings)))


def _make(client: TestClient, **fields: str) -> str:
    response = client.post("/s", data=fields, follow_redirects=False)
    assert response.status_code == 303, response.text
    location: str = response.headers["location"]
    assert location.startswith("/s/")
    return location


def test_a_short_link_round_trips_the_spec_and_options_exactly(tmp_path: Path) -> None:
    client = _client(tmp_path / "links")
    url = _make(client, spec=SPEC, dtype="float16", batch="8", optimizer="adam", flops="true")
    page = client.get(url)
    assert page.status_code == 200 and page.template.name == "shortlink.html"
    form = page.context["form"]
    assert form["spec"] == SPEC
    assert (form["dtype"], str(form["batch"]), form["optimizer"]) == ("float16", "8", "adam")
    assert form["flops"] is True and form["allops"] is False
    analysis = page.context["analysis"]
    assert analysis.options.batch == 8 and analysis.totals.params == 3 * 3 * 3 * 16 + 16
    assert f"/s/{url[3:]}" in page.text and 'class="short-link-banner"' in page.text


def test_the_same_state_always_gets_the_same_link(tmp_path: Path) -> None:
    client = _client(tmp_path / "links")
    first = _make(client, spec=SPEC)
    assert _make(client, spec=SPEC) == first
    assert _make(client, spec=SPEC.replace("\n", "\r\n")) == first  # a browser's line ends
    assert _make(client, spec=SPEC, dtype="int8") != first
    assert ShortLinkStore(tmp_path / "links", 10).count() == 2


def test_links_survive_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "links"
    url = _make(_client(data), spec=SPEC, batch="3")
    again = _client(data)  # a second app instance on the same file: a restarted server
    page = again.get(url)
    assert page.status_code == 200 and page.context["form"]["spec"] == SPEC
    assert page.context["analysis"].options.batch == 3


def test_htmx_gets_the_link_in_place(tmp_path: Path) -> None:
    response = _client(tmp_path / "l").post("/s", data={"spec": SPEC}, headers=HX)
    assert response.status_code == 200 and response.template.name == "partials/_shortlink.html"
    key = response.context["short_id"]
    assert key == link_id({"spec": SPEC, "dtype": "float32", "batch": "1", "optimizer": "sgd",
                           "aux": False, "flops": False, "allops": False})
    assert f'href="/s/{key}"' in response.text


def test_the_store_is_bounded_in_count(tmp_path: Path) -> None:
    client = _client(tmp_path / "l", shortlinks_max=2)
    a, b = _make(client, spec="input 8x8x3"), _make(client, spec="input 9x9x3")
    refused = client.post("/s", data={"spec": "input 10x10x3"}, headers=HX)
    assert refused.status_code == 422 and "shortlinks_max" in refused.text
    assert "the ones made keep working" in refused.text
    assert _make(client, spec="input 8x8x3") == a  # a link already there is still given
    assert client.get(a).status_code == client.get(b).status_code == 200  # nothing evicted


def test_the_store_is_bounded_in_bytes(tmp_path: Path) -> None:
    specs = [f"input 8x8x3\n# {'x' * 30_000} {n}\n" for n in range(4)]
    size = len(canonical({"spec": specs[0]}).encode())
    store = ShortLinkStore(tmp_path / "l", 100, max_bytes=3 * size)
    keys = [store.put({"spec": spec}) for spec in specs[:3]]
    with pytest.raises(ShortLinkError) as info:
        store.put({"spec": specs[3]})
    assert info.value.limit == "shortlinks_max_bytes"
    assert store.count() == 3 and store.stored_bytes() == 3 * size
    assert [store.get(k) for k in keys] == [{"spec": s} for s in specs[:3]]


def test_the_store_is_bounded_in_size(tmp_path: Path) -> None:
    store = ShortLinkStore(tmp_path / "l", 10)
    with pytest.raises(ShortLinkError) as info:
        store.put({"spec": "x" * MAX_BYTES})
    assert info.value.limit == "shortlink_bytes" and store.count() == 0
    # through the web a body that large is refused before it is read
    body = {"spec": "conv 8 3x3\n" * 7000}
    response = _client(tmp_path / "l").post("/s", data=body)
    assert response.status_code == 413 and store.count() == 0  # max_body_bytes


def test_bad_options_are_refused_with_their_name(tmp_path: Path) -> None:
    client = _client(tmp_path / "l")
    response = client.post("/s", data={"spec": SPEC, "batch": "0"}, headers=HX)
    assert response.status_code == 422 and "batch" in response.text
    plain = client.post("/s", data={"spec": SPEC, "dtype": "float64"})
    assert plain.status_code == 422 and plain.template.name == "error.html"


def test_a_stored_spec_is_escaped(tmp_path: Path) -> None:
    client = _client(tmp_path / "l")
    hostile = 'input 8x8x3\n</textarea><script>alert(1)</script>\n'
    page = client.get(_make(client, spec=hostile))
    assert page.status_code == 422  # the spec does not parse; it is shown, marked
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;/textarea&gt;&lt;script&gt;" in page.text
    assert page.context["form"]["spec"] == hostile


@pytest.mark.parametrize("key", ["nosuchlinkxxx", "short", "../../etc", "AAAAAAAAAAAAA"])
def test_unknown_links_are_the_404_page(tmp_path: Path, key: str) -> None:
    response = _client(tmp_path / "l").get(f"/s/{key}")
    assert response.status_code == 404


def test_the_calculator_offers_a_short_link(tmp_path: Path) -> None:
    html = _client(tmp_path / "l").get("/").text
    assert 'formaction="/s"' in html and 'hx-post="/s"' in html and 'id="short-link"' in html
