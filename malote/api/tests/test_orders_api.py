"""Orders over the API: create (idempotent on channel + external id), read, timeline, transitions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from malote.api.tests.helpers import ORDERS, assert_error, order_data, order_url, transition_url
from malote.channels.models import Channel
from malote.conftest import ApiClient
from malote.orders.models import Invoice, Order, OrderEvent, OrderLine, Payment
from malote.stock.models import StockItem, StockMovement
from malote_dev.testing.fiscal import build_nfe_xml, make_nfe_key
from malote_dev.testing.orders import bring_to, invoice_input, valid_input

pytestmark = pytest.mark.django_db

SHIP = {"carrier": "correios", "method": "SEDEX", "tracking_code": "AA123456785BR"}


def _counts() -> dict[str, int]:
    return {
        "orders": Order.objects.count(),
        "lines": OrderLine.objects.count(),
        "payments": Payment.objects.count(),
        "events": OrderEvent.objects.count(),
        "movements": StockMovement.objects.count(),
    }


def _reserved(sku: str = "CHINELO-42") -> int:
    return StockItem.objects.get(sku=sku).reserved


# --- create ---------------------------------------------------------------------------------------


def test_create_is_201_then_200_with_nothing_duplicated(
    api: ApiClient, channel: Channel, stock: Callable[..., None]
) -> None:
    stock("CHINELO-42", 10)
    first = api.post(ORDERS, order_data())
    assert first.status_code == 201
    after_first = _counts()
    assert after_first == {"orders": 1, "lines": 1, "payments": 1, "events": 1, "movements": 2}
    assert _reserved() == 2

    again = api.post(ORDERS, order_data())
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["number"] == first.json()["number"]
    assert _counts() == after_first
    assert _reserved() == 2


def test_repeat_with_other_data_still_answers_the_existing_order(
    api: ApiClient, channel: Channel, stock: Callable[..., None]
) -> None:
    stock("CHINELO-42", 10)
    first = api.post(ORDERS, order_data()).json()
    changed = order_data(customer={**order_data()["customer"], "name": "Outra Pessoa"})
    again = api.post(ORDERS, changed)
    assert again.status_code == 200
    assert again.json()["customer"]["name"] == "Maria Souza"
    assert again.json()["id"] == first["id"]
    assert Order.objects.count() == 1


def test_another_external_id_is_another_order(
    api: ApiClient, channel: Channel, stock: Callable[..., None]
) -> None:
    stock("CHINELO-42", 10)
    a = api.post(ORDERS, order_data())
    b = api.post(ORDERS, order_data(external_id="02-704319103"))
    assert (a.status_code, b.status_code) == (201, 201)
    assert a.json()["number"] != b.json()["number"]
    assert _reserved() == 4


def test_create_response_body(api: ApiClient, channel: Channel, stock: Callable[..., None]) -> None:
    stock("CHINELO-42", 10)
    sent = order_data(placed_at="2026-11-20T14:03:00-03:00")
    body = api.post(ORDERS, sent).json()
    order = Order.objects.get()
    assert body["id"] == order.pk
    assert body["number"] == f"M{order.pk:07d}"
    assert body["channel"] == "site"
    assert body["external_id"] == "02-704319102"
    assert body["placed_at"] == "2026-11-20T17:03:00Z"
    assert body["status"] == "pending_payment"
    assert body["status_label"] == "Aguardando pagamento"
    assert body["status_path"] == ["pending_payment"]
    assert body["stock_state"] == "reserved"
    assert body["currency"] == "BRL"
    # Money as decimal strings, never floats.
    assert (body["subtotal"], body["shipping_price"], body["discount"], body["tax"], body["total"]) == (
        "99.80",
        "15.00",
        "0.00",
        "0.00",
        "114.80",
    )
    assert body["shipping_method"] == "Correios SEDEX"
    assert body["customer"] == {
        "name": "Maria Souza",
        "email": "maria@example.com",
        "phone": "+5511999990000",
        "document": "52998224725",
        "document_formatted": "529.982.247-25",
    }
    address = {
        "street": "Rua das Flores",
        "number": "100",
        "complement": "ap 12",
        "district": "Centro",
        "city": "São Paulo",
        "state": "SP",
        "postal_code": "01001000",
        "country": "BR",
    }
    assert body["billing_address"] == address
    assert body["shipping_address"] == address
    assert body["lines"] == [
        {
            "position": 1,
            "sku": "CHINELO-42",
            "name": "Chinelo de praia 42",
            "quantity": 2,
            "unit_price": "49.90",
            "discount": "0.00",
            "total": "99.80",
        }
    ]
    assert body["payment"] == {
        "method": "boleto",
        "gateway": "pagarme",
        "transaction_id": "ch_123",
        "installments": 1,
        "amount": "114.80",
        "status": "pending",
        "due_date": sent["payment"]["due_date"],
        "expires_at": None,
        "paid_at": None,
    }
    assert body["payments"] == [body["payment"]]
    assert body["invoice"] is None
    assert body["invoices"] == []
    assert body["shipments"] == []
    assert body["available_transitions"] == ["start_review", "mark_overdue", "approve_payment", "cancel"]
    assert body["payment_method"] == "boleto"
    assert body["customer_name"] == "Maria Souza"


def test_create_paid_import(api: ApiClient, channel: Channel, stock: Callable[..., None]) -> None:
    stock("CHINELO-42", 10)
    body = api.post(ORDERS, order_data(status="paid")).json()
    assert body["status"] == "paid"
    assert body["payment"]["status"] == "approved"
    assert "invoice" in body["available_transitions"]


def _without(data: dict[str, Any], key: str) -> dict[str, Any]:
    data.pop(key)
    return data


def _with_item(**fields: Any) -> dict[str, Any]:
    data = order_data()
    data["items"][0].update(fields)
    return data


@pytest.mark.parametrize(
    ("data", "field", "code"),
    [
        (
            order_data(customer={**order_data()["customer"], "document": "529.982.247-26"}),
            "customer.document",
            "cpf_check_digit",
        ),
        (
            order_data(customer={**order_data()["customer"], "document": "111.111.111-11"}),
            "customer.document",
            "cpf_repeated_digits",
        ),
        (order_data(total="100.00"), "total", "totals_mismatch"),
        (_without(order_data(), "customer"), "customer", "missing"),
        (_without(order_data(), "placed_at"), "placed_at", "missing"),
        (_with_item(quantity="two"), "items.0.quantity", "int_type"),
        (_with_item(quantity=0), "items.0.quantity", "quantity_not_positive"),
        (_with_item(unit_price="-1.00"), "items.0.unit_price", "greater_than_equal"),
        (_with_item(discount="500.00"), "items.0.discount", "line_discount_exceeds_value"),
        (order_data(items="CHINELO-42"), "items", "list_type"),
        (order_data(items=[]), "items", "too_short"),
        (order_data(total="1e999"), "total", "decimal_max_digits"),
        (order_data(placed_at="yesterday"), "placed_at", "datetime_from_date_parsing"),
        (order_data(shoe_size=42), "shoe_size", "extra_forbidden"),
        (order_data(channel="nowhere"), "channel", "unknown_channel"),
        (order_data(currency="USD"), "currency", "literal_error"),
        (order_data(status="delivered"), "status", "literal_error"),
        (
            order_data(billing_address={**order_data()["billing_address"], "state": "XX"}),
            "billing_address.state",
            "uf_invalid",
        ),
        (order_data(payment={"method": "cheque"}), "payment.method", "enum"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_create_invalid_is_422_with_field_and_code(
    api: ApiClient, channel: Channel, stock: Callable[..., None], data: dict[str, Any], field: str, code: str
) -> None:
    stock("CHINELO-42", 10)
    body = assert_error(api.post(ORDERS, data), 422, code, field)
    if "errors" in body:
        assert body["errors"][0]["field"] == field
    assert _counts()["orders"] == 0
    assert _reserved() == 0


# --- read -----------------------------------------------------------------------------------------


def test_detail_and_404(api: ApiClient, make_order: Callable[..., Order]) -> None:
    order = make_order()
    body = api.get(order_url(order.pk)).json()
    assert body["id"] == order.pk
    assert body["number"] == order.number
    for path in (
        order_url(order.pk + 1000),
        order_url(order.pk + 1000, "events"),
        order_url(order.pk + 1000, "transitions"),
    ):
        assert_error(api.get(path), 404, "order_not_found")
    assert_error(
        api.post(transition_url(order.pk + 1000, "cancel"), {"reason": "other"}), 404, "order_not_found"
    )


def test_detail_of_a_non_numeric_id_is_a_json_404(api: ApiClient) -> None:
    assert_error(api.get(f"{ORDERS}/abc"), 404, "not_found")


def test_detail_shows_invoice_and_shipment(api: ApiClient, make_order: Callable[..., Order]) -> None:
    order = bring_to(make_order(), "shipped")
    body = api.get(order_url(order.pk)).json()
    assert body["status"] == "shipped"
    assert body["status_path"] == ["pending_payment", "paid", "invoiced", "shipped"]
    assert body["invoice"]["key"] == Invoice.objects.get(order=order).key
    assert body["invoice"]["key_formatted"].replace(" ", "") == body["invoice"]["key"]
    assert [s["tracking_code"] for s in body["shipments"]] == ["AA123456785BR"]
    assert body["shipments"][0]["tracking_url"].startswith("http")
    assert body["stock_state"] == "consumed"
    assert body["payment"]["status"] == "approved"


def test_events_timeline(api: ApiClient, make_order: Callable[..., Order]) -> None:
    order = make_order()
    assert (
        api.post(transition_url(order.pk, "approve_payment"), {"transaction_id": "ch_999"}).status_code == 200
    )
    assert api.post(transition_url(order.pk, "invoice"), invoice_input(order)).status_code == 200
    assert api.post(transition_url(order.pk, "ship"), SHIP).status_code == 200
    events = api.get(order_url(order.pk, "events")).json()
    assert [(e["type"], e["transition"], e["from_status"], e["to_status"]) for e in events] == [
        ("created", "", "", "pending_payment"),
        ("transition", "approve_payment", "pending_payment", "paid"),
        ("transition", "invoice", "paid", "invoiced"),
        ("transition", "ship", "invoiced", "shipped"),
    ]
    assert events[0]["actor_kind"] == "system"
    assert {e["actor_kind"] for e in events[1:]} == {"token"}
    assert events[1]["actor_label"] == "operator-user (test)"
    assert events[1]["data"]["input"] == {"transaction_id": "ch_999"}
    assert events[3]["data"]["tracking_code"] == "AA123456785BR"
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)


# --- transitions ----------------------------------------------------------------------------------


def test_transition_200_returns_the_order(api: ApiClient, make_order: Callable[..., Order]) -> None:
    order = make_order()
    response = api.post(transition_url(order.pk, "approve_payment"), {})
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == order.pk
    assert body["status"] == "paid"
    assert "invoice" in body["available_transitions"]
    assert "approve_payment" not in body["available_transitions"]


def test_transition_with_an_empty_body_means_no_input(
    api: ApiClient, make_order: Callable[..., Order]
) -> None:
    order = make_order()
    assert api.post(transition_url(order.pk, "start_review")).status_code == 200
    order.refresh_from_db()
    assert order.status == "payment_review"


def test_transition_forbidden_by_the_table_is_409_with_status(
    api: ApiClient, make_order: Callable[..., Order]
) -> None:
    order = make_order()
    body = assert_error(api.post(transition_url(order.pk, "ship"), SHIP), 409, "transition_not_allowed")
    assert body["status"] == "pending_payment"
    order.refresh_from_db()
    assert order.status == "pending_payment"


def test_transition_out_of_a_terminal_status_is_409(api: ApiClient, make_order: Callable[..., Order]) -> None:
    order = bring_to(make_order(), "delivered")
    body = assert_error(
        api.post(transition_url(order.pk, "cancel"), {"reason": "other"}), 409, "transition_not_allowed"
    )
    assert body["status"] == "delivered"


def test_unknown_transition_is_404(api: ApiClient, make_order: Callable[..., Order]) -> None:
    order = make_order()
    assert_error(api.post(transition_url(order.pk, "teleport"), {}), 404, "unknown_transition", "name")
    assert_error(api.post(transition_url(order.pk, "Cancel"), {}), 404, "unknown_transition", "name")


@pytest.mark.parametrize(
    ("status", "name", "patch", "field", "code"),
    [
        (
            "paid",
            "invoice",
            {"key": "35261111222333000181550010000012341123456789"},
            "key",
            "nfe_key_check_digit",
        ),
        ("paid", "invoice", {"key": "123"}, "key", "nfe_key_length"),
        ("paid", "invoice", {"number": "abc"}, "number", "string_pattern_mismatch"),
        (
            "invoiced",
            "ship",
            {"tracking_code": "SS123456789BR"},
            "tracking_code",
            "tracking_code_check_digit",
        ),
        ("invoiced", "ship", {"carrier": None}, "carrier", "string_type"),
        ("invoiced", "ship", {"tracking_url": "ftp://x"}, "tracking_url", "string_pattern_mismatch"),
        ("pending_payment", "cancel", {"reason": "bored"}, "reason", "enum"),
        ("pending_payment", "approve_payment", {"amount": "-5"}, "amount", "greater_than_equal"),
        ("pending_payment", "approve_payment", {"bonus": 1}, "bonus", "extra_forbidden"),
        ("shipped", "deliver", {"delivered_at": "soon"}, "delivered_at", "datetime_from_date_parsing"),
        ("shipped", "report_delivery_problem", {"description": ""}, "description", "string_too_short"),
        ("canceled", "reopen", {"reason": ""}, "reason", "string_too_short"),
    ],
)
def test_transition_invalid_input_is_422_with_field_and_code(
    api_as: Callable[[str], ApiClient],
    make_order: Callable[..., Order],
    status: str,
    name: str,
    patch: dict[str, Any],
    field: str,
    code: str,
) -> None:
    order = bring_to(make_order(), status)
    body = {**valid_input(order, name), **patch}
    assert_error(api_as("admin").post(transition_url(order.pk, name), body), 422, code, field)
    order.refresh_from_db()
    assert order.status == status


@pytest.mark.parametrize(
    ("body", "code"),
    [(b"{not json", "malformed_json"), (b"[1, 2]", "body_not_object"), (b'"x"', "body_not_object")],
)
def test_transition_body_that_is_not_an_object_is_422(
    api: ApiClient, make_order: Callable[..., Order], body: bytes, code: str
) -> None:
    order = make_order()
    assert_error(api.post(transition_url(order.pk, "approve_payment"), body), 422, code)


def test_transition_valid_input_passes(api: ApiClient, make_order: Callable[..., Order]) -> None:
    order = bring_to(make_order(), "invoiced")
    assert api.post(transition_url(order.pk, "ship"), SHIP).json()["status"] == "shipped"


def test_repeated_transition_is_an_idempotent_noop(api: ApiClient, make_order: Callable[..., Order]) -> None:
    order = bring_to(make_order(), "invoiced")
    first = api.post(transition_url(order.pk, "ship"), SHIP)
    second = api.post(transition_url(order.pk, "ship"), SHIP)
    assert (first.status_code, second.status_code) == (200, 200)
    assert second.json()["status"] == "shipped"
    assert OrderEvent.objects.filter(order=order, transition="ship").count() == 1
    assert len(second.json()["shipments"]) == 1


def test_repeated_transition_with_other_data_is_409_transition_conflict(
    api: ApiClient, make_order: Callable[..., Order]
) -> None:
    order = bring_to(make_order(), "invoiced")
    assert api.post(transition_url(order.pk, "ship"), SHIP).status_code == 200
    other = {**SHIP, "tracking_code": "AA000000000BR"}
    body = assert_error(
        api.post(transition_url(order.pk, "ship"), other), 409, "transition_conflict", "tracking_code"
    )
    assert body["status"] == "shipped"
    assert OrderEvent.objects.filter(order=order, transition="ship").count() == 1


# --- invoice with its XML ------------------------------------------------------------------------


def _xml_invoice(number: int, total: str) -> dict[str, Any]:
    key = make_nfe_key(number, year=2026, month=11)
    return {
        "key": key,
        "number": str(number),
        "series": "1",
        "issued_at": "2026-11-15T10:30:00-03:00",
        "xml": build_nfe_xml(key, total=total, recipient_cpf="52998224725"),
    }


def test_invoice_with_matching_xml_is_accepted(api: ApiClient, make_order: Callable[..., Order]) -> None:
    order = bring_to(make_order(), "paid")
    response = api.post(transition_url(order.pk, "invoice"), _xml_invoice(5001, "114.80"))
    assert response.status_code == 200, response.content
    invoice = response.json()["invoice"]
    assert response.json()["status"] == "invoiced"
    assert invoice["has_xml"] is True
    assert invoice["authorization_protocol"]
    assert invoice["authorization_status"] == "100"
    assert invoice["number"] == 5001


def test_invoice_with_xml_of_another_total_is_422(api: ApiClient, make_order: Callable[..., Order]) -> None:
    order = bring_to(make_order(), "paid")
    response = api.post(transition_url(order.pk, "invoice"), _xml_invoice(5002, "99.00"))
    assert_error(response, 422, "nfe_xml_total_mismatch", "xml")
    order.refresh_from_db()
    assert order.status == "paid"
    assert not Invoice.objects.filter(order=order).exists()
    assert StockItem.objects.get(sku="CHINELO-42").physical == 10


def test_invoice_with_xml_of_another_recipient_is_422(
    api: ApiClient, make_order: Callable[..., Order]
) -> None:
    order = bring_to(make_order(), "paid")
    data = _xml_invoice(5003, "114.80")
    data["xml"] = build_nfe_xml(data["key"], total="114.80", recipient_cpf="11144477735")
    assert_error(
        api.post(transition_url(order.pk, "invoice"), data), 422, "nfe_xml_recipient_mismatch", "xml"
    )


def test_invoice_without_xml_on_a_channel_that_needs_it_waits_for_the_xml(
    api: ApiClient, make_order: Callable[..., Order], xml_channel: Channel
) -> None:
    order = bring_to(make_order(channel="mercadolivre"), "paid")
    data = _xml_invoice(5004, "114.80")
    xml = data.pop("xml")
    response = api.post(transition_url(order.pk, "invoice"), data)
    assert response.status_code == 200 and response.json()["invoice_xml_pending"] is True
    attached = api.post(order_url(order.pk, "invoice", "xml"), {"xml": xml})
    assert attached.status_code == 200 and attached.json()["invoice_xml_pending"] is False
