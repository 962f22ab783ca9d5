"""Markdown: a heading, the conventions as a list, the per-layer table and the totals table.

GitHub-flavoured pipe tables; numbers with thousands separators, right-aligned; the layer name is
indented by its block depth so the nesting reads in slides as in the HTML table.
"""

from __future__ import annotations

from app.export._columns import COLUMNS
from app.export.base import Subject, conventions_lines, total_items


def _cell(text: str) -> str:
    """Pipes and line breaks would break a table row."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _number(value: float) -> str:
    return f"{value:,}" if isinstance(value, int) or value.is_integer() else f"{value:,.2f}"


def render(subject: Subject) -> str:
    """The analysis as a Markdown document."""
    a = subject.analysis
    first, *rest = conventions_lines(subject)
    lines = [f"## {_cell(first)}", ""]
    lines += [f"- {_cell(line)}" for line in rest]
    lines += ["", "| " + " | ".join(c.title for c in COLUMNS) + " |",
              "|" + "|".join("---:" if c.numeric else "---" for c in COLUMNS) + "|"]
    for row in a.layers:
        cells = []
        for c in COLUMNS:
            text = _cell(c.text(row))
            if c.key == "name" and row.depth:
                text = "&nbsp;&nbsp;" * row.depth + text
            cells.append(text)
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "| total | value | how |", "|---|---:|---|"]
    lines += [f"| {item.label} | {_number(item.value)} | {_cell(item.note)} |"
              for item in total_items(a)]
    return "\n".join(lines) + "\n"
