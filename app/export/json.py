"""JSON: exactly what ``POST /api/analyze`` answers (the API's own serialisation).

The analysis carries its conventions (``conventions``) and the options used (``options``:
dtype, batch, optimizer, aux), so the JSON states them like every other export.
"""

from __future__ import annotations

import json

from app.engine.result import to_jsonable
from app.export.base import Subject


def render(subject: Subject) -> str:
    """The analysis as indented JSON text."""
    return json.dumps(to_jsonable(subject.analysis), indent=2, ensure_ascii=False) + "\n"
