"""Hostile names and text render inert on every page that shows what a user typed, in a real
Chromium against a live server: markup, event handlers, ``javascript:`` URLs, Jinja syntax,
``</title>``, ``]]>`` and bidi overrides are shown as the text they are, and nothing runs.

Each page is loaded with the hostile input, then checked: ``window.__pwned`` (what every payload
sets) is undefined, no dialog opened, no console error but the 404/422 status Chromium logs, no
CSP violation (an injected inline script or handler would be refused by the CSP and reported:
there must be none to report), no element has an ``on*`` attribute or a ``javascript:`` URL or is
an inline script, and the payload is in the text where the page shows it. The SVG the pages draw
is parsed as XML: well formed, no script, no handler, the names in its text.

Where text names can be only words (``name: conv ...``), the hostile text reaches a page as a
problem quoting the line, as a comment in the editor, or as a parameter; the JSON form, which
/rf reads, takes any name but one with an invisible character; an ONNX file brings op types and
node names.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import (
    Watched,
    open_page,
    wait_until,
)

PAYLOADS = {
    "script": "<script>window.__pwned=1</script>",
    "img": '<img src=x onerror="window.__pwned=1">',
    "attr": '"><svg onload="window.__pwned=1">',
    "jinja": "{{7*7}}",
    "jinja-raw": "{% raw %}",
    "js-url": "javascript:window.__pwned=1",
    "title": "</title>",
    "cdata": "]]>",
    "bidi": "\u202eevil\u202c",
}
#: how a message or a name shows the bidi override: written out, so it turns nothing around
BIDI_SHOWN = "\\u202eevil\\u202c"
#: Chromium logs the status of a 404 or 422 answer, which these pages answer on purpose
NETWORK_STATUS = re.compile(r"status of (404|422) ")

#: a spec with every payload as a line of its own (each a problem quoting it) and in comments
BROKEN = ("input 32x32x3\nconv 8 3x3  # " + " ".join(PAYLOADS.values()) + "\n"
          + "".join(f"{p}\n" for p in PAYLOADS.values()))
#: a spec that analyses, with every payload in its comments
COMMENTED = ("# " + " | ".join(PAYLOADS.values()) + "\ninput 32x32x3\n"
             + "".join(f"conv 4 3x3 pad 1  # {p}\n" for p in PAYLOADS.values()))
#: the JSON form (which /rf reads) with every payload but the bidi one as a layer's name
NAMES = [p for k, p in PAYLOADS.items() if k != "bidi"]
JSON_SPEC = json.dumps({"input": {"h": 16, "w": 16, "c": 3}, "layers": [
    *({"op": "conv", "name": n, "out": 4, "kernel": 3, "pad": 1} for n in NAMES),
    {"op": "concat", "name": "<b>block</b>{{7*7}}", "branches": [
        [{"op": "conv", "name": "<i>one", "out": 2, "kernel": 1}],
        [{"op": "conv", "name": "two]]>", "out": 2, "kernel": 3, "pad": 1}]]}]})

#: what an injection would leave in the page: run in the page, it lists each one found
FIND_INJECTED = """() => {
  const found = [];
  if (window.__pwned !== undefined) found.push('window.__pwned = ' + window.__pwned);
  const urls = ['href', 'src', 'action', 'formaction', 'xlink:href', 'data'];
  for (const el of document.querySelectorAll('*')) {
    for (const a of el.attributes) {
      if (/^on/i.test(a.name)) found.push(el.tagName + ' has ' + a.name);
      if (urls.includes(a.name.toLowerCase()) && /^\\s*javascript:/i.test(a.value))
        found.push(el.tagName + ' ' + a.name + '=' + a.value);
    }
  }
  for (const s of document.querySelectorAll('script'))
    if (!s.src || s.textContent.trim()) found.push('an inline script: ' + s.outerHTML.slice(0, 80));
  for (const el of document.querySelectorAll('img[src="x"], b, i'))
    found.push('an injected ' + el.tagName);
  return found;
}"""


@pytest.fixture()
def hostile(browser: Any) -> Iterator[tuple[Watched, list[str]]]:
    """A page, with every dialog it opens recorded (and dismissed)."""
    w = open_page(browser, 1280, 900)
    dialogs: list[str] = []

    def on_dialog(dialog: Any) -> None:
        dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    w.page.on("dialog", on_dialog)
    try:
        yield w, dialogs
    finally:
        w.page.context.close()


def _goto(w: Watched, url: str, status: int) -> None:
    response = w.page.goto(url)
    assert response is not None and response.status == status, (url, response and response.status)
    w.page.wait_for_load_state("load")
    time.sleep(0.05)  # a handler injected to fire on load would have fired by now


def _inert(w: Watched, dialogs: list[str]) -> None:
    """Nothing injected ran, or is waiting in the page to run."""
    assert w.page.evaluate(FIND_INJECTED) == [], w.page.url
    assert dialogs == [], (w.page.url, dialogs)
    assert w.csp_violations() == [], (w.page.url, w.csp_violations())
    assert [e for e in w.console_errors if not NETWORK_STATUS.search(e)] == [], w.console_errors
    assert w.page_errors == [], w.page_errors
    w.console_errors.clear()


def _text(w: Watched, selector: str) -> str:
    texts: list[str] = w.page.locator(selector).all_text_contents()
    assert texts, f"nothing matches {selector} on {w.page.url}"
    return "\n".join(texts)


def _messages(base_url: str, spec: str) -> list[str]:
    """The problems the JSON API finds in ``spec``: what the page must show, as text."""
    url = f"{base_url}/api/analyze?" + urllib.parse.urlencode({"spec": spec})
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(url, timeout=30)
    assert caught.value.code == 422
    return [e["message"] for e in json.loads(caught.value.read())["errors"]]


def _assert_problems_shown(w: Watched, base_url: str, spec: str) -> None:
    messages = _messages(base_url, spec)
    joined = "\n".join(messages)
    for key in ("script", "img", "attr", "title", "cdata"):  # quoted whole by the parser
        assert PAYLOADS[key] in joined, (key, joined)
    assert BIDI_SHOWN in joined and PAYLOADS["bidi"] not in joined
    shown = _text(w, "#problems")
    for message in messages:  # the page draws a message's `code` as code, without backticks
        assert message.replace("`", "") in shown, (message, shown)
    assert " 49" not in shown and "'49'" not in shown  # {{7*7}} was never evaluated
    titles = w.page.locator("#gutter li.error").evaluate_all("els => els.map(e => e.title)")
    assert titles and all(any(m in t for m in messages) for t in titles), titles


# -- the calculator: the full page, the fragment htmx swaps in as one types, a short link ----

def test_a_hostile_spec_on_the_calculator_page(base_url: str,
                                               hostile: tuple[Watched, list[str]]) -> None:
    w, dialogs = hostile
    _goto(w, f"{base_url}/?" + urllib.parse.urlencode({"spec": BROKEN}), 422)
    _inert(w, dialogs)
    assert w.page.input_value("#spec") == BROKEN  # the editor holds exactly what was typed
    _assert_problems_shown(w, base_url, BROKEN)
    assert w.page.evaluate("document.querySelectorAll('title').length") == 1


def test_a_commented_spec_on_the_calculator_page(base_url: str,
                                                 hostile: tuple[Watched, list[str]]) -> None:
    w, dialogs = hostile
    _goto(w, f"{base_url}/?" + urllib.parse.urlencode({"spec": COMMENTED}), 200)
    _inert(w, dialogs)
    assert w.page.input_value("#spec") == COMMENTED
    assert w.page.locator("table.layers tbody tr.row").count() == len(PAYLOADS) + 1  # and the input


def test_a_hostile_spec_typed_into_the_editor(base_url: str,
                                              hostile: tuple[Watched, list[str]]) -> None:
    """The htmx fragments: the problems (200 for htmx, retargeted) and then a result, swapped in place."""
    w, dialogs = hostile
    _goto(w, f"{base_url}/?example=conv1", 200)
    wait_until(w, "window.htmx !== undefined")
    w.page.evaluate("window.__sameDocument = 1")
    w.page.fill("#spec", BROKEN)
    wait_until(w, "document.querySelectorAll('#gutter li.error').length >= 5")
    wait_until(w, f"document.querySelector('#problems').textContent.includes({json.dumps(BIDI_SHOWN)})")
    assert w.page.evaluate("window.__sameDocument") == 1  # swapped, not loaded
    _inert(w, dialogs)
    _assert_problems_shown(w, base_url, BROKEN)
    w.page.fill("#spec", COMMENTED)
    wait_until(w, "document.querySelectorAll('#gutter li.error').length === 0")
    wait_until(w, f"document.querySelectorAll('table.layers tbody tr.row').length === {len(PAYLOADS) + 1}")
    assert w.page.evaluate("window.__sameDocument") == 1
    _inert(w, dialogs)


def _short_link(base_url: str, spec: str) -> str:
    """POST /s as the calculator's form does; the link it redirects to."""
    data = urllib.parse.urlencode({"spec": spec}).encode()

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as caught:
        opener.open(urllib.request.Request(f"{base_url}/s", data=data), timeout=30)
    assert caught.value.code == 303
    location: str = caught.value.headers["Location"]
    assert re.fullmatch(r"/s/[a-z2-7]{13}", location), location
    return location


def test_a_short_link_restores_a_hostile_spec_inert(base_url: str,
                                                    hostile: tuple[Watched, list[str]]) -> None:
    w, dialogs = hostile
    _goto(w, base_url + _short_link(base_url, BROKEN), 422)
    _inert(w, dialogs)
    assert w.page.input_value("#spec") == BROKEN
    _assert_problems_shown(w, base_url, BROKEN)
    _goto(w, base_url + _short_link(base_url, COMMENTED), 200)
    _inert(w, dialogs)
    assert w.page.input_value("#spec") == COMMENTED


# -- /rf: names in the SVG, in the picker, and in the fragment the picker swaps in ------------

def _svgs(html: str) -> list[ET.Element]:
    """Each top-level <svg> of a page, parsed as XML (it must be well formed)."""
    out = []
    for fragment in re.findall(r"<svg\b.*?</svg>", html, re.S):
        try:
            out.append(ET.fromstring(fragment))
        except ET.ParseError as exc:
            raise AssertionError(f"an SVG that is not well-formed XML ({exc}): {fragment[:300]}") from exc
    return out


def test_hostile_layer_names_on_the_rf_page_and_its_svg(base_url: str,
                                                        hostile: tuple[Watched, list[str]]) -> None:
    w, dialogs = hostile
    last = len(NAMES) + 2  # the concat's rows: its two branch convs, then the merge
    url = f"{base_url}/rf?" + urllib.parse.urlencode({"spec": JSON_SPEC, "row": len(NAMES)})
    _goto(w, url, 200)
    _inert(w, dialogs)
    options = _text(w, "#rf-row option")
    pyramid = _text(w, "#rf-diagram svg.rf-pyramid-wide text")
    for name in NAMES:
        assert name in options, (name, options)
    for name in NAMES[-3:]:  # the deepest levels are drawn; the ones above fold into a band
        assert name in pyramid or name in _text(w, "#rf-diagram"), (name, pyramid)
    jinja = [o for o in w.page.locator("#rf-row option").all_text_contents()
             if " · {{7*7}} (conv)" in o]  # the layer named {{7*7}}, as its name
    assert len(jinja) == 1 and "{{7*7}}" in jinja[0] and "49" not in jinja[0], jinja
    # the picker swaps the diagram of another row in with htmx
    w.page.evaluate("window.__sameDocument = 1")
    w.page.select_option("#rf-row", str(last))
    w.page.locator("#rf-diagram h2", has_text="<b>block</b>{{7*7}}").wait_for()
    assert w.page.evaluate("window.__sameDocument") == 1
    _inert(w, dialogs)
    # the SVG as served: well-formed XML, the names as text, nothing that runs
    with urllib.request.urlopen(url, timeout=30) as answer:
        html = answer.read().decode()
    svgs = _svgs(html)
    assert svgs
    text = "\n".join("".join(svg.itertext()) for svg in svgs)
    for name in NAMES[-3:]:
        assert name in text, (name, text[:500])
    for svg in svgs:
        for el in svg.iter():
            assert el.tag.split("}")[-1] not in {"script", "foreignObject", "img", "b", "i"}, el
            assert not [a for a in el.attrib if a.lower().startswith("on")], el.attrib


def test_a_bidi_override_in_a_json_name_is_refused_and_shown_written_out(
        base_url: str, hostile: tuple[Watched, list[str]]) -> None:
    w, dialogs = hostile
    spec = json.dumps({"input": {"h": 8, "w": 8, "c": 3},
                       "layers": [{"op": "conv", "name": PAYLOADS["bidi"], "out": 2, "kernel": 1}]})
    _goto(w, f"{base_url}/rf?" + urllib.parse.urlencode({"spec": spec}), 422)
    _inert(w, dialogs)
    shown = _text(w, "main")
    assert BIDI_SHOWN in shown and PAYLOADS["bidi"] not in shown, shown


# -- pages that take parameters ---------------------------------------------------------------

def _param_pages(p: str) -> list[tuple[str, int]]:
    q = urllib.parse.quote
    return [
        (f"/layer?input=8x8x3&op={q(p)}&filters=8&kernel=3", 422),
        (f"/layer?input=8x8x3&op=conv&filters=8&kernel=3&quiz=true&a_out={q(p)}", 200),
        (f"/models/alexnet?input={q(p)}", 422),
        (f"/models/{q(p, safe='')}", 404),
        (f"/rf?spec=input+8x8x3%0Aconv+4+3x3&row={q(p)}", 422),
        (f"/import?torchvision={q(p)}", 422),
        (f"/{q(p, safe='')}", 404),
    ]


def _shown_as(p: str) -> str:
    return BIDI_SHOWN if p == PAYLOADS["bidi"] else p


@pytest.mark.parametrize("key", list(PAYLOADS))
def test_hostile_parameters_are_shown_as_text(base_url: str, key: str,
                                              hostile: tuple[Watched, list[str]]) -> None:
    w, dialogs = hostile
    p = PAYLOADS[key]
    for path, status in _param_pages(p):
        _goto(w, base_url + path, status)
        _inert(w, dialogs)
        shown = _text(w, "main")
        if path.startswith("/rf"):  # the row is quoted cut to 20 characters
            assert _shown_as(p)[:15] in shown, (path, shown[:400])
        else:
            assert _shown_as(p) in shown, (path, shown[:400])
        assert p not in shown or key != "bidi", path


@pytest.mark.parametrize("path", ["/lecture", "/", "/models/alexnet", "/compare"])
def test_hostile_mode_parameters_leave_the_pages_inert(base_url: str, path: str,
                                                       hostile: tuple[Watched, list[str]]) -> None:
    """Projector and reveal mode read the query in the page's script."""
    w, dialogs = hostile
    every = " ".join(PAYLOADS.values())
    q = urllib.parse.urlencode({"reveal": every, "step": every, "projector": every,
                                "open": every, "preset": every, "shade": every})
    response = w.page.goto(f"{base_url}{path}?{q}")
    assert response is not None and response.status in {200, 422}, (path, response.status)
    w.page.wait_for_load_state("load")
    time.sleep(0.05)
    _inert(w, dialogs)


def test_a_hostile_spec_on_the_compare_page(base_url: str,
                                            hostile: tuple[Watched, list[str]]) -> None:
    w, dialogs = hostile
    query = urllib.parse.urlencode({"item": [BROKEN, "alexnet"]}, doseq=True)
    _goto(w, f"{base_url}/compare?{query}", 422)
    _inert(w, dialogs)
    shown = _text(w, "main")
    for message in _messages(base_url, BROKEN):
        assert message.replace("`", "") in shown, (message, shown[:600])
    query = urllib.parse.urlencode({"item": [COMMENTED, "alexnet"]}, doseq=True)
    _goto(w, f"{base_url}/compare?{query}", 200)
    _inert(w, dialogs)


# -- the import page: an ONNX file with hostile op types and node names -----------------------

def test_an_onnx_file_with_hostile_names_on_the_import_page(
        base_url: str, hostile: tuple[Watched, list[str]], tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    from tests.importer.test_import_hostile_text import hostile_model

    w, dialogs = hostile
    op_type = PAYLOADS["img"] + "\nfc 10 " + PAYLOADS["bidi"] + PAYLOADS["jinja"]
    path = tmp_path / "hostile.onnx"
    path.write_bytes(hostile_model(op_type, domain=PAYLOADS["script"],
                                   conv_name=f"/{PAYLOADS['attr']}{PAYLOADS['cdata']}/Conv"))
    _goto(w, f"{base_url}/import", 200)
    w.page.set_input_files("#file", str(path))
    with w.page.expect_navigation():
        w.page.click("form[enctype] button[type=submit]")
    time.sleep(0.2)
    _inert(w, dialogs)
    refused = _text(w, ".import-result .errors li")
    written = PAYLOADS["img"] + "\\u000afc 10 " + BIDI_SHOWN + PAYLOADS["jinja"]
    assert written in refused, refused
    assert PAYLOADS["bidi"] not in refused and "\n" not in refused.strip()
    spec = w.page.input_value(".import-result textarea")
    assert f"# REFUSED {written}" in spec
    assert [line for line in spec.splitlines() if line.startswith("fc")] == []  # no layer smuggled


# -- exports: never a type the browser would render as a page ---------------------------------

@pytest.mark.parametrize("fmt", ["md", "csv", "latex", "pytorch", "json"])
def test_exports_of_a_hostile_spec_are_not_pages(base_url: str, fmt: str) -> None:
    url = f"{base_url}/api/analyze?" + urllib.parse.urlencode({"spec": COMMENTED, "format": fmt})
    with urllib.request.urlopen(url, timeout=30) as answer:
        kind = answer.headers["Content-Type"]
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        disposition = answer.headers.get("Content-Disposition", "")
        body = answer.read().decode()
    assert not re.search(r"html|xml|svg", kind), kind
    assert "\n" not in disposition and disposition.count('"') in {0, 2}, disposition
    assert body  # the export itself; its text is the spec's, shown as text wherever it is shown
