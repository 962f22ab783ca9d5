"""The per-client rate limit: token buckets, 429 with Retry-After in the error shape."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.web.app import create_app
from app.web.ratelimit import RUN_ROUTES, Buckets
from app.web.settings import Settings
from app.worker.models import RunAccepted, RunStatus

Items = Callable[[Any], list[dict[str, Any]]]
SPEC_PATH = "/api/models/alexnet/spec"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_gives_its_burst_then_its_rate() -> None:
    clock = Clock()
    buckets = Buckets(rate=2.0, burst=3, capacity=10, clock=clock)
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == pytest.approx(1 / 2.0)  # empty: one token comes in 0.5 s
    clock.now += 0.25
    assert buckets.take("a") == pytest.approx(0.25)  # half a token back, half to wait
    clock.now += 0.25
    assert buckets.take("a") == 0.0
    clock.now += 100  # refilled, but never past the burst
    assert [buckets.take("a") for _ in range(4)][-1] > 0
    assert buckets.take("b") == 0.0  # another address has its own bucket


def test_the_least_recently_seen_address_is_forgotten() -> None:
    clock = Clock()
    buckets = Buckets(rate=1.0, burst=1, capacity=2, clock=clock)
    assert buckets.take("a") == 0.0 and buckets.take("b") == 0.0
    assert buckets.take("a") > 0  # a is empty and now the most recent
    assert buckets.take("c") == 0.0  # forgets b, the least recent
    assert buckets.take("a") > 0  # a is remembered, still empty
    assert buckets.take("b") == 0.0  # b comes back full


def _client(settings: Settings, address: str = "10.0.0.1") -> TestClient:
    return TestClient(create_app(settings), client=(address, 50000))


def test_past_the_burst_a_client_gets_429_with_retry_after(error_items: Items) -> None:
    settings = Settings(rate_per_second=0.01, rate_burst=3)  # a token every 100 s
    with _client(settings) as client, _client(settings, "10.0.0.2") as other:
        assert [client.get(SPEC_PATH).status_code for _ in range(3)] == [200] * 3
        refused = client.get(SPEC_PATH)
        assert refused.status_code == 429
        # a token takes 100 s at 0.01 a second, less what has come back since the last one
        assert 95 <= int(refused.headers["retry-after"]) <= 100
        assert refused.headers["content-type"] == "application/json"
        assert "nosniff" in refused.headers["x-content-type-options"]
        item = error_items(refused.json())[0]
        assert item["limit"] == "rate_per_second" and "0.01 requests a second" in item["message"]
        assert other.get(SPEC_PATH).status_code == 200  # only that address is limited


def test_a_page_past_the_limit_gets_the_429_page() -> None:
    with _client(Settings(rate_per_second=0.1, rate_burst=1)) as client:
        assert client.get("/static/app.css").status_code == 200
        page = client.get("/")
    assert page.status_code == 429 and page.headers["content-type"].startswith("text/html")
    assert "rate_per_second" in page.text and 5 <= int(page.headers["retry-after"]) <= 10


#: the documented defaults (the test session raises the limits in the environment)
DEFAULTS = {name: Settings.model_fields[name].default
            for name in ("rate_per_second", "rate_burst", "runs_per_minute", "runs_burst")}


def test_the_defaults_are_a_lecture_hall_and_strict_runs() -> None:
    assert DEFAULTS == {"rate_per_second": 50.0, "rate_burst": 200, "runs_per_minute": 6.0,
                        "runs_burst": 6}


def test_a_lecture_hall_behind_one_address_is_served() -> None:
    """The defaults: 200 students loading the page at once, from one NAT address, are all
    served; past the burst, no more than the rate comes back."""
    with _client(Settings(**DEFAULTS)) as client:
        accepted, started = 0, time.monotonic()
        for _ in range(1000):
            if client.get(SPEC_PATH).status_code != 200:
                break
            accepted += 1
        elapsed = time.monotonic() - started
    assert accepted >= DEFAULTS["rate_burst"]
    assert accepted <= DEFAULTS["rate_burst"] + DEFAULTS["rate_per_second"] * elapsed + 1


class _NewJobs:
    """Stands in for the job queue here: every request makes a new job, which draws from the
    quota (the real queue, where stored answers draw nothing, is tested in tests/worker)."""

    def submit(self, request: object, fault: object = None,
               before_new: Callable[[], None] | None = None) -> RunAccepted:
        if before_new is not None:
            before_new()
        return RunAccepted(id="0" * 32, status="queued", token="t")

    def status(self, run_id: str) -> RunStatus:
        return RunStatus(id=run_id, status="queued")

    def close(self) -> None:
        pass


@pytest.mark.parametrize("method,path", sorted(RUN_ROUTES))
def test_real_runs_have_a_strict_limit_of_their_own(error_items: Items, method: str,
                                                     path: str) -> None:
    settings = Settings(runs_per_minute=0.6, runs_burst=2)  # a token every 100 s
    body: dict[str, Any] = ({"json": {"model": "lenet5"}} if path.startswith("/api/")
                            else {"data": {"model": "lenet5"}})
    with _client(settings) as client:
        client.app.state.runs = _NewJobs()  # type: ignore[attr-defined]
        first = [client.request(method, path, **body).status_code
                 for _ in range(2)]
        assert 429 not in first
        refused = client.request(method, path, **body)
        assert refused.status_code == 429
        assert 95 <= int(refused.headers["retry-after"]) <= 100
        if path.startswith("/api/"):
            assert error_items(refused.json())[0]["limit"] == "runs_per_minute"
        else:  # the page's own error answer
            assert "runs_per_minute" in refused.text and "text/html" in refused.headers[
                "content-type"]
        assert client.get(SPEC_PATH).status_code == 200  # other routes are still served
