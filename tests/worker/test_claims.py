"""The claims both stores keep: of N concurrent adds of one key exactly one wins, a
compare-and-set succeeds once, and an expired claim is free again."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from app.worker.claims import Claims, RedisClaims, SqlClaims
from tests.worker.conftest import RedisServer


@pytest.fixture(params=["redis", "sqlite"])
def claims(request: pytest.FixtureRequest, tmp_path: Path) -> Claims:
    if request.param == "sqlite":
        return SqlClaims(f"sqlite:///{tmp_path / 'results.sqlite'}")
    server: RedisServer = request.getfixturevalue("redis_server")
    store = RedisClaims(server.url(2))
    store.client.flushdb()
    return store


def _at_once(n: int, call: Callable[[int], bool]) -> list[bool]:
    barrier, out = threading.Barrier(n), [False] * n

    def one(i: int) -> None:
        barrier.wait()
        out[i] = call(i)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def test_of_eight_concurrent_adds_one_wins(claims: Claims) -> None:
    won = _at_once(8, lambda i: claims.add("q.same", f"run{i}", 60))
    assert won.count(True) == 1
    assert claims.get("q.same") == f"run{won.index(True)}"


def test_a_compare_and_set_moves_a_claim_once(claims: Claims) -> None:
    claims.put("cur.r", "0:r", 60)
    moved = _at_once(8, lambda i: claims.replace("cur.r", "0:r", f"1:t{i}", 60))
    assert moved.count(True) == 1
    assert claims.get("cur.r") == f"1:t{moved.index(True)}"
    assert not claims.replace("cur.r", "0:r", "1:late", 60)


def test_an_expired_claim_is_gone_and_free_again(claims: Claims) -> None:
    assert claims.add("beat.t", "w1", 1.0)
    assert claims.get("beat.t") == "w1" and not claims.add("beat.t", "w2", 1.0)
    time.sleep(1.2)
    assert claims.get("beat.t") is None
    assert claims.add("beat.t", "w2", 1.0) and claims.get("beat.t") == "w2"
