"""Python names for the generated PyTorch file, and the spec's comments it carries over.

A spec name becomes an identifier that is never a keyword or an ``nn.Module`` attribute, unique
within its container; the spec's ``#`` comments are handed out once each, beside or above the
layer of their line. Kept apart from :mod:`app.export.pytorch` so that the walk there reads as
code generation alone.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field

from app.export.base import Subject

__all__ = ["RESERVED", "Comments", "Names", "class_name", "identifier", "model_class"]

#: names a layer cannot take: Python keywords and the attributes of nn.Module / nn.Sequential
#: (a test holds this to ``dir(nn.Sequential)``)
RESERVED = frozenset(keyword.kwlist) | frozenset((
    "T_destination", "add_module", "append", "apply", "bfloat16", "buffers",
    "call_super_init", "children", "compile", "cpu", "cuda", "double", "dump_patches",
    "eval", "extend", "extra_repr", "float", "forward", "get_buffer", "get_extra_state",
    "get_parameter", "get_submodule", "half", "insert", "ipu", "load_state_dict", "modules",
    "mtia", "named_buffers", "named_children", "named_modules", "named_parameters",
    "parameters", "pop", "register_backward_hook", "register_buffer",
    "register_forward_hook", "register_forward_pre_hook", "register_full_backward_hook",
    "register_full_backward_pre_hook", "register_load_state_dict_post_hook",
    "register_load_state_dict_pre_hook", "register_module", "register_parameter",
    "register_state_dict_post_hook", "register_state_dict_pre_hook", "requires_grad_",
    "set_extra_state", "set_submodule", "share_memory", "smart_load_state_dict",
    "state_dict", "to", "to_empty", "train", "training", "type", "xpu", "zero_grad", "x",
    "self", "torch", "nn", "F",
))

def identifier(name: str) -> str:
    """A spec name as a Python identifier: ``MAX POOL1`` -> ``max_pool1``, ``CONV3-64`` ->
    ``conv3_64``; never a keyword or an attribute of nn.Module."""
    ident = re.sub(r"\W+", "_", name.strip().lower(), flags=re.ASCII).strip("_") or "layer"
    if ident[0].isdigit():
        ident = f"layer_{ident}"
    return f"{ident}_" if ident in RESERVED else ident


def class_name(title: str) -> str:
    """A title as a class name: ``resnet18`` -> ``Resnet18``, ``tv-resnet50`` -> ``TvResnet50``,
    ``my net.spec`` -> ``MyNet``."""
    stem = re.sub(r"\.(spec|txt|json)$", "", title)
    words = re.findall(r"[A-Za-z0-9]+", stem)
    name = "".join(w[:1].upper() + w[1:] for w in words) or "Net"
    return f"Net{name}" if name[0].isdigit() else name


def model_class(subject: Subject) -> str:
    """The generated class's name: from the label without its parenthesis (``ResNet-18`` ->
    ``ResNet18``), else from the title."""
    return class_name(subject.label.split(" (")[0] if subject.label else subject.title)


@dataclass
class Names:
    """Unique identifiers within one container (a class's attributes or one Sequential)."""

    used: set[str] = field(default_factory=set)

    def take(self, name: str) -> str:
        base, n = identifier(name), 1
        ident = base
        while ident in self.used:
            n += 1
            ident = f"{base}_{n}"
        self.used.add(ident)
        return ident


@dataclass
class Comments:
    """The spec's ``#`` comments, each written once, beside or above the node of its line."""

    lines: list[str]
    seen: int = 0
    used: set[int] = field(default_factory=set)

    @staticmethod
    def _comment(text: str) -> str | None:
        _code, sep, comment = text.partition("#")
        return comment.strip() if sep else None

    def above(self, line: int) -> list[str]:
        """Whole-line comments between the last node written and ``line``."""
        out: list[str] = []
        for n in range(self.seen + 1, min(line, len(self.lines) + 1)):
            text = self.lines[n - 1]
            if text.lstrip().startswith("#") and n not in self.used:
                self.used.add(n)
                out.append(text.strip().lstrip("#").strip())
        self.seen = max(self.seen, line)
        return out

    def beside(self, line: int) -> str | None:
        """The trailing comment of ``line``, the first time it is asked for."""
        if not 1 <= line <= len(self.lines) or line in self.used:
            return None
        text = self.lines[line - 1]
        if text.lstrip().startswith("#"):
            return None
        self.used.add(line)
        return self._comment(text) or None
