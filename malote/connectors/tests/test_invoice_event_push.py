"""NF-e events reach the systems that take them, end to end: recorded on the order, queued in the
outbox, delivered by the worker over real HTTP through the ``webhook`` connector (signed, once per
event, in the order recorded). Skipping the systems that lack the operation:
malote/orders/tests/test_invoice_events.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest

from malote.channels.models import Channel, ChannelRole
from malote.connectors import signing
from malote.orders.invoice_events import record_invoice_event
from malote.orders.models import Invoice, Order
from malote.sync.models import OutboxMessage
from malote.sync.worker import drain
from malote_dev.testing.nfe_events import CORRECTION, build_nfe_event_xml
from malote_dev.testing.orders import SYSTEM, bring_to
from malote_dev.testing.sync import HttpSink, Received

pytestmark = pytest.mark.django_db

SECRET = "s3cr3t-jet"


@pytest.fixture
def store() -> Iterator[HttpSink]:
    with HttpSink() as sink:
        yield sink


@pytest.fixture
def jet_order(store: HttpSink, make_order: Callable[..., Order]) -> Order:
    Channel.objects.create(
        code="jet", name="Loja JET", role=ChannelRole.STOREFRONT, kind="webhook",
        base_url=store.url + "/jet", credentials={"secret": SECRET}, options={"push_stock": False},
    )  # fmt: skip
    order = bring_to(make_order(channel="jet"), "invoiced")
    drain()
    return order


def _header(request: Received, name: str) -> str:
    return next(value for key, value in request.headers.items() if key.lower() == name.lower())


def test_a_correction_reaches_the_store_signed_and_once(store: HttpSink, jet_order: Order) -> None:
    invoice = Invoice.objects.get(order=jet_order)
    registered = (invoice.issued_at + timedelta(hours=1)).replace(microsecond=0)  # as the XML writes it
    xml = build_nfe_event_xml(invoice.key, kind="correction", registered_at=registered)
    before = len(store.requests)
    record_invoice_event(jet_order.pk, {"xml": xml}, actor=SYSTEM)
    record_invoice_event(jet_order.pk, {"xml": xml}, actor=SYSTEM)  # a repeat: nothing more to send
    drain()
    sent = store.requests[before:]
    assert [r.json()["type"] for r in sent] == ["order.invoice_event"]
    body = sent[0].json()
    assert body["external_id"] == jet_order.external_id
    assert body["event"] == {
        "key": invoice.key,
        "type": "correction",
        "code": "110110",
        "sequence": 1,
        "protocol": body["event"]["protocol"],
        "registered_at": registered.isoformat(),
        "text": CORRECTION,
    }
    assert len(body["event"]["protocol"]) == 15
    signing.verify(SECRET, _header(sent[0], signing.HEADER), sent[0].body)
    assert _header(sent[0], "Malote-Event") == "order.invoice_event"
    message = OutboxMessage.objects.get(kind="order.invoice_event")
    assert (message.destination, message.state) == ("channel:jet", "done")


def test_a_cancellation_follows_the_correction_in_order(store: HttpSink, jet_order: Order) -> None:
    invoice = Invoice.objects.get(order=jet_order)
    registered = invoice.issued_at + timedelta(hours=1)
    before = len(store.requests)
    record_invoice_event(
        jet_order.pk,
        {"xml": build_nfe_event_xml(invoice.key, kind="correction", registered_at=registered)},
        actor=SYSTEM,
    )
    record_invoice_event(
        jet_order.pk,
        {"xml": build_nfe_event_xml(invoice.key, registered_at=registered + timedelta(hours=1))},
        actor=SYSTEM,
    )
    drain()
    events = [r.json()["event"]["type"] for r in store.requests[before:]]
    assert events == ["correction", "cancellation"]
