"""Small named formulas, written as the papers write them, and the text that shows them."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction


def fmt(n: int) -> str:
    """1234567 -> '1,234,567' (formulas are data shown verbatim, so they carry separators)."""
    return f"{n:,}"


def k_eff(k: int, d: int) -> int:
    """Effective kernel extent of a dilated kernel: d*(k-1)+1."""
    return d * (k - 1) + 1


@dataclass(frozen=True, slots=True)
class OutLen:
    """One spatial axis through a sliding window."""

    n: int
    k: int
    s: int
    p: int
    d: int
    value: int  # what PyTorch produces
    ceil: bool

    @property
    def whole(self) -> bool:
        return (self.n + 2 * self.p - k_eff(self.k, self.d)) % self.s == 0

    @property
    def exact(self) -> Fraction:
        """(n + 2p - k_eff)/s + 1, before rounding."""
        return Fraction(self.n + 2 * self.p - k_eff(self.k, self.d), self.s) + 1

    def formula(self) -> str:
        ke = k_eff(self.k, self.d)
        text = f"({self.n} - {ke} + 2*{self.p})/{self.s} + 1"
        if self.whole:
            text += f" = {self.value}"
        else:
            how = "rounded up (ceil mode)" if self.ceil else "floored"
            text += f" = {_show_fraction(self.exact)}, {how} to {self.value}"
        if self.d != 1:
            text += f"  [k_eff = {self.d}*({self.k} - 1) + 1 = {ke}]"
        return text


def _show_fraction(x: Fraction) -> str:
    if x.denominator == 1:
        return str(x.numerator)
    dec = float(x)
    return f"{dec:.4f}".rstrip("0").rstrip(".")


def window_out_len(n: int, k: int, s: int, p: int, d: int = 1, ceil: bool = False) -> OutLen:
    """Output length of a conv or pool axis, exactly as PyTorch computes it.

    floor mode: floor((n + 2p - k_eff)/s) + 1
    ceil mode:  ceil((n + 2p - k_eff)/s) + 1, less one if the last window would start in the
                right padding ((out-1)*s >= n + p), the rule of PyTorch's pooling.
    The caller has checked n + 2p >= k_eff.
    """
    span = n + 2 * p - k_eff(k, d)
    if ceil:
        value = -(-span // s) + 1
        if (value - 1) * s >= n + p:
            value -= 1
    else:
        value = span // s + 1
    return OutLen(n, k, s, p, d, value, ceil)


def whole_fixes(n: int, k: int, s: int, p: int, d: int) -> str:
    """Suggest the nearest input sizes and paddings that make (n + 2p - k_eff)/s whole."""
    ke = k_eff(k, d)
    up = next(m for m in range(n, n + s + 1) if (m + 2 * p - ke) % s == 0)
    down = next((m for m in range(n, max(ke - 2 * p, 0) - 1, -1) if (m + 2 * p - ke) % s == 0), None)
    sizes = [str(up)] + ([str(down)] if down is not None and down != up else [])
    pads = [q for q in range(p + 1, p + s + 1) if (n + 2 * q - ke) % s == 0]
    text = f"an input of {' or '.join(sizes)}"
    if pads:
        return text + f", or pad {pads[0]}, would make it whole"
    return text + " would make it whole (no padding can)"


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)
