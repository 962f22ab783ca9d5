"""The one rule for where a spec's lines end, shared by the engine, the pages and the editor.

A line ends at ``\\r\\n``, ``\\r`` or ``\\n`` and nowhere else: that is what a browser's textarea
and every editor show as a new line. ``str.splitlines()`` also breaks at a form feed (the page
break pdftotext writes), VT, the file/group/record separators, NEL and U+2028/U+2029; the editor
does not, so every later line number would be off by one. Those characters are whitespace
inside a line here (the readers split words on any whitespace); any other control character is
refused on its own line by the tokenizer. A leading byte-order mark is dropped. The editor
(``static/editor.js``) splits with the same expression, ``LINE_BREAK.pattern``.
"""

from __future__ import annotations

import re

#: the only line ends
LINE_BREAK = re.compile(r"\r\n|\r|\n")
BOM = "\ufeff"


def split_lines(text: str) -> list[str]:
    """The lines of ``text`` as the editor numbers them (a leading BOM dropped). A final line
    end does not open a new line, as with ``str.splitlines()``: ``"a\\n"`` is one line."""
    if text.startswith(BOM):
        text = text[len(BOM):]
    if not text:
        return []
    lines = LINE_BREAK.split(text)
    if lines[-1] == "":
        lines.pop()
    return lines


def editor_line_count(text: str) -> int:
    """How many lines the editor's gutter numbers: the line after a final line end counts."""
    return len(LINE_BREAK.split(text))


__all__ = ["BOM", "LINE_BREAK", "editor_line_count", "split_lines"]
