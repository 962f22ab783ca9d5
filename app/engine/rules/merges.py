"""Rules of the merges of named inputs (``concat a b``, ``add``, ``mul``)."""

from __future__ import annotations

from app.engine.errors import SpecError
from app.engine.graph import Layer, Volume
from app.engine.rules.step import Step
from app.engine.working import Term, add, equals, stated

# --- merges of named inputs -------------------------------------------------------------------


def needs_inputs(layer: Layer, x: Volume, explain: bool = False) -> Step:
    """A merge reads the layers it joins by name; on one input alone it has nothing to do."""
    raise SpecError(f"{layer.op} names the layers it joins, e.g. '{layer.op} a b'",
                    layer.line, layer.name)


def _input_names(layer: Layer, n: int) -> list[str]:
    names = list(layer.inputs)
    return names if len(names) == n else [f"input {i}" for i in range(1, n + 1)]


def concat_inputs(layer: Layer, xs: tuple[Volume, ...], explain: bool = False) -> Step:
    """Concatenation along depth: H x W must agree; C_out = C_1 + ... + C_n; no parameters,
    0 macs; the output is a new tensor."""
    names, first = _input_names(layer, len(xs)), xs[0]
    for name, v in zip(names[1:], xs[1:], strict=True):
        if (v.h, v.w) != (first.h, first.w):
            raise SpecError(f"concat '{layer.name}': {names[0]} gives {first} but {name} gives "
                            f"{v}; spatial sizes must agree to concatenate (crop the larger: "
                            f"'crop to {names[0]} from {name}')", layer.line, layer.name)
    step = Step(Volume(first.h, first.w, sum(v.c for v in xs)), explain=explain)
    if explain:
        step.working["c"] = equals(add(*(Term(f"C_{i}", v.c, f"channels of {n}")
                                         for i, (n, v) in enumerate(zip(names, xs, strict=True),
                                                                    start=1))), step.out.c)
    return step


def add_inputs(layer: Layer, xs: tuple[Volume, ...], explain: bool = False) -> Step:
    """Element-wise sum: every input's shape must be the same; no parameters, 0 macs (the
    additions are not counted); the output is a new tensor."""
    names, first = _input_names(layer, len(xs)), xs[0]
    for name, v in zip(names[1:], xs[1:], strict=True):
        if v != first:
            raise SpecError(f"add '{layer.name}': {names[0]} gives {first} but {name} gives "
                            f"{v}; shapes must match to be added", layer.line, layer.name)
    step = Step(first, explain=explain)
    if explain:
        step.working["c"] = stated(first.c, note=f"sum of {len(xs)} tensors of equal shape")
    return step


def mul_inputs(layer: Layer, xs: tuple[Volume, ...], explain: bool = False) -> Step:
    """Element-wise product with broadcasting: along each axis the inputs agree or are 1 (a
    1x1xC gate scales each channel of an H x W x C map); the output takes the largest size
    along each axis. No parameters; the products are not counted as macs."""
    names = _input_names(layer, len(xs))
    sizes = []
    for axis in range(3):
        most = max(v[axis] for v in xs)
        for name, v in zip(names, xs, strict=True):
            if v[axis] not in (1, most):
                wide = next(n for n, u in zip(names, xs, strict=True) if u[axis] == most)
                raise SpecError(f"mul '{layer.name}': {name} gives {v} and {wide} gives "
                                f"{xs[names.index(wide)]}; along {'HWC'[axis]} each input must "
                                f"have the same size or 1 (broadcast)", layer.line, layer.name)
        sizes.append(most)
    step = Step(Volume(*sizes), explain=explain)
    if explain:
        step.working["c"] = stated(sizes[2], note=f"product of {len(xs)} tensors, a size of 1 "
                                                  f"broadcast")
    return step
