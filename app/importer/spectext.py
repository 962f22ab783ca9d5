"""The spec text of one imported layer, written alike by the torch.fx and the ONNX readers.

Both readers know a layer's numbers (a kernel, a stride, pads as top, left, bottom, right) and
hand them here, so a convolution or a pool read from a module or from a file is spelled the same
way, with the spec's defaults (stride 1, no padding, dilation 1, a bias) left out.
"""

from __future__ import annotations

from app.importer.graph import Node

Pair = tuple[int, int]
#: zero padding as ONNX writes it: top, left, bottom, right
Pads = tuple[int, int, int, int]


def hw(a: int, b: int) -> str:
    """``3`` for a square size, ``3x5`` for another."""
    return str(a) if a == b else f"{a}x{b}"


def pads_text(pads: Pads) -> str:
    """`` pad 1`` (or `` pad 1x2``) when the sides agree, `` pad t,b,l,r`` when they do not;
    nothing for none."""
    if not any(pads):
        return ""
    t, left, b, r = pads
    if (t, left) == (b, r):
        return f" pad {hw(t, left)}"
    return f" pad {t},{b},{left},{r}"


def window(kernel: Pair, stride: Pair = (1, 1), pads: Pads = (0, 0, 0, 0),
           dilation: Pair = (1, 1), pool: bool = False, same: bool = False) -> str:
    """``3x3 stride 2 pad 1`` with the defaults left out; a pool's stride is always written
    (the spec's pools default to the kernel, PyTorch's too, but a written stride 1 must stay
    1). ``same`` is PyTorch's ``padding='same'``."""
    text = f"{kernel[0]}x{kernel[1]}"
    if stride != (1, 1) or pool:
        text += f" stride {hw(*stride)}"
    text += " pad same" if same else pads_text(pads)
    if dilation != (1, 1):
        text += f" dilation {hw(*dilation)}"
    return text


def conv_text(out: int, kernel: Pair, stride: Pair = (1, 1), pads: Pads = (0, 0, 0, 0),
              dilation: Pair = (1, 1), groups: int = 1, depthwise: bool = False,
              bias: bool = True, transpose: bool = False, outpad: Pair = (0, 0),
              same: bool = False) -> str:
    """``conv 64 3x3 stride 2 pad 1 nobias``, ``conv 32 3x3 pad 1 depthwise``,
    ``convtranspose 16 2x2 stride 2 outpad 1``: ``depthwise`` when every input channel is its
    own group."""
    text = f"{'convtranspose' if transpose else 'conv'} {out} " + window(
        kernel, stride, pads, dilation, same=same)
    if transpose and outpad != (0, 0):
        text += f" outpad {hw(*outpad)}"
    if groups != 1:
        text += " depthwise" if depthwise and not transpose else f" groups {groups}"
    return text + ("" if bias else " nobias")


def pool_text(kind: str, kernel: Pair, stride: Pair, pads: Pads = (0, 0, 0, 0),
              dilation: Pair = (1, 1), ceil: bool = False) -> str:
    """``maxpool 3x3 stride 2 pad 1 ceil``."""
    return f"{kind} " + window(kernel, stride, pads, dilation, pool=True) + (
        " ceil" if ceil else "")


def refused_row(name: str, src: str, target: str, reason: str) -> Node:
    """The row standing for a refused node that reads ``src``: it passes its input on, so the
    rest of the model still reads, and says REFUSED where the spec shows it."""
    return Node(name, "layer", (src,), "identity", f"REFUSED {target}: {reason}")
