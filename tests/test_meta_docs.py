"""Docs stay honest: every op, block and zoo id is documented; registries agree."""

from __future__ import annotations

from pathlib import Path

from app import zoo
from app.engine.graph import BLOCK_KINDS
from app.engine.limits import LIMITS
from app.engine.notation import read_statement
from app.engine.optable import OPS, SPELLINGS, doc_row

ROOT = Path(__file__).resolve().parents[1]


def test_every_op_has_its_doc_row_and_every_block_is_documented() -> None:
    doc = (ROOT / "docs" / "spec-language.md").read_text()
    for d in OPS.values():
        assert doc_row(d) in doc, f"docs/spec-language.md lacks the row of {d.name}: {doc_row(d)}"
    for kind in BLOCK_KINDS:
        assert f"{kind} {{" in doc, kind


def test_every_op_example_reads_as_its_op_and_every_spelling_names_it() -> None:
    for d in OPS.values():
        stmt = read_statement(d.example, 1)
        assert (stmt.kind, stmt.op) == ("layer", d.name), d.example
        for spelling in d.spellings:
            assert SPELLINGS[spelling] == d.name
            args = d.example.split(" ", 1)[1] if " " in d.example else ""
            assert read_statement(f"{spelling} {args}".strip(), 1).op == d.name, spelling


def test_every_zoo_id_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    for model in zoo.list_models():
        assert f"`{model.id}`" in readme, model.id


def test_every_limit_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    for name in LIMITS.__dataclass_fields__:
        assert f"`{name}`" in readme, name
