"""Partial shipments in the back office: the ship form's quantities per line, "Enviar outra parte",
the part delivered, and the order page listing the parts (docs/lifecycle.md, "Partial shipments")."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from malote.backoffice import form_dates
from malote.conftest import SYSTEM
from malote.orders import actions, parts
from malote.orders.models import Order, Shipment
from malote.orders.shipments import ship_part
from malote_dev.testing.orders import bring_to

pytestmark = pytest.mark.django_db

ITEMS = [
    {"sku": "CHINELO-42", "name": "Chinelo de praia 42", "quantity": 2, "unit_price": "49.90"},
    {"sku": "BONE-1", "name": "Boné azul", "quantity": 3, "unit_price": "20.00"},
]
LOGGI = {"carrier": "outra", "carrier_other": "Loggi", "method": "outro", "method_other": "Expresso"}


@pytest.fixture
def operator(user_with_role: Callable[[str], Any]) -> Client:
    client = Client()
    client.force_login(user_with_role("operator"))
    return client


@pytest.fixture
def invoiced(make_order: Callable[..., Order], stock: Callable[..., None]) -> Order:
    stock("BONE-1", 10)
    return bring_to(make_order(items=ITEMS, total="174.80"), "invoiced")


def _url(order: Order, name: str) -> str:
    return f"/backoffice/orders/{order.pk}/process/{name}/"


def _errors(response: Any) -> dict[str, list[str]]:
    form = response.context["form"]
    found = {item.name: [e["code"] for e in item.errors] for item in form.fields if item.errors}
    if form.errors:
        found[""] = [e["code"] for e in form.errors]
    return found


def test_the_ship_form_asks_a_quantity_per_line_prefilled_with_all(operator: Client, invoiced: Order) -> None:
    form = operator.get(_url(invoiced, "ship")).context["form"]
    assert [(f.name, f.value) for f in form.fields if f.name.startswith("qty_")] == [
        ("qty_1", "2"),
        ("qty_2", "3"),
    ]
    assert form.get("lines") is None


def test_one_unit_orders_get_no_quantities(operator: Client, make_order: Callable[..., Order]) -> None:
    items = [{**ITEMS[0], "quantity": 1}]
    order = bring_to(make_order(items=items, total="64.90"), "invoiced")
    form = operator.get(_url(order, "ship")).context["form"]
    assert not [f for f in form.fields if f.name.startswith("qty_")]


def test_ship_as_prefilled_ships_the_whole_order(operator: Client, invoiced: Order) -> None:
    response = operator.post(
        _url(invoiced, "ship"), {**LOGGI, "tracking_code": "LG-1", "qty_1": "2", "qty_2": "3"}
    )
    assert response.status_code == 302, _errors(response)
    assert parts.line_items(Shipment.objects.get(order=invoiced)) == []  # one part: no lines of its own


def test_ship_part_of_the_order_then_the_rest(operator: Client, invoiced: Order) -> None:
    response = operator.post(
        _url(invoiced, "ship"), {**LOGGI, "tracking_code": "LG-1", "qty_1": "2", "qty_2": "0"}
    )
    assert response.status_code == 302, _errors(response)
    invoiced.refresh_from_db()
    assert invoiced.status == "shipped"
    first = Shipment.objects.get(order=invoiced)
    assert [(i.line.sku, i.quantity) for i in parts.line_items(first)] == [("CHINELO-42", 2)]

    page = operator.get(f"/backoffice/orders/{invoiced.pk}/")
    assert "ship_part" in [t["name"] for t in page.context["transitions"]]
    assert "Ainda não enviado" in page.content.decode()

    form = operator.get(_url(invoiced, "ship_part")).context["form"]
    assert not [f for f in form.fields if f.name.startswith("qty_1")]  # nothing left of line 1
    assert [(f.name, f.value) for f in form.fields if f.name.startswith("qty_")] == [("qty_2", "3")]
    response = operator.post(_url(invoiced, "ship_part"), {**LOGGI, "tracking_code": "LG-2", "qty_2": "3"})
    assert response.status_code == 302, _errors(response)
    assert [s.tracking_code for s in Shipment.objects.filter(order=invoiced).order_by("id")] == [
        "LG-1",
        "LG-2",
    ]

    page = operator.get(f"/backoffice/orders/{invoiced.pk}/")
    html = page.content.decode()
    assert 'data-part="2"' in html and 'data-part-line="BONE-1"' in html
    assert "ship_part" not in [t["name"] for t in page.context["transitions"]]  # nothing left


def test_quantities_above_what_is_left_or_none_at_all_are_refused(operator: Client, invoiced: Order) -> None:
    response = operator.post(
        _url(invoiced, "ship"), {**LOGGI, "tracking_code": "LG-1", "qty_1": "5", "qty_2": "x"}
    )
    assert response.status_code == 422
    assert _errors(response) == {"qty_1": ["shipment_quantity_exceeds_remaining"], "qty_2": ["int_parsing"]}
    response = operator.post(
        _url(invoiced, "ship"), {**LOGGI, "tracking_code": "LG-1", "qty_1": "0", "qty_2": "0"}
    )
    assert response.status_code == 422
    assert _errors(response) == {"": ["too_short"]}
    assert not Shipment.objects.filter(order=invoiced).exists()


def test_ship_part_is_refused_before_the_order_shipped(operator: Client, invoiced: Order) -> None:
    response = operator.get(_url(invoiced, "ship_part"))
    assert _errors(response) == {"": ["shipment_part_not_allowed"]}
    response = operator.post(_url(invoiced, "ship_part"), {**LOGGI, "tracking_code": "LG-2"})
    assert response.status_code == 409
    assert _errors(response) == {"": ["shipment_part_not_allowed"]}


def test_a_viewer_cannot_ship_a_part(user_with_role: Callable[[str], Any], invoiced: Order) -> None:
    client = Client()
    client.force_login(user_with_role("viewer"))
    assert client.get(_url(invoiced, "ship_part")).status_code == 403


def test_the_deliver_form_names_a_part_when_there_are_several(operator: Client, invoiced: Order) -> None:
    lines = [{"sku": "CHINELO-42", "quantity": 2}]
    actions.run_transition(
        invoiced.pk,
        "ship",
        {"carrier": "Loggi", "method": "Expresso", "tracking_code": "LG-1", "lines": lines},
        actor=SYSTEM,
    )
    assert operator.get(_url(invoiced, "deliver")).context["form"].get("tracking_code") is None  # one part
    ship_part(invoiced.pk, {"carrier": "Loggi", "method": "Expresso", "tracking_code": "LG-2"}, actor=SYSTEM)
    field = operator.get(_url(invoiced, "deliver")).context["form"].get("tracking_code")
    assert field is not None and [value for value, _ in field.choices] == ["LG-1", "LG-2"]
    when = form_dates.display(timezone.now() + timedelta(hours=1))
    response = operator.post(_url(invoiced, "deliver"), {"delivered_at": when, "tracking_code": "LG-2"})
    assert response.status_code == 302, _errors(response)
    invoiced.refresh_from_db()
    assert invoiced.status == "shipped"
    assert Shipment.objects.get(order=invoiced, tracking_code="LG-2").status == "delivered"
    response = operator.post(_url(invoiced, "deliver"), {"delivered_at": when, "tracking_code": "LG-1"})
    assert response.status_code == 302, _errors(response)
    invoiced.refresh_from_db()
    assert invoiced.status == "delivered"
