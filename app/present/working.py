"""Structured working rendered three ways: plain text, HTML with the terms marked, LaTeX.

The plain text is the engine's own (``app.engine.working.to_text``, what the API's
``formulas`` field carries: ``(227 - 11 + 2*0)/4 + 1 = 55``), re-exported here so renderers
find all three forms in one place. HTML wraps every term in
``<var class="term" data-term="K" title="K: kernel height">11</var>`` so a page can show which
number is the kernel and which the stride; LaTeX writes the same arithmetic for a report
(``\\frac{227 - 11 + 2 \\cdot 0}{4} + 1 = 55``).
"""

from __future__ import annotations

from html import escape

from app.engine.working import (
    Call,
    Group,
    Number,
    Op,
    Renderer,
    Term,
    Working,
    expression_text,
    show_number,
    to_text,
)

__all__ = ["expression_text", "latex_escape", "show_number", "to_html", "to_latex", "to_text"]


def _html_term(t: Term) -> str:
    unit = f" {escape(t.unit)}" if t.unit else ""
    return (f'<var class="term" data-term="{escape(t.symbol)}" '
            f'title="{escape(t.symbol)}: {escape(t.meaning)}">'
            f"{escape(show_number(t.value, t.sep))}</var>{unit}")


_LATEX_SPECIAL = str.maketrans({"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$",
                                "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
                                "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"})


def latex_escape(text: str) -> str:
    return text.translate(_LATEX_SPECIAL)


def _latex_text(text: str) -> str:
    if not text:
        return ""
    if text.strip() in {"+", "-", "=", "/"}:
        return text
    return f"\\text{{{latex_escape(text)}}}"


def _latex_term(t: Term) -> str:
    value = show_number(t.value, t.sep).replace(",", "{,}")
    return value + (f"\\ \\text{{{latex_escape(t.unit)}}}" if t.unit else "")


class _Latex(Renderer):
    """Math mode: divisions as fractions, products spaced with ``\\cdot``, names upright."""

    label_gap = "\\ "

    def _call(self, e: Call) -> str:
        inner = ", ".join([self.expr(a) for a in e.args])
        return f"\\operatorname{{{e.name}}}({inner})"

    def op(self, e: Op) -> str:
        if e.symbol == "/":
            num, den = e.args
            top = num.expr if isinstance(num, Group) else num
            return f"\\frac{{{self.expr(top)}}}{{{self.expr(den)}}}"
        symbol = self.times if e.symbol == "*" else self.text(e.symbol)
        joiner = f" {symbol} " if e.spaced or e.symbol == "*" else symbol
        ex = self._expr
        return joiner.join([ex[type(a)](a) for a in e.args])

    def value(self, v: Number | str, sep: bool) -> str:
        return show_number(v, sep).replace(",", "{,}")


_HTML = Renderer(_html_term, "*", escape)
_LATEX = _Latex(_latex_term, r"\cdot", _latex_text)


def to_html(w: Working) -> str:
    """Escaped HTML with each term in a ``<var class="term">`` naming what it is."""
    return _HTML.working(w)


def to_latex(w: Working) -> str:
    """A LaTeX math-mode fragment (no surrounding ``$``)."""
    return _LATEX.working(w)
