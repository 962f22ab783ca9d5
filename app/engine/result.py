"""The result of an analysis: one object of raw integers, rendered as JSON or HTML.

The classes are slotted standard-library dataclasses, not pydantic models: a ResNet-152 has
516 rows and building each as a validated model cost more than the whole walk. They are read
only by convention (nothing after :func:`app.engine.analyze` changes them). pydantic still
describes them: FastAPI documents and serialises them from these annotations, and
:func:`to_jsonable` gives the JSON form.

Formatting (thousands separators, "55x55x96", MB) happens at the edge; the only strings here are
the worked formulas, explanations and warnings, which are data the pages show verbatim.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import Field, TypeAdapter

Dtype = Literal["float32", "float16", "bfloat16", "int8"]
Optimizer = Literal["sgd", "adam"]
DTYPE_BYTES: dict[str, int] = {"float32": 4, "float16": 2, "bfloat16": 2, "int8": 1}


@dataclass(slots=True)
class VolumeOut:
    h: int
    w: int
    c: int


@dataclass(slots=True)
class AxisRF:
    size: Annotated[int, Field(description="receptive field along this axis, in input pixels")]
    jump: Annotated[int, Field(description="distance in input pixels between adjacent output "
                                           "units (the effective stride)")]
    start: Annotated[float, Field(description="centre of the first output unit's field, in "
                                              "input pixel coordinates (first pixel's centre = 0)")]


@dataclass(slots=True)
class RF:
    """Receptive field. ``size``/``jump``/``start`` are those of the axis with the larger field
    (H on a tie); ``h`` and ``w`` give both axes."""

    size: int
    jump: int
    start: float
    h: AxisRF
    w: AxisRF


@dataclass(slots=True)
class ClaimResult:
    field: Annotated[str, Field(description="output | activations | params | weights | biases | "
                                            "macs | flops | rf | activation_bytes")]
    claimed: Annotated[str, Field(description="what was written, e.g. '224*224*64=3.2M'")]
    computed: Annotated[int | str, Field(description="the exact value (a volume is 'HxWxC')")]
    ok: bool
    explanation: str


@dataclass(slots=True)
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
    activations: Annotated[int, Field(description="values in this row's output tensor")]
    rf: RF
    formulas: Annotated[dict[str, str], Field(description="the worked arithmetic of each figure")]
    warnings: list[str]
    claims: list[ClaimResult]
    survival: Annotated[float | None, Field(description="stochastic depth: probability that "
                                                        "this row runs during training")] = None


@dataclass(slots=True)
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


@dataclass(slots=True)
class WarningOut:
    layer: str
    line: int
    message: str


@dataclass(slots=True)
class Options:
    dtype: Dtype = "float32"
    batch: int = 1
    optimizer: Optimizer = "sgd"
    aux: bool = False


@dataclass(slots=True)
class Analysis:
    input: VolumeOut
    output: VolumeOut
    layers: list[LayerRow]
    totals: Totals
    warnings: list[WarningOut] = field(default_factory=list)
    claims: Annotated[list[ClaimResult], Field(
        description="claims about the whole network (TOTAL lines)")] = field(default_factory=list)
    conventions: dict[str, str] = field(default_factory=dict)
    options: Options = field(default_factory=Options)


_ADAPTERS: dict[type, TypeAdapter[Any]] = {}


def to_jsonable(obj: Any) -> Any:
    """The JSON form (plain dicts, lists and numbers) of any result object above."""
    cls = type(obj)
    if cls not in _ADAPTERS:
        _ADAPTERS[cls] = TypeAdapter(cls)
    return _ADAPTERS[cls].dump_python(obj, mode="json")
