"""``POST /api/v1/orders/{id}/invoice/events``: an NF-e cancellation or CC-e as JSON fields or as the
event's XML, listed on the order's invoices; refusals carry codes; cancelling an invoiced order
through the API says what happens to the NF-e."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from malote.api.tests.helpers import assert_error, order_url, transition_url
from malote.conftest import ApiClient
from malote.orders.models import Invoice, InvoiceEvent, Order
from malote_dev.testing.nfe_events import CORRECTION, JUSTIFICATION, build_nfe_event_xml, event_protocol
from malote_dev.testing.orders import bring_to

pytestmark = pytest.mark.django_db


@pytest.fixture
def invoiced(make_order: Callable[..., Order]) -> Order:
    return bring_to(make_order(), "invoiced")


def _url(order: Order) -> str:
    return order_url(order.pk, "invoice", "events")


def _cancellation(order: Order, **overrides: Any) -> dict[str, Any]:
    invoice = Invoice.objects.get(order=order)
    return {
        "key": invoice.key,
        "type": "cancellation",
        "sequence": 1,
        "protocol": event_protocol(invoice.key),
        "registered_at": (invoice.issued_at + timedelta(hours=2)).isoformat(),
        "text": JUSTIFICATION,
    } | overrides


def test_a_cancellation_as_fields_is_listed_on_the_invoice(api: ApiClient, invoiced: Order) -> None:
    answer = api.post(_url(invoiced), _cancellation(invoiced))
    assert answer.status_code == 200, answer.content
    invoice = answer.json()["invoice"]
    assert invoice["canceled"] is True
    [event] = invoice["events"]
    assert (event["type"], event["code"], event["sequence"], event["text"], event["has_xml"]) == (
        "cancellation",
        "110111",
        1,
        JUSTIFICATION,
        False,
    )
    again = api.post(_url(invoiced), _cancellation(invoiced))
    assert again.status_code == 200 and len(again.json()["invoice"]["events"]) == 1
    other = api.post(_url(invoiced), _cancellation(invoiced, text="Emitida com o valor errado"))
    assert_error(other, 409, "invoice_event_conflict", "text")


def test_a_correction_as_raw_xml_and_as_json_xml(api: ApiClient, invoiced: Order) -> None:
    invoice = Invoice.objects.get(order=invoiced)
    when = invoice.issued_at + timedelta(hours=3)
    first = build_nfe_event_xml(invoice.key, kind="correction", registered_at=when)
    raw = api.client.post(_url(invoiced), data=first, content_type="application/xml", headers=api.headers)
    assert raw.status_code == 200, raw.content
    second = build_nfe_event_xml(
        invoice.key, kind="correction", sequence=2, registered_at=when + timedelta(hours=1)
    )
    answer = api.post(_url(invoiced), {"xml": second})
    events = answer.json()["invoice"]["events"]
    assert [(e["sequence"], e["text"], e["has_xml"]) for e in events] == [
        (1, CORRECTION, True),
        (2, CORRECTION, True),
    ]
    assert answer.json()["invoice"]["canceled"] is False
    stale = build_nfe_event_xml(invoice.key, kind="correction", sequence=2, text=CORRECTION + " outra")
    assert_error(api.post(_url(invoiced), {"xml": stale}), 409, "invoice_event_conflict", "xml")


@pytest.mark.parametrize(
    ("overrides", "status", "code", "field"),
    [
        (
            {"registered_at": "2020-01-01T10:00:00-03:00"},
            422,
            "nfe_event_before_authorization",
            "registered_at",
        ),
        ({"text": "Desistiu do pedido"[:10] + "     "}, 422, "nfe_event_justification_length", "text"),
        ({"sequence": 2}, 422, "nfe_event_sequence", "sequence"),
        (
            {"key": "35250311222333000181550010000012341123456783"},
            422,
            "invoice_event_key_not_of_order",
            "key",
        ),
        ({"protocol": "12345"}, 422, "nfe_event_protocol", "protocol"),
        ({"type": "return"}, 422, "literal_error", "type"),
        ({"xml": "<x/>"}, 422, "invoice_event_xml_and_fields", "key"),
    ],
)
def test_refusals_carry_their_codes(
    api: ApiClient, invoiced: Order, overrides: dict[str, Any], status: int, code: str, field: str
) -> None:
    assert_error(api.post(_url(invoiced), _cancellation(invoiced, **overrides)), status, code, field)
    assert not InvoiceEvent.objects.exists()


def test_bad_bodies_are_4xx_never_500(
    api: ApiClient, invoiced: Order, make_order: Callable[..., Order]
) -> None:
    assert_error(api.post(_url(invoiced), {}), 422, "missing", "key")
    assert_error(api.post(_url(invoiced), "[1]"), 422, "body_not_object")
    hostile = '<?xml version="1.0"?><!DOCTYPE a [<!ENTITY b SYSTEM "file:///etc/passwd">]><a>&b;</a>'
    sent = api.client.post(_url(invoiced), data=hostile, content_type="application/xml", headers=api.headers)
    assert_error(sent, 422, "nfe_xml_doctype", "xml")
    paid = bring_to(make_order(), "paid")
    assert_error(api.post(_url(paid), _cancellation(invoiced)), 409, "invoice_missing")
    assert_error(
        api.post(order_url(999_999, "invoice", "events"), _cancellation(invoiced)), 404, "order_not_found"
    )


def test_only_who_changes_order_status_records_events(
    api_as: Callable[[str], ApiClient], invoiced: Order
) -> None:
    assert_error(api_as("viewer").post(_url(invoiced), _cancellation(invoiced)), 403, "permission_denied")
    assert not InvoiceEvent.objects.exists()


def test_cancelling_an_invoiced_order_through_the_api_is_never_silent(
    api: ApiClient, invoiced: Order
) -> None:
    silent = api.post(transition_url(invoiced.pk, "cancel"), {"reason": "customer_gave_up"})
    assert_error(silent, 422, "nfe_action_required", "nfe_action")
    invoiced.refresh_from_db()
    assert invoiced.status == "invoiced"
    said = api.post(
        transition_url(invoiced.pk, "cancel"), {"reason": "customer_gave_up", "nfe_action": "return_nfe"}
    )
    assert said.status_code == 200 and said.json()["status"] == "canceled"
    repeat = api.post(transition_url(invoiced.pk, "cancel"), {"reason": "customer_gave_up"})
    assert repeat.status_code == 200  # the same cancellation again: a no-op, not a new question


def test_an_order_without_invoice_is_canceled_without_nfe_action(
    api: ApiClient, make_order: Callable[..., Order]
) -> None:
    paid = bring_to(make_order(), "paid")
    assert api.post(transition_url(paid.pk, "cancel"), {"reason": "customer_gave_up"}).status_code == 200
