"""The chart and diagram templates draw each placed label where the geometry put it, and a
shortened one keeps its whole text in a ``<title>`` (hover) and in the chart's description."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from fastapi import FastAPI

from app import engine, examples, zoo
from app.present import archdiagram, charts

SVG = "{http://www.w3.org/2000/svg}"
LONG = "a network with a very long name that would run off the chart's right edge"


def _render(app: FastAPI, source: str, **context: object) -> ET.Element:
    html = app.state.templates.env.from_string(source).render(**context)
    svg = html[html.index("<svg"):html.index("</svg>") + 6]
    return ET.fromstring(svg.replace("<svg ", f'<svg xmlns="{SVG[1:-1]}" ', 1))


def _shown(node: ET.Element) -> str:
    """A text element's drawn text: without its title (which shows only on hover)."""
    parts = [node.text or ""] + [child.tail or "" for child in node]
    return re.sub(r"\s+", " ", "".join(parts)).strip()


def test_a_shortened_series_name_keeps_its_whole_name(app: FastAPI) -> None:
    analysis = engine.analyze(examples.RESNET_BOTTLENECK)
    chart = charts.overlay_cumulative_macs([(LONG, analysis), ("short", analysis)])
    svg = _render(app, '{% from "partials/_chart.html" import chart %}{{ chart(c, "t") }}',
                  c=chart)
    texts = svg.iter(f"{SVG}text")
    drawn = {(t.get("class"), float(t.get("x", 0)), float(t.get("y", 0))): t for t in texts}
    for label in chart.labels:
        node = drawn[(label.cls, round(label.x, 1), round(label.y, 1))]
        title = node.find(f"{SVG}title")
        assert _shown(node) == label.text
        if label.full:
            assert title is not None and title.text == label.full
        else:
            assert title is None
    assert any(lb.full == LONG for lb in chart.labels)
    desc = svg.find(f"{SVG}desc")
    assert desc is not None and LONG in (desc.text or "")


def test_every_diagram_label_is_drawn_once(app: FastAPI) -> None:
    d = archdiagram.diagram(zoo.analyze_model("resnet50"), "ResNet-50", "macs")
    svg = _render(app, '{% from "partials/_arch.html" import arch %}{{ arch(d) }}', d=d)
    drawn = sorted(_shown(t) for t in svg.iter(f"{SVG}text"))
    assert drawn == sorted(lb.text for lb in d.labels())
    assert any("MACs" in text for text in drawn)  # the MACs shading writes them under the box
