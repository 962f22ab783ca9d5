"""Settings for the whole test session, and the test lanes.

Every test client and test server sends from one address, and the worker's tests start dozens
of real runs a minute: far past the per-client rate limits (``app/web/ratelimit.py``), which
exist to stop exactly that. The limits are raised here, in the environment the app's settings
and the servers the tests start read; tests/web/test_ratelimit.py checks the limits themselves
with settings of their own, and the defaults as documented.

Lanes: a test is marked by where it lives (``browser``: Chromium; ``worker``: Celery, Redis and
real runs; ``torch``: real modules) and ``slow`` when it is one of those or a module listed in
SLOW, so ``pytest -m "not slow"`` is the quick loop while editing and CI runs every lane.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import redisserver

for name in ("RATE_PER_SECOND", "RATE_BURST", "RUNS_PER_MINUTE", "RUNS_BURST", "LIVE_PER_HOUR",
             "LIVE_BURST"):
    os.environ.setdefault(f"ARCHCALC_{name}", "1000000000")

TESTS = Path(__file__).resolve().parent
#: folders whose every test belongs to a lane of the same name
LANES = ("browser", "worker", "torch")
#: lanes whose tests are slow as a whole (each starts browsers, servers or workers)
SLOW_LANES = frozenset({"browser", "worker"})
#: other modules that take long: whole-app fuzzing, builds, real servers, every zoo model in torch
SLOW = frozenset({
    "test_schemathesis.py", "test_wheel.py", "test_containers.py", "test_benchmarks_run.py",
    "test_mutations.py", "test_transport.py", "test_server.py", "test_serve.py",
    "test_torch_zoo.py", "test_torch_bench.py", "test_torch_random.py",
})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(str(item.fspath)).resolve()
        lane = path.relative_to(TESTS).parts[0] if path.is_relative_to(TESTS) else ""
        if lane in LANES:
            item.add_marker(getattr(pytest.mark, lane))
        if lane in SLOW_LANES or path.name in SLOW:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[redisserver.RedisServer]:
    """One redis-server for the session, for any test that needs a real one."""
    yield from redisserver.serve()
