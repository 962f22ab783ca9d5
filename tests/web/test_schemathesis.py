"""Schemathesis against the app's own OpenAPI description, in process (ASGI).

Every operation is fuzzed from its schema, with data that fits it and data that does not; the
spec-taking operations are also fed specs valid by construction (``specgen``, built from the
spec grammar), so the success paths are exercised, not only the error paths. Each answer is
checked by schemathesis' default checks: no 5xx, a status code and content type the schema
documents, a body that matches the documented schema, an ``Allow`` header that lists the
methods the schema has, data outside the schema refused.

What this holds: every error the app can answer is documented (the 400 for a non-UTF-8 body,
a 404 in the JSON error shape), ``OPTIONS`` lists every method a path takes, the schema refuses
``spec: ""`` and ``spec: {}``, and valid specs are generated, not only invalid ones.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.config._checks import NotAServerErrorConfig, PositiveDataAcceptanceConfig

from app.engine.options import DTYPES, OPTIMIZERS
from app.web.app import create_app
from app.web.settings import Settings
from tests.web.specgen import json_specs, specs

APP = create_app(Settings(rate_per_second=1e9, rate_burst=10**9, runs_per_minute=1e9,
                          runs_burst=10**9, live_per_hour=1e9, live_burst=10**9))
SCHEMA = schemathesis.openapi.from_asgi("/openapi.json", APP)
#: data that fits the schema may still be a spec that cannot be analysed (the schema cannot
#: hold the spec grammar) or a model id the zoo does not have: those are documented 422 and 404
#: answers. The valid-spec tests below hold the success path to 200.
SCHEMA.config.checks.positive_data_acceptance = PositiveDataAcceptanceConfig(
    expected_statuses=["2XX", "404", "422", "503"])
#: 503 is a documented answer, not a crash: the analysis places busy, real runs not installed
#: here or the worker not ready (/readyz). status_code_conformance still holds every 503 to
#: the routes that document it, and its body to the error shape.
SCHEMA.config.checks.not_a_server_error = NotAServerErrorConfig(
    expected_statuses=["2XX", "3XX", "4XX", "503"])
#: cases for each operation from its schema (both modes); with the valid-spec tests below,
#: well over 1,000 in all
PER_OPERATION = 150
VALID_CASES = 250
FAST = settings(deadline=None, suppress_health_check=list(HealthCheck), database=None)
OPTIONS = st.fixed_dictionaries({}, optional={
    "dtype": st.sampled_from(DTYPES), "batch": st.integers(1, 64),
    "optimizer": st.sampled_from(OPTIMIZERS), "aux": st.just(False)})


@SCHEMA.parametrize()
@settings(FAST, max_examples=PER_OPERATION)
def test_every_operation_answers_as_documented(case: schemathesis.Case[Any]) -> None:
    response = case.call_and_validate()
    assert response.status_code < 500 or response.status_code == 503


@settings(FAST, max_examples=VALID_CASES)
@given(spec=specs() | json_specs(), options=OPTIONS)
def test_valid_specs_are_analysed_as_documented(spec: str | dict[str, Any],
                                               options: dict[str, Any]) -> None:
    case = SCHEMA["/api/analyze"]["POST"].Case(body={"spec": spec, **options},
                                                 media_type="application/json")
    response = case.call_and_validate()
    assert response.status_code == 200, response.text[:500]
    assert response.json()["layers"][0]["op"] == "input"


@settings(FAST, max_examples=VALID_CASES // 2)
@given(spec=specs(), options=OPTIONS)
def test_valid_specs_in_the_query_string_are_analysed_as_documented(
        spec: str, options: dict[str, Any]) -> None:
    query = {"spec": spec, **{k: str(v).lower() for k, v in options.items()}}
    case = SCHEMA["/api/analyze"]["GET"].Case(query=query)
    response = case.call_and_validate()
    assert response.status_code == 200, (urllib.parse.urlencode(query), response.text[:500])


@pytest.mark.parametrize("spec", ["", "   ", {}, {"layers": []}])
def test_empty_specs_are_refused_by_the_schema_and_the_app(spec: Any) -> None:
    body = SCHEMA["/api/analyze"]["POST"].body[0].definition
    case = SCHEMA["/api/analyze"]["POST"].Case(body={"spec": spec},
                                                 media_type="application/json")
    response = case.call_and_validate()
    assert response.status_code == 422
    assert body  # the documented request body exists


def test_every_route_documents_its_transport_answers() -> None:
    schema = APP.openapi()
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            documented = set(operation["responses"])
            assert {"408", "429"} <= documented, (method, path, documented)
            if method in {"post", "put", "patch"}:
                assert "413" in documented, (method, path)
