"""The slow lane names tests that exist: a module renamed or a test renamed would otherwise drop
out of SLOW silently and slow down the developer's loop."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import SLOW

TESTS = Path(__file__).resolve().parent


def test_every_slow_entry_names_a_test_module_or_a_test_in_one() -> None:
    modules = {p.name: p for p in TESTS.rglob("test_*.py")}
    missing = []
    for entry in sorted(SLOW):
        name, _, test = entry.partition("::")
        if name not in modules:
            missing.append(entry)
        elif test:
            tree = ast.parse(modules[name].read_text(encoding="utf-8"))
            if test not in {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}:
                missing.append(entry)
    assert missing == []
