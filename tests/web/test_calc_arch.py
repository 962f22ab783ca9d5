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
