"""Structured working: the arithmetic behind each figure, as data.

A figure's working is a :class:`Working`: one or more :class:`Equation` s, each an expression
tree whose leaves are named :class:`Term` s (``H_in`` 227, ``K`` 11, ``P`` 0, ``S`` 4) and
literal numbers, and the result. Nothing here is formatted text a program would have to parse
back. :func:`to_text` writes it as one line of plain text (the API's ``formulas``), so the
engine needs nothing above it for its own JSON; ``app.present.working`` reuses the same
:class:`Renderer` for HTML with every term marked up and for LaTeX.

The nodes are named tuples: immutable, compared by value, and cheap to build (a network with
thousands of distinct layers builds tens of thousands of them).

    (227 - 11 + 2*0)/4 + 1 = 55
     ^^^   ^^     ^  ^
     H_in  K      P  S
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Any, NamedTuple, Union

Number = int | float | Fraction


class Term(NamedTuple):
    """A named quantity in a formula: ``Term("K", 11, "kernel height")``."""

    symbol: str
    value: Number
    meaning: str
    #: shown with thousands separators (34,848) rather than bare (9216)
    sep: bool = False
    #: a word written after the value ("zero channels")
    unit: str = ""


class Num(NamedTuple):
    """A constant of the formula itself: the 2 of ``2*P``, the 1 of ``+ 1``."""

    value: int


class Op(NamedTuple):
    """An arithmetic operation over two or more operands, left to right.

    ``spaced`` writes ``a + b`` rather than ``a+b``; products of a row's factors are written
    tight (``11*11*3``) and a product of two such groups spaced (``55*55*96 * 11*11*3``).
    """

    symbol: str  # + - * /
    args: tuple[Expr, ...]
    spaced: bool = True


class Group(NamedTuple):
    """Parentheses around an expression."""

    expr: Expr


class Call(NamedTuple):
    """A named function of the formula, e.g. ``ceil(7/6)``."""

    name: str
    args: tuple[Expr, ...]


Expr = Union[Term, Num, Op, Group, Call]  # noqa: UP007 - a runtime alias used in annotations


class Equation(NamedTuple):
    """``label expr = value`` and what qualifies it.

    ``value`` is the exact result (a :class:`Fraction` when it is not whole, a string such as
    ``"7x7"`` for a pair of sizes); ``rounded``/``rounding`` say what was done with a non-whole
    result ("floored" to 54); ``unit`` follows the value ("96 filters"); ``note`` is written in
    parentheses after it ("one per filter"); ``aside`` in brackets ("k_eff = 2*(3 - 1) + 1 = 5").
    With ``expr`` None the value is stated, not computed.
    """

    expr: Expr | None
    value: Number | str
    label: str = ""
    rounded: int | None = None
    rounding: str = ""
    unit: str = ""
    note: str | Equation = ""
    aside: str | Equation = ""
    #: the value written with thousands separators (34,848); sizes are written bare (1024)
    sep: bool = False


class Working(NamedTuple):
    """One figure's working: its parts joined by ``sep`` (", " or "; "), after ``label``.

    A part is an equation or, for a figure worked per axis, a labelled working of its own
    ("H: ...; W: ...").
    """

    parts: tuple[Equation | Working, ...]
    sep: str = ", "
    label: str = ""

    def terms(self) -> tuple[Term, ...]:
        """Every term of every part, in writing order."""
        out: list[Term] = []
        for part in self.parts:
            if isinstance(part, Working):
                out.extend(part.terms())
            else:
                out.extend(_equation_terms(part))
        return tuple(out)


def _equation_terms(eq: Equation) -> list[Term]:
    out = list(expr_terms(eq.expr)) if eq.expr is not None else []
    for extra in (eq.note, eq.aside):
        if isinstance(extra, Equation):
            out.extend(_equation_terms(extra))
    return out


def expr_terms(expr: Expr) -> tuple[Term, ...]:
    if isinstance(expr, Term):
        return (expr,)
    if isinstance(expr, Num):
        return ()
    if isinstance(expr, Group):
        return expr_terms(expr.expr)
    return tuple(t for a in expr.args for t in expr_terms(a))


# -- expression constructors, so rules read like the formulas they write --------------------


def stated(value: Number | str, *, unit: str = "", note: str | Equation = "",
           sep: bool = False) -> Working:
    """A figure given, not computed: ``96 filters``, ``0 (nobias)``."""
    return Working((Equation(None, value, unit=unit, note=note, sep=sep),))


def equals(expr: Expr, value: Number | str, **extra: object) -> Working:
    """A figure computed by one expression."""
    return Working((Equation(expr, value, **extra),))  # type: ignore[arg-type]


def mul(*args: Expr, spaced: bool = False) -> Op:
    return Op("*", args, spaced)


def add(*args: Expr) -> Op:
    return Op("+", args)


def sub(*args: Expr) -> Op:
    return Op("-", args)


def div(a: Expr, b: Expr) -> Op:
    return Op("/", (a, b), False)


# -- plain text ----------------------------------------------------------------------------


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
    return f"{float(value):.4f}".rstrip("0").rstrip(".")


class Renderer:
    """One output language: how a term, an operator and the surroundings are written.

    This class writes plain text when given plain hooks; ``app.present.working`` builds the
    HTML renderer from it and subclasses it for LaTeX. Dispatch is by node type, and text is
    built with lists and joins: a network of thousands of distinct layers renders tens of
    thousands of these."""

    #: what follows an equation's label ("conv1 ...")
    label_gap = " "

    def __init__(self, term: Callable[[Term], str], times: str,
                 text: Callable[[str], str]) -> None:
        self.term, self.times, self.text = term, times, text
        self._expr: dict[type, Callable[[Any], str]] = {
            Term: term, Num: lambda e: str(e.value), Group: self._group, Call: self._call,
            Op: self.op}

    def expr(self, e: Expr) -> str:
        return self._expr[type(e)](e)

    def _group(self, e: Group) -> str:
        return "(" + self.expr(e.expr) + ")"

    def _call(self, e: Call) -> str:
        inner = ", ".join([self.expr(a) for a in e.args])
        return f"{self.text(e.name)}({inner})"

    def op(self, e: Op) -> str:
        symbol = self.times if e.symbol == "*" else self.text(e.symbol)
        joiner = f" {symbol} " if e.spaced else symbol
        ex = self._expr
        return joiner.join([ex[type(a)](a) for a in e.args])

    def equation(self, eq: Equation) -> str:
        out = [self.text(eq.label), self.label_gap] if eq.label else []
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
        return self.text(show_number(v, sep))

    def working(self, w: Working) -> str:
        parts = [self.working(p) if isinstance(p, Working) else self.equation(p)
                 for p in w.parts]
        if len(parts) == 1 and not w.label:
            return parts[0]
        return (self.text(w.label) if w.label else "") + self.text(w.sep).join(parts)


def _text_term(t: Term) -> str:
    return show_number(t.value, t.sep) + (f" {t.unit}" if t.unit else "")


def _same(text: str) -> str:
    return text


TEXT = Renderer(_text_term, "*", _same)


def to_text(w: Working) -> str:
    """The working as one line of plain text: ``(227 - 11 + 2*0)/4 + 1 = 55``."""
    return TEXT.working(w)


def expression_text(w: Working) -> str:
    """The expression of a figure's first equation, without its result: ``55*55*96 * 11*11*3``."""
    first = w.parts[0]
    while isinstance(first, Working):
        first = first.parts[0]
    return TEXT.expr(first.expr) if first.expr is not None else TEXT.value(first.value, first.sep)
