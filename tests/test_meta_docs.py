"""Docs stay honest: every op, block and zoo id is documented; registries agree."""

from __future__ import annotations

import re
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


def test_every_zoo_id_is_in_the_api_document() -> None:
    doc = (ROOT / "docs" / "api.md").read_text()
    for model in zoo.list_models():
        assert f"`{model.id}`" in doc, model.id


def test_every_limit_is_in_the_api_document() -> None:
    doc = (ROOT / "docs" / "api.md").read_text()
    for name in LIMITS.__dataclass_fields__:
        assert f"`{name}`" in doc, name


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_every_link_between_the_documents_resolves() -> None:
    documents = [ROOT / "README.md", ROOT / "benchmarks" / "README.md",
                 *sorted((ROOT / "docs").glob("*.md"))]
    broken = []
    for doc in documents:
        for target in re.findall(r"\]\(([^)\s]+)\)", doc.read_text()):
            if re.match(r"[a-z]+:", target):
                continue  # a URL outside the repository
            path, _, anchor = target.partition("#")
            linked = (doc.parent / path).resolve() if path else doc
            if not linked.is_file():
                broken.append(f"{doc.name}: {target}")
            elif anchor and linked.suffix == ".md":
                headings = re.findall(r"^#+ (.+)$", linked.read_text(), flags=re.MULTILINE)
                if anchor not in {_anchor(h) for h in headings}:
                    broken.append(f"{doc.name}: {target}")
    assert broken == []
