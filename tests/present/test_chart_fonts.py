"""The type the style sheet gives chart and diagram text is no larger than the type their layout
measured (app.present.labels.MODES): a label the CSS drew larger could overlap its neighbour.
Projector mode, and a chart's phone layout, use the projector's sizes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.present.labels import FONTS, MODES

CSS = Path(__file__).resolve().parents[2] / "static" / "lecture-hall.css"


def _rules(css: str) -> list[tuple[str, str, str]]:
    """(the @media condition or "", selectors, declarations) of every rule, comments out."""
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    rules, media, depth, start = [], "", 0, 0
    for i, ch in enumerate(css):
        if ch == "{":
            head = css[start:i].strip()
            if depth == 0 and head.startswith("@media"):
                media = head
            elif depth == 0 or media:
                end = css.index("}", i)
                rules.append((media if depth else "", head, css[i + 1:end]))
            depth += 1
            start = i + 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                media = ""
            start = i + 1
    return rules


def _sizes() -> list[tuple[str, str, float]]:
    """(mode, text class, font size) of every chart or diagram rule that sets one."""
    out = []
    for media, selectors, body in _rules(CSS.read_text(encoding="utf-8")):
        size = re.search(r"font-size:\s*([\d.]+)px", body)
        if not size or "print" in media:
            continue
        for selector in selectors.split(","):
            svg = re.search(r"\.(chart|arch)-svg\b(.*)", selector)
            if not svg:
                continue
            # a phone's layout (.chart-narrow) is measured in the projector's type
            mode = "projector" if "html.projector" in selector or "max-width" in media \
                or ".chart-narrow" in selector else "normal"
            cls = [c for c in re.findall(r"\.([a-z-]+)", svg.group(2)) if c != "chart-narrow"]
            family = "chart" if svg.group(1) == "chart" else "arch"
            out.append((mode, cls[-1] if cls else f"{family} text", float(size.group(1))))
    return out


#: the classes each SVG's bare ``text`` rule reaches
TEXT_CLASSES = {
    "chart text": ["tick", "panel-name", "axis-label", "bar-label", "mark-label",
                   "series-label", "key", "bubble-label"],
    "arch text": ["frame-label", "times", "box-label", "box-sub"],
}


def test_the_style_sheet_sets_sizes_for_the_charts() -> None:
    sizes = _sizes()
    assert ("normal", "chart text", 13) in sizes and ("projector", "chart text", 20) in sizes
    assert len(sizes) >= 10


@pytest.mark.parametrize(("mode", "cls", "size"), _sizes())
def test_no_css_size_exceeds_the_measured_one(mode: str, cls: str, size: float) -> None:
    # a bare ``text`` rule sizes the classes that have no rule of their own in that mode
    own = {c for m, c, _ in _sizes() if m == mode}
    reached = [c for c in TEXT_CLASSES[cls] if c not in own] if cls in TEXT_CLASSES else [cls]
    assert reached
    for name in reached:
        assert name in MODES[mode], f"{cls} has no measured font"
        assert size <= MODES[mode][name].size <= FONTS[name].size, (mode, name)
