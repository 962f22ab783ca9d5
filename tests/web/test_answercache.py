"""The answer cache (app.web.answercache): a repeat is the first answer, byte for byte, and
never the answer to another question; bounded, LRU, safe under threads; ETag and 304."""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import combinations
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx2 import Response

from app import zoo
from app.examples import ALEXNET_SLIDE
from app.web.answercache import (
    ENTRY_OVERHEAD,
    KEY_HEADERS,
    Answer,
    AnswerCache,
    CachedRoute,
    etag_of,
)
from app.web.app import create_app
from app.web.settings import Settings
from tests.web.conftest import SMALL_SPEC, UNLIMITED

HX = {"HX-Request": "true"}
#: the slide's first lines with claims in brackets, one right and one wrong
CLAIMED = "input 227x227x3\nconv 96 11x11 stride 4 [55x55x96]\n"
WRONG_CLAIM = "input 227x227x3\nconv 96 11x11 stride 4 [54x54x96]\n"

#: (method, url, json body, headers): groups of requests that differ in one thing each, so
#: their answers differ; a key that missed that thing would answer one with the other's body
Req = tuple[str, str, Any, dict[str, str]]


def _get(path: str, params: dict[str, str] | None = None, headers: dict[str, str] | None = None
         ) -> Req:
    return ("GET", path + ("?" + urlencode(params) if params else ""), None, headers or {})


def _post(path: str, body: Any) -> Req:
    return ("POST", path, body, {})


GROUPS: dict[str, list[Req]] = {
    "api options": [_get("/api/analyze", {"spec": SMALL_SPEC} | extra) for extra in (
        {}, {"dtype": "float16"}, {"batch": "8"}, {"optimizer": "adam"})],
    "post options": [_post("/api/analyze", {"spec": SMALL_SPEC} | extra) for extra in (
        {}, {"dtype": "float16"}, {"batch": 8}, {"optimizer": "adam"},
        {"spec": CLAIMED})],
    "post aux": [_post("/api/analyze", {"spec": zoo.model_spec("googlenet"), "aux": aux})
                 for aux in (False, True)],
    "formats": [_get("/api/models/alexnet"),
                _get("/api/models/alexnet", headers={"Accept": "text/csv"}),
                _get("/api/models/alexnet", {"format": "md"}),
                _get("/api/models/alexnet", {"batch": "4"}),
                _get("/api/models/alexnet", {"input": "320x320x3"})],
    "calculator": [_get("/", {"spec": SMALL_SPEC}),
                   _get("/", {"spec": SMALL_SPEC}, HX),
                   _get("/", {"spec": SMALL_SPEC, "flops": "on"}, HX),
                   _get("/", {"spec": SMALL_SPEC, "allops": "on"}, HX),
                   _get("/", {"spec": SMALL_SPEC, "dtype": "float16"}, HX),
                   _get("/", {"spec": CLAIMED}, HX),
                   _get("/", {"spec": WRONG_CLAIM}, HX),
                   _get("/calc", {"spec": ALEXNET_SLIDE}, HX)],
    # a history restore is the full page again, not the fragment
    "restore": [_get("/", {"spec": SMALL_SPEC}, HX),
                _get("/", {"spec": SMALL_SPEC}, HX | {"HX-History-Restore-Request": "true"})],
    "layer quiz": [_get("/layer"), _get("/layer", {"quiz": "true"}),
                   _get("/layer", {"quiz": "true", "a_out": "55x55x96"}),
                   _get("/layer", {"quiz": "true", "a_out": "54x54x96"})],
    "model page": [_get("/models/alexnet"), _get("/models/alexnet", headers=HX),
                   _get("/models/alexnet", {"batch": "8"}, HX),
                   _get("/models/alexnet", {"budget": "1", "unit": "GB"}, HX)],
    "exports": [_get("/api/export/analyze", {"spec": SMALL_SPEC, "format": fmt})
                for fmt in ("csv", "md", "latex")],
    "rf": [_get("/rf", {"spec": SMALL_SPEC, "row": row}) for row in ("1", "2")],
    "pages": [_get("/lecture"), _get("/compare", {"preset": "inception"}),
              _get("/models")],
}
REQUESTS = [r for group in GROUPS.values() for r in group]


def _settings(**changes: Any) -> Settings:
    return UNLIMITED.model_copy(update=changes)


@pytest.fixture(scope="module")
def cached_app() -> FastAPI:
    return create_app(_settings())


@pytest.fixture(scope="module")
def plain() -> Iterator[TestClient]:
    """A client of an app with the cache off: the answers a repeat must equal."""
    with TestClient(create_app(_settings(answer_cache_entries=0))) as client:
        yield client


@pytest.fixture()
def cached(cached_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(cached_app) as client:
        yield client


def _send(client: TestClient, req: Req) -> Response:
    method, url, body, headers = req
    return client.request(method, url, json=body, headers=headers)


def _headers(response: Response) -> list[tuple[str, str]]:
    """The headers, less ``Server-Timing`` (it differs between any two answers)."""
    return [(k, v) for k, v in response.headers.multi_items() if k != "server-timing"]


def _stats(app: FastAPI) -> Any:
    return app.state.answer_cache.stats()


def test_a_repeat_is_the_uncached_answer_byte_for_byte(cached_app: FastAPI, cached: TestClient,
                                                       plain: TestClient) -> None:
    for req in REQUESTS:
        cached_app.state.answer_cache.clear()
        before = _stats(cached_app)
        first, again, off = _send(cached, req), _send(cached, req), _send(plain, req)
        after = _stats(cached_app)
        assert first.status_code == 200, (req, first.text[:300])
        assert (after.misses - before.misses, after.hits - before.hits) == (1, 1), req
        assert first.content == again.content == off.content, req
        assert _headers(first) == _headers(again) == _headers(off), req
        assert "cache;desc=hit" in again.headers["server-timing"], req
        assert "cache" not in off.headers.get("server-timing", ""), req
        assert again.headers["content-security-policy"] == off.headers["content-security-policy"]


def test_different_options_get_different_answers(cached: TestClient, plain: TestClient) -> None:
    """Every request of a group twice, in turn, through the cache: each answer is the one the
    uncached app gives that request, and within a group no two answers are alike."""
    for name, group in GROUPS.items():
        expected = [_send(plain, req).content for req in group]
        assert all(a != b for a, b in combinations(expected, 2)), name
        for _ in range(2):
            for req, want in zip(group, expected, strict=True):
                assert _send(cached, req).content == want, (name, req)


def test_hits_and_misses_are_counted(cached_app: FastAPI, cached: TestClient) -> None:
    cached_app.state.answer_cache.clear()
    before = _stats(cached_app)
    body = {"spec": SMALL_SPEC, "batch": 3}
    for _ in range(5):
        assert cached.post("/api/analyze", json=body).status_code == 200
    cached.post("/api/analyze", json=body | {"batch": 2})
    after = _stats(cached_app)
    assert (after.misses - before.misses, after.hits - before.hits) == (2, 4)
    assert after.stored - before.stored == 2 and after.entries == 2


def test_errors_are_not_kept_and_stay_errors(cached_app: FastAPI, cached: TestClient) -> None:
    before = _stats(cached_app)
    for _ in range(3):
        bad = cached.post("/api/analyze", json={"spec": "input 227x227x3\nconv 0 11x11\n"})
        assert bad.status_code == 422 and "errors" in bad.json()
        page = cached.get("/", params={"spec": "conv 96 11x11"}, headers=HX)
        # htmx gets a broken spec's problems with 200, marked never to be kept
        assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
        assert "problem" in page.text
    assert _stats(cached_app).stored == before.stored


def test_the_setting_turns_it_off() -> None:
    for off in ({"answer_cache_entries": 0}, {"answer_cache_bytes": 0}):
        app = create_app(_settings(**off))
        assert app.state.answer_cache is None
        with TestClient(app) as client:
            again = [client.post("/api/analyze", json={"spec": SMALL_SPEC}) for _ in range(2)]
            assert again[0].content == again[1].content
            assert "cache" not in again[1].headers.get("server-timing", "")


def test_the_app_holds_to_its_entry_bound() -> None:
    app = create_app(_settings(answer_cache_entries=2))
    with TestClient(app) as client:
        for batch in (1, 2, 3):
            client.post("/api/analyze", json={"spec": SMALL_SPEC, "batch": batch})
        stats = _stats(app)
        assert (stats.entries, stats.evicted) == (2, 1)
        client.post("/api/analyze", json={"spec": SMALL_SPEC, "batch": 1})  # dropped: a miss
        assert _stats(app).misses == stats.misses + 1


def test_the_app_holds_to_its_byte_bound() -> None:
    small = len(TestClient(create_app(_settings())).post(
        "/api/analyze", json={"spec": SMALL_SPEC}).content)
    app = create_app(_settings(answer_cache_bytes=small * 3))
    with TestClient(app) as client:
        large = client.post("/api/analyze", json={"spec": zoo.model_spec("resnet152")})
        assert large.status_code == 200 and len(large.content) > small * 3
        assert _stats(app).stored == 0  # larger than the whole cache: not kept
        for batch in range(1, 6):
            client.post("/api/analyze", json={"spec": SMALL_SPEC, "batch": batch})
        stats = _stats(app)
        assert stats.bytes <= small * 3 and stats.evicted >= 2 and stats.entries >= 1


def _answer(n: int, size: int) -> Answer:
    return Answer(200, ((b"content-type", b"text/plain"),), bytes([n % 256]) * size)


def test_lru_drops_the_least_recently_used() -> None:
    cache = AnswerCache(entries=3, max_bytes=10**6)
    for n in range(3):
        cache.put(bytes([n]), _answer(n, 10))
    assert cache.get(b"\0") is not None  # 0 is now the most recent; 1 the least
    cache.put(b"\3", _answer(3, 10))
    assert cache.get(b"\1") is None
    assert [cache.get(bytes([n])) is not None for n in (0, 2, 3)] == [True, True, True]
    stats = cache.stats()
    assert (stats.entries, stats.evicted, stats.hits, stats.misses) == (3, 1, 4, 1)


def test_lru_counts_bytes_and_refuses_what_cannot_fit() -> None:
    one = _answer(0, 1000).size
    assert one == 1000 + len(b"content-type") + len(b"text/plain") + ENTRY_OVERHEAD
    cache = AnswerCache(entries=100, max_bytes=one * 2)
    assert not cache.put(b"big", _answer(0, one * 2))
    for n in range(5):
        assert cache.put(bytes([n]), _answer(n, 1000))
        assert cache.stats().bytes <= one * 2
    assert cache.stats().entries == 2 and cache.stats().bytes == one * 2
    cache.put(b"\4", _answer(9, 1000))  # replacing a key does not count it twice
    assert cache.stats().bytes == one * 2 and cache.get(b"\4") == _answer(9, 1000)


def test_lru_under_threads_keeps_its_bounds_and_its_answers() -> None:
    cache = AnswerCache(entries=50, max_bytes=60 * (100 + 22 + ENTRY_OVERHEAD))
    wrong: list[bytes] = []
    gets = 0

    def hammer(seed: int) -> int:
        rng, done = random.Random(seed), 0
        for _ in range(3000):
            n = rng.randrange(120)
            key = n.to_bytes(2, "big")
            if rng.random() < 0.5:
                cache.put(key, _answer(n, 100))
            else:
                done += 1
                got = cache.get(key)
                if got is not None and got != _answer(n, 100):
                    wrong.append(key)
        return done

    with ThreadPoolExecutor(8) as pool:
        gets = sum(pool.map(hammer, range(8)))
    stats = cache.stats()
    assert not wrong
    assert stats.hits + stats.misses == gets
    assert stats.entries <= 50 and stats.bytes == stats.entries * _answer(0, 100).size


def test_concurrent_requests_each_get_their_own_answer(plain: TestClient) -> None:
    app = create_app(_settings())
    reqs = [_post("/api/analyze", {"spec": SMALL_SPEC, "batch": b}) for b in (1, 2, 3, 4)]
    reqs += [_get("/", {"spec": SMALL_SPEC, "batch": str(b)}, HX) for b in (1, 2)]
    want = [_send(plain, r).content for r in reqs]
    order = [i % len(reqs) for i in range(96)]
    random.Random(7).shuffle(order)
    with TestClient(app) as client, ThreadPoolExecutor(12) as pool:
        got = list(pool.map(lambda i: (i, _send(client, reqs[i]).content), order))
    assert all(body == want[i] for i, body in got)
    stats = _stats(app)
    assert stats.hits + stats.misses == len(order) and stats.entries == len(reqs)
    assert stats.hits >= len(order) - 12 * len(reqs)


# -- ETag and 304 ----------------------------------------------------------------------------

def test_a_get_answer_has_an_etag_and_if_none_match_answers_304(cached: TestClient,
                                                                plain: TestClient) -> None:
    for client in (cached, plain):
        first = client.get("/models/alexnet", headers=HX)
        tag = first.headers["etag"]
        assert tag == etag_of(first.content)
        again = client.get("/models/alexnet", headers=HX | {"If-None-Match": tag})
        assert again.status_code == 304 and again.content == b""
        assert again.headers["etag"] == tag and again.headers["vary"] == "HX-Request"
        assert "frame-ancestors 'none'" in again.headers["content-security-policy"]
        assert again.headers["x-content-type-options"] == "nosniff"
        other = client.get("/models/alexnet", headers={"If-None-Match": tag})  # the full page
        assert other.status_code == 200 and other.headers["etag"] != tag
        stale = client.get("/models/alexnet", headers=HX | {"If-None-Match": '"old", W/' + tag})
        assert stale.status_code == 304
        assert client.get("/models/alexnet", headers=HX | {
            "If-None-Match": '"old"'}).status_code == 200


def test_posts_and_errors_get_no_etag(cached: TestClient) -> None:
    assert "etag" not in cached.post("/api/analyze", json={"spec": SMALL_SPEC}).headers
    assert "etag" not in cached.get("/api/models/nosuch").headers


# -- the key covers every header the routes read -----------------------------------------------

#: routers that are not cached (state: runs, short links, live sessions; uploads) may read
#: what they like
#: the routers of state and uploads, which the answer cache never serves (files or packages)
UNCACHED = ("routers/runs.py", "routers/importer.py", "routers/shortlinks.py", "routers/live",
            "answercache.py")  # the cache itself reads If-None-Match


def test_every_request_header_the_cached_routes_read_is_in_the_key() -> None:
    web = Path(__file__).resolve().parents[2] / "app" / "web"
    read: set[str] = set()
    for path in web.rglob("*.py"):
        if not path.relative_to(web).as_posix().startswith(UNCACHED):
            read |= {m.lower() for m in re.findall(
                r"request\.headers(?:\.get\(|\[)\s*[\"']([\w-]+)", path.read_text())}
    assert read and read <= set(KEY_HEADERS), read - set(KEY_HEADERS)


def test_the_routers_of_state_and_uploads_are_not_cached() -> None:
    from app.web.routers import (
        api,
        compare,
        diagrams,
        exports,
        importer,
        lecture_pages,
        models_pages,
        pages,
        runs,
        shortlinks,
    )
    from app.web.routers import zoo as zoo_api

    for module in (api, compare, diagrams, exports, lecture_pages, models_pages, pages, zoo_api):
        assert module.router.routes and all(
            isinstance(r, CachedRoute) for r in module.router.routes), module.__name__
    for module in (importer, runs, shortlinks):
        assert not any(isinstance(r, CachedRoute) for r in module.router.routes), module


# -- requests for an answer being made wait for it ----------------------------------------------

def _hold_engine(monkeypatch: pytest.MonkeyPatch, fail_first: bool) -> tuple[
        threading.Event, list[int]]:
    """Make ``engine.analyze`` wait for the event; the calls made (and, if asked, let the first
    call fail once released)."""
    import app.engine as engine

    real, release, calls = engine.analyze, threading.Event(), []

    def held(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            release.wait(10)
            if fail_first:
                raise RuntimeError("the first call fails")
        return real(*args, **kwargs)

    monkeypatch.setattr(engine, "analyze", held)
    return release, calls


def _wait_for(predicate: Any, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@pytest.mark.parametrize("fail_first", [False, True])
def test_requests_for_an_answer_being_made_wait_for_it(
        monkeypatch: pytest.MonkeyPatch, plain: TestClient, fail_first: bool) -> None:
    body = {"spec": SMALL_SPEC, "batch": 5}
    want = plain.post("/api/analyze", json=body).content
    app = create_app(_settings())
    release, calls = _hold_engine(monkeypatch, fail_first)
    with TestClient(app, raise_server_exceptions=False) as client, ThreadPoolExecutor(8) as pool:
        answers = [pool.submit(client.post, "/api/analyze", json=body) for _ in range(8)]
        try:  # the maker's call has begun (on its thread), the seven others wait for it
            _wait_for(lambda: _stats(app).joined == 7 and len(calls) >= 1)
            assert len(calls) == 1  # one request makes it, seven wait
        finally:
            release.set()
        got = [a.result(10) for a in answers]
    statuses = sorted(r.status_code for r in got)
    if fail_first:  # the maker's 500; the others then made their own
        assert statuses == [200] * 7 + [500] and len(calls) >= 2
    else:
        assert statuses == [200] * 8 and len(calls) == 1
        assert sum("cache;desc=joined" in r.headers.get("server-timing", "") for r in got) == 7
    assert all(r.content == want for r in got if r.status_code == 200)
