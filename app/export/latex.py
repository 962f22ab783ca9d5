"""LaTeX: a complete document (``pdflatex`` compiles it) with a booktabs per-layer table, the
totals, and the working of each figure rendered from the structured working
(``app.present.working.to_latex``: ``\\frac{227 - 11 + 2 \\cdot 0}{4} + 1 = 55``); the
conventions are ``%`` comments and a short list.

Only ``geometry``, ``amsmath``, ``booktabs`` and ``longtable`` are used (a 516-row ResNet-152
breaks across pages). Run ``pdflatex`` twice, as for any ``longtable``: the second run lines
the columns up. To put the table in a report, copy a ``longtable`` environment and add
``\\usepackage{amsmath,booktabs,longtable}`` to the preamble.
"""

from __future__ import annotations

from app.engine.result import LayerRow
from app.export.base import Subject, conventions_lines
from app.present.columns import DEFAULT_COLUMNS as TABLE_COLUMNS
from app.present.columns import IDENTITY
from app.present.totals import total_items
from app.present.working import latex_escape as escape
from app.present.working import to_latex, to_text

#: the block path is shown by indenting the layer name instead
_IDENTITY = tuple(i for i in IDENTITY if i[0] != "block")
#: the figures whose working is listed, in this order
_WORKED = ("h", "w", "c", "weights", "biases", "params", "macs", "activations", "rf")


def _powers(text: str) -> str:
    """``10^6`` and ``2^20`` (escaped) as math."""
    for base, exp in (("10", "6"), ("2", "20")):
        text = text.replace(f"{base}" + r"\textasciicircum{}" + exp, f"${base}^{{{exp}}}$")
    return text


def _name(row: LayerRow) -> str:
    return r"\quad " * row.depth + escape(row.name)


def _table(subject: Subject) -> list[str]:
    spec = "rll" + "".join("r" if c.numeric else "l" for c in TABLE_COLUMNS)
    head = " & ".join([escape(title) for _, title, _ in _IDENTITY]
                      + [escape(c.title) for c in TABLE_COLUMNS]) + r" \\"
    lines = [rf"\begin{{longtable}}{{@{{}}{spec}@{{}}}}", r"\toprule", head, r"\midrule",
             r"\endhead", r"\bottomrule", r"\endfoot"]
    for row in subject.analysis.layers:
        cells = [_name(row) if key == "name" else escape(cell(row)) for key, _, cell in _IDENTITY]
        cells += [escape(c.text(row)) for c in TABLE_COLUMNS]
        lines.append(" & ".join(cells) + r" \\")
    lines.append(r"\end{longtable}")
    return lines


def _totals(subject: Subject) -> list[str]:
    lines = [r"\begin{longtable}{@{}lrp{0.55\textwidth}@{}}", r"\toprule",
             r"total & value & how \\",
             r"\midrule", r"\endhead", r"\bottomrule", r"\endfoot"]
    for item in total_items(subject.analysis):
        lines.append(f"{escape(item.label)} & {escape(item.text)} & {escape(item.note)} " + r"\\")
    lines.append(r"\end{longtable}")
    return lines


def _worked(row: LayerRow) -> list[tuple[str, str]]:
    """The figures of a row whose working is more than the number itself (it has a result),
    as LaTeX math."""
    return [(key, to_latex(row.working[key])) for key in _WORKED
            if key in row.working and "=" in to_text(row.working[key])]


def _working(subject: Subject) -> list[str]:
    lines = [r"{\renewcommand{\arraystretch}{2.2}",  # room for the fractions
             r"\begin{longtable}{@{}llp{0.62\textwidth}@{}}", r"\toprule",
             r"layer (line) & figure & working \\", r"\midrule", r"\endhead",
             r"\bottomrule", r"\endfoot"]
    for row in subject.analysis.layers:
        for i, (key, math) in enumerate(_worked(row)):
            who = f"{escape(row.name)} ({row.line})" if i == 0 else ""
            lines.append(f"{who} & {escape(key)} & $\\displaystyle {math}$ " + r"\\")
    lines.append(r"\end{longtable}}")
    return lines


def render(subject: Subject) -> str:
    """The analysis as a LaTeX document."""
    conventions = conventions_lines(subject)
    lines = [f"% {line}" for line in conventions]
    lines.append("% compile with pdflatex twice (longtable sets its column widths on the 2nd run)")
    lines += [r"\documentclass[a4paper]{article}", r"\usepackage[T1]{fontenc}",
              r"\usepackage[margin=1.5cm]{geometry}",
              r"\usepackage{amsmath}", r"\usepackage{booktabs}",
              r"\usepackage{longtable}",
              r"\setlength{\tabcolsep}{4pt}",
              # one chunk for the whole table: its columns line up in a single pdflatex run
              r"\setcounter{LTchunksize}{1000}", r"\begin{document}", r"\footnotesize",
              rf"\section*{{{escape(conventions[0])}}}", r"\begin{itemize}"]
    lines += [rf"\item {_powers(escape(line))}" for line in conventions[1:3]]
    lines += [r"\end{itemize}", ""]
    lines += _table(subject)
    lines += ["", r"\subsection*{Totals}", *_totals(subject)]
    lines += ["", r"\subsection*{Working}", *_working(subject)]
    lines += [r"\end{document}"]
    return "\n".join(lines) + "\n"
