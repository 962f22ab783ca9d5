"""Shared fixtures of the web tests: an app, a client, specs, and the error-shape check."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.examples import ALEXNET_SLIDE
from app.web.app import create_app

#: AlexNet's first layers in the spec language
SMALL_SPEC = "input 227x227x3\nconv1: conv 96 11x11 stride 4\nrelu\nmaxpool 3x3 stride 2\n"

#: the same network in the JSON form
SMALL_JSON: dict[str, Any] = {
    "input": {"h": 227, "w": 227, "c": 3},
    "layers": [
        {"op": "conv", "name": "conv1", "out": 96, "kernel": 11, "stride": 4},
        {"op": "relu"},
        {"op": "maxpool", "kernel": 3, "stride": 2},
    ],
}

ERROR_KEYS = {"line", "message", "layer", "limit", "parameter"}


@pytest.fixture(scope="session")
def app() -> FastAPI:
    return create_app()


@pytest.fixture()
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture()
def alexnet_slide() -> str:
    return ALEXNET_SLIDE


@pytest.fixture()
def small_spec() -> str:
    return SMALL_SPEC


@pytest.fixture()
def small_json() -> dict[str, Any]:
    return SMALL_JSON


def _check_error_body(body: Any) -> list[dict[str, Any]]:
    """Assert the one error shape and return its items."""
    assert isinstance(body, dict) and set(body) == {"errors"}, body
    items = body["errors"]
    assert isinstance(items, list) and items, body
    for item in items:
        assert set(item) <= ERROR_KEYS and {"line", "message"} <= set(item), item
        assert isinstance(item["line"], int) and item["line"] >= 0, item
        assert isinstance(item["message"], str) and item["message"].strip(), item
        assert all(isinstance(item.get(key, ""), str) for key in ("layer", "limit", "parameter"))
    return items


@pytest.fixture()
def error_items() -> Callable[[Any], list[dict[str, Any]]]:
    """``error_items(response_json)``: assert the error shape, return the items."""
    return _check_error_body


def row_named(layers: list[dict[str, Any]], name: str) -> dict[str, Any]:
    """The layer row called ``name`` (case-insensitive)."""
    matches = [row for row in layers if row["name"].lower() == name.lower()]
    assert len(matches) == 1, [row["name"] for row in layers]
    return matches[0]


@pytest.fixture()
def find_row() -> Callable[[list[dict[str, Any]], str], dict[str, Any]]:
    """``find_row(layers, "conv1")``: the one row of that name."""
    return row_named
