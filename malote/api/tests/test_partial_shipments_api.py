"""Partial shipments through the API: ship with lines, further parts, a part delivered, a further
NF-e (docs/lifecycle.md, "Partial shipments")."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from malote.api.tests.helpers import assert_error, order_url, transition_url
from malote.conftest import ApiClient
from malote.orders.models import Order
from malote_dev.testing.fiscal import make_nfe_key
from malote_dev.testing.orders import bring_to

pytestmark = pytest.mark.django_db

ITEMS = [
    {"sku": "CHINELO-42", "name": "Chinelo de praia 42", "quantity": 2, "unit_price": "49.90"},
    {"sku": "BONE-1", "name": "Boné azul", "quantity": 3, "unit_price": "20.00"},
]


@pytest.fixture
def invoiced(make_order: Callable[..., Order], stock: Callable[..., None]) -> Order:
    stock("BONE-1", 10)
    return bring_to(make_order(items=ITEMS, total="174.80"), "invoiced")


def _ship(tracking: str, lines: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"carrier": "Loggi", "method": "Expresso", "tracking_code": tracking}
    if lines is not None:
        body["lines"] = lines
    return body


def _later(minutes: int) -> str:
    return (timezone.now() + timedelta(minutes=minutes)).isoformat()


def test_an_order_shipped_and_delivered_in_two_parts(api: ApiClient, invoiced: Order) -> None:
    first = api.post(
        transition_url(invoiced.pk, "ship"), _ship("LG-1", [{"sku": "CHINELO-42", "quantity": 2}])
    )
    assert first.status_code == 200, first.content
    body = first.json()
    assert body["status"] == "shipped"
    [part] = body["shipments"]
    assert (part["number"], part["tracking_code"], part["status"]) == (1, "LG-1", "shipped")
    assert part["lines"] == [{"line": 1, "sku": "CHINELO-42", "quantity": 2}]
    assert body["unshipped"] == [{"line": 2, "sku": "BONE-1", "quantity": 3}]

    second = api.post(order_url(invoiced.pk, "shipments"), _ship("LG-2"))
    assert second.status_code == 200, second.content
    body = second.json()
    assert body["status"] == "shipped" and body["unshipped"] == []
    assert [(p["number"], p["tracking_code"]) for p in body["shipments"]] == [(1, "LG-1"), (2, "LG-2")]
    assert body["shipments"][1]["lines"] == [{"line": 2, "sku": "BONE-1", "quantity": 3}]

    one = api.post(
        transition_url(invoiced.pk, "deliver"), {"delivered_at": _later(60), "tracking_code": "LG-2"}
    )
    assert one.json()["status"] == "shipped"
    assert [p["status"] for p in one.json()["shipments"]] == ["shipped", "delivered"]
    last = api.post(
        transition_url(invoiced.pk, "deliver"), {"delivered_at": _later(90), "tracking_code": "LG-1"}
    )
    assert last.json()["status"] == "delivered"
    events = api.get(order_url(invoiced.pk, "events")).json()
    assert [e["type"] for e in events if e["type"] in ("shipment_part", "shipment_delivered")] == [
        "shipment_part",
        "shipment_delivered",
    ]


def test_a_whole_shipment_lists_every_unit(api: ApiClient, invoiced: Order) -> None:
    body = api.post(transition_url(invoiced.pk, "ship"), _ship("LG-1")).json()
    assert [(line["sku"], line["quantity"]) for line in body["shipments"][0]["lines"]] == [
        ("CHINELO-42", 2),
        ("BONE-1", 3),
    ]
    assert body["unshipped"] == []
    assert_error(api.post(order_url(invoiced.pk, "shipments"), _ship("LG-2")), 409, "order_fully_shipped")


def test_part_refusals(api: ApiClient, invoiced: Order) -> None:
    assert_error(
        api.post(order_url(invoiced.pk, "shipments"), _ship("LG-1")), 409, "shipment_part_not_allowed"
    )
    too_many = api.post(
        transition_url(invoiced.pk, "ship"), _ship("LG-1", [{"sku": "BONE-1", "quantity": 4}])
    )
    body = assert_error(too_many, 422, "shipment_quantity_exceeds_remaining", "lines.0.quantity")
    assert body["remaining"] == 3
    api.post(transition_url(invoiced.pk, "ship"), _ship("LG-1", [{"sku": "BONE-1", "quantity": 1}]))
    assert_error(
        api.post(order_url(invoiced.pk, "shipments"), _ship("LG-1", [{"sku": "BONE-1", "quantity": 2}])),
        409,
        "shipment_part_conflict",
        "lines",
    )
    assert_error(
        api.post(transition_url(invoiced.pk, "deliver"), {"delivered_at": _later(60)}),
        409,
        "order_not_fully_shipped",
    )
    assert_error(
        api.post(transition_url(invoiced.pk, "deliver"), {"delivered_at": _later(60), "tracking_code": "ZZ"}),
        422,
        "shipment_unknown",
        "tracking_code",
    )
    assert_error(
        api.post(order_url(invoiced.pk, "shipments"), {**_ship("LG-2"), "extra": 1}),
        422,
        "extra_forbidden",
        "extra",
    )


def test_viewer_cannot_ship_a_part(api_as: Callable[[str], ApiClient], invoiced: Order) -> None:
    response = api_as("viewer").post(order_url(invoiced.pk, "shipments"), _ship("LG-2"))
    assert response.status_code == 403


def test_a_further_invoice(api: ApiClient, invoiced: Order) -> None:
    now = timezone.localtime()
    nfe = {
        "key": make_nfe_key(7001, year=now.year, month=now.month),
        "number": "7001",
        "series": "1",
        "issued_at": now.isoformat(),
    }
    body = api.post(order_url(invoiced.pk, "invoices"), nfe).json()
    assert [i["number"] for i in body["invoices"]][-1] == 7001 and len(body["invoices"]) == 2
    assert body["status"] == "invoiced"
    assert api.post(order_url(invoiced.pk, "invoices"), nfe).status_code == 200  # the same again: no-op
    assert_error(
        api.post(order_url(invoiced.pk, "invoices"), {**nfe, "number": "7002"}),
        422,
        "invoice_number_mismatch",
        "number",
    )


def test_the_openapi_document_names_the_parts(api: ApiClient) -> None:
    document = api.get("/api/v1/openapi.json").json()
    schemas = document["components"]["schemas"]
    assert {"number", "lines"} <= set(schemas["ShipmentOut"]["properties"])
    assert "unshipped" in schemas["OrderOut"]["properties"]
    assert "lines" in schemas["ShipIn"]["properties"]
    assert "tracking_code" in schemas["DeliverIn"]["properties"]
    assert "/api/v1/orders/{order_id}/shipments" in document["paths"]
    assert "/api/v1/orders/{order_id}/invoices" in document["paths"]
