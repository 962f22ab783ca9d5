"""One small rule per op: what a layer does to a volume, and what it costs.

Conventions (carried to the JSON as ``conventions`` and to the pages as "How we count"):

* ``macs`` are multiply-accumulates of conv and fc layers only, bias additions excluded (the
  lecture's "ops"); pools, normalisation, activations and merges count 0. ``flops = 2 x macs``.
* ``weights`` are multiplicative parameters, ``biases`` additive ones; BatchNorm has 2C learnable
  parameters (scale and shift), counted as C weights and C biases; its running statistics are
  buffers, not parameters.
* Activations are set by the walk (values in the output tensor; in-place and view ops add none).

Each rule returns a :class:`Step`; the walk adds activations and the receptive field. The op
registry (``app.engine.optable``) says which rule serves which op. The rules are grouped by
kind: :mod:`.windows`, :mod:`.shapes`, :mod:`.merges`; :mod:`.step` has what they return.
"""

from app.engine.rules.merges import add_inputs, concat_inputs, mul_inputs, needs_inputs
from app.engine.rules.shapes import (
    bn,
    channelshuffle,
    elementwise,
    flatten,
    layernorm,
    layerscale,
    padchannels,
    pixelshuffle,
    prelu,
    upsample,
)
from app.engine.rules.step import MergeRule, Rule, Step, Window
from app.engine.rules.windows import (
    adaptiveavgpool,
    avgpool,
    conv,
    convtranspose,
    crop,
    fc,
    gap,
    maxpool,
    sepconv,
)

__all__ = [
    "MergeRule",
    "Rule",
    "Step",
    "Window",
    "adaptiveavgpool",
    "add_inputs",
    "avgpool",
    "bn",
    "channelshuffle",
    "concat_inputs",
    "conv",
    "convtranspose",
    "crop",
    "elementwise",
    "fc",
    "flatten",
    "gap",
    "layernorm",
    "layerscale",
    "maxpool",
    "mul_inputs",
    "needs_inputs",
    "padchannels",
    "pixelshuffle",
    "prelu",
    "sepconv",
    "upsample",
]
