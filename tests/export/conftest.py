"""Golden files of the exports: ``pytest tests/export --regen-golden`` rewrites them from the
code (then read the diff: they are checked by hand against the arithmetic)."""

from __future__ import annotations

import pytest

GOLDEN_MODELS = ("lenet5", "alexnet", "resnet18")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--regen-golden", action="store_true", default=False,
                     help="rewrite tests/export/golden/ from the current exports")


@pytest.fixture()
def regen_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--regen-golden"))
