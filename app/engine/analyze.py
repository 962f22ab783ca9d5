"""analyze(): spec -> Analysis. The one entry point the web, the zoo and the tests call."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from app.engine.claims import check_claims, check_total_claims
from app.engine.errors import Issue, LimitError, SpecError, spec_error
from app.engine.fieldspread import add_spreads
from app.engine.graph import FrozenDict, Network, Volume
from app.engine.jsonspec import read_json_spec
from app.engine.limits import LIMITS
from app.engine.lines import split_lines
from app.engine.notation import read_statement
from app.engine.optable import WEIGHT_OPS, make_layer
from app.engine.options import OPTIMIZER_STATE, Options, make_options
from app.engine.parse import LAYER_STEMS, Parsed, capped, check_input, read_spec, tokenize
from app.engine.result import (
    FIGURES,
    RF,
    Analysis,
    AxisRF,
    Formulas,
    LayerRow,
    Rendered,
    Totals,
    VolumeOut,
    WarningOut,
)
from app.engine.walk import Walk, make_state
from app.engine.working import Term, equals, mul, stated

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
          "at a merge, the union of the branches' fields (per axis: its size and centre)",
    "depth": "conv and fc layers on the longest path from input to output (auxiliary "
             "classifiers excluded)",
    "rounding": "a non-whole output size is floored, as PyTorch does (ceil-mode pools round up)",
    "claims": "a written figure is right when it agrees to the precision written (3.2M, 35K); "
              "a 'params' figure may count weights only or weights and biases",
}


Spec = str | dict[str, Any] | Network


def analyze(spec: Spec, options: Options | None = None, **option_values: Any) -> Analysis:
    """Parse (text or JSON form) and analyse. Options are an :class:`Options` or its fields as
    keywords (``dtype="float16", batch=8``). Raises SpecError/LimitError on bad input."""
    opts = options if options is not None else make_options(**option_values)
    with _cyclic_gc_paused():  # reading a long spec builds thousands of objects too
        return _analyze_spec(spec, opts)


def _analyze_spec(spec: Spec, opts: Options) -> Analysis:
    if isinstance(spec, Network):
        return analyze_network(spec, opts)
    if isinstance(spec, str):
        parsed = read_spec(spec)
    elif isinstance(spec, dict):
        parsed = read_json_spec(spec)
    else:
        raise SpecError("the spec must be text or a JSON object", parameter="spec")
    if not parsed.issues and parsed.network is not None:
        return analyze_network(parsed.network, opts)
    raise spec_error(capped([*parsed.issues, *_shape_issues(parsed, opts)]))


def _shape_issues(parsed: Parsed, opts: Options) -> list[Issue]:
    """The shape problems of a spec that has other problems too, as far as they can still be
    computed: walking the good lines, a problem before the first line left out is real."""
    if parsed.network is None:
        return []
    try:
        analyze_network(parsed.network, opts)
    except SpecError as exc:
        return [i for i in exc.issues if not parsed.dropped or 0 < i.line < parsed.dropped]
    return []


_gc_lock = threading.Lock()
_gc_pauses = 0


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """The walk builds thousands of small objects and no reference cycles. CPython's cyclic
    collector would scan them while they pile up, and again when the pause ends: the first
    allocation after ``gc.enable()`` collects the youngest generation, which then holds every
    object of the result (a third of the time of a network of 5,000 distinct rows), and moving
    them on to the oldest generation can start a scan of the whole heap (of torch's objects too,
    in a process that holds it). So the collector is paused while any analysis runs, in any
    thread, and when the last one ends every object it tracks is moved to the oldest generation
    at once (``gc.freeze()`` then ``gc.unfreeze()``: two list splices, whatever the size), where
    a result is freed by reference counting when it is dropped, never scanned. Young cyclic
    garbage of other code waits for the next full collection instead of the next young one.
    Objects something else froze on purpose (a pre-fork server's) end up in the oldest
    generation too, which costs that process a scan of them at full collections, nothing more;
    archcalc's servers freeze nothing. (Asking ``gc.get_freeze_count()`` first is no way out:
    it counts the frozen objects one by one, which is slow on a heap that holds torch.)"""
    global _gc_pauses
    with _gc_lock:
        _gc_pauses += 1
        if _gc_pauses == 1:
            gc.disable()
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pauses -= 1
            if _gc_pauses == 0:
                gc.freeze()
                gc.unfreeze()
                gc.enable()


#: the same pause for callers that build large object graphs of their own from a result (the
#: web layer renders its pages and JSON under it)
cyclic_gc_paused = _cyclic_gc_paused


def analyze_network(net: Network, options: Options | None = None,
                    **option_values: Any) -> Analysis:
    """Analyse a parsed network; options as in :func:`analyze`."""
    opts = options if options is not None else make_options(**option_values)
    with _cyclic_gc_paused():
        return _analyze(net, opts)


def _analyze(net: Network, opts: Options) -> Analysis:
    walk = Walk(aux=opts.aux, scale=opts.bytes_per_value * opts.batch)
    walk.rows.append(_input_row(net, walk.scale))
    origin = AxisRF(size=1, jump=1, start=0.0)
    start = make_state(net.input, (origin, origin), walk.rows[0].output)
    walk.named[net.input_name] = start
    end = walk.seq(net.nodes, start, "", 0, 1.0)
    ends = [walk.read(walk.rows[0], n) for n in net.outputs] if net.outputs else [end]
    end = ends[0]
    totals = _totals(walk, max(e.depth for e in ends), max(e.expected for e in ends), opts)
    warnings = tuple(WarningOut(layer=r.name, line=r.line, message=m)
                     for r in walk.rows for m in r.warnings)
    return add_spreads(net, Analysis(
        input=VolumeOut(h=net.input.h, w=net.input.w, c=net.input.c),
        output=VolumeOut(h=end.vol.h, w=end.vol.w, c=end.vol.c), layers=tuple(walk.rows),
        totals=totals, warnings=warnings,
        claims=check_total_claims(net.total_claims, totals, opts.bytes_per_value),
        conventions=CONVENTIONS, options=opts, outputs=net.outputs))


def _input_row(net: Network, scale: int) -> LayerRow:
    v = net.input
    axis = AxisRF(size=1, jump=1, start=0.0)
    figures = Rendered((*FIGURES, "rf"), _input_figures, v)
    warnings: tuple[str, ...] = ()
    if v.h <= 4 < v.w == v.c:
        warnings = (f"input {v.h}x{v.w}x{v.c} looks like C x H x W, PyTorch's order; "
                    f"archcalc reads H x W x C, so this is {v.h} rows of {v.w} pixels "
                    f"with {v.c} channels: did you mean {v.w}x{v.c}x{v.h}?",)
    row = LayerRow(
        index=0, name=net.input_name, op="input", line=net.input_line, block="", depth=0,
        survival=None,
        input=VolumeOut(h=v.h, w=v.w, c=v.c), output=VolumeOut(h=v.h, w=v.w, c=v.c),
        weights=0, biases=0, params=0, macs=0, activations=v.size,
        activation_bytes=v.size * scale,
        rf=RF(size=1, jump=1, start=0.0, h=axis, w=axis), attrs=FrozenDict(),
        warnings=warnings, claims=(),
        formulas=Formulas(figures))
    if net.input_claims:
        row = replace(row, claims=check_claims(net.input_claims, row))
    return row


def _input_figures(v: Volume) -> FrozenDict:
    return FrozenDict({
        "h": stated(v.h), "w": stated(v.w), "c": stated(v.c), "weights": stated(0),
        "biases": stated(0), "params": stated(0), "macs": stated(0),
        "activations": equals(mul(Term("H", v.h, "input height"),
                                  Term("W", v.w, "input width"),
                                  Term("C", v.c, "input channels")), v.size, sep=True),
        "rf": stated("1x1", note="one pixel")})


def _totals(walk: Walk, depth: int, expected_depth: float, opts: Options) -> Totals:
    rows = walk.rows
    weights = sum(r.weights for r in rows)
    biases = sum(r.biases for r in rows)
    macs = sum(r.macs for r in rows)
    acts = sum(r.activations for r in rows)
    bpv = opts.bytes_per_value
    params = weights + biases
    stochastic = any(r.survival is not None for r in rows)
    values = {
        "params": params, "weights": weights, "biases": biases, "macs": macs,
        "flops": 2 * macs, "activations": acts, "activation_bytes": acts * bpv * opts.batch,
        "param_bytes": params * bpv,
        "training_bytes": acts * bpv * opts.batch
        + params * bpv * (2 + OPTIMIZER_STATE[opts.optimizer]),
        "depth": depth, "weight_layers": sum(r.op in WEIGHT_OPS for r in rows),
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


def analyze_layer(layer: str, input: Volume, options: Options | None = None,
                  **option_values: Any) -> LayerRow:
    """One layer line (no blocks) applied to ``input``: the same row format as analyze()."""
    opts = options if options is not None else make_options(**option_values)
    if any(ch in layer for ch in "{};") or len(split_lines(layer)) > 1:
        raise SpecError("a single layer takes no blocks, ';' or line breaks", 1,
                        parameter="layer")
    tokens = tokenize(layer)  # a spec line's own rules: its length, controls, BOM, comment
    stmt = read_statement(tokens[0].text if tokens else "", 1)
    if stmt.refs or "to" in stmt.args:
        raise SpecError("a single layer reads no other layer by name; write it in a spec",
                        1, parameter="layer")
    if stmt.kind != "layer":
        raise SpecError("expected a layer such as 'conv 96 11x11 stride 4'", 1, parameter="layer")
    check_input(input, 0, parameter="input")
    name = stmt.name or f"{LAYER_STEMS.get(stmt.op, stmt.op)}1"
    node = make_layer(stmt.op, dict(stmt.args), name, 1, stmt.claims)
    net = Network(input, (node,))
    return analyze_network(net, opts).layers[1]
