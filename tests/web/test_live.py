"""Live sessions through the app: who may drive, what students see, how answers are counted
and judged, the bounds, and a session surviving a restart (its SQLite file)."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient

from app.engine import analyze
from app.web.app import create_app
from app.web.live.rooms import clean_code, group_key, histogram
from app.web.settings import Settings

SPEC = "input 227x227x3\nconv 96 11x11 stride 4\nmaxpool 3x3 stride 2"
HX = {"HX-Request": "true"}


def _app(tmp_path: Path, **settings: object) -> TestClient:
    app = create_app(Settings(data_dir=tmp_path / "private",
                              answer_cache_entries=0, rate_per_second=10_000,
                              rate_burst=10_000, **settings))  # type: ignore[arg-type]
    return TestClient(app)


def _start(client: TestClient, spec: str = SPEC) -> str:
    r = client.post("/live", data={"query": urlencode({"spec": spec})}, follow_redirects=False)
    assert r.status_code == 303, r.text
    code = r.headers["location"].split("/")[2]
    assert re.fullmatch(r"[0-9A-Z]{6}", code)
    return code


def _student(client: TestClient) -> TestClient:
    return TestClient(client.app)


def test_the_instructor_drives_and_nobody_else(tmp_path: Path) -> None:
    instructor = _app(tmp_path)
    code = _start(instructor)
    page = instructor.get(f"/live/{code}/present")
    assert page.status_code == 200
    assert f"/live/{code}/qr.svg" in page.text and code in page.text
    student = _student(instructor)
    assert student.get(f"/live/{code}").status_code == 200
    for method, path, data in (("get", "present", None), ("get", "watch", None),
                               ("post", "state", {"query": "spec=input+8x8x3"}),
                               ("post", "ask", {"row": "1", "field": "output"}),
                               ("post", "reveal", {}), ("post", "histogram", {"show": "0"})):
        r = getattr(student, method)(f"/live/{code}/{path}", follow_redirects=False,
                                     **({"data": data} if data is not None else {}))
        assert r.status_code == 403, (path, r.status_code)  # refused, not redirected
        r = getattr(student, method)(f"/live/{code}/{path}", follow_redirects=False,
                                     headers={"Authorization": "Bearer not-the-key"},
                                     **({"data": data} if data is not None else {}))
        assert r.status_code == 403, (path, r.status_code)
    # what was refused changed nothing
    assert instructor.get(f"/api/live/{code}").json()["question"] is None


def test_the_key_reaches_only_the_instructor(tmp_path: Path) -> None:
    client = _app(tmp_path)
    made = client.post("/api/live", json={"spec": SPEC})
    assert made.status_code == 201
    body = made.json()
    key, code = body["key"], body["code"]
    student = _student(client)
    page = student.get(f"/live/{code}")
    assert key not in page.text and key not in str(page.headers)
    assert key not in student.get(f"/api/live/{code}").text
    # a program drives with the key as a bearer token
    asked = student.post(f"/live/{code}/ask", data={"row": "1", "field": "params"},
                         headers={"Authorization": f"Bearer {key}", **HX})
    assert asked.status_code == 200 and "How many parameters" in asked.text
    # the instructor's link with the key lands on a page without it in the URL
    link = _student(client).get(body["present_url"], follow_redirects=False)
    assert link.status_code == 303 and "key=" not in link.headers["location"]


def test_join_by_code(tmp_path: Path) -> None:
    client = _app(tmp_path)
    code = _start(client)
    typed = client.get("/live", params={"code": f" {code[:3].lower()}-{code[3:].lower()} "},
                       follow_redirects=False)
    assert typed.status_code == 303 and typed.headers["location"] == f"/live/{code}"
    bad = client.get("/live", params={"code": "<b>no</b>"})
    assert bad.status_code == 422 and "&lt;b&gt;no&lt;/b&gt;" in bad.text
    assert client.get("/live/K7PX3M").status_code == 404
    assert client.get("/live/../../etc").status_code == 404
    # the join page says what the code is and that following needs JavaScript
    page = client.get(f"/live/{code}")
    assert code in page.text and "needs JavaScript" in page.text
    assert "55x55x96" in page.text  # the current result is there without JavaScript


def test_answers_are_counted_grouped_and_judged(tmp_path: Path) -> None:
    instructor = _app(tmp_path)
    code = _start(instructor)
    r = instructor.post(f"/live/{code}/ask", data={"row": "1", "field": "output"}, headers=HX)
    assert r.status_code == 200
    qid = instructor.get(f"/api/live/{code}").json()["question"]["id"]
    answers = ["55x55x96", "55 x 55 x 96", "54x54x96", "55x55x96", "<script>alert(1)</script>"]
    students = [_student(instructor) for _ in answers]
    for s, a in zip(students, answers, strict=True):
        got = s.post(f"/live/{code}/answer", data={"question": qid, "answer": a}, headers=HX)
        assert got.status_code == 200 and "is in" in got.text, got.text
        again = s.post(f"/live/{code}/answer", data={"question": qid, "answer": "1x1x1"},
                       headers=HX)
        assert "answered this question already" in again.text
    assert instructor.get(f"/api/live/{code}").json()["answers"] == len(answers)
    revealed = instructor.post(f"/live/{code}/reveal", headers=HX)
    assert revealed.status_code == 200
    text = revealed.text
    assert "<script>alert" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    counts = dict(re.findall(r'<q>([^<]*)</q></span> <meter[^>]*></meter> <span class="live-bar-count">'
                             r'(\d+)</span>', text))
    assert counts["55x55x96"] == "3" and counts["54x54x96"] == "1"
    # the right answer and its working, as the calculator computes them
    row = analyze(SPEC).layers[1]
    assert f"{row.output.h}x{row.output.w}x{row.output.c}" in text
    assert "(227 - 11 + 2*0)/4 + 1 = 55" in text
    # after the reveal the question is closed
    late = _student(instructor).post(f"/live/{code}/answer",
                                     data={"question": qid, "answer": "55x55x96"}, headers=HX)
    assert "closed" in late.text


def test_the_json_answer_api_refuses_a_second_answer(tmp_path: Path) -> None:
    client = _app(tmp_path)
    code = _start(client)
    client.post(f"/live/{code}/ask", data={"row": "1", "field": "params"})
    qid = client.get(f"/api/live/{code}").json()["question"]["id"]
    s = _student(client)
    first = s.post(f"/api/live/{code}/answer", json={"question": qid, "answer": "35K"})
    assert first.status_code == 201
    second = s.post(f"/api/live/{code}/answer", json={"question": qid, "answer": "35K"})
    assert second.status_code == 409 and "already" in second.json()["errors"][0]["message"]
    bad = s.post(f"/api/live/{code}/answer", json={"question": qid, "answer": "x" * 65})
    assert bad.status_code == 422


def test_histogram_groups_equal_values() -> None:
    row = analyze(SPEC).layers[1]
    hist = histogram("params", ["34,944", "34944", "35K", "34944 "], row)
    assert hist.total == 4
    by_label = {b.label: b for b in hist.bars}
    assert by_label["34944"].count == 3 and by_label["35K"].count == 1
    assert all(b.verdict is not None and b.verdict.ok for b in hist.bars)
    assert group_key("output", "55 x 55 x 96") == group_key("output", "55x55x96")
    many = histogram("params", [str(n) for n in range(40)], None, limit=12)
    assert len(many.bars) == 12 and sum(b.count for b in many.bars) == 40


def test_bounds(tmp_path: Path) -> None:
    client = _app(tmp_path, live_rooms_max=2, live_answers_max=2)
    code = _start(client)
    _start(client)
    full = client.post("/live", data={"query": "spec=input+8x8x3"}, follow_redirects=False)
    assert full.status_code == 503 and "live_rooms_max" in full.text
    assert full.headers["retry-after"]
    client.post(f"/live/{code}/ask", data={"row": "1", "field": "macs"})
    qid = client.get(f"/api/live/{code}").json()["question"]["id"]
    for n in range(3):
        got = _student(client).post(f"/live/{code}/answer",
                                    data={"question": qid, "answer": str(n)}, headers=HX)
        assert ("live_answers_max" in got.text) == (n == 2)


def test_a_restart_keeps_the_session(tmp_path: Path) -> None:
    first = _app(tmp_path)
    code = _start(first)
    first.post(f"/live/{code}/ask", data={"row": "2", "field": "output"})
    cookies = dict(first.cookies)
    again = _app(tmp_path)  # a new app on the same file, as after a restart
    again.cookies.update(cookies)
    state = again.get(f"/api/live/{code}").json()
    assert state["question"]["prompt"].startswith("What is the output volume")
    assert again.get(f"/live/{code}/present").status_code == 200


def test_an_unusable_store_is_a_503(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.mkdir()
    link = tmp_path / "link"
    link.symlink_to(target)
    client = TestClient(create_app(Settings(data_dir=link,
                                            answer_cache_entries=0)))
    r = client.post("/live", data={"query": "spec=input+8x8x3"}, follow_redirects=False)
    assert r.status_code == 503 and "cannot be kept on this server" in r.text
    assert str(tmp_path) not in r.text  # the reason names server paths: the log has it
    assert not list(target.iterdir())


@pytest.mark.parametrize("text", ["k7px3m", "K7P X3M", "k7p-x3m"])
def test_codes_as_typed(text: str) -> None:
    assert clean_code(text) == "K7PX3M"


def test_starting_sessions_is_rate_limited_per_address(tmp_path: Path) -> None:
    client = TestClient(create_app(Settings(data_dir=tmp_path / "p",
                                            live_burst=2, live_per_hour=1,
                                            answer_cache_entries=0)))
    for _ in range(2):
        assert client.post("/api/live", json={"spec": SPEC}).status_code == 201
    refused = client.post("/api/live", json={"spec": SPEC})
    assert refused.status_code == 429
    assert refused.json()["errors"][0]["limit"] == "live_per_hour"
    assert int(refused.headers["retry-after"]) > 0
    # following and answering are not drawn from that bucket
    assert client.get("/live").status_code == 200


@pytest.mark.parametrize("page", ["/models/alexnet?input=227x227x3",
                                  "/layer?input=227x227x3&op=conv&filters=96&kernel=11&stride=4"
                                  "&pad=0"])
def test_present_live_from_a_model_page_and_one_layer(tmp_path: Path, page: str) -> None:
    client = _app(tmp_path)
    html = client.get(page).text
    form = re.search(r'<form class="present-live" method="post" action="/live"[^>]*>(.*?)</form>',
                     html, re.S)
    assert form, page
    fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', form.group(1)))
    import html as htmllib
    fields = {k: htmllib.unescape(v) for k, v in fields.items()}
    made = client.post("/live", data=fields, follow_redirects=False)
    assert made.status_code == 303
    code = made.headers["location"].split("/")[2]
    state = client.get(f"/api/live/{code}").json()
    from urllib.parse import parse_qs
    spec = parse_qs(state["query"])["spec"][0]
    assert "227x227x3" in spec
    follower = _student(client).get(f"/live/{code}").text
    assert "55x55x96" in follower  # the class sees the page's network, at the page's input
