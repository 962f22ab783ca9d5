"""The op registry: one entry per layer op, holding every fact about it; every set of ops
anywhere in archcalc is a query on it.

An entry gives the op's accepted spellings (canonical first, then the spellings pasted from
slides, notes and PyTorch), the arguments it takes and their order when written bare
(``conv 96 11x11``: filters, then kernel), their defaults, the validator that checks them into
attributes (``app.engine.arguments``), the rule that computes its numbers
(``app.engine.rules``), its role (weight layer, folded into the row above, merge, reshape,
pass-through), what its output costs in memory, the torch module it corresponds to, the torch
classes and functions the fx importer reads as it, the ONNX op types the ONNX reader reads as
it, and its row in ``docs/spec-language.md``.

Facts that need torch (the module factory, the code export) live in torch-side tables keyed by
these names; ``tests/torch/test_registry_tables.py`` fails naming any op one of them leaves
out. ``docs/architecture.md`` has the checklist for adding an op.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from app.engine import arguments, rules
from app.engine.errors import SpecError
from app.engine.graph import AttrValue, Claim, FrozenDict, Layer

Memory = Literal["new", "in_place", "view"]


@dataclass(frozen=True, slots=True)
class OpDef:
    name: str
    spellings: tuple[str, ...]
    rule: rules.Rule
    example: str
    doc: str
    torch: str
    #: arguments accepted, besides claims
    args: frozenset[str] = frozenset()
    #: what bare values mean, in order: ``conv 96 11x11`` is out, then kernel
    positional: tuple[str, ...] = ()
    validate: arguments.Validator | None = None
    #: "new": the output is a new tensor; "in_place": written over the input; "view": no copy
    memory: Memory = "new"
    #: a weight layer (conv, fc ...): its multiply-adds are counted, it counts towards depth and
    #: opens a stage in the per-stage subtotals
    weighted: bool = False
    #: a merge of named inputs (``add c1 c3``): its rule over all their volumes
    merge: rules.MergeRule | None = None
    #: drawn inside the row of the layer above it, in the table and the architecture diagram
    #: ("conv1 + BN + ReLU"): activations, normalisations, dropout, views
    folds: bool = False
    #: how it reads in a folded label; the name when empty
    label: str = ""
    #: the arguments it takes when a line leaves them out, written once
    defaults: Mapping[str, AttrValue] = field(default_factory=dict)
    #: may hand back its input tensor itself, or a view of it (dropout does when evaluating):
    #: the layer after it must not work in place on a tensor a branch still reads
    passes: bool = False
    #: reshape role: reads an (N, C, H, W) map (a vector is given back its 1x1 first) ...
    spatial: bool = False
    #: ... or leaves a vector (N, C) behind
    flattens: bool = False
    #: the torch module classes (``nn.X``) and functional names the fx importer reads as this
    #: op; ``()`` where none reads as it; None (not stated) fails the registry meta-test
    fx: tuple[str, ...] | None = None
    #: the ONNX op types the ONNX reader reads as this op; as ``fx``
    onnx: tuple[str, ...] | None = None


_WINDOW = frozenset({"kernel", "stride", "pad", "dilation"})


def _d(**values: AttrValue) -> Mapping[str, AttrValue]:
    return MappingProxyType(values)


_TABLE = (
    OpDef("conv", ("conv", "convolution", "conv2d"), rules.conv,
          "conv 96 11x11 stride 4 pad 0",
          "96 filters of 11x11; `stride S` or `stride SHxSW` (default 1), `pad P` / `pad PHxPW` / "
          "`pad B,A` (before, after) / `pad T,B,L,R` (per side) / `pad same` (PyTorch's at "
          "stride 1, TensorFlow's SAME above it; default 0), `groups G`, `dilation D`, "
          "`nobias`; `depthwise` sets groups to the input channels (`depthwise 3x3` alone: one "
          "filter per channel)", "nn.Conv2d",
          _WINDOW | {"out", "groups", "bias", "depthwise", "cin"}, ("out", "kernel"),
          arguments.conv, weighted=True, spatial=True, fx=("Conv2d",), onnx=("Conv",)),
    OpDef("maxpool", ("maxpool", "max_pool", "maxpool2d", "pool"), rules.maxpool,
          "maxpool 3x3 stride 2",
          "max pool; `pad P` (or per side, as conv; `pad same` as conv's, padded with -inf), "
          "`dilation D`, `ceil` (PyTorch `ceil_mode`); stride defaults to the kernel",
          "nn.MaxPool2d", _WINDOW | {"ceil"}, ("kernel",), arguments.pool, spatial=True,
          fx=("MaxPool2d", "max_pool2d"), onnx=("MaxPool",)),
    OpDef("avgpool", ("avgpool", "avg_pool", "avgpool2d"), rules.avgpool, "avgpool 7x7",
          "average pool, `pad P` (`pad same` pads zeros that count in the average, PyTorch's "
          "default), `ceil`; stride defaults to the kernel", "nn.AvgPool2d",
          frozenset({"kernel", "stride", "pad", "ceil"}), ("kernel",), arguments.pool,
          spatial=True, fx=("AvgPool2d", "avg_pool2d"), onnx=("AveragePool",)),
    OpDef("adaptiveavgpool", ("adaptiveavgpool", "adaptive_avgpool", "adaptiveavgpool2d"),
          rules.adaptiveavgpool, "adaptiveavgpool 6x6", "PyTorch `AdaptiveAvgPool2d((6, 6))`",
          "nn.AdaptiveAvgPool2d", frozenset({"kernel"}), ("kernel",), arguments.adaptive,
          spatial=True, fx=("AdaptiveAvgPool2d", "adaptive_avg_pool2d"), onnx=()),
    OpDef("gap", ("gap", "globalavgpool", "global_avgpool"), rules.gap, "gap",
          "global average pool to 1x1xC (`AdaptiveAvgPool2d(1)`)", "nn.AdaptiveAvgPool2d",
          spatial=True, fx=("AdaptiveAvgPool2d", "adaptive_avg_pool2d", "mean"),
          onnx=("GlobalAveragePool", "ReduceMean")),
    OpDef("fc", ("fc", "linear", "dense_layer", "dense"), rules.fc, "fc 4096",
          "fully connected; flattens its input; output volume 1x1x4096; `nobias`", "nn.Linear",
          frozenset({"out", "bias", "cin"}), ("out",), arguments.fc, weighted=True,
          flattens=True, fx=("Linear",), onnx=("Gemm", "MatMul")),
    OpDef("relu", ("relu",), rules.elementwise, "relu", "ReLU, in place (adds no memory)",
          "nn.ReLU", memory="in_place", folds=True, label="ReLU", fx=("ReLU", "relu", "relu_"),
          onnx=("Relu",)),
    OpDef("tanh", ("tanh",), rules.elementwise, "tanh", "tanh activation", "nn.Tanh", folds=True,
          fx=("Tanh", "tanh"), onnx=("Tanh",)),
    OpDef("sigmoid", ("sigmoid",), rules.elementwise, "sigmoid", "sigmoid activation",
          "nn.Sigmoid", folds=True, fx=("Sigmoid", "sigmoid"), onnx=("Sigmoid",)),
    OpDef("bn", ("bn", "batchnorm", "batchnorm2d"), rules.bn, "bn",
          "BatchNorm2d: 2C learnable parameters (its running statistics are buffers)",
          "nn.BatchNorm2d", frozenset({"cin"}), (), arguments.bn, folds=True, label="BN",
          fx=("BatchNorm2d",), onnx=("BatchNormalization",)),
    OpDef("lrn", ("lrn", "norm"), rules.elementwise, "lrn size 5",
          "local response normalization (`size 5` by default)", "nn.LocalResponseNorm",
          frozenset({"size"}), ("size",), arguments.lrn, defaults=_d(size=5), folds=True,
          label="LRN", spatial=True, fx=("LocalResponseNorm",), onnx=("LRN",)),
    OpDef("dropout", ("dropout",), rules.elementwise, "dropout 0.5",
          "dropout (in place), probability optional (default 0.5)", "nn.Dropout",
          frozenset({"p"}), ("p",), arguments.dropout, memory="in_place", defaults=_d(p=0.5),
          folds=True, passes=True, fx=("Dropout", "Dropout2d", "dropout"), onnx=("Dropout",)),
    OpDef("softmax", ("softmax", "soft-max"), rules.elementwise, "softmax",
          "softmax over the channels", "nn.Softmax", folds=True, fx=("Softmax",),
          onnx=("Softmax",)),
    OpDef("flatten", ("flatten",), rules.flatten, "flatten",
          "flatten to 1x1x(H*W*C), a view (no new values)", "nn.Flatten", memory="view",
          folds=True, passes=True, flattens=True, fx=("Flatten", "flatten", "view", "reshape"),
          onnx=("Flatten", "Reshape")),
    OpDef("padchannels", ("padchannels",), rules.padchannels, "padchannels 32",
          "zero-pad the channels up to 32 (ResNet \"option A\" shortcuts; no parameters)",
          "torch.nn.functional.pad", frozenset({"out"}), ("out",),
          arguments.padchannels, spatial=True, fx=(), onnx=()),
    OpDef("relu6", ("relu6",), rules.elementwise, "relu6",
          "ReLU6 (MobileNet), in place as torchvision builds it", "nn.ReLU6",
          memory="in_place", folds=True, label="ReLU6", fx=("ReLU6", "relu6"), onnx=("Clip",)),
    OpDef("hardswish", ("hardswish", "hswish", "h-swish"), rules.elementwise, "hardswish",
          "hard swish (MobileNetV3), in place as torchvision builds it", "nn.Hardswish",
          memory="in_place", folds=True, fx=("Hardswish", "hardswish"), onnx=("HardSwish",)),
    OpDef("hardsigmoid", ("hardsigmoid", "hsigmoid", "h-sigmoid"), rules.elementwise,
          "hardsigmoid", "hard sigmoid (MobileNetV3's squeeze-and-excitation gate)",
          "nn.Hardsigmoid", folds=True, fx=("Hardsigmoid", "hardsigmoid"),
          onnx=("HardSigmoid",)),
    OpDef("silu", ("silu", "swish"), rules.elementwise, "silu",
          "SiLU / swish (EfficientNet), in place as torchvision builds it", "nn.SiLU",
          memory="in_place", folds=True, label="SiLU", fx=("SiLU", "silu"), onnx=("Sigmoid", "Mul")),
    OpDef("gelu", ("gelu",), rules.elementwise, "gelu", "GELU (ConvNeXt); a new tensor",
          "nn.GELU", folds=True, label="GELU", fx=("GELU", "gelu"), onnx=("Gelu",)),
    OpDef("leakyrelu", ("leakyrelu", "leaky_relu", "lrelu"), rules.elementwise,
          "leakyrelu 0.1", "leaky ReLU with its negative slope (default 0.01), in place",
          "nn.LeakyReLU", frozenset({"slope"}), ("slope",), arguments.leakyrelu,
          memory="in_place", defaults=_d(slope=0.01), folds=True, label="leaky ReLU",
          fx=("LeakyReLU",), onnx=("LeakyRelu",)),
    OpDef("prelu", ("prelu",), rules.prelu, "prelu 64",
          "PReLU: one learnable slope, or one per channel when the count is given (it must "
          "equal the channels)", "nn.PReLU", frozenset({"out"}), ("out",), arguments.prelu,
          folds=True, label="PReLU", fx=("PReLU",), onnx=()),
    OpDef("layernorm", ("layernorm", "ln", "layernorm2d"), rules.layernorm, "layernorm",
          "LayerNorm over the channels at each position (ConvNeXt's LayerNorm2d): 2C learnable "
          "parameters", "nn.LayerNorm", folds=True, label="LN", spatial=True,
          fx=("LayerNorm", "layer_norm"), onnx=()),
    OpDef("layerscale", ("layerscale", "layer_scale"), rules.layerscale, "layerscale",
          "a learnable scale per channel (ConvNeXt's layer scale): C parameters",
          "nn.Parameter (C x 1 x 1)", folds=True, label="layer scale", spatial=True, fx=("mul",),
          onnx=("Mul",)),
    OpDef("identity", ("identity", "id"), rules.elementwise, "identity",
          "passes its input on (a view: no new values)", "nn.Identity", memory="view",
          folds=True, passes=True, fx=("Identity",), onnx=("Identity",)),
    OpDef("convtranspose", ("convtranspose", "convtranspose2d", "deconv", "upconv",
                            "transposedconv"), rules.convtranspose,
          "convtranspose 128 2x2 stride 2",
          "transposed convolution: out = (n - 1)*s - 2p + d*(k - 1) + outpad + 1; `pad P`, "
          "`outpad P` (PyTorch's output_padding), `groups G`, `dilation D`, `nobias`; multiply-"
          "adds counted over the input as torch's flop counter does: H_in*W_in*C_in*(N/G)*kh*kw",
          "nn.ConvTranspose2d", _WINDOW | {"out", "groups", "bias", "outpad", "cin"},
          ("out", "kernel"), arguments.convtranspose, weighted=True, spatial=True,
          fx=("ConvTranspose2d",), onnx=("ConvTranspose",)),
    OpDef("upsample", ("upsample", "upsampling", "interpolate"), rules.upsample,
          "upsample 2 bilinear",
          "upsample by a whole factor, `nearest` (the default) or `bilinear`; no parameters",
          "nn.Upsample", frozenset({"factor", "mode"}), ("factor",), arguments.upsample,
          defaults=_d(factor=2, mode="nearest"), spatial=True, fx=("Upsample",), onnx=()),
    OpDef("sepconv", ("sepconv", "separableconv", "separable_conv", "separableconv2d",
                      "sepconv2d"), rules.sepconv, "sepconv 128 3x3",
          "depthwise separable conv (Xception, MobileNet): a depthwise 3x3 (one filter per "
          "input channel, no bias) then a pointwise 1x1 of 128 filters with bias; one row, one "
          "layer of depth, as Xception counts it; its working names both parts and its "
          "activations hold both tensors; `stride`, `pad` (also `pad same`), `dilation`, "
          "`nobias`", "nn.Conv2d(groups=C) + nn.Conv2d 1x1",
          _WINDOW | {"out", "bias", "cin"}, ("out", "kernel"), arguments.sepconv, weighted=True,
          spatial=True, fx=(), onnx=()),
    OpDef("crop", ("crop", "centercrop", "center_crop"), rules.crop, "crop 56x56",
          "centre crop to 56x56 (the first (H-56)//2 rows and (W-56)//2 columns dropped), or "
          "`crop to NAME` to the named layer's H x W (U-Net's skip); a view, no parameters",
          "tensor slice", frozenset({"kernel", "to"}), ("kernel",), arguments.crop,
          memory="view", passes=True, spatial=True, fx=(), onnx=()),
    OpDef("concat", ("concat", "cat"), rules.needs_inputs, "concat enc2 up2",
          "the named layers concatenated along depth (their H x W must agree); two or more "
          "inputs; allocates its output", "torch.cat(dim=1)", merge=rules.concat_inputs,
          fx=("cat", "concat"), onnx=("Concat",)),
    OpDef("add", ("add", "sum"), rules.needs_inputs, "add c1 c3",
          "the named layers added element by element (their shapes must agree); two or more "
          "inputs; allocates its output", "torch.add", merge=rules.add_inputs,
          fx=("add", "iadd", "add_"), onnx=("Add",)),
    OpDef("mul", ("mul", "multiply"), rules.needs_inputs, "mul x gate",
          "the named layers multiplied element by element, an input of 1 along an axis "
          "broadcast (a 1x1xC gate scales each channel); no multiply-adds counted",
          "torch.mul", merge=rules.mul_inputs, fx=("mul", "imul", "mul_"), onnx=("Mul",)),
    OpDef("channelshuffle", ("channelshuffle", "channel_shuffle", "shuffle"),
          rules.channelshuffle, "channelshuffle 2",
          "ShuffleNet's channel shuffle in G groups; no parameters", "nn.ChannelShuffle",
          frozenset({"groups"}), ("groups",), arguments.channelshuffle, spatial=True,
          fx=("ChannelShuffle", "channel_shuffle"), onnx=()),
    OpDef("pixelshuffle", ("pixelshuffle", "pixel_shuffle", "subpixel", "depthtospace",
                           "depth_to_space"), rules.pixelshuffle, "pixelshuffle 2",
          "sub-pixel upsampling (ESPCN): H x W x (C*R*R) to (H*R) x (W*R) x C, each group of R*R "
          "channels laid out as an R x R patch (PyTorch's order, ONNX `DepthToSpace` CRD); no "
          "parameters", "nn.PixelShuffle", frozenset({"factor"}), ("factor",),
          arguments.pixelshuffle, spatial=True, fx=("PixelShuffle", "pixel_shuffle"),
          onnx=("DepthToSpace",)),
)

OPS: Mapping[str, OpDef] = MappingProxyType({d.name: d for d in _TABLE})
#: every spelling of every op -> its canonical name
SPELLINGS: Mapping[str, str] = MappingProxyType(
    {s: d.name for d in _TABLE for s in d.spellings})
LAYER_OPS: tuple[str, ...] = tuple(OPS)
IN_PLACE_OPS = frozenset(d.name for d in _TABLE if d.memory == "in_place")
VIEW_OPS = frozenset(d.name for d in _TABLE if d.memory == "view")
WEIGHT_OPS = frozenset(d.name for d in _TABLE if d.weighted)
#: the ops that read their inputs by name
MERGE_OPS = frozenset(d.name for d in _TABLE if d.merge is not None)
#: the op of the row that closes each kind of block (``residual`` closes with an ``add``)
BLOCK_MERGE_OPS: Mapping[str, str] = MappingProxyType({
    "concat": "concat", "dense": "concat", "residual": "add", "join": "join", "scale": "scale",
    "split": "concat"})
#: the ops of every row that merges several tensors: named-input merges and block merges
MERGE_ROW_OPS = MERGE_OPS | frozenset(BLOCK_MERGE_OPS.values())
#: drawn inside the row of the layer above, in the table and the architecture diagram
FOLDED_OPS = frozenset(d.name for d in _TABLE if d.folds)
#: may hand back their input itself or a view of it (no new tensor)
PASS_THROUGH_OPS = frozenset(d.name for d in _TABLE if d.passes)
#: read an (N, C, H, W) map: a vector is given back its 1x1 first
SPATIAL_OPS = frozenset(d.name for d in _TABLE if d.spatial)
#: leave a vector (N, C) behind
FLATTENING_OPS = frozenset(d.name for d in _TABLE if d.flattens)
#: the option keywords a line may use, and the argument each one sets
KEYWORDS: Mapping[str, str] = MappingProxyType({
    "stride": "stride", "s": "stride", "pad": "pad", "padding": "pad", "p": "pad",
    "dilation": "dilation", "d": "dilation", "groups": "groups", "g": "groups",
    "size": "size", "kernel": "kernel", "k": "kernel", "filters": "out", "out": "out",
    "slope": "slope", "negative_slope": "slope", "channels": "out",
    "outpad": "outpad", "output_padding": "outpad", "factor": "factor", "scale": "factor",
})
#: flags a line may write alone, and the argument and value each one sets
FLAGS: Mapping[str, tuple[str, bool | str]] = MappingProxyType({
    "nobias": ("bias", False), "no_bias": ("bias", False), "bias": ("bias", True),
    "ceil": ("ceil", True), "ceil_mode": ("ceil", True),
    "depthwise": ("depthwise", True), "dw": ("depthwise", True), "inplace": ("inplace", True),
    "nearest": ("mode", "nearest"), "bilinear": ("mode", "bilinear"),
})


def default(op: str, key: str) -> AttrValue:
    """The value an op's argument takes when a line leaves it out (``upsample``: factor 2)."""
    return OPS[op].defaults[key]


def setting(layer: Layer, key: str) -> AttrValue:
    """A layer's attribute, or its op's default when the layer was made without it."""
    value = layer.attrs.get(key)
    return default(layer.op, key) if value is None else value


def label(op: str) -> str:
    """How an op reads in a folded row's label ("conv1 + BN + ReLU")."""
    d = OPS.get(op)
    return d.label or op if d is not None else op


def doc_row(d: OpDef) -> str:
    """The op's row in the Layers table of docs/spec-language.md."""
    return f"| `{d.example}` | {d.doc} |"


def make_layer(op: str, args: Mapping[str, object], name: str, line: int,
               claims: tuple[Claim, ...] = ()) -> Layer:
    """A validated layer: the op's arguments checked and turned into its attributes."""
    d = OPS[op]
    extra = set(args) - d.args
    if extra:
        raise SpecError(f"{op} does not take {', '.join(sorted(extra))}", line, name)
    attrs = d.validate({**d.defaults, **args}, line, name) if d.validate else {}
    return Layer(op=op, name=name, line=line, attrs=FrozenDict(attrs), claims=claims)
