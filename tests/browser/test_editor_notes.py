"""Each problem is drawn in the editor at its line, not only as a mark in the gutter and an item
in the list under it: a row under the line (above it when the row would cover the line being
typed), inside the editor's box and on top, readable at a projector's 1024x768 and in projector
mode, reached by Tab from the editor and selecting its line when followed."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import goto, open_page, wait_until, with_projector

#: a broken line in the middle of a spec, and good ones after it
SPEC_LINES = ["input 32x32x3", "conv 8 3x3 pad 1", "frobnicate 3", "maxpool 2x2 stride 2",
              "conv 16 3x3 pad 1", "relu",
              "fc 10"]

#: the note of line 3: its box, the box of its line (from the gutter's number), the editor's
#: text box, and whether the note is what the page shows at its centre
GEOMETRY = """() => {
  const note = document.querySelector('#editor-notes .editor-note');
  if (!note) return null;
  const r = note.getBoundingClientRect(), box = document.getElementById('spec').getBoundingClientRect();
  const line = document.querySelector('#gutter li:nth-child(' + note.dataset.line + ')').getBoundingClientRect();
  const hit = document.elementFromPoint((r.left + r.right) / 2, (r.top + r.bottom) / 2);
  return {note: [r.left, r.top, r.right, r.bottom], line: [line.top, line.bottom],
          box: [box.left, box.top, box.right, box.bottom], onTop: !!hit && note.contains(hit),
          text: note.textContent, size: parseFloat(getComputedStyle(note).fontSize),
          line_n: note.dataset.line};
}"""


@pytest.mark.parametrize(("width", "height", "projector"),
                         [(1024, 768, False), (1024, 768, True), (1920, 1080, True)],
                         ids=["1024x768", "1024x768-projector", "1920x1080-projector"])
def test_a_problem_is_drawn_under_its_line(base_url: str, browser: Any, width: int,
                                           height: int, projector: bool) -> None:
    w = open_page(browser, width, height)
    page = w.page
    try:
        goto(w, with_projector(f"{base_url}/?example=conv1", projector))
        page.fill("#spec", "")
        page.focus("#spec")
        page.keyboard.type("\n".join(SPEC_LINES), delay=2)
        wait_until(w, "document.querySelectorAll('#editor-notes .editor-note').length === 1 && "
                      "!!document.querySelector('#editor-notes .editor-note[data-line=\"3\"]') && "
                      "!document.querySelector('.htmx-request')")
        found = page.evaluate(GEOMETRY)
        assert found["line_n"] == "3" and "frobnicate" in found["text"], found
        left, top, right, bottom = found["note"]
        bl, bt, br, bb = found["box"]
        assert bl - 1 <= left and right <= br + 1 and bt - 1 <= top and bottom <= bb + 1, found
        assert top >= found["line"][1] - 1  # under its line: the broken text stays readable
        assert found["onTop"], found
        assert found["size"] >= (16 if projector else 12), found
        assert page.get_attribute("#spec", "aria-invalid") == "true"
        assert "editor-notes" in (page.get_attribute("#spec", "aria-describedby") or "")
        # the caret on the line under it: the row moves above its line
        page.keyboard.press("Control+Home")
        for _ in range(3):
            page.keyboard.press("ArrowDown")
        moved = page.evaluate(GEOMETRY)
        assert moved["note"][3] <= moved["line"][0] + 1, moved
        # by keyboard: Tab from the editor reaches it; Enter selects its line
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.classList.contains('editor-note')")
        page.keyboard.press("Enter")
        selected = page.evaluate("(() => { const t = document.getElementById('spec');"
                                 " return t.value.slice(t.selectionStart, t.selectionEnd); })()")
        assert selected == "frobnicate 3"
        # fixed, it goes
        page.keyboard.press("End")
        for _ in range(len("frobnicate 3")):
            page.keyboard.press("Backspace")
        page.keyboard.type("relu", delay=2)
        wait_until(w, "!document.querySelector('#editor-notes .editor-note') && "
                      "!document.querySelector('.htmx-request')")
        assert page.get_attribute("#spec", "aria-invalid") == "false"
        assert w.console_errors == [] and w.page_errors == [] and w.csp_violations() == []
    finally:
        page.context.close()
