"""Markdown: a heading, the conventions as a list, the per-layer table and the totals table.

GitHub-flavoured pipe tables; numbers with thousands separators, right-aligned; the layer name is
indented by its block depth so the nesting reads in slides as in the HTML table.
"""

from __future__ import annotations

from app.export.base import Subject, conventions_lines
from app.present.columns import DEFAULT_COLUMNS as TABLE_COLUMNS
from app.present.columns import IDENTITY
from app.present.totals import total_items


def _cell(text: str) -> str:
    """Pipes and line breaks would break a table row."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def render(subject: Subject) -> str:
    """The analysis as a Markdown document."""
    a = subject.analysis
    first, *rest = conventions_lines(subject)
    lines = [f"## {_cell(first)}", ""]
    lines += [f"- {_cell(line)}" for line in rest]
    titles = [title for _, title, _ in IDENTITY] + [c.title for c in TABLE_COLUMNS]
    aligns = ["---:", "---", "---", "---"] + ["---:" if c.numeric else "---"
                                              for c in TABLE_COLUMNS]
    lines += ["", "| " + " | ".join(titles) + " |", "|" + "|".join(aligns) + "|"]
    for row in a.layers:
        cells = [_cell(cell(row)) for _, _, cell in IDENTITY]
        cells[1] = "&nbsp;&nbsp;" * row.depth + cells[1]
        cells += [_cell(c.text(row)) for c in TABLE_COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "| total | value | how |", "|---|---:|---|"]
    lines += [f"| {item.label} | {item.text} | {_cell(item.note)} |"
              for item in total_items(a)]
    return "\n".join(lines) + "\n"
