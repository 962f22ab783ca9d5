"""A redis-server for the tests that need a real one (the worker's queue, live sessions shared by
several web processes): the same server the scripts and benchmarks start
(``app.worker.local.redis_server``), held for the whole session by the ``redis_server`` fixture
of tests/conftest.py."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest


@dataclass(frozen=True)
class RedisServer:
    port: int

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"


def serve() -> Iterator[RedisServer]:
    """Starts redis-server on a free loopback port and stops it when the generator closes; a
    machine without it fails the test, saying how to install it."""
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed: run .ci/setup.d/30-redis.sh")
    from app.worker.local import redis_server  # Celery, only for the tests that use it

    with redis_server() as url:
        port = urlsplit(url).port
        assert port is not None, url
        yield RedisServer(port)
