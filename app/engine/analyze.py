"""analyze(): spec -> Analysis. The one entry point the web, the zoo and the tests call."""

from __future__ import annotations

from typing import Any

from app.engine.claims import check_claims, check_total_claims
from app.engine.errors import LimitError, SpecError
from app.engine.graph import Network, Volume
from app.engine.jsonspec import parse_json_spec
from app.engine.limits import LIMITS
from app.engine.maths import fmt
from app.engine.notation import read_statement
from app.engine.ops import make_layer
from app.engine.parse import LAYER_STEMS, check_input, parse_spec
from app.engine.result import (
    DTYPE_BYTES,
    RF,
    Analysis,
    AxisRF,
    LayerRow,
    Options,
    Totals,
    VolumeOut,
    WarningOut,
)
from app.engine.walk import Walk, state

OPTIMIZER_STATE = {"sgd": 1, "adam": 2}

CONVENTIONS = {
    "macs": "multiply-accumulates of conv and fc layers (the lecture's 'ops'); bias additions, "
            "pooling, normalisation, activations and merges are not counted",
    "flops": "2 x macs (one multiply and one add each)",
    "params": "weights + biases; BatchNorm counts 2C learnable parameters (scale and shift), not "
              "its running statistics",
    "activations": "values in each layer's output tensor, per image; the input is the first row; "
                   "in-place layers (relu, dropout) and views (flatten) add none; merges "
                   "(concat, add, join) allocate their output",
    "activation_bytes": "activations x bytes per value (dtype) x batch: forward pass only",
    "param_bytes": "params x bytes per value",
    "training_bytes": "activation_bytes (all kept for the backward pass) + params x bytes x "
                      "(1 weights + 1 gradients + optimizer state: 1 copy for SGD with "
                      "momentum, 2 for Adam); workspace and framework overhead not included",
    "rf": "receptive field per axis in input pixels, from size 1, jump 1, start 0 at the input: "
          "size += (k_eff - 1) x jump, jump x= stride; fc, gap and flatten see their whole input; "
          "at a merge the largest field is kept",
    "depth": "conv and fc layers on the longest path from input to output (auxiliary "
             "classifiers excluded)",
    "rounding": "a non-whole output size is floored, as PyTorch does (ceil-mode pools round up)",
    "claims": "a written figure is right when it agrees to the precision written (3.2M, 35K); "
              "a 'params' figure may count weights only or weights and biases",
}


def _options(dtype: str, batch: int, optimizer: str, aux: bool) -> Options:
    if dtype not in DTYPE_BYTES:
        raise SpecError(f"unknown dtype '{dtype}'; expected one of {', '.join(DTYPE_BYTES)}")
    if optimizer not in OPTIMIZER_STATE:
        raise SpecError(f"unknown optimizer '{optimizer}'; expected sgd or adam")
    if not isinstance(batch, int) or batch < 1:
        raise SpecError(f"batch must be a whole number of at least 1, got {batch}")
    if batch > LIMITS.max_batch:
        raise LimitError("max_batch", f"batch {batch:,} exceeds the limit of "
                         f"{LIMITS.max_batch:,} (max_batch)")
    return Options(dtype=dtype, batch=batch, optimizer=optimizer, aux=aux)  # type: ignore[arg-type]


def analyze(spec: str | dict[str, Any] | Network, *, dtype: str = "float32", batch: int = 1,
            optimizer: str = "sgd", aux: bool = False) -> Analysis:
    """Parse (text or JSON form) and analyse. Raises SpecError/LimitError on bad input."""
    if isinstance(spec, Network):
        net = spec
    elif isinstance(spec, str):
        net = parse_spec(spec)
    elif isinstance(spec, dict):
        net = parse_json_spec(spec)
    else:
        raise SpecError("the spec must be text or a JSON object")
    return analyze_network(net, dtype=dtype, batch=batch, optimizer=optimizer, aux=aux)


def analyze_network(net: Network, *, dtype: str = "float32", batch: int = 1,
                    optimizer: str = "sgd", aux: bool = False) -> Analysis:
    opts = _options(dtype, batch, optimizer, aux)
    walk = Walk(aux=aux)
    walk.rows.append(_input_row(net))
    origin = AxisRF(size=1, jump=1, start=0.0)
    start = state(net.input, (origin, origin), walk.rows[0].output)
    end, depth, expected_depth = walk.seq(net.nodes, start, "", 0, 1.0)
    totals = _totals(walk, depth, expected_depth, opts)
    warnings = [WarningOut(layer=r.name, line=r.line, message=m)
                for r in walk.rows for m in r.warnings]
    bpv = DTYPE_BYTES[opts.dtype]
    return Analysis(
        input=VolumeOut(h=net.input.h, w=net.input.w, c=net.input.c),
        output=VolumeOut(h=end.vol.h, w=end.vol.w, c=end.vol.c), layers=walk.rows,
        totals=totals, warnings=warnings,
        claims=check_total_claims(net.total_claims, totals, bpv),
        conventions=CONVENTIONS, options=opts)


def _input_row(net: Network) -> LayerRow:
    v = net.input
    axis = AxisRF(size=1, jump=1, start=0.0)
    row = LayerRow(
        index=0, name=net.input_name, op="input", line=net.input_line, block="", depth=0,
        survival=None,
        input=VolumeOut(h=v.h, w=v.w, c=v.c), output=VolumeOut(h=v.h, w=v.w, c=v.c),
        weights=0, biases=0, params=0, macs=0, activations=v.size,
        rf=RF(size=1, jump=1, start=0.0, h=axis, w=axis), attrs={}, warnings=[], claims=[],
        formulas={"h": str(v.h), "w": str(v.w), "c": str(v.c), "weights": "0", "biases": "0",
                  "params": "0", "macs": "0",
                  "activations": f"{v.h}*{v.w}*{v.c} = {fmt(v.size)}", "rf": "1x1 (one pixel)"})
    if v.h <= 4 < v.w == v.c:
        row.warnings.append(f"input {v.h}x{v.w}x{v.c} looks like C x H x W, PyTorch's order; "
                            f"archcalc reads H x W x C, so this is {v.h} rows of {v.w} pixels "
                            f"with {v.c} channels: did you mean {v.w}x{v.c}x{v.h}?")
    if net.input_claims:
        row.claims = check_claims(net.input_claims, row)
    return row


def _totals(walk: Walk, depth: int, expected_depth: float, opts: Options) -> Totals:
    rows = walk.rows
    weights = sum(r.weights for r in rows)
    biases = sum(r.biases for r in rows)
    macs = sum(r.macs for r in rows)
    acts = sum(r.activations for r in rows)
    bpv = DTYPE_BYTES[opts.dtype]
    params = weights + biases
    stochastic = any(r.survival is not None for r in rows)
    values = {
        "params": params, "weights": weights, "biases": biases, "macs": macs,
        "flops": 2 * macs, "activations": acts, "activation_bytes": acts * bpv * opts.batch,
        "param_bytes": params * bpv,
        "training_bytes": acts * bpv * opts.batch
        + params * bpv * (2 + OPTIMIZER_STATE[opts.optimizer]),
        "depth": depth, "weight_layers": sum(r.op in ("conv", "fc") for r in rows),
    }
    for key, value in values.items():
        if value > LIMITS.max_total:
            culprit = _crossing(rows, key, value)
            raise LimitError("max_total", f"total {key} {value:,} exceeds 2^53 - 1 "
                             f"({LIMITS.max_total:,}), the largest integer a browser reads "
                             f"exactly (max_total); the sum passes it at {culprit.name}",
                             culprit.line)
    return Totals(**values,
                  expected_depth=expected_depth if stochastic else None,
                  expected_macs=sum(r.macs * (1.0 if r.survival is None else r.survival)
                                    for r in rows)
                  if stochastic else None)


def _crossing(rows: list[LayerRow], key: str, total: int) -> LayerRow:
    """The row at which the running total of ``key`` passes the limit."""
    field = {"flops": "macs", "activation_bytes": "activations", "param_bytes": "params",
             "training_bytes": "activations"}.get(key, key)
    whole = sum(int(getattr(r, field, 0)) for r in rows) or 1
    running = 0
    for r in rows:
        running += int(getattr(r, field, 0))
        if running * total / whole > LIMITS.max_total:
            return r
    return rows[-1]


def analyze_layer(layer: str, input: Volume, *, dtype: str = "float32", batch: int = 1,
                  optimizer: str = "sgd") -> LayerRow:
    """One layer line (no blocks) applied to ``input``: the same row format as analyze()."""
    if any(ch in layer for ch in "{};\n"):
        raise SpecError("a single layer takes no blocks, ';' or line breaks", 1)
    stmt = read_statement(layer, 1)
    if stmt.kind != "layer":
        raise SpecError("expected a layer such as 'conv 96 11x11 stride 4'", 1)
    check_input(input, 1)
    name = stmt.name or f"{LAYER_STEMS.get(stmt.op, stmt.op)}1"
    node = make_layer(stmt.op, dict(stmt.args), name, 1, stmt.claims)
    net = Network(input, (node,))
    return analyze_network(net, dtype=dtype, batch=batch, optimizer=optimizer).layers[1]
