"""A long table in the browser: its pages link to each other, and opening a collapsed block on
a later page asks for that page again (htmx's request carries ``page``), not the first."""

from __future__ import annotations

from urllib.parse import urlencode

from tests.browser.conftest import Watched

#: 2,500 dense blocks: 7,501 table rows, about 19 pages
BIG = "input 8x8x3\nrepeat 2500 { dense { conv 1 3x3 pad 1 } }\n"


def test_the_pages_of_a_long_table(base_url: str, watched: Watched) -> None:
    page = watched.page
    page.goto(f"{base_url}/?{urlencode({'spec': BIG})}")
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
    assert not watched.page_errors and not watched.csp_violations()
