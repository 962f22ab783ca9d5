"""The shorthand people type for a layer reads as the layer they mean."""

from __future__ import annotations

import pytest

from app.engine import analyze

CONV_32 = (32 - 3 + 2 * 1) // 2 + 1  # 16: a 3x3 conv, stride 2, pad 1 on 32


@pytest.mark.parametrize("line, out, params", [
    ("conv 10 5x5 stride 1 pad 2", (32, 32, 10), 5 * 5 * 3 * 10 + 10),
    ("CONV 5x5, 10 filters, stride 1, pad 2", (32, 32, 10), 5 * 5 * 3 * 10 + 10),
    ("10 5x5 filters with stride 1, pad 2", (32, 32, 10), 5 * 5 * 3 * 10 + 10),
    ("conv 3x3 s2 p1 64", (CONV_32, CONV_32, 64), 3 * 3 * 3 * 64 + 64),
    ("conv 64 3x3 stride=2 padding=1", (CONV_32, CONV_32, 64), 3 * 3 * 3 * 64 + 64),
    ("conv 64 k3 s2 p1", (CONV_32, CONV_32, 64), 3 * 3 * 3 * 64 + 64),
    ("conv 64 3x3/2 pad 1", (CONV_32, CONV_32, 64), 3 * 3 * 3 * 64 + 64),
    ("conv filters 8 kernel 3", (30, 30, 8), 3 * 3 * 3 * 8 + 8),
    ("conv 8 3x3 d2", (32 - 5 + 1, 32 - 5 + 1, 8), 3 * 3 * 3 * 8 + 8),
    ("conv 16 3x3 padding=same", (32, 32, 16), 3 * 3 * 3 * 16 + 16),
    ("fc 10 neurons", (1, 1, 10), 32 * 32 * 3 * 10 + 10),
    ("nn.Conv2d(3, 64, 3, stride=2, padding=1)", (CONV_32, CONV_32, 64), 3 * 3 * 3 * 64 + 64),
])
def test_shorthand_reads_as_meant(line: str, out: tuple[int, int, int], params: int) -> None:
    row = analyze(f"input 32x32x3\n{line}").layers[1]
    assert (row.output.h, row.output.w, row.output.c) == out
    assert row.params == params
