"""Checking what a student wrote against what the engine computed.

A claim is right when it agrees with the computed value to the precision written: "3.2M"
(two significant figures) is right for 3,211,264, "800K" for 802,816, "1,728" only for 1,728
exactly. A product such as ``224*224*64`` is evaluated exactly. The VGG notes' "params" count
weights only, so a params claim is right when it matches the weights or the weights plus biases,
and the explanation says which it counted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from app.engine.errors import isnum
from app.engine.graph import Claim
from app.engine.maths import fmt
from app.engine.result import ClaimResult, LayerRow, Totals

_SUFFIX = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "b": 10**9, "t": 10**12}
_BINARY = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}
_NUMBER = re.compile(r"^~?\s*(?P<mant>[0-9][0-9,]*(?:\.[0-9]+)?|\.[0-9]+)\s*(?P<suf>[kmgt]|bn?)?\s*"
                     r"(?P<unit>i?b(?:ytes?)?)?\s*(?:values|parameters|params|ops|/\s*image)?$",
                     re.IGNORECASE)
#: a figure written short this close to the exact value is the same number ("854M" for
#: 854,196,224); further, though right to the precision written, it is "rounded" ("35K" for
#: 34,944). The lecture page's judgement uses the same line.
MATCH_WITHIN = Fraction(1, 1000)
MAX_EXPR = 200  # characters; a longer "product" is not something a student wrote by hand
_EXPR = re.compile(r"^[0-9\s*x×+\-/().,]+$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Reading:
    """One '='-separated part of a claim: a value and how precisely it was written."""

    value: Fraction
    tolerance: Fraction  # half a unit in the last written place; 0 for exact figures
    text: str
    binary: Fraction | None = None  # the value read with 1024-based units (bytes only)


def read_parts(text: str) -> list[Reading] | None:
    parts = [p.strip() for p in re.split(r"~?=", text) if p.strip()]
    out: list[Reading] = []
    for part in parts:
        r = _read_number(part) or _read_expr(part)
        if r is None:
            return None
        out.append(r)
    return out or None


def _read_number(part: str) -> Reading | None:
    m = _NUMBER.match(part.strip())
    if not m:
        return None
    mant = m["mant"].replace(",", "")
    suf = (m["suf"] or "").lower()[:1]
    mult = _SUFFIX[suf]
    value = Fraction(mant) * mult
    binary = Fraction(mant) * _BINARY.get(suf, mult) if m["unit"] else None
    if not suf and "." not in mant:
        return Reading(value, Fraction(0), part, binary)
    if "." in mant:
        place = Fraction(1, 10 ** len(mant.split(".")[1]))
    else:
        zeros = len(mant) - len(mant.rstrip("0"))
        place = Fraction(10**zeros) if mant.strip("0") else Fraction(1)
    return Reading(value, place * mult / 2, part, binary)


def _read_expr(part: str) -> Reading | None:
    if len(part) > MAX_EXPR or not _EXPR.match(part):
        return None
    expr = part.replace(",", "").replace("×", "*").replace("x", "*").replace("X", "*")
    try:
        value = _evaluate(expr)
    except (ValueError, ZeroDivisionError, IndexError):
        return None
    return Reading(value, Fraction(0), part)


def _evaluate(expr: str) -> Fraction:
    """Evaluate + - * / and parentheses over integers exactly (no eval())."""
    tokens = re.findall(r"[0-9]+|[-+*/()]", expr)
    if "".join(tokens) != re.sub(r"\s+", "", expr):
        raise ValueError(expr)
    pos = 0

    def atom() -> Fraction:
        nonlocal pos
        tok = tokens[pos]
        pos += 1
        if tok == "(":
            v = total()
            if tokens[pos] != ")":
                raise ValueError(expr)
            pos += 1
            return v
        if tok == "-":
            return -atom()
        if not isnum(tok):
            raise ValueError(expr)
        return Fraction(int(tok))

    def product() -> Fraction:
        nonlocal pos
        v = atom()
        while pos < len(tokens) and tokens[pos] in "*/":
            op = tokens[pos]
            pos += 1
            v = v * atom() if op == "*" else v / atom()
        return v

    def total() -> Fraction:
        nonlocal pos
        v = product()
        while pos < len(tokens) and tokens[pos] in "+-":
            op = tokens[pos]
            pos += 1
            v = v + product() if op == "+" else v - product()
        return v

    result = total()
    if pos != len(tokens):
        raise ValueError(expr)
    return result


def approx(n: int) -> str:
    """3211264 -> '3.2M' (for explanations only)."""
    for mult, suf in ((10**9, "G"), (10**6, "M"), (10**3, "K")):
        if abs(n) >= mult:
            return f"{n / mult:.1f}".rstrip("0").rstrip(".") + suf
    return str(n)


def _agrees(r: Reading, value: int) -> bool:
    if abs(r.value - value) <= r.tolerance:
        return True
    if r.binary is not None and r.value:
        return abs(r.binary - value) <= r.tolerance * r.binary / r.value
    return False


def _judge(field: str, text: str, candidates: list[tuple[int, str]]) -> ClaimResult:
    readings = read_parts(text)
    main_value, main_what = candidates[0]
    if readings is None:
        return ClaimResult(field=field, claimed=text, computed=main_value, ok=False,
                           explanation=f"could not read '{text}' as a number or a product; "
                                       f"the computed {field} is {fmt(main_value)} ({main_what})")
    for value, what in candidates:
        if all(_agrees(r, value) for r in readings):
            return ClaimResult(field=field, claimed=text, computed=value, ok=True,
                               explanation=_right(readings, value, what),
                               rounded=any(is_rounded(r, value) for r in readings))
    wrong = [r for r in readings if not _agrees(r, main_value)]
    off = int(wrong[0].value - main_value) if wrong else 0
    return ClaimResult(field=field, claimed=text, computed=main_value, ok=False,
                       explanation=f"'{wrong[0].text if wrong else text}' is wrong: the computed "
                                   f"{field} is {fmt(main_value)} (about {approx(main_value)}; "
                                   f"{main_what})"
                                   + (f"; the claim is off by {fmt(abs(off))}" if off else ""))


def is_rounded(r: Reading, value: int) -> bool:
    """A figure right only to the precision written, further than MATCH_WITHIN from the value."""
    if not r.tolerance or not value:
        return False
    gaps = [abs(r.value - value)] + ([abs(r.binary - value)] if r.binary is not None else [])
    return min(gaps) > MATCH_WITHIN * abs(value)


def _right(readings: list[Reading], value: int, what: str) -> str:
    rounded = [r.text for r in readings if r.tolerance]
    text = f"right: {fmt(value)} ({what})"
    if rounded:
        text += f"; {', '.join(rounded)} agrees to the precision written"
    return text


def _output_claim(text: str, row: LayerRow) -> ClaimResult:
    out = row.output
    computed = f"{out.h}x{out.w}x{out.c}"
    dims = [int(d) for d in re.findall(r"[0-9]+", text.replace(",", ""))]
    if len(dims) == 3:
        ok = dims == [out.h, out.w, out.c]
    elif len(dims) == 2:
        ok = dims == [out.h, out.w]
    elif len(dims) == 1:
        ok = (out.h, out.w, out.c) == (1, 1, dims[0]) or dims[0] == out.h * out.w * out.c
    else:
        ok = False
    f = row.formulas
    why = f"H: {f.get('h')}; W: {f.get('w')}; C: {f.get('c')}"
    return ClaimResult(field="output", claimed=text, computed=computed, ok=ok,
                       explanation=("right: " if ok else f"wrong: the output is {computed}; ")
                       + why)


def check_claims(claims: tuple[Claim, ...], row: LayerRow) -> tuple[ClaimResult, ...]:
    return tuple(_output_claim(c.text, row) if c.field == "output"
                 else _judge(c.field, c.text, _row_candidates(c.field, row)) for c in claims)


def _row_candidates(field: str, row: LayerRow) -> list[tuple[int, str]]:
    f = row.formulas
    if field in ("params", "weights"):
        extra = (f"; with the {fmt(row.biases)} biases the layer has {fmt(row.params)} parameters"
                 if row.biases else "")
        cands = [(row.weights, f"counted the weights only: {f.get('weights')}{extra}")]
        if row.biases:
            cands.append((row.params, f"counted weights and biases: {f.get('params')}"))
        if field == "params" and row.biases:
            cands.reverse()
        return cands
    if field == "activations":
        return [(row.activations, f"values in the output: {f.get('activations')}")]
    if field == "flops":
        return [(2 * row.macs, f"2 x {fmt(row.macs)} multiply-adds")]
    if field == "rf":
        return [(int(row.rf.size), f"receptive field: {f.get('rf')}")]
    value = int(getattr(row, field))
    return [(value, f"{field}: {f.get(field, fmt(value))}")]


def check_total_claims(claims: tuple[Claim, ...], totals: Totals,
                       bytes_per_value: int) -> tuple[ClaimResult, ...]:
    results: list[ClaimResult] = []
    for c in claims:
        if c.field == "activation_bytes":
            per_image = totals.activations * bytes_per_value
            what = (f"{fmt(totals.activations)} values x {bytes_per_value} bytes, one image, "
                    f"forward only")
            cands = [(per_image, what)]
        elif c.field in ("params", "weights"):
            cands = [(totals.params, "weights and biases"), (totals.weights, "weights only")]
        else:
            value = int(getattr(totals, c.field))
            cands = [(value, f"total {c.field}: the sum of the per-layer rows")]
        results.append(_judge(c.field, c.text, cands))
    return tuple(results)
