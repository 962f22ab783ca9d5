"""Hypothesis strategies for specs that are valid by construction, from the spec grammar.

``specs()`` draws a text spec: an input volume, then layers and blocks chosen so that every
shape still fits (the generator tracks the volume as it goes), in the spec language, slide
notation (with claims, right or wrong) and PyTorch lines. ``json_specs()`` draws the JSON form.
Used by the schemathesis run (tests/web/test_schemathesis.py) so that the success paths are
fuzzed too, not only the error paths.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

SIZES = st.sampled_from([4, 7, 8, 13, 16, 28, 32])
CHANNELS = st.integers(1, 64)


@dataclass(frozen=True)
class Vol:
    h: int
    w: int
    c: int


def _conv_out(n: int, k: int, s: int, p: int) -> int:
    return (n + 2 * p - k) // s + 1


@st.composite
def _layer(draw: st.DrawFn, vol: Vol, depth: int) -> tuple[str, Vol]:
    """One line (or block) that fits ``vol``, and the volume after it."""
    kinds = ["conv", "conv1", "act", "bn", "dropout", "slide", "torch", "pool", "claim"]
    if depth < 3:
        kinds += ["repeat", "concat", "residual", "split"]
    kind = draw(st.sampled_from(kinds))
    n = draw(CHANNELS)
    if kind == "conv":
        k = draw(st.sampled_from([1, 3, 5]))
        s = draw(st.sampled_from([1, 1, 2]))
        p = k // 2
        out = Vol(_conv_out(vol.h, k, s, p), _conv_out(vol.w, k, s, p), n)
        stride = f" stride {s}" if s > 1 else ""
        return f"conv {n} {k}x{k}{stride} pad {p}", out
    if kind == "conv1":
        if draw(st.booleans()):
            return "depthwise 3x3 pad 1", vol
        return draw(st.sampled_from([f"conv {n} 1x1", f"conv {n} 1x1 nobias"])), Vol(
            vol.h, vol.w, n)
    if kind == "act":
        return draw(st.sampled_from(["relu", "tanh", "sigmoid", "gelu", "silu", "relu6",
                                     "leakyrelu 0.1", "identity"])), vol
    if kind == "bn":
        return draw(st.sampled_from(["bn", "batch norm", "layernorm", "layerscale"])), vol
    if kind == "dropout":
        return f"dropout {draw(st.sampled_from(['0.1', '0.5', '0.9']))}", vol
    if kind == "pool":
        if vol.h < 2 or vol.w < 2:
            return "relu", vol
        return draw(st.sampled_from(["maxpool 2x2", "avgpool 2x2", "max pool 2x2 stride 2",
                                     "pool"])), Vol(vol.h // 2, vol.w // 2, vol.c)
    if kind == "slide":
        right = draw(st.booleans())
        claim = f"{vol.h}x{vol.w}x{n}" if right else f"{vol.h + 1}x{vol.w}x{n}"
        return (f"[{claim}] CONV{draw(st.integers(1, 9))}: {n} 3x3 filters at stride 1, "
                f"pad 1"), Vol(vol.h, vol.w, n)
    if kind == "torch":
        return f"nn.Conv2d({vol.c}, {n}, 3, stride=1, padding=1)", Vol(vol.h, vol.w, n)
    if kind == "claim":
        weights = 3 * 3 * vol.c * n + draw(st.sampled_from([0, 0, 1]))
        return f"conv {n} 3x3 pad 1 params: {weights:,}", Vol(vol.h, vol.w, n)
    if kind == "repeat":
        times = draw(st.integers(1, 4))
        body, after = draw(_body(vol, depth + 1, same_shape=True))
        return f"repeat {times} {{ {body} }}", after
    if kind == "concat":
        a, b = draw(CHANNELS), draw(CHANNELS)
        return (f"concat {{ branch {{ conv {a} 1x1 }} branch {{ conv {b} 3x3 pad 1; relu }} "
                f"branch {{ }} }}"), Vol(vol.h, vol.w, a + b + vol.c)
    if kind == "split" and vol.c % 2 == 0:
        return (f"split {{ branch {{ }} branch {{ conv {n} 1x1; relu }} }}",
                Vol(vol.h, vol.w, vol.c // 2 + n))
    body, _ = draw(_body(vol, depth + 1, same_shape=True))
    return f"residual {{ {body} }}", vol


@st.composite
def _body(draw: st.DrawFn, vol: Vol, depth: int, same_shape: bool) -> tuple[str, Vol]:
    """A few lines joined by ``;``; with ``same_shape``, ones that keep ``vol`` as it is."""
    if same_shape:
        lines = draw(st.lists(st.sampled_from([f"conv {vol.c} 3x3 pad 1", "bn", "relu",
                                               f"conv {vol.c} 1x1", "dropout 0.1"]),
                              min_size=1, max_size=4))
        return "; ".join(lines), vol
    lines = []
    for _ in range(draw(st.integers(1, 4))):
        line, vol = draw(_layer(vol, depth))
        lines.append(line)
    return "; ".join(lines), vol


@st.composite
def specs(draw: st.DrawFn) -> str:
    """A whole text spec that analyses without an error (claims may be wrong)."""
    vol = Vol(draw(SIZES), draw(SIZES), draw(st.integers(1, 8)))
    first = draw(st.sampled_from([f"input {vol.h}x{vol.w}x{vol.c}",
                                  f"[{vol.h}x{vol.w}x{vol.c}] INPUT",
                                  f"Input volume: {vol.h}x{vol.w}x{vol.c}"]))
    lines = [first]
    for _ in range(draw(st.integers(0, 8))):
        line, vol = draw(_layer(vol, 0))
        lines.append(line)
    if draw(st.booleans()):
        lines += ["gap", f"fc {draw(st.integers(1, 100))}"]
        if draw(st.booleans()):
            lines.append("softmax")
    return "\n".join(lines) + draw(st.sampled_from(["", "\n", "\n# done\n"]))


def _json_layer(vol: Vol, n: int, which: int) -> tuple[dict[str, Any], Vol]:
    if which == 0:
        return {"op": "conv", "out": n, "kernel": 3, "pad": 1}, Vol(vol.h, vol.w, n)
    if which == 1:
        return {"op": "relu"}, vol
    if which == 2:
        return {"op": "bn"}, vol
    if which == 3 and vol.h >= 2 and vol.w >= 2:
        return {"op": "maxpool", "kernel": 2, "stride": 2}, Vol(vol.h // 2, vol.w // 2, vol.c)
    if which == 5 and vol.c % 2 == 0:
        return {"op": "split", "branches": [[], [{"op": "conv", "out": n, "kernel": 1}]]}, Vol(
            vol.h, vol.w, vol.c // 2 + n)
    return {"op": "repeat", "times": 2, "body": [{"op": "conv", "out": vol.c, "kernel": [1, 1]},
                                                  {"op": "relu"}]}, vol


@st.composite
def json_specs(draw: st.DrawFn) -> dict[str, Any]:
    """A spec in the JSON form that analyses without an error."""
    vol = Vol(draw(SIZES), draw(SIZES), draw(st.integers(1, 8)))
    spec: dict[str, Any] = {"input": {"h": vol.h, "w": vol.w, "c": vol.c}, "layers": []}
    for _ in range(draw(st.integers(0, 6))):
        layer, vol = _json_layer(vol, draw(CHANNELS), draw(st.integers(0, 5)))
        spec["layers"].append(layer)
    if draw(st.booleans()):
        spec["layers"].append({"op": "fc", "out": draw(st.integers(1, 50))})
    return spec
