"""The one meta-test that holds every table keyed by op to the op registry.

Adding an op to ``app/engine/optable.py`` and forgetting one of the places that must know it
fails here, naming the table and the op (docs/architecture.md, "How to add a layer").
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("onnx")

from app.engine.graph import BLOCK_KINDS
from app.engine.optable import BLOCK_MERGE_OPS, OPS, doc_row
from app.engine.torchlines import _CLASSES as PASTED_CLASSES
from app.export.pytorch_blocks import BLOCK_CODE
from app.export.pytorch_layers import LAYER_CODE
from app.importer import fx, onnx_reader
from app.torchnet import LAYER_MODULES
from app.torchnet.blocks import BLOCK_MODULES

DOCS = Path(__file__).parents[2] / "docs" / "spec-language.md"


def _problems() -> dict[str, set[str]]:
    docs = DOCS.read_text(encoding="utf-8")
    ops = set(OPS)
    return {
        "torch module factory (app/torchnet/layers.py LAYER_MODULES) lacks":
            ops - set(LAYER_MODULES),
        "code export (app/export/pytorch_layers.py LAYER_CODE) lacks": ops - set(LAYER_CODE),
        "docs/spec-language.md lacks the doc row of":
            {op for op, d in OPS.items() if doc_row(d) not in docs},
        "the registry states no fx names (OpDef.fx; () if none) for":
            {op for op, d in OPS.items() if d.fx is None},
        "the fx importer (app/importer/fx.py) does not read":
            {f"{op} <- {n}" for op, d in OPS.items() for n in d.fx or () if n not in fx.READS},
        "the registry states no ONNX op types (OpDef.onnx; () if none) for":
            {op for op, d in OPS.items() if d.onnx is None},
        "the ONNX reader (app/importer/onnx_reader.py) does not read":
            {f"{op} <- {n}" for op, d in OPS.items() for n in d.onnx or ()
             if n not in onnx_reader.READS},
        "the pasted-PyTorch reader (app/engine/torchlines.py) reads a class the op's fx names "
        "lack": {f"{op} <- {cls}" for cls, (op, _, _) in PASTED_CLASSES.items()
                 if cls not in (OPS[op].fx or ())},
        "a torch-side table has an op the registry lacks":
            (set(LAYER_MODULES) | set(LAYER_CODE)) - ops,
        # block kinds are the graph's, not ops, but their tables drift the same way
        "a block kind's table (BLOCK_MODULES, BLOCK_CODE, BLOCK_MERGE_OPS) differs on":
            (set(BLOCK_MODULES) ^ set(BLOCK_KINDS)) | (set(BLOCK_CODE) ^ set(BLOCK_KINDS))
            | (set(BLOCK_MERGE_OPS) ^ (set(BLOCK_KINDS) - {"aux"})),
    }


def test_every_table_covers_every_op() -> None:
    problems = {what: names for what, names in _problems().items() if names}
    assert not problems, "\n".join(f"{what}: {', '.join(sorted(names))}"
                                   for what, names in problems.items())
