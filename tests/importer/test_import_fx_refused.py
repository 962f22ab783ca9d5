"""torch.fx import never crashes: what it cannot express is refused by the node's name.

Each module below does one thing the reader has no rule for, or one that breaks a rule's
assumptions; the import must answer with the spec (the refused node marked ``# REFUSED``) and
the refusal naming that node, never raise.
"""

from __future__ import annotations

from typing import Any

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

from app.importer.api import import_module  # noqa: E402


class MeanLast(nn.Module):
    """``x.mean(-1)``: a mean over one axis, whose ``dim`` is an int, not a list."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x: Any) -> Any:
        return self.conv(x).mean(-1)


class OnABuffer(nn.Module):
    """A Linear applied to a buffer (Swin V2's relative-position MLP), then added to the map."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 1)
        self.register_buffer("table", torch.zeros(8, 8, 2))
        self.mlp = nn.Linear(2, 4)

    def forward(self, x: Any) -> Any:
        bias = self.mlp(self.table).permute(2, 0, 1).unsqueeze(0)
        return self.conv(x) + bias


class ShapeMath(nn.Module):
    """Arithmetic on shape values (MaxViT's window partition): ``c // 2`` is not a tensor."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 1)

    def forward(self, x: Any) -> Any:
        y = self.conv(x)
        n, c, h, w = y.shape
        return y.reshape(n, c // 2, 2, h * w)


class PoolOfNone(nn.Module):
    """``adaptive_avg_pool2d(x, (None, 2))``: torch keeps the height; the rule reads two ints."""

    def forward(self, x: Any) -> Any:
        return F.adaptive_avg_pool2d(x, (None, 2))


class PlusConstant(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 1)

    def forward(self, x: Any) -> Any:
        return self.conv(x) + torch.ones(1, 4, 1, 1)


@pytest.mark.parametrize(("model", "node", "words"), [
    (MeanLast(), "mean", "a mean over dims -1"),
    (OnABuffer(), "mlp", "'table', which is not computed from the input"),
    (ShapeMath(), "reshape", "a reshape to (1, 2, 2, 64)"),
    (PoolOfNone(), "adaptive_avg_pool2d", "could not be read (TypeError"),
    (PlusConstant(), "add", "which is not computed from the input"),
])
def test_a_node_no_rule_takes_is_refused_by_its_name(model: nn.Module, node: str,
                                                     words: str) -> None:
    result = import_module(model, (8, 8, 3), type(model).__name__)
    assert result.refused, result.spec
    found = [r for r in result.refused if r.node == node]
    assert found and words in found[0].reason, result.refused
    assert f"# REFUSED {found[0]}" in result.spec
