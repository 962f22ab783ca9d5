"""The result of an analysis: one object of raw integers, rendered as JSON or HTML.

The classes are frozen, slotted standard-library dataclasses, not pydantic models: a ResNet-152
has 516 rows and building each as a validated model cost more than the whole walk. They are
immutable: sequences are tuples and mappings :class:`~app.engine.graph.FrozenDict`, so a cached
analysis (the zoo's) can be handed to every request and no renderer can change it. Equal values
compare equal. pydantic still describes them: FastAPI documents and serialises them from these
annotations, and :func:`to_jsonable` gives the JSON form.

Formatting (thousands separators, "55x55x96", MB) happens at the edge. Each figure's working is
structured data (``LayerRow.working``, see ``app.engine.working``); ``formulas`` is its plain-text
rendering, kept for programs. Explanations and warnings are sentences the pages show verbatim.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import Field, TypeAdapter

from app.engine.graph import FrozenDict
from app.engine.options import DTYPE_BYTES, Dtype, Optimizer, Options
from app.engine.working import Working

__all__ = ["DTYPE_BYTES", "RF", "Analysis", "AxisRF", "ClaimResult", "Dtype", "LayerRow",
           "Optimizer", "Options", "Totals", "VolumeOut", "WarningOut", "to_jsonable"]


@dataclass(frozen=True, slots=True)
class VolumeOut:
    h: int
    w: int
    c: int


@dataclass(frozen=True, slots=True)
class AxisRF:
    size: Annotated[int, Field(description="receptive field along this axis, in input pixels")]
    jump: Annotated[int, Field(description="distance in input pixels between adjacent output "
                                           "units (the effective stride)")]
    start: Annotated[float, Field(description="centre of the first output unit's field, in "
                                              "input pixel coordinates (first pixel's centre = 0)")]


@dataclass(frozen=True, slots=True)
class RF:
    """Receptive field. ``size``/``jump``/``start`` are those of the axis with the larger field
    (H on a tie); ``h`` and ``w`` give both axes."""

    size: int
    jump: int
    start: float
    h: AxisRF
    w: AxisRF


@dataclass(frozen=True, slots=True)
class ClaimResult:
    field: Annotated[str, Field(description="output | activations | params | weights | biases | "
                                            "macs | flops | rf | activation_bytes")]
    claimed: Annotated[str, Field(description="what was written, e.g. '224*224*64=3.2M'")]
    computed: Annotated[int | str, Field(description="the exact value (a volume is 'HxWxC')")]
    ok: bool
    explanation: str


@dataclass(frozen=True, slots=True)
class LayerRow:
    index: Annotated[int, Field(description="0-based row number; the input is row 0")]
    name: str
    op: Annotated[str, Field(description="layer op, or for a merge row: concat, add, join")]
    line: Annotated[int, Field(description="spec line this row comes from")]
    block: Annotated[str, Field(description="path of enclosing blocks, e.g. "
                                            "'inception3a/branch2'; '' on the main path")]
    depth: Annotated[int, Field(description="nesting level (0 = main path)")]
    attrs: dict[str, int | float | bool | str]
    input: VolumeOut
    output: VolumeOut
    weights: int
    biases: int
    params: int
    macs: Annotated[int, Field(description="multiply-accumulates (conv and fc only)")]
    activations: Annotated[int, Field(description="values in this row's output tensor, per image")]
    activation_bytes: Annotated[int, Field(description="activations x bytes per value (dtype) x "
                                                       "batch")]
    rf: RF
    formulas: Annotated[dict[str, str], Field(
        description="the worked arithmetic of each figure, as plain text")]
    warnings: Annotated[tuple[str, ...], Field(description="problems: real input left unread, "
                                                           "unaligned branches")]
    claims: tuple[ClaimResult, ...]
    notes: Annotated[tuple[str, ...], Field(description="remarks that are not problems, e.g. "
                                                        "a floored size where only padding "
                                                        "goes unread")] = ()
    survival: Annotated[float | None, Field(description="stochastic depth: probability that "
                                                        "this row runs during training")] = None
    #: each figure's working as data (rendered by app.present.working); not in the JSON
    working: Annotated[dict[str, Working], Field(exclude=True)] = field(default_factory=FrozenDict)


@dataclass(frozen=True, slots=True)
class Totals:
    params: int
    weights: int
    biases: int
    macs: int
    flops: Annotated[int, Field(description="2 x macs")]
    activations: int
    activation_bytes: Annotated[int, Field(description="activations x bytes per value x batch")]
    param_bytes: Annotated[int, Field(description="params x bytes per value")]
    training_bytes: Annotated[int, Field(
        description="activation_bytes + params x bytes x (1 weights + 1 gradients + optimizer "
                    "state: 1 for SGD momentum, 2 for Adam)")]
    depth: Annotated[int, Field(description="conv and fc layers on the longest path")]
    weight_layers: Annotated[int, Field(description="number of conv and fc layers")]
    expected_depth: Annotated[float | None, Field(
        description="stochastic depth: expected depth during training")] = None
    expected_macs: Annotated[float | None, Field(
        description="stochastic depth: expected macs per image during training")] = None


@dataclass(frozen=True, slots=True)
class WarningOut:
    layer: str
    line: int
    message: str


@dataclass(frozen=True, slots=True)
class Analysis:
    input: VolumeOut
    output: VolumeOut
    layers: tuple[LayerRow, ...]
    totals: Totals
    warnings: tuple[WarningOut, ...] = ()
    claims: Annotated[tuple[ClaimResult, ...], Field(
        description="claims about the whole network (TOTAL lines)")] = ()
    conventions: dict[str, str] = field(default_factory=FrozenDict)
    options: Options = Options()


_ADAPTERS: dict[type, TypeAdapter[Any]] = {}


def to_jsonable(obj: Any) -> Any:
    """The JSON form (plain dicts, lists and numbers) of any result object above."""
    cls = type(obj)
    if cls not in _ADAPTERS:
        _ADAPTERS[cls] = TypeAdapter(cls)
    return _ADAPTERS[cls].dump_python(obj, mode="json")
