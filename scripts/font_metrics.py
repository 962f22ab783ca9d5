"""Write app/present/fontmetrics.py: the advance widths of DejaVu Sans (regular and bold), the
font the charts' CSS falls back to and the widest of the common UI sans-serifs, so labels laid
out with it do not collide in narrower system fonts either.

    python scripts/font_metrics.py   # needs Pillow and fonts-dejavu-core

The table is committed; rerun this only to change the characters it covers.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from PIL import ImageFont

FONTS = Path("/usr/share/fonts/truetype/dejavu")
#: printable ASCII, then the other characters labels and messages use
EXTRA = "…×·–—²³µ≈✓✗°‰√σπ"
CHARS = "".join(chr(c) for c in range(32, 127)) + EXTRA
OUT = Path(__file__).resolve().parents[1] / "app" / "present" / "fontmetrics.py"


def widths(name: str) -> dict[str, int]:
    font = ImageFont.truetype(str(FONTS / name), 1000)
    return {c: round(font.getlength(c)) for c in CHARS}


def _table(name: str, values: dict[str, int]) -> list[str]:
    body = textwrap.fill(", ".join(str(values[c]) for c in CHARS), 96,
                         initial_indent="    ", subsequent_indent="    ")
    return [f"{name}: tuple[int, ...] = (", body + ",", ")"]


def main() -> None:
    regular, bold = widths("DejaVuSans.ttf"), widths("DejaVuSans-Bold.ttf")
    ascent, descent = ImageFont.truetype(str(FONTS / "DejaVuSans.ttf"), 1000).getmetrics()
    lines = [
        '"""Advance widths of DejaVu Sans in thousandths of an em, written by',
        "scripts/font_metrics.py (do not edit by hand).\"\"\"",
        "",
        "from __future__ import annotations",
        "",
        f"ASCENT, DESCENT = {ascent / 1000}, {descent / 1000}",
        f'CHARS = "".join(chr(c) for c in range(32, 127)) + {EXTRA!r}',
        *_table("REGULAR", regular),
        *_table("BOLD", bold),
        "",
    ]
    OUT.write_text("\n".join(lines), encoding="utf-8")


if __name__ == "__main__":
    main()
