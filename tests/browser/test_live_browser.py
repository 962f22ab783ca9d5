"""A live session in two real browsers: the instructor presents, a student follows on a phone,
a question is asked and answered (by the student and by simulated clients over HTTP), the
answers arrive on the projector, the reveal shows each student their verdict."""

from __future__ import annotations

import json
import urllib.request
from typing import Any
from urllib.parse import urlencode

from tests.browser.conftest import (
    SCREENSHOTS,
    Watched,
    assert_clean,
    goto,
    open_page,
    wait_until,
)

SPEC = "input 227x227x3\nconv 96 11x11 stride 4\nmaxpool 3x3 stride 2"


def _text(w: Watched, selector: str) -> str:
    text: str = w.page.evaluate(
        f"(document.querySelector({json.dumps(selector)}) || {{}}).textContent || ''")
    return text


class Student:
    """A simulated student over plain HTTP, with its own device cookie."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())

    def answer(self, code: str, qid: str, text: str) -> int:
        self.opener.open(f"{self.base}/live/{code}", timeout=10).read()
        request = urllib.request.Request(
            f"{self.base}/api/live/{code}/answer",
            json.dumps({"question": qid, "answer": text}).encode(),
            {"Content-Type": "application/json"})
        with self.opener.open(request, timeout=10) as response:
            return int(response.status)


FOLLOWING = ("(document.querySelector('[data-live-status]')||{}).textContent"
             " === 'following live'")


def _present(teacher: Watched, url: str) -> str:
    """The instructor presses "Present live" on the calculator at ``url``; the join code."""
    goto(teacher, url)
    teacher.page.get_by_role("button", name="Present live").click()
    teacher.page.wait_for_url("**/live/*/present?**")
    return teacher.page.url.split("/live/")[1].split("/")[0]


def test_a_class_follows_asks_answers_and_sees_the_reveal(base_url: str, browser: Any) -> None:
    teacher = open_page(browser, 1024, 768)
    phone = open_page(browser, 390, 844)
    try:
        code = _present(teacher, f"{base_url}/?{urlencode({'spec': SPEC})}&projector=1")
        assert teacher.page.locator("img.live-qr").is_visible()
        assert code in _text(teacher, ".live-big-code")

        # a student joins by the code, on a phone
        phone.page.goto(f"{base_url}/live")
        phone.page.get_by_label("code").fill(code.lower())
        phone.page.get_by_role("button", name="Join").click()
        phone.page.wait_for_url(f"**/live/{code}")
        wait_until(phone, FOLLOWING)
        assert "55x55x96" in _text(phone, "#live-state")

        # the instructor types; the phone follows, with no publish step
        teacher.page.focus("#spec")
        teacher.page.keyboard.press("Control+End")
        teacher.page.keyboard.type("\nconv 256 5x5 pad 2", delay=20)
        wait_until(phone, "document.querySelector('#live-state').textContent.includes('27x27x256')")
        assert phone.page.locator("[data-live-try]").get_attribute("href").startswith("/?spec=")

        # the instructor asks about the new layer's output volume
        teacher.page.select_option("select[name=row]", label="line 4 · conv2")
        teacher.page.select_option("select[name=field]", "output")
        teacher.page.get_by_role("button", name="Ask").click()
        phone.page.get_by_label("answer").wait_for()
        assert "output volume of conv2" in _text(phone, "#live-question")
        phone.page.get_by_label("answer").fill("27 x 27 x 256")
        phone.page.get_by_role("button", name="Send").click()
        phone.page.locator(".live-recorded").wait_for()

        # three more students over HTTP, one of them hostile
        with urllib.request.urlopen(f"{base_url}/api/live/{code}", timeout=10) as r:
            qid = json.loads(r.read())["question"]["id"]
        hostile = '<img src=x onerror="document.title=1">'
        for text in ("27x27x256", "26x26x256", hostile):
            assert Student(base_url).answer(code, qid, text) == 201
        wait_until(teacher, "(document.querySelector('[data-live-count]')||{}).textContent === '4'")
        bars = teacher.page.evaluate(
            "Array.from(document.querySelectorAll('.live-bars li')).map(li => "
            "[li.querySelector('q').textContent, li.querySelector('.live-bar-count').textContent])")
        assert ["27x27x256", "2"] in bars and ["26x26x256", "1"] in bars and [hostile, "1"] in bars
        assert teacher.page.locator(".live-bars img").count() == 0  # written out, not markup

        # hide the answers while the class thinks, then reveal
        teacher.page.get_by_role("button", name="Hide answers").click()
        wait_until(teacher, "document.querySelectorAll('.live-bars li').length === 0")
        teacher.page.get_by_role("button", name="Reveal", exact=True).click()
        wait_until(teacher, "document.querySelector('.live-right') !== null")
        assert "27x27x256" in _text(teacher, ".live-right")
        wait_until(phone, "(document.querySelector('[data-live-mine]')||{}).textContent"
                     ".includes('right')")
        assert "27 x 27 x 256" in _text(phone, "[data-live-mine]")
        assert "(27 - 5 + 2*2)/1 + 1 = 27" in _text(phone, ".live-working")

        # the student cannot drive: the instructor's endpoints refuse the phone
        refused = phone.page.evaluate(
            f"fetch('/live/{code}/ask', {{method: 'POST', headers: {{'Content-Type': "
            f"'application/x-www-form-urlencoded'}}, body: 'row=1&field=params'}})"
            ".then(r => r.status)")
        assert refused == 403
        phone.console_errors.clear()  # Chromium logs the refused fetch itself
        assert teacher.page.title() != "1"

        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        teacher.page.screenshot(path=str(SCREENSHOTS / "live-present-1024x768.png"))
        phone.page.screenshot(path=str(SCREENSHOTS / "live-follow-390x844.png"), full_page=True)
        assert_clean(teacher)
        assert_clean(phone)
    finally:
        teacher.page.context.close()
        phone.page.context.close()


def test_the_class_follows_reveal_steps(base_url: str, browser: Any) -> None:
    teacher = open_page(browser, 1280, 900)
    phone = open_page(browser, 390, 844)
    try:
        code = _present(teacher, f"{base_url}/?{urlencode({'spec': SPEC})}")
        phone.page.goto(f"{base_url}/live/{code}")
        wait_until(phone, FOLLOWING)
        veiled = "document.querySelectorAll('#live-state td.veiled').length"
        assert phone.page.evaluate(veiled) == 0
        # the instructor starts revealing the output column (as a link to it would)
        teacher.page.goto(teacher.page.url + "&reveal=output&step=0")
        wait_until(teacher, "document.querySelectorAll('td.veiled').length === 2")
        wait_until(phone, f"{veiled} === 2")  # conv1's and pool1's outputs, both hidden
        assert "55x55x96" not in _text(phone, "#live-state table.layers")
        # one step on the projector, one step on every phone
        teacher.page.keyboard.press("ArrowRight")
        wait_until(phone, f"{veiled} === 1")
        assert "55x55x96" in _text(phone, "#live-state table.layers")
        assert "27x27x96" not in _text(phone, "#live-state table.layers")
        teacher.page.keyboard.press("ArrowRight")
        wait_until(phone, f"{veiled} === 0")
        assert_clean(teacher)
        assert_clean(phone)
    finally:
        teacher.page.context.close()
        phone.page.context.close()


def test_the_join_page_at_a_phones_size(base_url: str, browser: Any) -> None:
    w = open_page(browser, 390, 844)
    try:
        w.page.goto(f"{base_url}/live")
        overflow = w.page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0
        w.page.screenshot(path=str(SCREENSHOTS / "live-join-390x844.png"))
        assert_clean(w)
    finally:
        w.page.context.close()
