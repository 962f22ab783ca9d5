"""Imported once by the import fork server (app.importer.pool), so that each import's child
process starts with torch, torchvision and onnx loaded instead of importing them itself.

What is missing is skipped: the child then fails on its own import and says which extra to
install. Nothing here runs a model or starts a thread.
"""

from __future__ import annotations

import contextlib

import app.importer.api
import app.importer.onnx_reader

with contextlib.suppress(Exception):  # torchvision's own import may fail in several ways
    import onnx  # noqa: F401
with contextlib.suppress(Exception):
    import app.importer.fx  # noqa: F401 - torch and torch.fx
    from app.importer.tv import torchvision_models

    torchvision_models()
