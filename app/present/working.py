"""Structured working rendered three ways: plain text, HTML with the terms marked, LaTeX.

The plain text is what the API's ``formulas`` field carries (``(227 - 11 + 2*0)/4 + 1 = 55``);
HTML wraps every term in ``<var class="term" data-term="K" title="K: kernel height">11</var>``
so a page can show which number is the kernel and which the stride; LaTeX writes the same
arithmetic for a report (``\\frac{227 - 11 + 2 \\cdot 0}{4} + 1 = 55``).
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from html import escape
from typing import Any

from app.engine.working import Call, Equation, Expr, Group, Num, Number, Op, Term, Working

__all__ = ["expression_text", "show_number", "to_html", "to_latex", "to_text"]


def show_number(value: Number | str, sep: bool = True) -> str:
    """34848 -> "34,848"; a non-whole fraction to at most four decimals (54.25)."""
    if type(value) is int:
        return f"{value:,}" if sep else str(value)
    if isinstance(value, str):
        return value
    if isinstance(value, Fraction) and value.denominator == 1:
        value = value.numerator
    if isinstance(value, int):
        return f"{value:,}" if sep else str(value)
    text = f"{float(value):.4f}".rstrip("0").rstrip(".")
    return text


class _Renderer:
    """One output language: how a term, an operator and the surroundings are written.

    Dispatch is by node type, and text is built with lists and joins: a network of thousands
    of distinct layers renders tens of thousands of these."""

    def __init__(self, term: Callable[[Term], str], times: str, text: Callable[[str], str],
                 frac: bool) -> None:
        self.term, self.times, self.text, self.frac = term, times, text, frac
        self._expr: dict[type, Callable[[Any], str]] = {
            Term: term, Num: lambda e: str(e.value), Group: self._group, Call: self._call,
            Op: self.op}

    def expr(self, e: Expr) -> str:
        return self._expr[type(e)](e)

    def _group(self, e: Group) -> str:
        return "(" + self.expr(e.expr) + ")"

    def _call(self, e: Call) -> str:
        inner = ", ".join([self.expr(a) for a in e.args])
        name = f"\\operatorname{{{e.name}}}" if self.frac else self.text(e.name)
        return f"{name}({inner})"

    def op(self, e: Op) -> str:
        if self.frac and e.symbol == "/":
            num, den = e.args
            top = num.expr if isinstance(num, Group) else num
            return f"\\frac{{{self.expr(top)}}}{{{self.expr(den)}}}"
        symbol = self.times if e.symbol == "*" else self.text(e.symbol)
        joiner = f" {symbol} " if e.spaced or (self.frac and e.symbol == "*") else symbol
        ex = self._expr
        return joiner.join([ex[type(a)](a) for a in e.args])

    def equation(self, eq: Equation) -> str:
        out = [self.text(eq.label), "\\ " if self.frac else " "] if eq.label else []
        if eq.expr is not None:
            out += [self.expr(eq.expr), " = "]
        out.append(self.value(eq.value, eq.sep))
        if eq.rounded is not None:
            out += [self.text(f", {eq.rounding} to "), self.value(eq.rounded, eq.sep)]
        if eq.unit:
            out.append(self.text(f" {eq.unit}"))
        if eq.note:
            out += [self.text(" ("), self.part(eq.note), self.text(")")]
        if eq.aside:
            out += [self.text("  ["), self.part(eq.aside), self.text("]")]
        return "".join(out)

    def part(self, p: str | Equation) -> str:
        return self.text(p) if isinstance(p, str) else self.equation(p)

    def value(self, v: Number | str, sep: bool) -> str:
        text = show_number(v, sep)
        return text.replace(",", "{,}") if self.frac else self.text(text)

    def working(self, w: Working) -> str:
        parts = [self.working(p) if isinstance(p, Working) else self.equation(p)
                 for p in w.parts]
        if len(parts) == 1 and not w.label:
            return parts[0]
        return (self.text(w.label) if w.label else "") + self.text(w.sep).join(parts)


def _text_term(t: Term) -> str:
    return show_number(t.value, t.sep) + (f" {t.unit}" if t.unit else "")


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


_TEXT = _Renderer(_text_term, "*", lambda s: s, frac=False)
_HTML = _Renderer(_html_term, "*", escape, frac=False)
_LATEX = _Renderer(_latex_term, r"\cdot", _latex_text, frac=True)


def expression_text(w: Working) -> str:
    """The expression of a figure's first equation, without its result: ``55*55*96 * 11*11*3``."""
    first = w.parts[0]
    while isinstance(first, Working):
        first = first.parts[0]
    return _TEXT.expr(first.expr) if first.expr is not None else _TEXT.value(first.value, first.sep)


def to_text(w: Working) -> str:
    """The working as one line of plain text: ``(227 - 11 + 2*0)/4 + 1 = 55``."""
    return _TEXT.working(w)


def to_html(w: Working) -> str:
    """Escaped HTML with each term in a ``<var class="term">`` naming what it is."""
    return _HTML.working(w)


def to_latex(w: Working) -> str:
    """A LaTeX math-mode fragment (no surrounding ``$``)."""
    return _LATEX.working(w)
