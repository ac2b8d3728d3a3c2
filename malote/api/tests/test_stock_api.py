"""Stock over the API: read, set the physical quantity with a reason, low-stock list, movements."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from malote.api.tests.helpers import ORDERS, assert_error, order_data
from malote.channels.models import Channel
from malote.conftest import ApiClient
from malote.orders.models import Order
from malote.stock.models import StockItem, StockMovement

pytestmark = pytest.mark.django_db

STOCK = "/api/v1/stock"


def test_get_one_sku(api: ApiClient, stock: Callable[..., None]) -> None:
    stock("CHINELO-42", 7)
    body = api.get(f"{STOCK}/CHINELO-42").json()
    assert {k: body[k] for k in ("sku", "physical", "reserved", "available", "low_stock_threshold")} == {
        "sku": "CHINELO-42",
        "physical": 7,
        "reserved": 0,
        "available": 7,
        "low_stock_threshold": 5,
    }
    assert body["updated_at"]


def test_get_unknown_sku_is_404(api: ApiClient, stock: Callable[..., None]) -> None:
    stock("CHINELO-42", 7)
    assert_error(api.get(f"{STOCK}/CHINELO-43"), 404, "stock_item_not_found")


def test_put_sets_physical_and_records_the_movement(api: ApiClient, stock: Callable[..., None]) -> None:
    stock("CHINELO-42", 7)
    response = api.put(
        f"{STOCK}/CHINELO-42", {"physical": 12, "reason": "inventory_count", "note": "contagem"}
    )
    assert response.status_code == 200
    assert (response.json()["physical"], response.json()["available"]) == (12, 12)
    assert StockItem.objects.get(sku="CHINELO-42").physical == 12
    move = StockMovement.objects.filter(sku="CHINELO-42").order_by("-id").first()
    assert move is not None
    assert (move.reason, move.physical_delta, move.reserved_delta, move.note) == (
        "inventory_count",
        5,
        0,
        "contagem",
    )
    assert move.actor == "operator-user (test)"


def test_put_creates_a_new_sku_with_a_name(api: ApiClient, db: None) -> None:
    response = api.put(f"{STOCK}/SANDALIA-38", {"physical": 3, "name": "Sandália 38"})
    assert response.status_code == 200
    assert response.json()["name"] == "Sandália 38"
    item = StockItem.objects.get(sku="SANDALIA-38")
    assert (item.physical, item.name) == (3, "Sandália 38")
    assert StockMovement.objects.get(sku="SANDALIA-38").reason == "adjustment"


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"physical": -1}, "physical", "greater_than_equal"),
        ({"physical": 100_000_001}, "physical", "less_than_equal"),
        ({"physical": "many"}, "physical", "int_type"),
        ({"physical": 1.5}, "physical", "int_from_float"),
        ({}, "physical", "missing"),
        ({"physical": 5, "reason": "theft"}, "reason", "literal_error"),
        ({"physical": 5, "reason": "order_reserve"}, "reason", "literal_error"),
        ({"physical": 5, "colour": "blue"}, "colour", "extra_forbidden"),
        ({"physical": 5, "note": "n" * 256}, "note", "string_too_long"),
    ],
)
def test_put_invalid_is_422(
    api: ApiClient, stock: Callable[..., None], body: dict[str, Any], field: str, code: str
) -> None:
    stock("CHINELO-42", 7)
    assert_error(api.put(f"{STOCK}/CHINELO-42", body), 422, code, field)
    assert StockItem.objects.get(sku="CHINELO-42").physical == 7


def test_put_below_reserved_is_422_and_at_reserved_is_fine(
    api: ApiClient, make_order: Callable[..., Order]
) -> None:
    make_order(physical=10)  # reserves 2
    make_order(physical=None)  # reserves 2 more
    assert StockItem.objects.get(sku="CHINELO-42").reserved == 4
    assert_error(api.put(f"{STOCK}/CHINELO-42", {"physical": 3}), 422, "stock_below_reserved", "physical")
    assert StockItem.objects.get(sku="CHINELO-42").physical == 10
    response = api.put(f"{STOCK}/CHINELO-42", {"physical": 4})
    assert response.status_code == 200
    assert (response.json()["physical"], response.json()["available"]) == (4, 0)


def test_put_with_a_too_long_sku_is_404(api: ApiClient, db: None) -> None:
    assert_error(api.put(f"{STOCK}/{'S' * 61}", {"physical": 1}), 404, "stock_item_not_found")
    assert api.put(f"{STOCK}/{'S' * 60}", {"physical": 1}).status_code == 200


def test_list_and_low_filter(api: ApiClient, stock: Callable[..., None]) -> None:
    stock("A-LOW", 3)  # available 3 <= threshold 5
    stock("B-EDGE", 5)  # exactly at the threshold: low
    stock("C-PLENTY", 100)
    assert [i["sku"] for i in api.get(STOCK).json()] == ["A-LOW", "B-EDGE", "C-PLENTY"]
    assert [i["sku"] for i in api.get(f"{STOCK}?low=true").json()] == ["A-LOW", "B-EDGE"]
    assert [i["sku"] for i in api.get(f"{STOCK}?low=false").json()] == ["A-LOW", "B-EDGE", "C-PLENTY"]
    assert [i["sku"] for i in api.get(f"{STOCK}?sku=plenty").json()] == ["C-PLENTY"]
    assert [i["sku"] for i in api.get(f"{STOCK}?limit=1&offset=1").json()] == ["B-EDGE"]
    assert_error(api.get(f"{STOCK}?low=maybe"), 422, "bool_parsing", "low")


def test_low_filter_counts_reservations(api: ApiClient, make_order: Callable[..., Order]) -> None:
    make_order(physical=7)  # 7 physical, 2 reserved: available 5 → low
    assert [i["sku"] for i in api.get(f"{STOCK}?low=true").json()] == ["CHINELO-42"]
    api.put(f"{STOCK}/CHINELO-42", {"physical": 8})
    assert api.get(f"{STOCK}?low=true").json() == []


def test_movements_newest_first_with_order_number(api: ApiClient, make_order: Callable[..., Order]) -> None:
    order = make_order(physical=10)
    api.put(f"{STOCK}/CHINELO-42", {"physical": 20, "note": "chegou"})
    moves = api.get(f"{STOCK}/CHINELO-42/movements").json()
    assert [(m["reason"], m["physical_delta"], m["reserved_delta"]) for m in moves] == [
        ("adjustment", 10, 0),
        ("order_reserve", 0, 2),
        ("adjustment", 10, 0),
    ]
    assert moves[0]["note"] == "chegou"
    assert moves[1]["order_number"] == order.number
    assert moves[0]["order_number"] is None
    assert len(api.get(f"{STOCK}/CHINELO-42/movements?limit=1").json()) == 1
    assert api.get(f"{STOCK}/NOTHING/movements").json() == []
    assert_error(api.get(f"{STOCK}/CHINELO-42/movements?limit=0"), 422, "greater_than_equal", "limit")


def test_put_that_brings_stock_back_resumes_out_of_stock_orders(
    api: ApiClient, channel: Channel, db: None
) -> None:
    created = api.post(ORDERS, order_data(status="paid"))
    assert created.status_code == 201
    body = created.json()
    assert body["status"] == "out_of_stock"
    assert body["stock_state"] == "unreserved"

    # Not enough yet (the order needs 2): it keeps waiting.
    api.put(f"{STOCK}/CHINELO-42", {"physical": 1})
    assert api.get(f"{ORDERS}/{body['id']}").json()["status"] == "out_of_stock"

    response = api.put(f"{STOCK}/CHINELO-42", {"physical": 10, "reason": "inventory_count"})
    assert response.status_code == 200
    assert (response.json()["physical"], response.json()["reserved"]) == (10, 2)
    detail = api.get(f"{ORDERS}/{body['id']}").json()
    assert detail["status"] == "preparing"
    assert detail["stock_state"] == "reserved"
    assert detail["status_path"] == ["paid", "out_of_stock", "preparing"]


def test_stock_for_one_order_resumes_the_oldest_first(api: ApiClient, channel: Channel, db: None) -> None:
    older = api.post(
        ORDERS, order_data(status="paid", external_id="A-1", placed_at="2026-11-20T10:00:00-03:00")
    )
    newer = api.post(
        ORDERS, order_data(status="paid", external_id="A-2", placed_at="2026-11-20T11:00:00-03:00")
    )
    api.put(f"{STOCK}/CHINELO-42", {"physical": 3})
    statuses = {
        r.json()["external_id"]: api.get(f"{ORDERS}/{r.json()['id']}").json()["status"]
        for r in (older, newer)
    }
    assert statuses == {"A-1": "preparing", "A-2": "out_of_stock"}
    api.put(f"{STOCK}/CHINELO-42", {"physical": 4})
    assert api.get(f"{ORDERS}/{newer.json()['id']}").json()["status"] == "preparing"
