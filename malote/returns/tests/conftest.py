"""Orders to return: two lines (2 × CHINELO-42 at 49.90, 1 × TOALHA-01 at 30.00), shipping 15.00."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from malote.orders.models import Order
from malote_dev.testing.orders import bring_to

TWO_LINES: dict[str, Any] = {
    "items": [
        {"sku": "CHINELO-42", "name": "Chinelo de praia 42", "quantity": 2, "unit_price": "49.90"},
        {"sku": "TOALHA-01", "name": "Toalha de banho", "quantity": 1, "unit_price": "30.00"},
    ],
    "total": "144.80",
}


@pytest.fixture
def order_in(make_order: Callable[..., Order]) -> Callable[[str], Order]:
    """A two-line order brought to ``status`` through the real commands."""

    def make(status: str = "delivered") -> Order:
        return bring_to(make_order(**TWO_LINES), status)

    return make


@pytest.fixture
def delivered(order_in: Callable[[str], Order]) -> Order:
    return order_in("delivered")
