"""The README and the documents point at things that exist: their pictures, and the `archcalc`
commands they show."""

from __future__ import annotations

import re
from pathlib import Path

from app.cli import app

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
CLI_DOC = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")


def _commands_shown(text: str) -> set[str]:
    blocks = "\n".join(re.findall(r"```[^\n]*\n(.*?)```", text, flags=re.DOTALL))
    return set(re.findall(r"^archcalc (\w+)", blocks, flags=re.MULTILINE))


def test_the_readme_shows_a_picture_and_every_picture_shown_exists() -> None:
    assert re.search(r"!\[[^\]]+\]\(docs/screenshots/[^)]+\.png\)", README)
    missing = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for path in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", doc.read_text(encoding="utf-8")):
            if not (doc.parent / path).is_file():
                missing.append(f"{doc.name}: {path}")
    assert missing == []


def test_every_screenshot_the_pages_document_names_exists() -> None:
    doc = (ROOT / "docs" / "pages.md").read_text(encoding="utf-8")
    named = re.findall(r"`(?:docs/screenshots/)?([\w-]+-\d+x\d+\.png)`", doc)
    assert len(named) >= 3
    assert [n for n in named if not (ROOT / "docs" / "screenshots" / n).is_file()] == []


def test_every_archcalc_command_is_in_the_cli_document_and_the_readme_shows_real_ones() -> None:
    commands = {c.name or c.callback.__name__ for c in app.registered_commands if c.callback}
    documented = _commands_shown(CLI_DOC)
    assert documented == commands, documented ^ commands
    shown = _commands_shown(README)
    assert shown and shown <= commands, shown - commands
