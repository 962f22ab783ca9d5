"""The zoo's files agree with each other, and every model parses and analyses."""

from __future__ import annotations

import pytest

from app import zoo
from app.engine import Block, SpecError, Volume, parse_spec
from app.engine.graph import Node

IDS = zoo.model_ids()


def _has_aux(nodes: tuple[Node, ...]) -> bool:
    return any(isinstance(n, Block) and (n.kind == "aux" or any(_has_aux(b) for b in n.branches))
               for n in nodes)


def test_every_spec_file_has_a_catalog_entry_and_back() -> None:
    files = {p.stem for p in zoo.SPEC_DIR.glob("*.spec")}
    assert files == set(IDS)
    assert len(IDS) == len(set(IDS))


def test_the_brief_s_models_are_all_there() -> None:
    wanted = {"lenet5", "alexnet", "zfnet", "vgg11", "vgg13", "vgg16", "vgg19", "vgg16_bn", "nin",
              "googlenet", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
              "preact_resnet", "wide_resnet50_2", "resnext50_32x4d", "densenet121",
              "squeezenet1_0", "squeezenet1_1", "fractalnet", "stochastic_depth_resnet110",
              "wrn28_10", "tv-alexnet", "tv-googlenet", "tv-resnet50", "tv-resnet101",
              "tv-resnet152"}
    assert wanted <= set(IDS)


@pytest.mark.parametrize("model_id", IDS)
def test_every_model_parses_and_analyses(model_id: str) -> None:
    analysis = zoo.analyze_model(model_id)
    info = zoo.get_model(model_id)
    assert analysis.input == info.input  # the catalog's input is the spec's input line
    assert (analysis.output.h, analysis.output.w) == (1, 1)
    assert analysis.output.c in (10, 1000)
    assert analysis.totals.params > 0 and analysis.totals.macs > 0
    assert analysis.totals.depth >= 5


@pytest.mark.parametrize("model_id", IDS)
def test_has_aux_flag_matches_the_spec(model_id: str) -> None:
    assert zoo.get_model(model_id).has_aux == _has_aux(zoo.load_network(model_id).nodes)


@pytest.mark.parametrize("model_id", IDS)
def test_every_spec_cites_its_source(model_id: str) -> None:
    comments = [line for line in zoo.model_spec(model_id).splitlines() if line.startswith("#")]
    assert len(comments) >= 3
    assert any(("arXiv" in c or "torchvision" in c or "Proc." in c or "NIPS" in c)
               for c in comments), model_id


def test_metadata_is_published_data_with_sources() -> None:
    for info in zoo.list_models():
        assert info.name and info.source and info.dataset and 1990 < info.year < 2030
        assert (info.top1 is None) == (info.top1_source is None), info.id
        assert (info.top5_error is None) == (info.top5_note is None), info.id
    tv = [m.torchvision for m in zoo.list_models() if m.torchvision]
    assert len(tv) == len(set(tv))


def test_lecture_top5_errors_sit_on_the_right_models() -> None:
    by_id = {m.id: m.top5_error for m in zoo.list_models()}
    for result in zoo.ilsvrc_results():
        if result.model is not None:
            assert by_id[result.model] == result.top5_error


def test_unknown_id_is_a_key_error_naming_the_known_ids() -> None:
    with pytest.raises(KeyError) as err:
        zoo.get_model("alexnet2")
    assert "alexnet" in str(err.value) and "resnet152" in str(err.value)
    for call in (zoo.model_spec, zoo.load_network, zoo.analyze_model):
        with pytest.raises(KeyError):
            call("nope")


def test_aux_only_where_the_model_has_aux() -> None:
    with pytest.raises(SpecError, match="no auxiliary classifiers"):
        zoo.analyze_model("vgg16", aux=True)
    plain = zoo.analyze_model("googlenet").totals.params
    assert zoo.analyze_model("googlenet", aux=True).totals.params > plain


def test_input_override_replaces_the_input_volume() -> None:
    net = zoo.load_network("resnet50", Volume(320, 320, 3))
    assert net.input == Volume(320, 320, 3)
    assert zoo.load_network("resnet50").input == Volume(224, 224, 3)  # the cache is untouched
    big = zoo.analyze_model("resnet50", input=Volume(448, 448, 3)).totals
    small = zoo.analyze_model("resnet50").totals
    assert big.params == small.params  # global pooling: the fc sees 2048 values either way
    assert big.macs > 3 * small.macs


def test_input_override_is_checked_against_the_limits() -> None:
    with pytest.raises(SpecError):
        zoo.load_network("vgg16", Volume(0, 224, 3))
    with pytest.raises(SpecError):
        zoo.analyze_model("vgg16", input=Volume(16, 16, 3))  # pooled away before fc6


def test_spec_with_an_input_rewrites_only_the_input_line() -> None:
    text = zoo.model_spec("alexnet", Volume(231, 231, 3))
    assert parse_spec(text).input == Volume(231, 231, 3)
    assert text.replace("231x231x3", "227x227x3") == zoo.model_spec("alexnet")


def test_parse_volume() -> None:
    assert zoo.parse_volume("224x224x3") == Volume(224, 224, 3)
    assert zoo.parse_volume(" 32 X 32 x 1 ") == Volume(32, 32, 1)
    for bad in ("224x224", "axbxc", "224x224x3x1", ""):
        with pytest.raises(SpecError):
            zoo.parse_volume(bad)


def test_analyses_are_cached() -> None:
    assert zoo.analyze_model("vgg19") is zoo.analyze_model("vgg19")
