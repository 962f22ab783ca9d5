"""A long table in the browser: its pages link to each other, and opening a collapsed block on
a later page asks for that page again (htmx's request carries ``page``), not the first."""

from __future__ import annotations

from urllib.parse import urlencode

from tests.browser.conftest import Watched, assert_clean, goto
from tests.loopprobe import big_spec

#: 2,500 dense blocks: 7,501 table rows, about 19 pages
BIG = big_spec(2500)


def test_the_pages_of_a_long_table(base_url: str, watched: Watched) -> None:
    page = watched.page
    goto(watched, f"{base_url}/?{urlencode({'spec': BIG})}", status=200)
    pager = page.locator("nav.pager").first
    assert "page 1 of" in pager.inner_text()
    pager.locator("a[rel=next]").click()
    page.wait_for_url("**page=2**")
    assert "page 2 of" in page.locator("nav.pager").first.inner_text()
    first_block = page.locator("tr.group-head").first
    name = first_block.get_attribute("data-path")
    assert name and first_block.get_attribute("data-lazy") == "true"
    first_block.locator("button.toggle").click()
    member = page.locator(f'tr.row[data-in~="{first_block.get_attribute("data-group")}"]')
    member.first.wait_for()
    assert member.first.is_visible()
    assert "page=2" in page.url and f"open={name.replace('/', '%2F')}" in page.url
    assert "page 2 of" in page.locator("nav.pager").first.inner_text()
    assert_clean(watched)
