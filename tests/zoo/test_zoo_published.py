"""Zoo counts against published figures and against the papers' own arithmetic.

Parameter counts quoted from the torchvision docs are "the source says X": each model page
lists num_params for its IMAGENET1K_V1 weights. Everything else is stated as arithmetic.
"""

from __future__ import annotations

import pytest

from app import zoo
from app.engine import Analysis, LayerRow

#: torchvision docs, <Model>_Weights.IMAGENET1K_V1, "num_params" (the source says X)
TORCHVISION_PARAMS = {
    "alexnet": 61_100_840, "googlenet": 6_624_904, "resnet18": 11_689_512,
    "resnet34": 21_797_672, "resnet50": 25_557_032, "resnet101": 44_549_160,
    "resnet152": 60_192_808, "vgg11": 132_863_336, "vgg13": 133_047_848, "vgg16": 138_357_544,
    "vgg19": 143_667_240, "vgg16_bn": 138_365_992, "wide_resnet50_2": 68_883_240,
    "resnext50_32x4d": 25_028_904, "densenet121": 7_978_856, "squeezenet1_0": 1_248_424,
    "squeezenet1_1": 1_235_496,
}
#: zoo entries whose parameters must equal a torchvision model's (the paper ResNets have the
#: same parameters as torchvision's; only the position of the stride differs)
SAME_PARAMS = {
    "tv-alexnet": "alexnet", "tv-googlenet": "googlenet", "resnet18": "resnet18",
    "resnet34": "resnet34", "resnet50": "resnet50", "resnet101": "resnet101",
    "resnet152": "resnet152", "tv-resnet50": "resnet50", "tv-resnet101": "resnet101",
    "tv-resnet152": "resnet152", "vgg11": "vgg11", "vgg13": "vgg13", "vgg16": "vgg16",
    "vgg19": "vgg19", "vgg16_bn": "vgg16_bn", "wide_resnet50_2": "wide_resnet50_2",
    "resnext50_32x4d": "resnext50_32x4d", "densenet121": "densenet121",
    "squeezenet1_0": "squeezenet1_0", "squeezenet1_1": "squeezenet1_1",
}
#: weight layers on the longest path, as the papers count them (FractalNet: 5 blocks x 8
#: convolutions + the classifier; WRN-28: 1 + 6*4 + 1, its 1x1 shortcuts are off the path)
DEPTHS = {
    "lenet5": 5, "alexnet": 8, "tv-alexnet": 8, "zfnet": 8, "vgg11": 11, "vgg13": 13,
    "vgg16": 16, "vgg19": 19, "vgg16_bn": 16, "nin": 4 * 3, "googlenet": 22,
    "tv-googlenet": 22, "resnet18": 18, "resnet34": 34, "resnet50": 50, "resnet101": 101,
    "resnet152": 152, "tv-resnet50": 50, "tv-resnet101": 101, "tv-resnet152": 152,
    "preact_resnet": 152, "wide_resnet50_2": 50, "resnext50_32x4d": 50, "densenet121": 121,
    "squeezenet1_0": 1 + 8 * 2 + 1, "squeezenet1_1": 1 + 8 * 2 + 1, "fractalnet": 5 * 8 + 1,
    "stochastic_depth_resnet110": 6 * 18 + 2, "wrn28_10": 1 + 6 * 4 + 1,
    # squeeze-and-excitation's two 1x1 convs lie on the longest path (x -> gate -> x * gate)
    "mobilenet_v2": 1 + 2 + 16 * 3 + 1 + 1, "mobilenet_v3_small": 1 + 4 + 3 + 3 + 8 * 5 + 1 + 2,
    "efficientnet_b0": 1 + 4 + 15 * 5 + 1 + 1, "convnext_tiny": 1 + 18 * 3 + 3 + 1,
    # stem 5, InceptionA 3 x 3, InceptionB 3, InceptionC 4 x 5, InceptionD 4, InceptionE 2 x 3, fc
    "inception_v3": 5 + 3 * 3 + 3 + 4 * 5 + 4 + 2 * 3 + 1,
    # conv1, then per unit the split branch's 1x1, 3x3 depthwise, 1x1 (16 units), conv5, fc
    "shufflenet_v2_x1_0": 1 + 16 * 3 + 1 + 1,
}


def rows(model_id: str, op: str) -> list[LayerRow]:
    return [r for r in zoo.analyze_model(model_id).layers if r.op == op]


def shape(row: LayerRow) -> tuple[int, int, int]:
    return (row.output.h, row.output.w, row.output.c)


def named(analysis: Analysis, name: str) -> LayerRow:
    return next(r for r in analysis.layers if r.name == name)


@pytest.mark.parametrize(("model_id", "tv"), sorted(SAME_PARAMS.items()))
def test_parameters_equal_torchvision_s_published_count(model_id: str, tv: str) -> None:
    assert zoo.analyze_model(model_id).totals.params == TORCHVISION_PARAMS[tv]


def test_every_torchvision_figure_is_checked() -> None:
    assert set(SAME_PARAMS.values()) == set(TORCHVISION_PARAMS)


@pytest.mark.parametrize(("model_id", "depth"), sorted(DEPTHS.items()))
def test_depth(model_id: str, depth: int) -> None:
    assert zoo.analyze_model(model_id).totals.depth == depth


def test_every_model_has_a_depth_check() -> None:
    assert set(DEPTHS) == set(zoo.model_ids())


def test_alexnet_follows_the_slide() -> None:
    analysis = zoo.analyze_model("alexnet")
    slide = {"conv1": (55, 55, 96), "pool1": (27, 27, 96), "norm1": (27, 27, 96),
             "conv2": (27, 27, 256), "pool2": (13, 13, 256), "norm2": (13, 13, 256),
             "conv3": (13, 13, 384), "conv4": (13, 13, 384), "conv5": (13, 13, 256),
             "pool3": (6, 6, 256), "fc6": (1, 1, 4096), "fc7": (1, 1, 4096),
             "fc8": (1, 1, 1000)}
    assert {name: shape(named(analysis, name)) for name in slide} == slide
    conv1 = named(analysis, "conv1")
    assert conv1.params == 11 * 11 * 3 * 96 + 96
    assert conv1.macs == 55 * 55 * 96 * 11 * 11 * 3


def test_alexnet_two_gpu_split_in_conv2_conv4_conv5() -> None:
    analysis = zoo.analyze_model("alexnet")
    assert named(analysis, "conv2").weights == 5 * 5 * 48 * 256
    assert named(analysis, "conv3").weights == 3 * 3 * 256 * 384
    assert named(analysis, "conv4").weights == 3 * 3 * 192 * 384
    assert named(analysis, "conv5").weights == 3 * 3 * 192 * 256
    assert analysis.totals.params == (
        (11 * 11 * 3 * 96 + 96) + (5 * 5 * 48 * 256 + 256) + (3 * 3 * 256 * 384 + 384)
        + (3 * 3 * 192 * 384 + 384) + (3 * 3 * 192 * 256 + 256) + (6 * 6 * 256 * 4096 + 4096)
        + (4096 * 4096 + 4096) + (4096 * 1000 + 1000))


def test_zfnet_shapes_follow_figure_3() -> None:
    analysis = zoo.analyze_model("zfnet")
    sizes = [named(analysis, n).output.h for n in ("conv1", "pool1", "conv2", "pool2", "pool3")]
    assert sizes == [110, 55, 26, 13, 6]
    assert [named(analysis, n).output.c for n in ("conv3", "conv4", "conv5")] == [512, 1024, 512]


def test_googlenet_module_outputs_follow_table_1() -> None:
    for model_id in ("googlenet", "tv-googlenet"):
        depths = [r.output.c for r in rows(model_id, "concat")]
        assert depths == [64 + 128 + 32 + 32, 128 + 192 + 96 + 64, 192 + 208 + 48 + 64,
                          160 + 224 + 64 + 64, 128 + 256 + 64 + 64, 112 + 288 + 64 + 64,
                          256 + 320 + 128 + 128, 256 + 320 + 128 + 128, 384 + 384 + 128 + 128]


def test_googlenet_auxiliary_classifiers_add_what_section_5_describes() -> None:
    def aux_head(c_in: int) -> int:  # 1x1 conv 128, fc 1024 on 4x4x128, fc 1000
        return (c_in * 128 + 128) + (4 * 4 * 128 * 1024 + 1024) + (1024 * 1000 + 1000)

    plain = zoo.analyze_model("googlenet").totals.params
    assert zoo.analyze_model("googlenet", aux=True).totals.params == \
        plain + aux_head(512) + aux_head(528)
    tv_plain = zoo.analyze_model("tv-googlenet").totals.params
    bn = 2 * 128  # the BasicConv2d's batch norm instead of a bias
    assert zoo.analyze_model("tv-googlenet", aux=True).totals.params == \
        tv_plain + 2 * (aux_head(0) - 128 + bn) + 512 * 128 + 528 * 128


def test_paper_resnets_put_the_stride_on_the_first_1x1() -> None:
    paper, tv = zoo.analyze_model("resnet50"), zoo.analyze_model("tv-resnet50")
    strided = [r for r in paper.layers if r.op == "conv" and r.attrs["sh"] == 2]
    assert [(r.attrs["kh"], r.output.c) for r in strided] == [
        (7, 64), (1, 128), (1, 512), (1, 256), (1, 1024), (1, 512), (1, 2048)]
    assert tv.totals.params == paper.totals.params and tv.totals.macs > paper.totals.macs


def test_resnet_convolutions_have_no_bias_and_projections_have_batch_norm() -> None:
    for model_id in ("resnet18", "resnet50", "resnet152", "densenet121", "preact_resnet"):
        assert all(not r.attrs["bias"] for r in rows(model_id, "conv")), model_id
    assert zoo.analyze_model("resnet50").totals.biases == 1000 + sum(
        r.output.c for r in rows("resnet50", "bn"))


def test_resnext_groups_and_wide_resnet_width() -> None:
    grouped = [r for r in rows("resnext50_32x4d", "conv") if r.attrs["groups"] == 32]
    assert len(grouped) == 3 + 4 + 6 + 3
    assert [r.output.c for r in rows("wide_resnet50_2", "conv")[1:4]] == [128, 128, 256]


def test_densenet_block_ends() -> None:
    concat = [r.output.c for r in rows("densenet121", "concat")]
    ends = [concat[5], concat[5 + 12], concat[5 + 12 + 24], concat[-1]]
    assert ends == [64 + 6 * 32, 128 + 12 * 32, 256 + 24 * 32, 512 + 16 * 32]


def test_squeezenet_1_0_shapes_follow_table_1() -> None:
    analysis = zoo.analyze_model("squeezenet1_0")
    assert [named(analysis, n).output.h for n in ("conv1", "pool1", "pool4", "pool8")] == \
        [111, 55, 27, 13]
    assert shape(named(analysis, "conv10")) == (13, 13, 1000)


def test_lenet5_as_taught() -> None:
    t = zoo.analyze_model("lenet5").totals
    assert t.params == (5 * 5 * 1 * 6 + 6) + (5 * 5 * 6 * 16 + 16) + (5 * 5 * 16 * 120 + 120) \
        + (120 * 84 + 84) + (84 * 10 + 10)


def test_cifar_resnets_match_their_papers() -> None:
    sd = zoo.analyze_model("stochastic_depth_resnet110").totals
    assert round(sd.params / 10**5) == 17  # He et al. 2016, Table 6: ResNet-110 has 1.7M
    blocks = 54  # linear decay to 0.5: p_l = 1 - l/54 * 0.5, two convs per block, + conv1 + fc
    expected = 2 + 2 * sum(1 - k / blocks * 0.5 for k in range(1, blocks + 1))
    assert sd.expected_depth == pytest.approx(expected)
    assert sd.expected_macs is not None and sd.expected_macs < sd.macs
    wrn = zoo.analyze_model("wrn28_10").totals
    assert round(wrn.params / 10**5) == 365  # the source says 36.5M


def test_fractalnet_block_structure() -> None:
    convs = rows("fractalnet", "conv")
    assert len(convs) == 5 * (1 + 2 + 4 + 8)  # C = 4 columns of 1, 2, 4, 8 convolutions
    assert [r.output.h for r in rows("fractalnet", "maxpool")] == [16, 8, 4, 2, 1]
