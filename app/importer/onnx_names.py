"""Spec names for the nodes of an ONNX file, from the module scopes its exporter wrote.

torch.onnx names a node after the modules it was written in (``/layer1/layer1.0/conv1/Conv``);
the importer's names keep that path, so a layer reads as the module it came from.
"""

from __future__ import annotations

import bisect
import re


class UniqueNames:
    """Names handed out once each: ``conv``, ``conv_2``, ``conv_3``... Each base remembers the
    last number it reached, so a file of thousands of nodes of one name is named in linear time."""

    def __init__(self, quals: list[str] | None = None) -> None:
        self.used: set[str] = set()
        self.last: dict[str, int] = {}
        #: every node's module path, sorted (see :meth:`holds_modules`)
        self.quals = sorted(set(quals or ()))

    def holds_modules(self, qual: str) -> bool:
        """Whether some node lies in a module inside ``qual`` (one bisection, not a scan)."""
        i = bisect.bisect_left(self.quals, qual + ".")
        return i < len(self.quals) and self.quals[i].startswith(qual + ".")

    def __contains__(self, name: object) -> bool:
        return name in self.used

    def take(self, base: str) -> str:
        out, n = base, self.last.get(base, 1)
        while out in self.used:
            n += 1
            out = f"{base}_{n}"
        self.last[base] = n
        self.used.add(out)
        return out


def module_path(name: str) -> str:
    """The module path of an ONNX node name: ``/layer1/layer1.0/conv1/Conv`` -> ``layer1.0.conv1``."""
    parts = [p for p in name.split("/") if p][:-1]  # the scopes; the last part is the op
    qual, prev = "", ""
    for part in parts:  # torch's scopes repeat their parent: layer2, layer2.0, conv1
        if prev and part.startswith(prev + "."):
            qual = qual[: len(qual) - len(prev)] + part
        else:
            qual = f"{qual}.{part}" if qual else part
        prev = part
    return qual


def spec_name(name: str, taken: UniqueNames, fallback: str) -> str:
    """A spec name from an ONNX node name: ``/layer1/layer1.0/conv1/Conv`` -> ``layer1_0_conv1``.
    An op written in the forward of a module that holds others (``/Mixed_5b/AveragePool``,
    ``/layer1/layer1.0/Add``) takes its op type too, so the module's name is left to its block."""
    qual = module_path(name)
    if qual and taken.holds_modules(qual):
        qual += "." + name.rsplit("/", 1)[-1].lower()
    base = re.sub(r"[^\w]", "_", qual).strip("_") or fallback
    return taken.take(base)
