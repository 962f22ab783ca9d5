"""A Concat read back as the nested concatenations the module wrote.

The exporter flattens torch's ``cat([a, cat([b, c]), d])`` into one Concat of four inputs; the
inputs that fork from their own layer are grouped again, so the import keeps the block's shape.
"""

from __future__ import annotations

from typing import Any

from app.importer.onnx_names import spec_name
from app.importer.onnx_values import OnnxValues, Unsupported

#: a Concat of more inputs than this is kept flat (no network nests one so wide): the search
#: for runs to nest walks up to 64 layers above each input
_MAX_NESTED = 64


class ConcatRules(OnnxValues):
    """Mixed into the ONNX reader: the Concat rule and the search for nested runs."""

    def concat(self, node: Any, a: dict[str, Any]) -> None:
        if int(a.get("axis", 0)) not in (1, -3):
            raise Unsupported(f"a concatenation along axis {a.get('axis')}")
        name = spec_name(node.name, self.taken, "concat")
        ins = tuple(self._computed(v) for v in node.input)
        groups = self._nested(ins)
        if len(groups) > 1 and any(len(g) > 1 for g in groups):
            ins = tuple(self.graph.add_cat(self.taken.take(_stem(g)), g) if len(g) > 1
                        else g[0] for g in groups)
        value = self.graph.add_cat(name, ins)
        self.value_node[node.output[0]] = value
        self.layout[value] = "nchw"

    def _nested(self, ins: tuple[str, ...]) -> list[tuple[str, ...]]:
        """The inputs of one Concat in runs that fork from their own layer below the point all
        of them fork from: torch's ``cat([a, cat([b, c]), d])``, which the exporter writes as one
        Concat of four (Inception-v3's Mixed_7b), has b and c in a run. Concatenation is
        associative, so the nested form computes the same; it is the block the module wrote."""
        flat: list[tuple[str, ...]] = [(v,) for v in ins]
        if len(ins) > _MAX_NESTED or any(ins[:k] in self.graph.cats for k in range(1, len(ins))):
            return flat  # DenseNet's growing list: add_cat reuses its prefix
        chains = [self._chain(v) for v in ins]
        seen = [set(chain) for chain in chains]
        everywhere = set.intersection(*seen)
        common = [c for c in chains[0] if c in everywhere]
        if not common:
            return flat
        groups: list[list[int]] = []
        fork = ""
        for i, chain in enumerate(chains):
            if groups and fork in seen[i]:
                groups[-1].append(i)
                continue
            nxt = seen[i + 1] if i + 1 < len(chains) else set()
            fork = next((c for c in chain if c in nxt), "")
            if fork == common[0]:
                fork = ""
            groups.append([i])
        return [tuple(ins[i] for i in g) for g in groups]

    def _chain(self, value: str, limit: int = 64) -> list[str]:
        """``value`` and the values above it through layers of one input, nearest first."""
        chain = [value]
        node = self.graph.nodes.get(value)
        while node is not None and node.kind == "layer" and len(node.inputs) == 1 \
                and len(chain) < limit:
            chain.append(node.inputs[0])
            node = self.graph.nodes.get(node.inputs[0])
        return chain


def _stem(names: tuple[str, ...]) -> str:
    """The name a nested concatenation takes: what its inputs' names share, cut at an
    underscore (``Mixed_7b_branch3x3_2a``, ``..._2b`` -> ``Mixed_7b_branch3x3``)."""
    first, last = min(names), max(names)
    n = next((i for i, (p, q) in enumerate(zip(first, last, strict=False)) if p != q),
             min(len(first), len(last)))
    prefix = first[:n]
    if prefix not in names:
        prefix = prefix.rsplit("_", 1)[0] if "_" in prefix else ""
    return prefix.rstrip("_") or "concat"
