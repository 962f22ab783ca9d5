"""The totals list and the claim verdicts: one definition, read the same by every renderer."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app import zoo
from app.engine import analyze
from app.export import FORMATS, subject_from_spec
from app.present.claims import Tally, Verdict, tally, verdict
from app.present.formats import megabytes
from app.present.totals import ALWAYS, total_items
from app.web.app import create_app


def test_the_totals_are_the_analysis_totals_in_one_order() -> None:
    a = zoo.analyze_model("alexnet")
    items = total_items(a)
    assert tuple(i.key for i in items) == ALWAYS  # no stochastic depth: no expectations
    assert all(i.value == getattr(a.totals, i.key) for i in items)
    memory = next(i for i in items if i.key == "activation_bytes")
    assert memory.label == "activation memory (bytes)"
    assert memory.note == (f"activations x 4 B x batch 1 = {megabytes(memory.value)} "
                           f"({memory.note.rsplit('(', 1)[1]}")


def test_the_page_and_every_export_show_the_same_totals() -> None:
    spec = "input 32x32x3\nconv 16 3x3 pad 1\nrelu\nmax pool 2x2 stride 2\nfc 10"
    items = total_items(analyze(spec))
    page = TestClient(create_app()).get("/", params={"spec": spec}).text
    start = page.index('<dl class="totals">')
    block = page[start:page.index("</dl>", start)]
    shown = [i for i in items if i.key != "flops"]  # the page counts in MACs unless asked
    assert block.count("<dt>") == len(shown)
    for item in shown:
        assert f"<dt>{item.heading}</dt>" in block and item.why in block
    md = FORMATS["md"].render(subject_from_spec(spec, "net"))
    for item in items:
        assert f"| {item.label} | {item.text} | {item.note} |" in md


def test_a_verdict_is_right_rounded_or_wrong_and_tallies_so() -> None:
    a = analyze("[227x227x3] INPUT\n[55x55x96] CONV1: 96 11x11 filters at stride 4, pad 0, "
                "params: 35K\n[27x27x90] MAX POOL1: 3x3 filters at stride 2")
    claims = [c for r in a.layers for c in r.claims]
    assert [verdict(c) for c in claims] == [Verdict.right, Verdict.rounded, Verdict.wrong]
    assert tally(claims) == Tally(right=1, rounded=1, wrong=1)
    assert tally(claims).counts() == "1 right, 1 rounded, 1 wrong"
    assert Tally(right=2).counts() == "2 right, 0 wrong"
