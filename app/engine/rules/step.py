"""What a rule returns (:class:`Step`), the receptive-field window it may set, and the two
rule signatures."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import NamedTuple, Protocol

from app.engine.errors import SpecError
from app.engine.graph import Layer, Volume
from app.engine.working import Working


class Window(NamedTuple):
    """A sliding window along one axis, for the receptive-field walk. Upsampling and
    transposed convolutions step by a fraction of an input unit (``s`` = 1/F) and may start
    between units (a fractional ``p``)."""

    k: int  # effective extent, in input units
    s: int | Fraction
    p: int | Fraction  # padding before the first element


@dataclass(slots=True)
class Step:
    """What a rule works out for one layer on one input volume (the walk freezes it)."""

    out: Volume
    weights: int = 0
    biases: int = 0
    macs: int = 0
    working: dict[str, Working] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    #: remarks that are not problems (only padding goes unread)
    notes: list[str] = field(default_factory=list)
    rf: tuple[Window, Window] | None = None  # None: the field passes through unchanged
    #: values of a tensor made inside the layer besides its output (a separable conv's
    #: depthwise result), kept for the backward pass as the output is
    hidden: int = 0
    #: build the working too: a rule runs without it for the numbers, and again with it only
    #: when a renderer first asks for the working (most rows of a big network never are)
    explain: bool = False


class Rule(Protocol):
    def __call__(self, layer: Layer, x: Volume, explain: bool = False) -> Step: ...


class MergeRule(Protocol):
    def __call__(self, layer: Layer, xs: tuple[Volume, ...], explain: bool = False) -> Step: ...


def int_attr(layer: Layer, key: str, default: int = 0) -> int:
    return int(layer.attrs.get(key, default))


def check_cin(layer: Layer, got: int, what: str) -> None:
    """A pasted PyTorch line states its input size; torch refuses a different one."""
    said = layer.attrs.get("cin")
    if said is not None and said != got:
        raise SpecError(f"{layer.name} is written for {said} input {what}, but {got} reach it",
                        layer.line, layer.name)
