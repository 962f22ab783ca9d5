"""The reference table's rows 1-19, each a small function that recomputes its figures with
the engine (or reads them from the zoo's catalog, for the published results) and judges them."""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction

from app import engine, zoo
from app.engine import Analysis, LayerRow, Volume
from app.engine.optable import WEIGHT_OPS
from app.examples import (
    BOTTLENECK_INCEPTION,
    NAIVE_INCEPTION,
    RESNET_BASIC_256,
    RESNET_BOTTLENECK,
    SINGLE_7X7,
    STACKED_3X3,
    VGG16_NOTES,
)
from app.lecture.judging import ClaimPart, LectureClaim, claim, part, volume_part
from app.present.working import expression_text

#: "5 gigs" of GPU memory, in the slide's decimal units (its "96MB" is 24M x 4 bytes)
GPU_BYTES = 5 * 10**9


# -- helpers over analyses --------------------------------------------------------------------
def row_named(analysis: Analysis, name: str) -> LayerRow:
    return next(r for r in analysis.layers if r.name == name)


def weight_rows(analysis: Analysis) -> list[LayerRow]:
    return [r for r in analysis.layers if r.op in WEIGHT_OPS]


def ratio_text(r: Fraction) -> str:
    return f"{float(r):.2f}"


def params_of(model_id: str, aux: bool = False) -> int:
    return zoo.analyze_model(model_id, aux=aux).totals.params


# -- rows 1-4: AlexNet's first layers ---------------------------------------------------------
def row1() -> LectureClaim:
    conv1 = row_named(zoo.analyze_model("alexnet"), "conv1")
    return claim(1, "AlexNet CONV1 on 227x227x3: 96 11x11 filters at stride 4 give 55x55x96",
                 "05:18", [volume_part("conv1 output", "55x55x96", conv1.output)],
                 f"H and W: {conv1.formulas['h']}; depth: {conv1.formulas['c']}.", "alexnet")


def row2() -> LectureClaim:
    conv1 = row_named(zoo.analyze_model("alexnet"), "conv1")
    return claim(2, "CONV1 has 35K parameters (11x11x3 x 96)", "06:19",
                 [part("conv1 parameters", "35K", conv1.params)],
                 f"weights {conv1.formulas['weights']}, biases {conv1.formulas['biases']}: "
                 f"{conv1.formulas['params']}. 35K is that to the nearest thousand (the "
                 f"{conv1.weights:,} weights alone also round to 35K).", "alexnet")


def row3() -> LectureClaim:
    pool1 = row_named(zoo.analyze_model("alexnet"), "pool1")
    return claim(3, "POOL1 (3x3 filters at stride 2) gives 27x27x96 and has 0 parameters",
                 "06:52", [volume_part("pool1 output", "27x27x96", pool1.output),
                           part("pool1 parameters", "0", pool1.params)],
                 f"H and W: {pool1.formulas['h']}; depth: {pool1.formulas['c']}; pooling has "
                 f"no weights.", "alexnet")


def row4() -> LectureClaim:
    at224 = engine.analyze_layer("conv 96 11x11 stride 4", Volume(224, 224, 3))
    conv1 = row_named(zoo.analyze_model("alexnet"), "conv1")
    exact = Fraction(224 - 11, 4) + 1
    whole = exact.denominator == 1
    parts = [ClaimPart(what="(224-11)/4+1 is whole", lecture="no",
                       computed=float(exact), status="differs" if whole else "match"),
             volume_part("conv1 output on 227x227x3", "55x55x96", conv1.output)]
    return claim(4, "The paper's figure says 224x224, but the numbers only work out for 227",
                 "12:31", parts,
                 f"On 224: {'; '.join(at224.warnings) or at224.formulas['h']}. On 227: "
                 f"{conv1.formulas['h']}.", "alexnet")


# -- rows 5-11: AlexNet and VGG totals ---------------------------------------------------------
def row5() -> LectureClaim:
    analysis = zoo.analyze_model("alexnet")
    one_gpu = engine.analyze(zoo.model_spec("alexnet").replace(" groups 2", "")).totals.params
    terms = " + ".join(f"{r.name} {r.params:,}" for r in weight_rows(analysis))
    return claim(5, "AlexNet has 60M parameters", "20:48",
                 [part("parameters", "60M", analysis.totals.params)],
                 f"{terms} = {analysis.totals.params:,} for the paper's two-GPU network "
                 f"(groups 2 in conv2, conv4, conv5). Without the split every kernel would read "
                 f"all input maps: {one_gpu:,}. torchvision's single-tower AlexNet: "
                 f"{params_of('tv-alexnet'):,}.", "alexnet")


def row6() -> LectureClaim:
    stacked = engine.analyze(STACKED_3X3.format(c=64)).layers
    single = engine.analyze(SINGLE_7X7.format(c=64)).layers[-1]
    steps = "; ".join(f"{r.name}: {r.formulas['rf']}" for r in stacked[1:])
    return claim(6, "Three stacked 3x3 stride-1 convs have the receptive field of one 7x7 conv",
                 "18:07", [part("receptive field of three 3x3", "7", int(stacked[-1].rf.size)),
                           part("receptive field of one 7x7", "7", int(single.rf.size))],
                 f"{steps}. One 7x7: {single.formulas['rf']}.")


def _coefficient(spec: str, c: int) -> Fraction:
    return Fraction(engine.analyze(spec.format(c=c)).totals.weights, c * c)


def row7() -> LectureClaim:
    stacked, single = _coefficient(STACKED_3X3, 64), _coefficient(SINGLE_7X7, 64)
    same = stacked == _coefficient(STACKED_3X3, 256) and single == _coefficient(SINGLE_7X7, 256)
    return claim(7, "Parameters: 3 x (3x3xCxC) for the stack vs 7x7xCxC for one 7x7 (no biases)",
                 "18:51", [part("stack, in units of C^2", "27", stacked),
                           part("one 7x7, in units of C^2", "49", single)],
                 f"Analysed with C = 64 and C = 256 (weights / C^2 "
                 f"{'is the same for both' if same else 'DIFFERS between them'}): "
                 f"3*(3*3*C*C) = {stacked}C^2 against 7*7*C*C = {single}C^2, "
                 f"{ratio_text(single / stacked)}x as many for the single 7x7.")


def row8() -> LectureClaim:
    notes = engine.analyze(VGG16_NOTES)  # the listing itself, its figures checked as claims
    values = notes.totals.activations
    bpv = notes.totals.activation_bytes // values
    figures = [c for r in notes.layers for c in r.claims]
    right = sum(c.ok for c in figures)
    full = zoo.analyze_model("vgg16").totals.activations
    return claim(8, "VGG16 forward pass: TOTAL memory 24M values x 4 bytes ~= 96MB per image "
                 "(said: about 100 MB)", "20:03",
                 [part("values per image", "24M", values),
                  part("bytes per image", "96MB", values * bpv)],
                 f"The listing's own rows (input, 13 conv, 5 pool, 3 fc outputs) sum to "
                 f"{values:,} values, {values * bpv:,} bytes at {bpv} bytes each; {right} of "
                 f"its {len(figures)} per-row figures are right, the TOTAL line is not. The zoo "
                 f"model's total, which also counts the softmax output, is {full:,}.", "vgg16")


def row9() -> LectureClaim:
    totals = zoo.analyze_model("vgg16").totals
    forward = engine.analyze(VGG16_NOTES, dtype="float32").totals.activation_bytes
    fits = GPU_BYTES // forward
    train = (GPU_BYTES - totals.training_bytes + totals.activation_bytes) // totals.activation_bytes
    lecture_fits = Fraction(GPU_BYTES, 96 * 10**6)
    return claim(9, "About 100 MB per image, so 5 GB of memory holds only about 50 images",
                 "20:36", [part("images in 5 GB (forward)", "50", fits)],
                 f"5 GB = {GPU_BYTES:,} bytes; {GPU_BYTES:,} / {forward:,} bytes per image = "
                 f"{ratio_text(Fraction(GPU_BYTES, forward))}, so {fits} images. The lecture's "
                 f"50 follows from the slide's 96MB ({ratio_text(lecture_fits)}). Training "
                 f"also holds the weights, their gradients and SGD momentum "
                 f"({totals.training_bytes - totals.activation_bytes:,} bytes), leaving room "
                 f"for {train} images.", "vgg16")


def row10() -> LectureClaim:
    analysis = zoo.analyze_model("vgg16")
    t = analysis.totals
    fc6 = row_named(analysis, "fc6")
    return claim(10, "VGG16 has 138M parameters", "20:48", [part("parameters", "138M", t.params)],
                 f"{t.weights:,} weights + {t.biases:,} biases = {t.params:,}. fc6 alone: "
                 f"{fc6.formulas['params']} ({100 * fc6.params // t.params}%).", "vgg16")


def _depth_text(model_id: str) -> str:
    t = zoo.analyze_model(model_id).totals
    convs = sum(r.op == "conv" for r in zoo.analyze_model(model_id).layers)
    off_path = t.weight_layers - t.depth
    aside = f" ({off_path} more are off that path)" if off_path else ""
    return f"{model_id}: {convs} conv + {t.weight_layers - convs} fc, {t.depth} deep{aside}"


def row11() -> LectureClaim:
    parts = [part(f"{m} weight layers", n, zoo.analyze_model(m).totals.depth)
             for m, n in (("vgg16", "16"), ("vgg19", "19"))]
    return claim(11, "VGG16 and VGG19 have 16 and 19 weight layers", "19:46", parts,
                 f"Depth = conv and fc layers on the longest path. {_depth_text('vgg16')}; "
                 f"{_depth_text('vgg19')}.", "vgg16")


# -- rows 12-14: the inception module on 28x28x256 --------------------------------------------
def _macs_terms(analysis: Analysis) -> str:
    return " + ".join(expression_text(r.working["macs"]) for r in analysis.layers
                      if r.op == "conv")


def row12() -> LectureClaim:
    analysis = engine.analyze(NAIVE_INCEPTION)
    merge = row_named(analysis, "naive_inception")
    return claim(12, "Naive inception on 28x28x256 (1x1 conv 128, 3x3 conv 192, 5x5 conv 96, "
                 "3x3 pool) gives 28x28x672", "33:01",
                 [volume_part("output", "28x28x672", analysis.output)],
                 f"Every branch keeps 28x28 (zero padding, stride 1); the depths add up: "
                 f"{merge.formulas['c']}.")


def row13() -> LectureClaim:
    analysis = engine.analyze(NAIVE_INCEPTION)
    macs = analysis.totals.macs
    return claim(13, "Naive inception costs 854M ops", "36:11", [part("multiplies", "854M", macs)],
                 f"{_macs_terms(analysis)} = {macs:,} multiply-adds: 854M is that to the "
                 f"nearest million.")


def row14() -> LectureClaim:
    analysis = engine.analyze(BOTTLENECK_INCEPTION)
    macs = analysis.totals.macs
    read64 = engine.analyze_layer("conv 192 3x3 pad 1", Volume(28, 28, 64)).macs
    read128 = engine.analyze_layer("conv 192 3x3 pad 1", Volume(28, 28, 128)).macs
    alt = macs - read64 + read128
    return claim(14, "With 1x1 conv 64 bottlenecks: 358M ops, output 28x28x480", "39:42",
                 [part("multiplies", "358M", macs),
                  volume_part("output", "28x28x480", analysis.output)],
                 f"The six convolutions: {_macs_terms(analysis)} = {macs:,}. 358M is what "
                 f"you get if the 3x3 conv reads 128 channels instead of the 64 its 1x1 "
                 f"bottleneck gives it: {macs:,} - {read64:,} + 28*28*192*3*3*128 "
                 f"({read128:,}) = {alt:,}.")


# -- rows 15-18: GoogLeNet, ResNet, SqueezeNet --------------------------------------------------
def row15() -> LectureClaim:
    plain, with_aux = params_of("googlenet"), params_of("googlenet", aux=True)
    alexnet = params_of("alexnet")
    depth = zoo.analyze_model("googlenet").totals.depth
    parts = [part("weight layers", "22", depth),
             part("parameters without the auxiliary classifiers", "5M", plain),
             part("parameters with them", "5M", with_aux),
             part("AlexNet's parameters / GoogLeNet's", "12", Fraction(alexnet, plain))]
    return claim(15, "GoogLeNet: 22 layers, about 5M parameters, 12x fewer than AlexNet",
                 "29:09, 47:12", parts,
                 f"The paper's GoogLeNet (real 5x5 convolutions): {plain:,} parameters, "
                 f"{with_aux:,} with the two auxiliary classifiers used in training. AlexNet's "
                 f"{alexnet:,} / {plain:,} = {ratio_text(Fraction(alexnet, plain))}x. The two "
                 f"lecture figures agree with each other (60M / 12 = 5M), not with the "
                 f"network. torchvision's GoogLeNet (3x3 for 5x5, batch norm): "
                 f"{params_of('tv-googlenet'):,}.", "googlenet")


def row16() -> LectureClaim:
    parts = [part(f"resnet{n} weight layers", n, zoo.analyze_model(f"resnet{n}").totals.depth)
             for n in ("34", "50", "101", "152")]
    return claim(16, "ResNet: 152 layers for ImageNet; 34, 50, 101 and 152-layer variants",
                 "48:01, 59:15", parts,
                 f"Depth = conv and fc layers on the longest path (through the residual "
                 f"branches). {'; '.join(_depth_text(f'resnet{n}') for n in (34, 50, 101, 152))}."
                 f" (The transcript says '100' at 59:15; the slide and the paper say 101.)",
                 "resnet152")


def _conv_weights(analysis: Analysis) -> int:
    return sum(r.weights for r in analysis.layers if r.op == "conv")


def row17() -> LectureClaim:
    analysis = engine.analyze(RESNET_BOTTLENECK)
    convs = [r for r in analysis.layers if r.op == "conv"]
    basic = engine.analyze(RESNET_BASIC_256)
    weights, basic_weights = _conv_weights(analysis), _conv_weights(basic)
    bn = sum(r.params for r in analysis.layers if r.op == "bn")
    parts = [volume_part(f"after {r.attrs['kh']}x{r.attrs['kw']} conv {r.attrs['out']}", fig,
                         r.output)
             for r, fig in zip(convs, ("28x28x64", "28x28x64", "28x28x256"), strict=True)]
    parts.append(volume_part("block output", "28x28x256", analysis.output))
    return claim(17, "ResNet bottleneck on 28x28x256: 1x1 conv 64, 3x3 conv 64, 1x1 conv 256",
                 "59:58", parts,
                 f"Conv weights {' + '.join(r.formulas['weights'] for r in convs)} = "
                 f"{weights:,}, plus {bn:,} batch-norm parameters; "
                 f"{analysis.totals.macs:,} multiply-adds. Two 3x3 convs on 256 channels "
                 f"instead would take {basic_weights:,} weights "
                 f"({ratio_text(Fraction(basic_weights, weights))}x) and "
                 f"{basic.totals.macs:,} multiply-adds.", "resnet50")


def row18() -> LectureClaim:
    alexnet = zoo.analyze_model("alexnet").totals
    squeeze = zoo.analyze_model("squeezenet1_0").totals
    ratio = Fraction(alexnet.params, squeeze.params)
    target = Fraction(alexnet.param_bytes, 510)
    parts = [part("AlexNet's parameters / SqueezeNet's", "50", ratio),
             part("AlexNet's float32 bytes / 510, in bytes", "0.5MB", target)]
    return claim(18, "SqueezeNet: AlexNet-level accuracy with 50x fewer parameters; 0.5 MB "
                 "compressed, 510x smaller than AlexNet", "75:40", parts,
                 f"{alexnet.params:,} / {squeeze.params:,} = {ratio_text(ratio)}x. At 4 bytes "
                 f"a value AlexNet takes {alexnet.param_bytes:,} bytes and SqueezeNet "
                 f"{squeeze.param_bytes:,}; 510x smaller than AlexNet is "
                 f"{math.floor(target):,} bytes, "
                 f"{ratio_text(target * 8 / squeeze.params)} bits per parameter instead of 32. "
                 f"Getting there (pruning and quantization with Deep "
                 f"Compression) is not a property of the architecture.", "squeezenet1_0")


# -- row 19: the ILSVRC results, as data ------------------------------------------------------
#: the top-5 errors (%) as the lecture's slide gives them, by year (12:55 onward)
LECTURE_TOP5 = (("2010", "28.2"), ("2011", "25.8"), ("2012", "16.4"), ("2013", "11.7"),
                ("2014", "7.3"), ("2014", "6.7"), ("2015", "3.57"), ("human", "5.1"))


def row19() -> LectureClaim:
    published = [(str(r.year), r) for r in zoo.ilsvrc_results()] + [("human", zoo.human_top5())]
    parts = [part(f"{year}: {result.entry}", figure,
                  Fraction(str(result.top5_error)))
             for (year, figure), (_, result) in zip(LECTURE_TOP5, published, strict=True)]
    sources = "; ".join(f"{r.entry}: {r.source}" for _, r in published)
    return claim(19, "ILSVRC top-5 error: 28.2 (2010), 25.8 (2011), 16.4 AlexNet (2012), 11.7 "
                 "ZFNet (2013), 7.3 VGG, 6.7 GoogLeNet (2014), 3.57 ResNet (2015); human "
                 "about 5.1", "12:55 onward", parts,
                 f"Published results, shown as data (the zoo's catalog), not computed: "
                 f"{sources}.")


ROWS: tuple[Callable[[], LectureClaim], ...] = (
    row1, row2, row3, row4, row5, row6, row7, row8, row9, row10, row11, row12, row13, row14,
    row15, row16, row17, row18, row19,
)

