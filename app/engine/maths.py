"""Small named formulas, written as the papers write them, and the text that shows them."""

from __future__ import annotations

from fractions import Fraction
from typing import NamedTuple

from app.engine.working import (
    Equation,
    Expr,
    Group,
    Num,
    Term,
    Working,
    add,
    div,
    mul,
    sub,
)


def fmt(n: int) -> str:
    """1234567 -> '1,234,567' (formulas are data shown verbatim, so they carry separators)."""
    return f"{n:,}"


def k_eff(k: int, d: int) -> int:
    """Effective kernel extent of a dilated kernel: d*(k-1)+1."""
    return d * (k - 1) + 1


class OutLen(NamedTuple):
    """One spatial axis through a sliding window."""

    n: int
    k: int
    s: int
    p: int  # padding before (top or left)
    d: int
    value: int  # what PyTorch produces
    ceil: bool
    p2: int | None = None  # padding after (bottom or right), when it differs from before

    @property
    def after(self) -> int:
        return self.p if self.p2 is None else self.p2

    @property
    def span(self) -> int:
        """n + p_before + p_after - k_eff: what the window slides over past its first place."""
        return self.n + self.p + self.after - k_eff(self.k, self.d)

    @property
    def pad_text(self) -> str:
        return f"2*{self.p}" if self.p2 is None else f"{self.p} + {self.p2}"

    @property
    def whole(self) -> bool:
        return self.span % self.s == 0

    @property
    def exact(self) -> Fraction:
        """(n + p_before + p_after - k_eff)/s + 1, before rounding."""
        return Fraction(self.span, self.s) + 1

    def working(self, axis: str) -> Working:
        """``(n - k_eff + 2*p)/s + 1 = out`` with each term named for ``axis`` ("H" or "W")."""
        a = axis.lower()
        ke = k_eff(self.k, self.d)
        kernel = Term(f"K_{a}", ke, f"kernel {_AXIS[axis]}" + (" (dilated)" if self.d != 1
                                                                else ""))
        what = _AXIS[axis]
        if self.p2 is None:
            pads: Expr = mul(Num(2), Term(f"P_{a}", self.p, f"padding ({what})"))
            inner = add(sub(Term(f"{axis}_in", self.n, f"input {what}"), kernel), pads)
        else:
            inner = add(sub(Term(f"{axis}_in", self.n, f"input {what}"), kernel),
                        Term(f"P_{a}1", self.p, f"padding before ({what})"),
                        Term(f"P_{a}2", self.p2, f"padding after ({what})"))
        expr = add(div(Group(inner), Term(f"S_{a}", self.s, f"stride ({what})")), Num(1))
        aside: Equation | str = ""
        if self.d != 1:
            raw = Term(f"K_{a}", self.k, f"kernel {_AXIS[axis]}")
            aside = Equation(add(mul(Term("D", self.d, "dilation"), Group(sub(raw, Num(1)))),
                                 Num(1)), ke, label="k_eff =")
        if self.whole:
            return Working((Equation(expr, self.value, aside=aside),))
        how = "rounded up (ceil mode)" if self.ceil else "floored"
        return Working((Equation(expr, self.exact, rounded=self.value, rounding=how,
                                 aside=aside),))


_AXIS = {"H": "height", "W": "width"}


def show_fraction(x: Fraction) -> str:
    """54.25; a whole value without decimals."""
    if x.denominator == 1:
        return str(x.numerator)
    return f"{float(x):.4f}".rstrip("0").rstrip(".")


def window_out_len(n: int, k: int, s: int, p: int, d: int = 1, ceil: bool = False,
                   p2: int | None = None) -> OutLen:
    """Output length of a conv or pool axis, exactly as PyTorch computes it.

    floor mode: floor((n + p + p2 - k_eff)/s) + 1 (p2 = p unless the padding is per side)
    ceil mode:  ceil((n + p + p2 - k_eff)/s) + 1, less one if the last window would start in
                the right padding ((out-1)*s >= n + p), the rule of PyTorch's pooling.
    The caller has checked n + p + p2 >= k_eff.
    """
    span = n + p + (p if p2 is None else p2) - k_eff(k, d)
    if ceil:
        value = -(-span // s) + 1
        if (value - 1) * s >= n + p:
            value -= 1
    else:
        value = span // s + 1
    return OutLen(n, k, s, p, d, value, ceil, p2)


def whole_fixes(n: int, k: int, s: int, p: int, d: int, p2: int | None = None) -> str:
    """Suggest the nearest input sizes and paddings that make (n + p + p2 - k_eff)/s whole."""
    ke = k_eff(k, d)
    pads_now = p + (p if p2 is None else p2)
    up = next(m for m in range(n, n + s + 1) if (m + pads_now - ke) % s == 0)
    down = next((m for m in range(n, max(ke - pads_now, 0) - 1, -1)
                 if (m + pads_now - ke) % s == 0), None)
    sizes = [str(up)] + ([str(down)] if down is not None and down != up else [])
    pads = ([q for q in range(p + 1, p + s + 1) if (n + 2 * q - ke) % s == 0] if p2 is None
            else [])
    text = f"an input of {' or '.join(sizes)}"
    if pads:
        return text + f", or pad {pads[0]}, would make it whole"
    return text + " would make it whole (no padding can)"


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)
