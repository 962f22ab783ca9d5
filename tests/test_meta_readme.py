"""The README's set-up commands are the ones CI runs, the developer's loop is the fast lane, and
the API document's limits table is the engine's."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

from app.engine.limits import LIMITS

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
CI_RUN = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
API_DOC = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")


def _setup_commands() -> list[str]:
    """One-line commands in the README's code blocks that start from a fresh venv."""
    blocks = re.findall(r"```[^\n]*\n(.*?)```", README, flags=re.DOTALL)
    lines = [line.strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line.startswith("python3 -m venv")]


def test_readme_has_exactly_two_setup_commands() -> None:
    commands = _setup_commands()
    assert len(commands) == 2, commands
    serve, test = commands
    assert "uvicorn app.main:app --host 127.0.0.1 --port 8000" in serve
    assert "pip install -e ." in serve and "[test]" not in serve
    assert "pip install -e '.[test]'" in test and "-m pytest" in test


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    test_command = _setup_commands()[1]
    assert test_command in CI_RUN.splitlines()
    assert "set -euo pipefail" in CI_RUN


def test_readme_prints_the_fast_lane_as_the_developer_s_loop() -> None:
    assert '.venv/bin/python -m pytest -m "not slow" -q' in README


def test_the_api_document_lists_every_limit_with_its_value() -> None:
    for field in fields(LIMITS):
        row = f"| `{field.name}` | {getattr(LIMITS, field.name):,} |"
        assert row in API_DOC, row
