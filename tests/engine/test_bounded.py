"""Inputs written to hurt the engine: bounded work, no crash on odd input, every error at once,
frozen results, equality by value. Each hang is bounded by a timeout, so a regression fails instead
of stalling CI."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from app import zoo
from app.engine import LIMITS, LimitError, SpecError, analyze, analyze_layer
from app.engine.graph import Volume

#: generous for CI's shared machine: a hang fails, a slow machine does not; the engine's own
#: target is the mutation test's bound, and benchmarks/bench_engine_worst.py measures it
BOUND_S = 2.0


def within(seconds: float, fn: Callable[[], Any]) -> Any:
    """Run fn in a daemon thread; fail if it has not returned in time (instead of hanging)."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed back to the test
            box["error"] = exc

    worker = threading.Thread(target=run, daemon=True)
    start = time.perf_counter()
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"still running after {seconds} s"
    box["elapsed"] = time.perf_counter() - start
    if "error" in box:
        raise box["error"]
    return box


def refused(spec: Any, **opts: Any) -> SpecError:
    with pytest.raises(SpecError) as info:
        within(BOUND_S, lambda: analyze(spec, **opts))
    return info.value


@pytest.mark.parametrize("spec, line", [
    ("input 8x8x3\nrepeat 999999999999999999 { }", 2),
    ("input 8x8x3\nrepeat 3000000 { }", 2),
    ("input 8x8x3\nrepeat 2000000 { survival linear 0.5 }", 2),
    ("input 8x8x3\nrelu\nrepeat 100 {\n  repeat 100 { }\n}", 3),
    ("input 8x8x3\nrepeat 5001 { relu }", 2),
    ("input 8x8x3\nrepeat 4000 { relu }\nrepeat 4000 { relu }", 3),
])
def test_repeat_explosions_are_counted_not_run_and_blame_the_outer_repeat(spec: str,
                                                                         line: int) -> None:
    e = refused(spec)
    assert isinstance(e, LimitError) and e.limit == "max_layers"
    assert e.issues[0].line == line, e.issues


def test_the_json_form_counts_repeat_passes_too() -> None:
    spec = {"input": {"h": 8, "w": 8, "c": 3},
            "layers": [{"op": "repeat", "times": 10**18, "body": []}]}
    e = refused(spec)
    assert e.limit == "max_layers" and e.issues[0].line == 1


def test_a_repeat_within_the_limits_still_runs() -> None:
    rows = within(BOUND_S, lambda: analyze("input 8x8x3\nrepeat 5000 { relu }"))["value"].layers
    assert len(rows) == 5001


@pytest.mark.parametrize("spec", [
    "input 8x8x3\nconv ² 3x3", "input 8x8x3\nconv 8 ²x3", "input 8x8x3\nrepeat ² { relu }",
    "input 8x8x3\nconv 3 3x3 groups ²", "input ²x8x3", "input 8x8x3\nsurvival linear 0.5.5",
    "input 8x8x3\nresidual survival 0.5.5 { relu }", "input 8x8x3\nconv 8 3x3 \ud800",
    "input 8x8x3\nconv 8 3x3 # \ud800", "input 8x8x3\nconv 8 3x3 stride ٣",
    "input 8x8x3\nfc ١٠",
])
def test_odd_digits_surrogates_and_bad_numbers_are_errors_with_a_line(spec: str) -> None:
    e = refused(spec)
    assert all(i.line >= 1 for i in e.issues), e.issues
    for issue in e.issues:
        issue.message.encode("utf-8")  # no lone surrogate echoed back


@pytest.mark.parametrize("obj", [
    {"input": "²x8x3", "layers": []},
    {"input": {"h": 8, "w": 8, "c": 3}, "layers": [{"op": "conv", "out": 8, "kernel": "²x3"}]},
    {"input": {"h": 8, "w": 8, "c": 3}, "layers": [{"op": "dropout", "p": int("9" * 309)}]},
    {"input": {"h": 8, "w": 8, "c": 3}, "layers": [{"op": "dropout", "p": float("nan")}]},
    {"input": {"h": 8, "w": 8, "c": 3}, "layers": [{"op": "conv\ud800", "out": 8}]},
    {"input": {"h": 10**30, "w": 8, "c": 3}, "layers": []},
])
def test_the_json_form_refuses_the_same_with_a_line_or_the_spec_parameter(obj: Any) -> None:
    e = refused(obj)
    for issue in e.issues:
        assert issue.line >= 1 or issue.parameter == "spec", issue
        issue.message.encode("utf-8")


def test_receptive_field_values_are_bounded_like_the_totals() -> None:
    for n in (9, 171, 172):
        e = refused(f"input 1x1x1\nrepeat {n} {{ maxpool 1x1 stride 64 }}")
        assert e.limit == "max_total" and e.issues[0].line == 2
    # 8 layers: 64^8 = 2^48 is still within 2^53 and is computed exactly
    last = analyze("input 1x1x1\nrepeat 8 { maxpool 1x1 stride 64 }").layers[-1]
    assert last.rf.jump == 64**8 <= LIMITS.max_total


def test_every_bad_line_is_reported_at_once_with_a_suggestion() -> None:
    spec = "input 32x32x3\nconv 8 3x3 strid 2\nconv 8 64x64\nfc ten"
    issues = refused(spec).issues
    assert [i.line for i in issues] == [2, 3, 4]
    assert "did you mean `stride`?" in issues[0].message
    assert "larger than the padded input 15" in issues[1].message  # (32 - 3)/2 + 1 = 15
    assert "'ten'" in issues[2].message


def test_shape_errors_after_a_dropped_line_are_not_guessed() -> None:
    # line 2 cannot be read at all, so the shape at line 3 is unknown: only line 2 is reported
    issues = refused("input 32x32x3\nconv eight 3x3\nconv 8 64x64").issues
    assert [i.line for i in issues] == [2]
    # before the bad line, a shape error is real and reported with it
    issues = refused("input 32x32x3\nconv 8 64x64\nconv eight 3x3").issues
    assert [i.line for i in issues] == [2, 3]


def test_misspelt_words_get_the_closest_valid_one() -> None:
    for spec, hint in (("input 8x8x3\ncovn 8 3x3", "conv"), ("input 8x8x3\nconv 8 3x3 paddng 1",
                       "padding"), ("input 8x8x3\nconcta {\n branch { relu }\n branch { } }",
                                    "concat"), ("input 8x8x3\nconv 8 3x3 nobais", "nobias")):
        assert f"did you mean `{hint}`?" in refused(spec).issues[0].message, spec


def test_the_list_of_problems_is_capped() -> None:
    spec = "input 8x8x3\n" + "\n".join("wobble" for _ in range(100))
    issues = refused(spec).issues
    assert len(issues) <= 26 and "more problem" in issues[-1].message


def test_zoo_input_parameter_errors_name_the_parameter() -> None:
    e = refused("input 8x8x3\nrelu", dtype="float33")
    assert e.issues[0].parameter == "dtype"
    with pytest.raises(SpecError) as info:
        analyze_layer("conv 8 3x3", Volume(0, 0, 0))
    assert info.value.issues[0].parameter == "input"


def test_a_cached_result_cannot_be_changed() -> None:
    a = zoo.analyze_model("resnet18")
    row = a.layers[1]
    with pytest.raises(dataclasses.FrozenInstanceError):
        row.macs = 0  # type: ignore[misc]
    with pytest.raises(TypeError):
        row.attrs["out"] = 1  # type: ignore[index]
    with pytest.raises(TypeError):
        row.formulas["h"] = "x"  # type: ignore[index]
    with pytest.raises((TypeError, AttributeError)):
        row.working.pop("h")  # type: ignore[attr-defined]
    with pytest.raises((TypeError, AttributeError)):
        a.layers.append(row)  # type: ignore[attr-defined]
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.totals.params = 1  # type: ignore[misc]
    assert zoo.analyze_model("resnet18") is a and a.totals.params == 11_689_512


def test_results_compare_by_value() -> None:
    spec = "input 32x32x3\nconv 8 3x3 pad 1\nrelu"
    assert analyze(spec) == analyze(spec)
    assert analyze(spec) != analyze(spec.replace("pad 1", "pad 0"))


def test_a_merge_of_equal_but_distinct_axes_warns_once() -> None:
    # a 1x7 then a 7x1 conv gives H and W fields that are equal but built apart; beside a
    # branch that steps by another jump, that is one warning for H and W, not one per axis
    spec = ("input 32x32x8\nconcat {\n branch { conv 8 1x7 pad 0x3; conv 8 7x1 pad 3x0; gap }\n"
            " branch { avgpool 3x3 stride 3; gap }\n}")
    merge = analyze(spec).layers[-1]
    assert merge.rf.h == merge.rf.w
    assert len(merge.warnings) == 1 and "along H and W" in merge.warnings[0]
    assert "jumps 30, 32" in merge.warnings[0]  # 3*10 after the 3x3/3 pool; 32 after gap


def test_rows_carry_their_bytes_for_the_dtype_and_batch() -> None:
    spec = "input 227x227x3\nconv 96 11x11 stride 4"
    row = analyze(spec, dtype="float16", batch=8).layers[1]
    assert row.activation_bytes == 55 * 55 * 96 * 2 * 8
    one = analyze_layer("conv 96 11x11 stride 4", Volume(227, 227, 3), dtype="int8", batch=3)
    assert one.activation_bytes == 55 * 55 * 96 * 1 * 3
    a = analyze(spec, batch=4)
    assert sum(r.activation_bytes for r in a.layers) == a.totals.activation_bytes


def test_a_floored_size_that_loses_only_padding_is_a_note_not_a_warning() -> None:
    row = analyze("input 8x8x16\nconv 16 3x3 stride 2 pad 1").layers[1]  # d2l: 8 -> 4
    assert row.output.h == (8 + 2 * 1 - 3) // 2 + 1 == 4
    assert row.warnings == () and "only the last 1 padding" in row.notes[0]
    tv = zoo.analyze_model("tv-resnet50")
    assert not tv.warnings
    assert sum(1 for r in tv.layers if r.notes) >= 4
    conv1 = analyze("input 224x224x3\nconv 96 11x11 stride 4").layers[1]
    assert "never read" in conv1.warnings[0] and conv1.notes == ()


def test_pad_same_at_a_stride_is_tensorflows_same() -> None:
    row = analyze("input 225x224x3\nconv 8 3x3 stride 2 pad same").layers[1]
    # TF: out = ceil(n/s); total padding = (out - 1)*s + k - n, the odd one after
    assert (row.output.h, row.output.w) == (-(-225 // 2), 224 // 2) == (113, 112)
    assert "1 before and 1 after" in row.formulas["h"]  # (113-1)*2 + 3 - 225 = 2
    assert "0 before and 1 after" in row.formulas["w"]  # (112-1)*2 + 3 - 224 = 1


def test_per_side_padding_is_read_and_worked_out() -> None:
    row = analyze("input 224x224x3\nconv 32 3x3 stride 2 pad 0,1").layers[1]
    assert row.output.h == (224 - 3 + 0 + 1) // 2 + 1 == 112
    assert row.formulas["h"] == "(224 - 3 + 0 + 1)/2 + 1 = 112"
    row = analyze("input 8x8x3\nconv 4 3x3 pad 1,2,0,1").layers[1]
    assert (row.output.h, row.output.w) == (8 - 3 + 1 + 2 + 1, 8 - 3 + 0 + 1 + 1)
