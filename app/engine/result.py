"""The result of an analysis: one frozen object of raw integers, rendered as JSON or HTML.

Formatting (thousands separators, "55x55x96", MB) happens at the edge; the only strings here are
the worked formulas, explanations and warnings, which are data the pages show verbatim.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Dtype = Literal["float32", "float16", "bfloat16", "int8"]
Optimizer = Literal["sgd", "adam"]
DTYPE_BYTES: dict[str, int] = {"float32": 4, "float16": 2, "bfloat16": 2, "int8": 1}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class VolumeOut(_Frozen):
    h: int
    w: int
    c: int


class AxisRF(_Frozen):
    size: int = Field(description="receptive field along this axis, in input pixels")
    jump: int = Field(description="distance in input pixels between adjacent output units")
    start: float = Field(description="centre of the first output unit's field, in input pixel "
                                     "coordinates (the first pixel's centre is 0)")


class RF(_Frozen):
    """Receptive field. ``size``/``jump``/``start`` are those of the axis with the larger field
    (H on a tie); ``h`` and ``w`` give both axes."""

    size: int
    jump: int
    start: float
    h: AxisRF
    w: AxisRF


class ClaimResult(_Frozen):
    field: str = Field(description="output | activations | params | weights | biases | macs | "
                                   "flops | rf | activation_bytes")
    claimed: str = Field(description="what was written, e.g. '224*224*64=3.2M'")
    computed: int | str = Field(description="the exact value (a volume is 'HxWxC')")
    ok: bool
    explanation: str


class LayerRow(_Frozen):
    index: int = Field(description="0-based row number; the input is row 0")
    name: str
    op: str = Field(description="layer op, or for a merge row: concat, add, join")
    line: int = Field(description="spec line this row comes from")
    block: str = Field("", description="path of enclosing blocks, e.g. 'inception3a/branch2'")
    depth: int = Field(0, description="nesting level (0 = main path)")
    attrs: dict[str, int | float | bool | str] = Field(default_factory=dict)
    input: VolumeOut
    output: VolumeOut
    weights: int
    biases: int
    params: int
    macs: int
    activations: int
    rf: RF
    formulas: dict[str, str] = Field(default_factory=dict)
    warnings: list[str] = Field(default_factory=list)
    claims: list[ClaimResult] = Field(default_factory=list)
    survival: float | None = Field(None, description="stochastic depth: probability that this "
                                                     "row runs during training")


class Totals(_Frozen):
    params: int
    weights: int
    biases: int
    macs: int
    flops: int = Field(description="2 x macs")
    activations: int
    activation_bytes: int = Field(description="activations x bytes per value x batch")
    param_bytes: int = Field(description="params x bytes per value")
    training_bytes: int = Field(description="activation_bytes + params x bytes x (1 weights + 1 "
                                            "gradients + optimizer state: 1 for SGD momentum, "
                                            "2 for Adam)")
    depth: int = Field(description="conv and fc layers on the longest path")
    weight_layers: int = Field(description="number of conv and fc layers")
    expected_depth: float | None = Field(None, description="stochastic depth: expected depth "
                                                           "during training")
    expected_macs: float | None = Field(None, description="stochastic depth: expected macs per "
                                                          "image during training")


class WarningOut(_Frozen):
    layer: str
    line: int
    message: str


class Options(_Frozen):
    dtype: Dtype = "float32"
    batch: int = 1
    optimizer: Optimizer = "sgd"
    aux: bool = False


class Analysis(_Frozen):
    input: VolumeOut
    output: VolumeOut
    layers: list[LayerRow]
    totals: Totals
    warnings: list[WarningOut] = Field(default_factory=list)
    claims: list[ClaimResult] = Field(default_factory=list,
                                      description="claims about the whole network (TOTAL lines)")
    conventions: dict[str, str]
    options: Options
