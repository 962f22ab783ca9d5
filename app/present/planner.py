"""The batch planner: how many images fit in a memory budget, for inference and for training.

Pure arithmetic over the engine's totals of an analysis (``totals.activation_bytes`` divided by
its batch is the memory of one image's activations at the analysis' dtype, ``param_bytes`` the
weights', ``training_bytes - activation_bytes`` the weights, their gradients and the optimizer
state). The counts follow the engine's conventions ("How we count"): inference holds the
weights and every activation of the batch; training also the gradients and the optimizer
state; no framework workspace. The lecture's own way ("5 GB, about 50 images") divides the
budget by the activations alone; the plan shows that too.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

from app.engine.result import Analysis

Unit = Literal["GB", "GiB"]
UNITS: dict[str, int] = {"GB": 10**9, "GiB": 2**30}
#: the lecture's budget: "5 gigs" of GPU memory, in decimal units
LECTURE_BUDGET = (Fraction(5), "GB")


class PlanError(ValueError):
    """A budget that cannot be planned with (not a positive number, an unknown unit)."""


@dataclass(frozen=True, slots=True)
class Fit:
    """One way of filling the budget: what stays fixed, what each image takes, how many fit."""

    what: str
    fixed: int
    per_image: int
    images: int
    working: str


@dataclass(frozen=True, slots=True)
class Plan:
    budget: Fraction
    unit: str
    budget_bytes: int
    per_image: int
    inference: Fit
    training: Fit
    activations_only: Fit


def budget_bytes(amount: str | float | Fraction, unit: str) -> tuple[Fraction, int]:
    """'5', 'GB' -> (5, 5,000,000,000); PlanError naming the problem otherwise."""
    if unit not in UNITS:
        raise PlanError(f"unit must be GB or GiB, got '{unit}'")
    try:
        value = Fraction(str(amount).strip())
    except (ValueError, ZeroDivisionError):
        raise PlanError(f"the budget must be a number such as 5 or 0.5, got '{amount}'") from None
    if value <= 0 or value > 10**6:
        raise PlanError(f"the budget must be more than 0 and at most 1,000,000 {unit}, "
                        f"got {amount}")
    return value, int(value * UNITS[unit])


def _fit(what: str, budget: int, fixed: int, per_image: int, fixed_text: str) -> Fit:
    left = budget - fixed
    images = max(left, 0) // per_image if per_image else 0
    sub = f"({budget:,} - {fixed:,} {fixed_text})" if fixed else f"{budget:,}"
    working = f"{sub} / {per_image:,} bytes an image = {images:,} images"
    if left <= 0:
        working = f"{fixed_text} alone take {fixed:,} bytes, more than the {budget:,} there are"
    return Fit(what, fixed, per_image, images, working)


def plan(analysis: Analysis, amount: str | float | Fraction, unit: str) -> Plan:
    """How many images fit in ``amount`` ``unit`` of memory, from an analysis (its dtype and
    optimizer are the plan's; its batch only scales ``activation_bytes``, which is divided
    back to one image)."""
    value, total = budget_bytes(amount, unit)
    totals, optimizer = analysis.totals, analysis.options.optimizer
    per_image, left = divmod(totals.activation_bytes, analysis.options.batch)
    assert left == 0, "activation_bytes is activations x bytes per value x batch"
    state = totals.training_bytes - totals.activation_bytes
    copies = "momentum" if optimizer == "sgd" else "two Adam moments"
    return Plan(
        value, unit, total, per_image,
        _fit("inference", total, totals.param_bytes, per_image, "bytes of weights"),
        _fit("training", total, state, per_image,
             f"bytes of weights, gradients and {copies}"),
        _fit("activations only (the lecture's way)", total, 0, per_image, ""))


def budget_text(value: Fraction) -> str:
    """5 -> '5', 1/2 -> '0.5' (a budget as typed)."""
    return f"{float(value):g}"


__all__ = ["LECTURE_BUDGET", "UNITS", "Fit", "Plan", "PlanError", "budget_bytes", "budget_text",
           "plan"]
