"""The calculator draws the architecture of what was typed, as the model pages do."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app import engine
from app.examples import NAIVE_INCEPTION
from app.present import archdiagram


def test_the_calculator_draws_the_typed_network(client: TestClient) -> None:
    page = client.get("/", params={"spec": NAIVE_INCEPTION}).text
    assert 'class="calc-arch"' in page and 'class="arch-svg"' in page
    drawn = archdiagram.diagram(engine.analyze(NAIVE_INCEPTION))
    # every box of the geometry is a link to its row in the page's table
    for row in {b.rows[0] for b in drawn.boxes}:
        assert f'data-arch-row="{row}"' in page
        assert f'data-row="{row}"' in page


def test_a_broken_spec_draws_nothing(client: TestClient) -> None:
    response = client.get("/", params={"spec": "input 8x8x3\nwobble"})
    assert response.status_code == 422 and 'class="arch-svg"' not in response.text


def test_a_live_update_draws_the_diagram_only_while_it_is_open(client: TestClient) -> None:
    """Half the server's work for a large network: an htmx update leaves the diagram out
    (a placeholder says it is drawn when opened) unless the page says it is open."""
    hx = {"HX-Request": "true"}
    closed = client.get("/", params={"example": "inception"}, headers=hx).text
    assert 'class="calc-arch" data-arch-lazy="true"' in closed and "arch-svg" not in closed
    opened = client.get("/", params={"example": "inception", "arch": "1"}, headers=hx).text
    assert '<details class="calc-arch" open>' in opened and 'class="arch-svg"' in opened
