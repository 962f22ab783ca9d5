"""Chart and diagram labels as Chromium lays them out: on every page that draws SVG, at the three
screen sizes and in projector mode, no two ``<text>`` boxes overlap, each lies inside its SVG,
each is readable on what is painted under it (WCAG contrast: 4.5:1, 7:1 in projector
mode), and each is drawn at 11 px or more on the screen (a phone draws the charts' narrow
layouts). The pages are screenshotted at each size (into ``$ARCHCALC_SHOTS`` when set)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.browser.conftest import Watched, open_page
from tests.browser.test_rf_browser import RF_URL

SIZES = [(1920, 1080, False), (1024, 768, False), (390, 844, False), (1024, 768, True),
         (1920, 1080, True)]
PAGES = ["/", "/lecture", "/models", "/models/googlenet", "/models/mobilenet_v2",
         "/compare?preset=inception", "/compare?preset=3x3-vs-7x7", "/compare?preset=ilsvrc",
         "/compare?preset=wide-resnext", RF_URL,
         "/models/resnet50?" + urlencode({"shade": "macs"})]

#: the least rendered type size (CSS px on the screen) of a chart's text, and of a diagram's
#: (whose smallest, a box's second line, is 10.5 px at its own size)
READABLE = {"chart-svg": 11.0, "arch-svg": 10.5}

#: every text of every SVG on the page: boxes that overlap or leave their SVG, and the lowest
#: contrast against what the SVG paints under the text (sampled across its box)
MEASURE = """
(minimum) => {
  const rgb = (s) => {
    const m = /rgba?\\(([^)]+)\\)/.exec(s || '');
    if (!m) return null;
    const p = m[1].split(',').map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const lum = (c) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
  };
  const ratio = (a, b) => {
    const x = lum(a), y = lum(b);
    return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05);
  };
  const backdrop = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c && c[3] > 0) return c;
    }
    return [255, 255, 255, 1];
  };
  // the colours a shape paints: its fill, or each colour of a pattern it is filled with
  const paints = (shape) => {
    const fill = getComputedStyle(shape).fill;
    if (fill.startsWith('url(')) {
      const pattern = document.getElementById(/#([^"')]+)/.exec(fill)[1]);
      return Array.from(pattern.querySelectorAll('rect')).map(
        (r) => rgb(getComputedStyle(r).fill)).filter(Boolean);
    }
    const c = rgb(fill);
    return c ? [c] : [];
  };
  const out = {svgs: 0, texts: 0, problems: [], lowest: 99, smallest: {}};
  const tol = 0.5;
  for (const svg of document.querySelectorAll('svg.chart-svg, svg.arch-svg, svg.rf-svg')) {
    const frame = svg.getBoundingClientRect();
    if (frame.width === 0 || frame.height === 0) continue;
    out.svgs += 1;
    const texts = Array.from(svg.querySelectorAll('text')).filter(
      (t) => t.textContent.trim() && t.getBBox().width > 0);
    const boxes = texts.map((t) => t.getBoundingClientRect());
    const shapes = Array.from(svg.querySelectorAll('rect, circle, polygon, path, ellipse'))
      .filter((s) => !s.closest('defs, pattern') && getComputedStyle(s).display !== 'none');
    const shapeBoxes = shapes.map((s) => s.getBoundingClientRect());
    const under = backdrop(svg);
    const kind = svg.classList[0];
    texts.forEach((t, i) => {
      out.texts += 1;
      const a = boxes[i], name = t.textContent.trim();
      // the type as drawn on the screen: the CSS size times the SVG's scale
      const px = parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a;
      out.smallest[kind] = Math.min(out.smallest[kind] || 99, px);
      if (a.left < frame.left - tol || a.right > frame.right + tol ||
          a.top < frame.top - tol || a.bottom > frame.bottom + tol)
        out.problems.push(`"${name}" leaves its svg: ${JSON.stringify(a)} ${JSON.stringify(frame)}`);
      for (let j = 0; j < i; j++) {
        const b = boxes[j];
        if (a.left < b.right - tol && b.left < a.right - tol &&
            a.top < b.bottom - tol && b.top < a.bottom - tol)
          out.problems.push(`"${name}" overlaps "${texts[j].textContent.trim()}"`);
      }
      const ink = rgb(getComputedStyle(t).fill);
      const bb = t.getBBox();
      for (const fx of [0.2, 0.5, 0.8]) {
        const x = bb.x + bb.width * fx, y = bb.y + bb.height * 0.55;
        let colours = [under];
        shapes.forEach((s, k) => {
          const sb = shapeBoxes[k];
          if (sb.right < a.left || sb.left > a.right || sb.bottom < a.top || sb.top > a.bottom) return;
          if (!(s.compareDocumentPosition(t) & Node.DOCUMENT_POSITION_FOLLOWING)) return;
          if (!s.isPointInFill(new DOMPoint(x, y))) return;
          const style = getComputedStyle(s);
          const alpha = Number(style.fillOpacity) * Number(style.opacity);
          const layer = paints(s);
          if (!layer.length) return;
          colours = colours.flatMap((c) => layer.map(
            (p) => c.map((v, n) => n < 3 ? v * (1 - alpha * p[3]) + p[n] * alpha * p[3] : 1)));
        });
        for (const c of colours) {
          const r = ratio(ink, c);
          out.lowest = Math.min(out.lowest, r);
          const on = c.slice(0, 3).map(Math.round);
          if (r < minimum) out.problems.push(`"${name}" contrast ${r.toFixed(2)} on rgb(${on})`);
        }
      }
    });
  }
  return out;
}
"""


def _shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    chosen = os.environ.get("ARCHCALC_SHOTS")
    return Path(chosen) if chosen else tmp_path_factory.mktemp("chart-shots")


def _open(w: Watched, url: str) -> None:
    response = w.page.goto(url)
    assert response is not None and response.status == 200, url
    w.page.wait_for_load_state("load")
    deadline = time.monotonic() + 15
    while not w.page.evaluate("document.fonts.status === 'loaded'"):
        assert time.monotonic() < deadline, f"fonts of {url} never loaded"
        time.sleep(0.05)


@pytest.mark.parametrize(("width", "height", "projector"), SIZES,
                         ids=[f"{w}x{h}{'-projector' if p else ''}" for w, h, p in SIZES])
def test_chart_labels_apart_inside_and_readable(base_url: str, browser: Any, width: int,
                                                height: int, projector: bool,
                                                tmp_path_factory: pytest.TempPathFactory) -> None:
    shots = _shots(tmp_path_factory)
    shots.mkdir(parents=True, exist_ok=True)
    w = open_page(browser, width, height)
    minimum = 7.0 if projector else 4.5
    seen = 0
    try:
        for path in PAGES:
            url = base_url + path + (("&" if "?" in path else "?") + "projector=1"
                                     if projector else "")
            _open(w, url)
            assert w.page.evaluate("document.documentElement.classList.contains('projector')") \
                == projector
            found = w.page.evaluate(MEASURE, minimum)
            assert found["problems"] == [], (path, found["problems"][:10])
            # readable at every size: a phone draws a chart's narrow layout, not the wide one
            # shrunk to a third, and a diagram at its own size in a box that scrolls
            small = found["smallest"]
            assert small.get("chart-svg", 99) >= READABLE["chart-svg"], (path, small)
            assert small.get("arch-svg", 99) >= READABLE["arch-svg"], (path, small)
            seen += found["texts"]
            name = path.strip("/").split("?")[0].replace("/", "-") or "calc"
            if "preset=" in path:
                name += "-" + path.split("preset=")[1]
            w.page.screenshot(path=str(shots / f"{name}-{width}x{height}"
                                           f"{'-projector' if projector else ''}.png"),
                              full_page=True)
        assert w.console_errors == [] and w.page_errors == []
    finally:
        w.page.context.close()
    assert seen > 500  # the pages drew their charts: hundreds of labels were measured
