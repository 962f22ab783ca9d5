"""Big answers do not stall the others: pages are paged, and everything heavy is made off the
event loop, with the garbage collector kept from pausing the process on the way.

A 54-byte spec of 2,500 dense blocks unrolls to thousands of rows: made on the event loop, its
page would hold up every other request of the process for as long as it takes to render.
"""

from __future__ import annotations

import itertools
import statistics
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app import engine, zoo
from app.present.compare import block_totals
from app.present.table import build_table
from app.web.paging import PAGE_ITEMS, boundaries
from app.web.routers.compare import STAGES_SHOWN
from tests.liveserver import REPO_ROOT
from tests.loopprobe import big_spec, probe, requests_for, uncached_server

#: 54 bytes: 2,500 blocks, 5,001 rows, 7,501 rows of the calculator's table
BIG = big_spec(2500)
#: 4,991 rows, each its own box of the architecture diagram
DISTINCT = "input 64x64x3\n" + "conv 1 1x1\n" * 4990
#: 2,500 lines, each with a wrong figure written on it
CLAIMS = "input 8x8x1\nrepeat 2500 { [9x9x1] CONV: 1 3x3 filters at stride 1 pad 1\n}\n"
#: what the whole page may weigh, at most (a table page of rows with all their working)
PAGE_BYTES = 3_000_000
#: what a request of /healthz may wait while the big answers are made: generous for a loaded
#: test machine, and still far under what one big answer made on the loop would cost
PROBE_SECONDS = 1.0


def _context(response: Any) -> dict[str, Any]:
    context: dict[str, Any] = response.context
    return context


# -- pages of a long table ---------------------------------------------------------------------

@pytest.mark.parametrize("spec", [BIG, DISTINCT, CLAIMS], ids=["repeat", "distinct", "claims"])
def test_a_tiny_spec_cannot_make_a_huge_page(client: TestClient, spec: str) -> None:
    response = client.get("/", params={"spec": spec})
    assert response.status_code == 200
    assert len(response.content) < PAGE_BYTES, len(response.content)
    pager = _context(response)["pager"]
    assert pager.count > 1 and pager.first == 1 and pager.next_url is not None


def test_the_wrong_figures_listed_are_the_first_hundred(client: TestClient) -> None:
    response = client.get("/", params={"spec": CLAIMS})
    assert "2500 wrong" in response.text and "and 2,400 more wrong figures" in response.text
    listed = response.text.split('class="line-claims"')[1].split("</section>")[0]
    assert listed.count("<li>") == 100


def test_every_row_is_on_exactly_one_page(client: TestClient) -> None:
    table = build_table(engine.analyze(BIG))
    ranges: list[range] = []
    labels: list[str] = []
    number, count = 1, 1
    while number <= count:
        context = _context(client.get("/", params={"spec": BIG, "page": str(number)}))
        pager, items = context["pager"], context["table"].items
        count = pager.count
        assert pager.number == number and len(items) <= 2 * PAGE_ITEMS
        ranges.append(range(pager.first, pager.last + 1))
        labels += [type(i).__name__ + getattr(i, "gid", "") for i in items]
        number += 1
    assert [n for r in ranges for n in r] == list(range(1, len(table.items) + 1))
    assert labels == [type(i).__name__ + getattr(i, "gid", "") for i in table.items]


def test_the_pages_link_to_each_other_keeping_the_rest_of_the_url(client: TestClient) -> None:
    response = client.get("/", params={"spec": BIG, "dtype": "float16", "page": "2"})
    pager = _context(response)["pager"]
    following = urllib.parse.parse_qs(urllib.parse.urlsplit(pager.next_url).query)
    assert following["page"] == ["3"] and following["dtype"] == ["float16"]
    assert following["spec"] == [BIG]
    assert "page" not in urllib.parse.parse_qs(urllib.parse.urlsplit(pager.previous_url).query)
    assert f'href="{pager.next_url.replace("&", "&amp;")}"' in response.text
    assert 'name="page" value="2"' in response.text  # htmx's requests stay on this page


def test_a_page_past_the_last_shows_the_last(client: TestClient) -> None:
    pager = _context(client.get("/", params={"spec": BIG, "page": "999"}))["pager"]
    assert pager.number == pager.count and pager.next_url is None


@pytest.mark.parametrize("page", ["0", "-1", "two", "1e3", "9" * 12])
def test_a_page_that_is_not_a_number_is_a_422_naming_page(client: TestClient, page: str) -> None:
    response = client.get("/", params={"spec": BIG, "page": page})
    assert response.status_code == 422
    errors = _context(response)["errors"]
    assert any(e.get("parameter") == "page" for e in errors), errors


@pytest.mark.parametrize("model", ["resnet152", "densenet121", "preact_resnet"])
def test_a_zoo_model_is_one_page(client: TestClient, model: str) -> None:
    response = client.get("/", params={"spec": zoo.model_spec(model, None)})
    assert _context(response)["pager"].count == 1
    assert 'rel="next"' not in response.text


def test_pages_end_at_the_top_level_unless_a_block_is_too_long() -> None:
    items = build_table(engine.analyze(BIG)).items
    starts = boundaries(items, 10)
    assert all(not items[s].groups for s in starts)
    one_block = build_table(engine.analyze(
        "input 8x8x3\nresidual { repeat 100 { conv 3 3x3 pad 1 } }\n")).items
    starts = boundaries(one_block, 10)
    assert len(starts) > 1 and all(b - a <= 20 for a, b in itertools.pairwise(starts))


def test_the_api_is_never_paged(client: TestClient) -> None:
    answer = client.get("/api/analyze", params={"spec": BIG}).json()
    assert len(answer["layers"]) == len(engine.analyze(BIG).layers)


def test_compare_lists_the_first_stages_and_counts_the_rest(client: TestClient) -> None:
    response = client.get("/compare", params=[("item", BIG), ("item", DISTINCT)])
    assert response.status_code == 200 and len(response.content) < PAGE_BYTES
    assert response.text.count('class="more-stages"') == 2
    for spec in (BIG, DISTINCT):
        stages = len(block_totals(engine.analyze(spec)))
        assert f"and {stages - STAGES_SHOWN:,} more stages" in response.text
    undrawn = dict(_context(response)["undrawn"])
    assert set(undrawn) == {"spec 1", "spec 2"}, undrawn


def test_a_huge_diagram_is_left_out_saying_so(client: TestClient) -> None:
    response = client.get("/", params={"spec": DISTINCT})
    assert _context(response)["calc_diagram"] is None
    assert "would draw 4,991 boxes" in response.text


# -- what other requests feel, through the production server -----------------------------------

@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with uncached_server(tmp_path_factory.mktemp("loop") / "log.txt") as base:
        yield base


def test_healthz_answers_while_the_biggest_answers_are_made(server: str) -> None:
    latencies, outcomes = probe(server, list(requests_for(BIG).values()))
    assert [status for status, _, _ in outcomes] == [200] * len(outcomes), outcomes
    assert len(latencies) > 10, latencies
    assert max(latencies) < PROBE_SECONDS, (max(latencies), statistics.median(latencies))


def test_the_production_page_is_paged_too(server: str) -> None:
    with urllib.request.urlopen(server + requests_for(BIG)["page"], timeout=60) as answer:
        body = answer.read()
    assert len(body) < PAGE_BYTES and b'rel="next"' in body


def test_the_benchmark_runs_and_prints_its_table() -> None:
    result = subprocess.run([sys.executable, "benchmarks/bench_loop_latency.py", "--short"],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    for kind in ("page", "compare", "api", "latex", "all four"):
        assert f"| {kind} | 200 " in result.stdout, (kind, result.stdout)
