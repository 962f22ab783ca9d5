"""Pasted PyTorch is read as Python reads it, and a spec option given twice is refused: each
refusal names the line and says why (tests/torch/test_torch_paste.py holds the same lines
against torch itself)."""

from __future__ import annotations

import pytest

from app.engine import SpecError, analyze


@pytest.mark.parametrize("text, words", [
    ("nn.Conv2d(3, 8, kernel_size=3, 2)", "positional argument follows keyword argument"),
    ("nn.Conv2d(3, 8, kernel_size=3, kernel_size=5)", "keyword argument repeated 'kernel_size'"),
    ("nn.Conv2d(3, 8, 3, kernel_size=3)", "got multiple values for argument 'kernel_size'"),
    ("nn.Conv2d(3, 8, 3, stride=2, padding='same')",
     "padding='same' is not supported for strided convolutions"),
    ("nn.Conv2d(3, 8, *sizes)", "cannot read *sizes"),
    ("nn.Conv2d(3, 8, **kw)", "cannot read **kw"),
    ("nn.Conv2d(3, 8, k)", "cannot read the argument 'k'"),
    ("nn.Conv2d(3, 8, 3), nn.ReLU()", "one module a line"),
    ("nn.Conv2d(3, 8, " + "(" * 300 + "3" + ")" * 300 + ")", "Conv2d"),
])
def test_the_refusal_names_the_line_and_the_reason(text: str, words: str) -> None:
    with pytest.raises(SpecError) as info:
        analyze(f"input 8x8x3\nrelu\n{text}\n")
    issue = info.value.issues[0]
    assert issue.line == 3 and words in issue.message, issue


@pytest.mark.parametrize("spec", [
    "conv 8 3x3 stride 2 stride 3", "conv 8 3x3 s2 stride=2", "conv 8 3x3 pad 1 padding 0",
    "maxpool 2x2 /2 stride 2", "conv 8 3x3 nobias nobias",
])
def test_an_option_given_twice_is_refused_on_its_line(spec: str) -> None:
    with pytest.raises(SpecError) as info:
        analyze(f"input 8x8x3\n{spec}\nrelu\n")
    (issue,) = info.value.issues
    assert issue.line == 2 and "given twice on this line" in issue.message
