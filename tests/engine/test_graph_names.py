"""Layers by name: reading named rows (`from`), merges of named rows, `crop to`, `output`, in
the text and the JSON form; the errors name the line; shapes, costs, depth and fields work
through any such graph."""

from __future__ import annotations

import pytest

from app.engine import SpecError, analyze, parse_spec
from app.engine.parse import read_spec

SKIP = """\
input 32x32x3
c1: conv 8 3x3 pad 1
c2: conv 8 3x3 pad 1
c3: conv 8 3x3 pad 1
sum1: add c1 c3
"""


def rows(spec: str | dict) -> dict:
    return {r.name: r for r in analyze(spec).layers}


def messages(spec: str) -> list[tuple[int, str]]:
    with pytest.raises(SpecError) as exc:
        analyze(spec)
    return [(i.line, i.message) for i in exc.value.issues]


def test_add_reads_two_earlier_rows_not_the_line_before() -> None:
    r = rows(SKIP)
    assert r["sum1"].inputs == ("c1", "c3")
    assert (r["sum1"].output.h, r["sum1"].output.w, r["sum1"].output.c) == (32, 32, 8)
    assert r["sum1"].params == 0 and r["sum1"].macs == 0
    assert r["sum1"].activations == 32 * 32 * 8  # the sum is a new tensor
    # c1's field is 3, c3's is 3 + 2 + 2 = 7 (it reads c2): the union is c3's
    assert r["sum1"].rf.h.size == 7


def test_from_switches_the_path_and_the_lines_after_continue_from_it() -> None:
    r = rows("input 16x16x4\na: conv 8 3x3 pad 1\nb: conv 16 3x3 stride 2 pad 1\n"
             "c: conv 6 1x1 from a\nrelu\nd: conv 2 1x1")
    assert r["c"].inputs == ("a",) and r["c"].input.c == 8
    assert (r["d"].input.h, r["d"].input.c) == (16, 6)
    assert r["c"].params == 8 * 6 + 6
    assert r["d"].rf.h.size == 3  # a's field; b's stride never reaches d


def test_concat_sums_channels_and_mul_broadcasts_a_gate() -> None:
    r = rows("input 16x16x4\na: conv 8 3x3 pad 1\nb: conv 5 1x1 from input\n"
             "cat: concat a b input\ng: gap from a\nm: mul a g")
    assert r["cat"].output.c == 8 + 5 + 4 and r["cat"].inputs == ("a", "b", "input")
    assert (r["m"].output.h, r["m"].output.w, r["m"].output.c) == (16, 16, 8)
    assert r["m"].warnings == ()  # the gate's jump is the map's by design


def test_depth_is_the_longest_path_through_names() -> None:
    a = analyze("input 16x16x4\na: conv 4 3x3 pad 1\nconv 4 3x3 pad 1\nconv 4 3x3 pad 1\n"
                "b: conv 4 1x1 from a\nadd a b")
    assert a.totals.depth == 2  # a then b; the two convs after a lead nowhere
    two = analyze("input 16x16x4\na: conv 4 3x3 pad 1\nc: conv 4 3x3 pad 1\nconv 4 3x3 pad 1\n"
                  "b: conv 4 1x1 from a\noutput b c")
    assert two.outputs == ("b", "c") and two.totals.depth == 2


def test_output_names_the_outputs_and_the_first_is_the_output_volume() -> None:
    a = analyze("input 16x16x4\ntrunk: conv 8 3x3 stride 2 pad 1\nh1: fc 10\n"
                "h2: conv 4 1x1 from trunk\noutput h1 h2")
    assert a.outputs == ("h1", "h2")
    assert (a.output.h, a.output.w, a.output.c) == (1, 1, 10)


def test_crop_to_a_named_rows_size_is_a_centred_view() -> None:
    r = rows("input 68x68x2\nbig: conv 4 3x3\nsmall: conv 4 5x5 stride 2\n"
             "cut: crop to small from big\ncat: concat cut small")
    small = (66 - 5) // 2 + 1  # small reads big, the line before it
    assert (r["cut"].output.h, r["cut"].output.w) == (small, small)
    assert r["cut"].activations == 0  # a view
    off = (66 - small) // 2
    assert r["cut"].rf.h.start == r["big"].rf.h.start + off


def test_names_inside_a_repeat_read_their_own_pass() -> None:
    r = rows("input 8x8x4\nrepeat 3 {\n x: conv 4 3x3 pad 1\n conv 4 3x3 pad 1\n add x conv1 }")
    # each pass's add reads that pass's x
    adds = [row for name, row in r.items() if row.op == "add"]
    assert [a.inputs[0] for a in adds] == ["x.1", "x.2", "x.3"]


def test_a_name_can_be_rebound_and_reads_the_latest() -> None:
    r = rows("input 8x8x4\nx: conv 4 3x3 pad 1\nx: conv 4 3x3 pad 1 from x\ny: add x input")
    assert r["x_2"].inputs == ("x",) and r["y"].inputs == ("x_2", "input")


@pytest.mark.parametrize("spec, line, words", [
    (SKIP + "add c1 nope", 6, "unknown layer name 'nope'"),
    (SKIP + "add c1 c33", 6, "c3"),  # the nearest names are suggested
    ("input 8x8x4\na: conv 4 1x1 from b\nb: conv 4 1x1", 2, "used before it is defined (line 3)"),
    ("input 8x8x4\na: add a input", 2, "its own output: a cycle"),
    ("input 8x8x4\nblk: residual { conv 4 1x1 from blk }", 2, "holds this line"),
    ("input 8x8x4\na: conv 4 1x1\nadd a", 3, "two or more"),
    ("input 8x8x4\na: conv 4 1x1\nadd a a", 3, "the same layer twice"),
    ("input 8x8x4\na: conv 4 1x1\nconv 4 1x1 from a from input", 3, "once"),
    ("input 8x8x4\na: conv 4 1x1 stride 2\nadd a input", 3, "a gives 4x4x4 but input gives"),
    ("input 8x8x4\na: conv 4 1x1 stride 2\nconcat a input", 3, "spatial sizes must agree"),
    ("input 8x8x4\na: conv 3 1x1\nmul a input", 3, "same size or 1"),
    ("input 8x8x4\nb: conv 4 1x1 stride 2\ncrop to input from b", 3, "larger than its input"),
    ("input 8x8x4\nside: aux { s: conv 4 1x1 }\nadd s input", 3, "aux"),
    ("input 8x8x4\nconv 4 1x1\noutput nothing", 3, "unknown layer name 'nothing'"),
])
def test_errors_name_the_line(spec: str, line: int, words: str) -> None:
    found = messages(spec)
    assert any(n == line and words in m for n, m in found), found


def test_every_problem_of_a_graph_is_listed_at_once() -> None:
    parsed = read_spec("input 8x8x4\nadd x y\nconv 4 1x1 from z\nq: conv 4 1x1\n")
    assert sorted(i.line for i in parsed.issues) == [2, 3]


def test_the_json_form_reads_the_same_graph() -> None:
    text = analyze(SKIP + "up: convtranspose 4 2x2 stride 2 from sum1\n"
                   "cut: crop to c1 from up\ncat: concat cut c2\noutput cat sum1")
    js = analyze({"input": "32x32x3", "layers": [
        {"op": "conv", "name": "c1", "out": 8, "kernel": 3, "pad": 1},
        {"op": "conv", "name": "c2", "out": 8, "kernel": 3, "pad": 1},
        {"op": "conv", "name": "c3", "out": 8, "kernel": 3, "pad": 1},
        {"op": "add", "name": "sum1", "inputs": ["c1", "c3"]},
        {"op": "convtranspose", "name": "up", "out": 4, "kernel": 2, "stride": 2,
         "from": "sum1"},
        {"op": "crop", "name": "cut", "to": "c1", "from": "up"},
        {"op": "concat", "name": "cat", "inputs": ["cut", "c2"]}],
        "outputs": ["cat", "sum1"]})
    assert [(r.name, r.output, r.params, r.inputs) for r in text.layers] == \
        [(r.name, r.output, r.params, r.inputs) for r in js.layers]
    assert js.outputs == ("cat", "sum1")


@pytest.mark.parametrize("spec, words", [
    ({"input": "8x8x1", "layers": [{"op": "add", "inputs": ["input"]}]}, "two or more"),
    ({"input": "8x8x1", "layers": [{"op": "conv", "out": 1, "kernel": 1, "from": 3}]},
     "'from' must name a layer"),
    ({"input": "8x8x1", "layers": [{"op": "conv", "out": 1, "kernel": 1,
                                    "inputs": ["input"]}]}, "reads one input"),
    ({"input": "8x8x1", "layers": [{"op": "conv", "out": 1, "kernel": 1}],
      "outputs": "conv1"}, "'outputs' must be a list"),
])
def test_json_errors(spec: dict, words: str) -> None:
    with pytest.raises(SpecError) as exc:
        analyze(spec)
    assert words in str(exc.value)


def test_a_single_layer_cannot_read_by_name() -> None:
    from app.engine import analyze_layer
    from app.engine.graph import Volume

    with pytest.raises(SpecError, match="by name"):
        analyze_layer("conv 4 3x3 from x", Volume(8, 8, 3))


def test_old_specs_name_no_inputs_and_no_outputs() -> None:
    a = analyze("input 8x8x3\nconv 4 3x3\nconcat { branch { } branch { conv 2 1x1 } }")
    assert a.outputs == () and all(r.inputs == () for r in a.layers)
    assert parse_spec("input 8x8x3\nconv 4 3x3").outputs == ()
