"""Docs stay honest: every op, block and zoo id is documented; registries agree."""

from __future__ import annotations

from pathlib import Path

from app import zoo
from app.engine.graph import BLOCK_KINDS, LAYER_OPS
from app.engine.limits import LIMITS
from app.engine.rules import RULES

ROOT = Path(__file__).resolve().parents[1]


def test_every_op_has_a_rule_and_a_doc_row() -> None:
    assert set(RULES) == set(LAYER_OPS)
    doc = (ROOT / "docs" / "spec-language.md").read_text()
    for op in LAYER_OPS:
        assert f"`{op}" in doc, op
    for kind in BLOCK_KINDS:
        assert f"{kind} {{" in doc, kind


def test_every_zoo_id_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    for model in zoo.list_models():
        assert f"`{model.id}`" in readme, model.id


def test_every_limit_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    for name in LIMITS.__dataclass_fields__:
        assert f"`{name}`" in readme, name
