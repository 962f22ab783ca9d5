"""Settings for the whole test session, and the test lanes.

Every test client and test server sends from one address, and the worker's tests start dozens
of real runs a minute: far past the per-client rate limits (``app/web/ratelimit.py``), which
exist to stop exactly that. The limits are raised here, in the environment the app's settings
and the servers the tests start read; tests/web/test_ratelimit.py checks the limits themselves
with settings of their own, and the defaults as documented.

Lanes: a test is marked by where it lives (``browser``: Chromium; ``worker``: Celery, Redis and
real runs; ``torch``: real modules), and ``slow`` when it is in the browser or worker lane or
named in SLOW, so ``pytest -m "not slow"`` is the quick loop while editing (the README prints
it) and CI, which runs the README's whole-suite command, runs every lane.
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
#: other modules that take long (``module.py``), or the tests of one module that do
#: (``module.py::test_name``, every parameter of it): whole-app fuzzing, builds, real servers,
#: real imports and exports, every zoo model through torch or torchvision
SLOW = frozenset({
    "test_schemathesis.py", "test_wheel.py", "test_containers.py", "test_benchmarks_run.py",
    "test_mutations.py", "test_transport.py", "test_server.py", "test_serve.py",
    "test_torch_zoo.py", "test_torch_bench.py", "test_torch_random.py",
    "test_import_fx.py", "test_import_onnx.py", "test_import_server.py", "test_import_pool.py",
    "test_import_web.py", "test_zoo_torchvision.py",
    "test_nginx.py", "test_clients.py", "test_gpu_check.py",
    "test_cli.py::test_run_measures_for_real_beside_the_engine",
    "test_cli_run.py::test_the_answer_is_printed_as_soon_as_the_job_ends",
    "test_cli_run.py::test_a_queue_lost_mid_job_is_asked_again_then_reported",
    "test_pytorch.py::test_generated_code_runs_and_matches_the_engine",
    "test_event_loop.py::test_every_row_is_on_exactly_one_page",
    "test_event_loop.py::test_healthz_answers_while_the_biggest_answers_are_made",
    "test_event_loop.py::test_the_production_page_is_paged_too",
    "test_event_loop.py::test_the_benchmark_runs_and_prints_its_table",
    "test_shortlinks_abuse.py::test_concurrent_creation_across_server_processes_keeps_the_bound",
    "test_shortlinks_abuse.py::test_one_address_cannot_flood_the_store",
    "test_shortlinks_abuse.py::test_processes_racing_at_the_bound_cannot_overshoot_it",
    "test_shortlinks_abuse.py::test_the_server_answers_503_for_a_planted_store_and_keeps_serving",
    "test_hardening.py::test_any_post_to_any_api_route_is_never_a_5xx",
    "test_hardening.py::test_any_query_to_any_api_route_is_never_a_5xx",
    "test_hardening.py::test_the_checker_refuses_no_body_archcalc_accepts",
    "test_hardening.py::test_the_checker_finds_a_planted_bad_value",
    "test_hardening.py::test_server_stops_on_sigterm_during_heavy_requests",
    "test_torch_rf.py::test_random_chains_and_merges_agree_with_the_gradient",
    "test_torch_unit_field.py::test_every_units_field_is_the_gradients",
})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(str(item.fspath)).resolve()
        lane = path.relative_to(TESTS).parts[0] if path.is_relative_to(TESTS) else ""
        if lane in LANES:
            item.add_marker(getattr(pytest.mark, lane))
        test = f"{path.name}::{getattr(item, 'originalname', item.name)}"
        if lane in SLOW_LANES or path.name in SLOW or test in SLOW:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[redisserver.RedisServer]:
    """One redis-server for the session, for any test that needs a real one."""
    yield from redisserver.serve()
