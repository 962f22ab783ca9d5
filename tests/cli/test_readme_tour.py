"""The README's tour and command-line sections point at things that exist."""

from __future__ import annotations

import re
from pathlib import Path

from app.cli import app

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_image_the_readme_shows_exists() -> None:
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", README)
    assert len(images) >= 3
    missing = [path for path in images if not (ROOT / path).is_file()]
    assert missing == []


def test_every_archcalc_command_in_the_readme_is_a_command() -> None:
    commands = {c.name or c.callback.__name__ for c in app.registered_commands if c.callback}
    blocks = "\n".join(re.findall(r"```[^\n]*\n(.*?)```", README, flags=re.DOTALL))
    used = set(re.findall(r"^archcalc (\w+)", blocks, flags=re.MULTILINE))
    assert used and used <= commands, used - commands
    assert commands <= used, commands - used  # and each command is shown
