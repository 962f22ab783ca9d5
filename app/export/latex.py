"""LaTeX: a complete document (``pdflatex`` compiles it) with a booktabs per-layer table, the
totals, and the working of each figure; the conventions are ``%`` comments and a short list.

Only ``booktabs`` and ``longtable`` are used (a 516-row ResNet-152 breaks across pages). To put
the table in a report, copy the ``longtable`` environment and add ``\\usepackage{booktabs,
longtable}`` to the preamble.
"""

from __future__ import annotations

from app.engine.result import LayerRow
from app.export._columns import COLUMNS
from app.export.base import Subject, conventions_lines, total_items

_SPECIAL = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
}
#: the block path is shown by indenting the layer name instead
_TABLE_COLUMNS = tuple(c for c in COLUMNS if c.key != "block")
#: the figures whose working is listed, in this order
_WORKED = ("h", "w", "c", "weights", "biases", "params", "macs", "activations", "rf")


def escape(text: str) -> str:
    """Text with LaTeX's special characters escaped."""
    return "".join(_SPECIAL.get(ch, ch) for ch in text)


def working(text: str) -> str:
    """One formula's working as LaTeX: typewriter text, multiplication as a times sign."""
    return r"\texttt{" + escape(text).replace("*", r"$\times$") + "}"


def _name(row: LayerRow) -> str:
    return r"\quad " * row.depth + escape(row.name)


def _table(subject: Subject) -> list[str]:
    spec = "".join("r" if c.numeric else "l" for c in _TABLE_COLUMNS)
    head = " & ".join(escape(c.title) for c in _TABLE_COLUMNS) + r" \\"
    lines = [rf"\begin{{longtable}}{{@{{}}{spec}@{{}}}}", r"\toprule", head, r"\midrule",
             r"\endhead", r"\bottomrule", r"\endfoot"]
    for row in subject.analysis.layers:
        cells = [_name(row) if c.key == "name" else escape(c.text(row)) for c in _TABLE_COLUMNS]
        lines.append(" & ".join(cells) + r" \\")
    lines.append(r"\end{longtable}")
    return lines


def _totals(subject: Subject) -> list[str]:
    lines = [r"\begin{longtable}{@{}lrl@{}}", r"\toprule", r"total & value & how \\",
             r"\midrule", r"\endhead", r"\bottomrule", r"\endfoot"]
    for item in total_items(subject.analysis):
        value = f"{item.value:,}" if isinstance(item.value, int) else f"{item.value:,.2f}"
        lines.append(f"{escape(item.label)} & {escape(value)} & {escape(item.note)} " + r"\\")
    lines.append(r"\end{longtable}")
    return lines


def _worked(row: LayerRow) -> list[tuple[str, str]]:
    """The figures of a row whose working is more than the number itself (it has a result)."""
    return [(key, row.formulas[key]) for key in _WORKED
            if key in row.formulas and "=" in row.formulas[key]]


def _working(subject: Subject) -> list[str]:
    lines = [r"\begin{longtable}{@{}llp{0.62\textwidth}@{}}", r"\toprule",
             r"layer (line) & figure & working \\", r"\midrule", r"\endhead",
             r"\bottomrule", r"\endfoot"]
    for row in subject.analysis.layers:
        for i, (key, text) in enumerate(_worked(row)):
            who = f"{escape(row.name)} ({row.line})" if i == 0 else ""
            lines.append(f"{who} & {escape(key)} & {working(text)} " + r"\\")
    lines.append(r"\end{longtable}")
    return lines


def render(subject: Subject) -> str:
    """The analysis as a LaTeX document."""
    conventions = conventions_lines(subject)
    lines = [f"% {line}" for line in conventions]
    lines += [r"\documentclass[a4paper]{article}", r"\usepackage[T1]{fontenc}",
              r"\usepackage{booktabs}", r"\usepackage{longtable}",
              r"\setlength{\tabcolsep}{4pt}", r"\begin{document}", r"\footnotesize",
              rf"\section*{{{escape(conventions[0])}}}", r"\begin{itemize}"]
    lines += [rf"\item {escape(line)}" for line in conventions[1:3]]
    lines += [r"\end{itemize}", ""]
    lines += _table(subject)
    lines += ["", r"\subsection*{Totals}"] + _totals(subject)
    lines += ["", r"\subsection*{Working}"] + _working(subject)
    lines += [r"\end{document}"]
    return "\n".join(lines) + "\n"
