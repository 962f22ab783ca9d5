"""Spec -> PyTorch source: one ``nn.Module`` class without constructor arguments, to paste and run.

The generated file is meant to be read by a student: layers keep the spec's names (``conv1``,
``i3a_5x5``), channel counts are written out (``nn.Conv2d(3, 96, kernel_size=11, stride=4)``),
the top-level ``forward`` is one line a layer with the output volume as a comment, and each kind
of block is a small class whose ``forward`` says what it computes (``body(x) + shortcut(x)``,
``torch.cat(...)``). The spec's ``#`` comments travel with the layer they stand beside.

Tensors are (N, C, H, W) as in PyTorch; the engine's volumes are H x W x C. An ``fc`` layer
flattens its input (``torch.flatten(x, 1)``) and gives (N, out): the engine's 1x1xout volume.

The generator walks the parsed network beside the analysis' rows (the same order the engine
walked it), taking each layer's input channels and features from its row. It needs no torch.
:data:`LAYER_CODE` has one entry per registry op (``tests/torch/test_registry_tables.py``) and
:data:`BLOCK_CODE` one per block kind.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from app.engine.errors import SpecError
from app.engine.graph import Block, Layer, Network, Node, names_read
from app.engine.lines import split_lines
from app.engine.optable import FLATTENING_OPS, MERGE_OPS, PASS_THROUGH_OPS, SPATIAL_OPS
from app.engine.result import LayerRow
from app.export.base import Subject, conventions_lines
from app.export.pytorch_blocks import BLOCK_CODE, HELPER_ORDER, HELPERS
from app.export.pytorch_layers import LAYER_CODE, OP_HELPERS
from app.export.pytorch_names import RESERVED, Comments, Names, class_name, identifier, model_class
from app.present.formats import volume

#: the naming helpers are re-exported so that callers keep one import for the code export
__all__ = ["BLOCK_CODE", "LAYER_CODE", "RESERVED", "class_name", "identifier", "model_class",
           "render"]


# --- the walk ----------------------------------------------------------------------------------

Lines = list[str]


@dataclass
class _Gen:
    rows: Iterator[LayerRow]
    comments: Comments
    aux: bool
    helpers: set[str] = field(default_factory=set)
    #: the row of the last block merged (its output volume is the block's)
    merged: LayerRow | None = None

    def row(self, node: Node) -> LayerRow:
        row = next(self.rows)
        if row.name != node.name:
            raise ValueError(f"line {node.line}: the rows do not follow the network "
                             f"({row.name!r} where {node.name!r} was expected)")
        return row

    def comment_lines(self, node: Node) -> Lines:
        return [f"# {c}" if c else "#" for c in self.comments.above(node.line)]

    def layer(self, layer: Layer, flat: bool, in_place: bool) -> tuple[list[tuple[str, str]],
                                                                       LayerRow, bool]:
        """A layer's modules as (name, expression): a Flatten or Unflatten first if the
        tensor's rank must change, then the layer itself."""
        row = self.row(layer)
        if layer.op not in LAYER_CODE:
            raise ValueError(f"line {layer.line}: no PyTorch code for op {layer.op!r}")
        pre: list[tuple[str, str]] = []
        if layer.op == "fc" and not flat:
            pre.append(("flatten", "nn.Flatten()"))
        elif layer.op in SPATIAL_OPS and flat:
            pre.append(("unflatten", f"nn.Unflatten(1, ({row.input.c}, 1, 1))"))
            flat = False
        if layer.op in OP_HELPERS:
            self.helpers.add(OP_HELPERS[layer.op])
        sides = side_padding(layer, row)
        if sides is not None:  # padding the layer cannot do itself, as its own module
            pad = ("nn.ConstantPad2d({}, float(\"-inf\"))" if layer.op == "maxpool"
                   else "nn.ZeroPad2d({})").format(sides)
            pre.append((f"{layer.name}_pad", pad))
            layer = layer._replace(attrs={k: v for k, v in layer.attrs.items()
                                          if k not in ("same", "ph", "pw", "ph2", "pw2")})
        code = LAYER_CODE[layer.op](layer, row, flat, in_place)
        return [*pre, (layer.name, code)], row, flat or layer.op in FLATTENING_OPS

    def sequence(self, nodes: tuple[Node, ...], flat: bool,
                 volume_out: bool = False) -> tuple[Lines, bool]:
        """A branch as a ``named(...)`` expression (``nn.Identity()`` when empty); with
        ``volume_out``, a vector at its end is given back its 1x1 (a gate to multiply by)."""
        names = Names()
        entries: Lines = []
        fresh = False
        channels = 0
        for node in nodes:
            entries += self.comment_lines(node)
            beside = self.comments.beside(node.line)
            if isinstance(node, Layer):
                modules, row, flat = self.layer(node, flat, fresh)
                channels = row.output.c
                fresh = fresh or node.op not in PASS_THROUGH_OPS
                for i, (name, expr) in enumerate(modules):
                    note = f"  # {beside}" if beside and i == len(modules) - 1 else ""
                    entries.append(f"{names.take(name)}={expr},{note}")
            else:
                code, flat = self.block(node, flat)
                if not code:
                    continue
                channels = self.merged.output.c if self.merged is not None else channels
                fresh = fresh or node.kind != "aux"
                note = f"  # {beside}" if beside else ""
                code[0] = f"{names.take(node.name)}={code[0]}{note}"
                code[-1] += ","
                entries += code
        if volume_out and flat:
            entries.append(f"{names.take('unflatten')}=nn.Unflatten(1, ({channels}, 1, 1)),")
            flat = False
        if all(e.startswith("#") for e in entries):
            return ["nn.Identity()"], flat
        self.helpers.add("named")
        return ["named(", *[f"    {e}" for e in entries], ")"], flat

    def block(self, block: Block, flat: bool) -> tuple[Lines, bool]:
        """A block as an expression of its helper class, with its branches as arguments."""
        if block.kind == "aux" and not self.aux:
            return [], flat
        parts: list[tuple[str, Lines]] = []
        outs: list[bool] = []
        if block.kind == "scale" and flat:
            raise ValueError(f"line {block.line}: {block.name!r} scales a vector; a gate "
                             f"multiplies a volume's channels")
        for i, branch in enumerate(block.branches):
            code, out = self.sequence(branch, flat, volume_out=block.kind == "scale")
            label = ("body" if i == 0 else "shortcut") if block.kind == "residual" else ""
            if not (label == "shortcut" and code == ["nn.Identity()"]):
                parts.append((label, code))
            outs.append(out)
        if block.kind == "aux":
            self.helpers.add("Aux")
            return self._call("Aux", parts, []), flat
        self.merged = self.row(block)
        if block.kind == "residual" and len(parts) == 1:
            outs.append(flat)
        if block.kind in ("dense", "scale"):
            outs = [flat]  # concat(x, body(x)) and x * gate(x) keep x's form
        if len(set(outs)) > 1:
            raise ValueError(f"line {block.line}: the branches of {block.name!r} give vectors "
                             f"and volumes; flatten them alike")
        kind = {"concat": "Concat", "dense": "Dense", "join": "Join", "residual": "Residual",
                "scale": "Scale", "split": "Split"}
        cls = kind[block.kind]
        extra: list[str] = []
        if block.kind == "residual" and block.survival is not None:
            cls = "StochasticResidual"
            extra.append(f"survival={block.survival}")
        self.helpers.add(cls)
        return self._call(cls, parts, extra), outs[0]

    @staticmethod
    def _call(helper: str, parts: list[tuple[str, Lines]], extra: list[str]) -> Lines:
        lines = [f"{helper}("]
        for label, code in parts:
            first = f"{label}={code[0]}" if label else code[0]
            body = [first, *code[1:]]
            body[-1] += ","
            lines += [f"    {b}" for b in body]
        lines += [f"    {e}," for e in extra]
        lines.append(")")
        return lines


def side_padding(layer: Layer, row: LayerRow) -> tuple[int, int, int, int] | None:
    """(left, right, top, bottom) for padding torch's layer cannot take itself: different on
    two sides of an axis, or TensorFlow's SAME at a stride above 1 (the odd pixel after, sized
    for this row's input); None when the layer pads itself."""
    if layer.op not in ("conv", "sepconv", "maxpool", "avgpool"):
        return None
    stride = (int(layer.get("sh", 1)), int(layer.get("sw", 1)))
    # torch's pools take no 'same' and only equal sides, so a pool pads itself by module
    if layer.get("same", False) and (stride != (1, 1) or layer.op.endswith("pool")):
        pads = []
        for n, k, d, s in ((row.input.h, "kh", "dh", stride[0]),
                           (row.input.w, "kw", "dw", stride[1])):
            k_eff = int(layer.get(d, 1)) * (int(layer.get(k, 1)) - 1) + 1
            total = max((-(-n // s) - 1) * s + k_eff - n, 0)
            pads.append((total // 2, total - total // 2))
        (top, bottom), (left, right) = pads
        return (left, right, top, bottom)
    if "ph2" in layer.attrs or "pw2" in layer.attrs:
        ph, pw = int(layer.get("ph", 0)), int(layer.get("pw", 0))
        return (pw, int(layer.get("pw2", pw)), ph, int(layer.get("ph2", ph)))
    return None


def _volume(row: LayerRow, flat: bool) -> str:
    """The output as its comment gives it: a flat vector by its length, else H x W x C."""
    return f"{row.output.c}" if flat else volume(row.output)


@dataclass
class _Top:
    """The top-level class: ``__init__`` assignments and ``forward`` lines, and the local
    variables that keep the rows read by name."""

    init: Lines = field(default_factory=list)
    forward: Lines = field(default_factory=list)
    names: Names = field(default_factory=Names)
    flat: bool = False
    variables: Names = field(default_factory=Names)
    #: row name -> (its variable, whether it is flat)
    kept: dict[str, tuple[str, bool]] = field(default_factory=dict)
    returns: list[str] = field(default_factory=list)

    def keep(self, name: str, flat: bool) -> None:
        var = self.variables.take(name)
        self.kept[name] = (var, flat)
        self.forward.append(f"{var} = x")


def _top(gen: _Gen, net: Network) -> _Top:
    """The top-level class. A row some later layer reads by name is kept in a local variable
    (``enc1 = x``); a layer that reads one starts from it, and a merge takes them all."""
    top = _Top()
    needed = names_read(net)
    _no_reads_inside(net.nodes, needed, top=True)
    flat = False
    fresh = net.input_name not in needed  # in place only on a tensor nobody reads again
    if net.input_name in needed:
        top.keep(net.input_name, flat)
    for node in net.nodes:
        above = gen.comment_lines(node)
        beside = gen.comments.beside(node.line)
        note = f"  # {beside}" if beside else ""
        top.init += above
        if isinstance(node, Layer):
            flat = _layer(gen, top, node, flat, fresh and not node.inputs, note)
            # a new tensor is ours to overwrite; a pass-through hands on what it read
            fresh = node.op not in PASS_THROUGH_OPS or (fresh and not node.inputs)
        else:
            code, flat_out = gen.block(node, flat)
            attr = top.names.take(node.name)
            if not code:
                top.init.append(f"# {node.name}: an auxiliary classifier, left out (counted and "
                                f"generated only with aux){note}")
                continue
            code[0] = f"self.{attr} = {code[0]}{note}"
            top.init += code
            if node.kind == "aux":
                top.forward.append(f"x = self.{attr}(x)  # side output in self.{attr}.output")
            else:
                shown = f": {_volume(gen.merged, flat_out)}" if gen.merged is not None else ""
                top.forward.append(f"x = self.{attr}(x)  # {node.kind}{shown}")
                fresh = True
            flat = flat_out
        if node.name in needed:  # a later line reads this very tensor: never overwrite it
            top.keep(node.name, flat)
            fresh = False
    top.flat = flat
    if net.outputs:
        top.flat = top.kept[net.outputs[0]][1]
        top.returns = [top.kept[n][0] for n in net.outputs]
    return top


def _layer(gen: _Gen, top: _Top, node: Layer, flat: bool, fresh: bool, note: str) -> bool:
    """One top-level layer's init and forward lines; returns whether its output is flat."""
    if node.op in MERGE_OPS:
        ins = [top.kept[n] for n in node.inputs]
        row = gen.row(node)
        gen.helpers.add(OP_HELPERS[node.op])
        all_flat = all(f for _, f in ins)
        args = ", ".join(v if f == all_flat else f"{v}[:, :, None, None]" for v, f in ins)
        attr = top.names.take(node.name)
        top.init.append(f"self.{attr} = {LAYER_CODE[node.op](node, row, all_flat, False)}"
                        f"{note}")
        top.forward.append(f"x = self.{attr}({args})  # {_volume(row, all_flat)}")
        return all_flat
    if node.inputs:
        var, flat = top.kept[node.inputs[0]]
        top.forward.append(f"x = {var}")
    modules, row, flat_out = gen.layer(node, flat, fresh)
    layer_name, expr = modules[-1]
    for pre_name, pre_expr in modules[:-1]:
        if pre_name == "flatten":
            top.forward.append("x = torch.flatten(x, 1)")
        elif pre_name == "unflatten":
            top.forward.append(f"x = x.reshape(x.shape[0], {row.input.c}, 1, 1)")
        else:
            pad = top.names.take(pre_name)
            top.init.append(f"self.{pad} = {pre_expr}  # (left, right, top, bottom)")
            top.forward.append(f"x = self.{pad}(x)")
    attr = top.names.take(layer_name)
    top.init.append(f"self.{attr} = {expr}{note}")
    top.forward.append(f"x = self.{attr}(x)  # {_volume(row, flat_out)}")
    return flat_out


def _no_reads_inside(nodes: tuple[Node, ...], needed: frozenset[str], top: bool) -> None:
    """Names are kept in the top-level forward only: a layer inside a block that reads a
    named row, or is read by name, has no variable to read or to keep."""
    for node in nodes:
        if isinstance(node, Layer):
            if not top and (node.inputs or "to" in node.attrs or node.name in needed):
                raise SpecError(f"{node.name}: PyTorch code is written only for named reads "
                                f"outside blocks; move this layer, or the layer it reads, out "
                                f"of its block", node.line, node.name)
        else:
            for branch in node.branches:
                _no_reads_inside(branch, needed, top=False)


def _docstring(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')


def render(subject: Subject) -> str:
    """PyTorch source for the subject's network: imports, the helpers it uses, one class."""
    a, net = subject.analysis, subject.network
    source_lines = split_lines(subject.source) if subject.source else []
    gen = _Gen(iter(a.layers[1:]), Comments(source_lines), a.options.aux)
    header = gen.comments.above(net.input_line)
    gen.comments.beside(net.input_line)
    top = _top(gen, net)
    if next(gen.rows, None) is not None:
        raise ValueError("the analysis has rows the network does not explain")
    cls = model_class(subject)
    out_shape = (f"(N, {a.output.c})" if top.flat
                 else f"(N, {a.output.c}, {a.output.h}, {a.output.w})")
    several = len(top.returns) > 1
    if several:
        out_shape = f"{len(top.returns)} tensors, the first {out_shape}"
    lines = ['"""' + _docstring(f"{cls}: PyTorch code generated by archcalc from "
                                f"{subject.title}."), ""]
    lines += [_docstring(line) for line in conventions_lines(subject)[:3]]
    lines += ["", _docstring(f"Input (N, {a.input.c}, {a.input.h}, {a.input.w}); output "
                             f"{out_shape}; {a.totals.params:,} parameters; "
                             f"{a.totals.macs:,} MACs per image."), '"""', ""]
    lines += ["from collections import OrderedDict", "", "import torch",
              "import torch.nn.functional as F", "from torch import nn", ""]
    if header:
        lines += [f"# {c}" if c else "#" for c in header] + [""]
    for name in HELPER_ORDER:
        if name in gen.helpers:
            lines += ["", HELPERS[name]]
    lines += ["", f"class {cls}(nn.Module):",
              (f'    """{_docstring(subject.title)}: input {a.input.h}x{a.input.w}x'
              f'{a.input.c} (H x W x C), {a.totals.params:,} parameters."""'), "",
              "    def __init__(self) -> None:", "        super().__init__()"]
    lines += [f"        {line}" for line in top.init]
    returns = "tuple[torch.Tensor, ...]" if several else "torch.Tensor"
    lines += ["", f"    def forward(self, x: torch.Tensor) -> {returns}:",
              '        """(N, C, H, W) in; each comment is the output volume, H x W x C."""']
    lines += [f"        {line}" for line in top.forward]
    lines += [f"        return {', '.join(top.returns) or 'x'}", "", ""]
    lines += ['if __name__ == "__main__":', f"    model = {cls}().eval()",
              f"    x = torch.zeros(1, {a.input.c}, {a.input.h}, {a.input.w})",
              "    with torch.no_grad():",
              (f"        print([tuple(t.shape) for t in model(x)])  # {len(top.returns)} outputs"
               if several else
               f"        print(tuple(model(x).shape))  # {out_shape.replace('N', '1')}"),
              f"    print(sum(p.numel() for p in model.parameters()))  # {a.totals.params}"]
    code = "\n".join(lines) + "\n"
    if "F.pad" not in code:
        code = code.replace("import torch.nn.functional as F\n", "")
    if "named(" not in code:
        code = code.replace("from collections import OrderedDict\n\n", "")
    return code

