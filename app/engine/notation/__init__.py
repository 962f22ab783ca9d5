"""Reading one statement: the canonical language and the notations pasted from slides and notes.

Every reader returns a :class:`Stmt`; numbers a student wrote about the result (a bracketed
volume, ``memory:``, ``params:`` ...) are kept as claims, never used as input, except the input
line's volume and the VGG notes' ``FC: [1x1x4096]``, whose bracket is the only count given.

One module a notation: :mod:`.canonical` (the spec language, and the dispatch of every line),
:mod:`.vgg_notes`, :mod:`.block_labels` (the ResNet figures) and :mod:`.alexnet_slide`;
:mod:`.common` holds what they share.
"""

from __future__ import annotations

from app.engine.graph import BLOCK_WORDS
from app.engine.notation.canonical import CANONICAL, CLAIM_KEYS, read_statement, take_refs
from app.engine.notation.common import Stmt

__all__ = ["BLOCK_WORDS", "CANONICAL", "CLAIM_KEYS", "Stmt", "read_statement", "take_refs"]
