"""NF-e events on an order (docs/lifecycle.md, "NF-e events"): a cancellation within 24 h of the
authorization, once; CC-e with rising sequences, never after the cancellation; repeats are no-ops,
another event under the same type and sequence a conflict; the systems that take events are told."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from malote.channels.models import Channel, ChannelRole, OrderLink
from malote.core.actors import Actor
from malote.core.errors import Conflict, InvalidInput, MaloteError, NotFound
from malote.orders import actions
from malote.orders.invoice_events import (
    check_cancel_declares_nfe_action,
    is_canceled,
    record_invoice_event,
)
from malote.orders.models import Invoice, InvoiceEvent, Order, OrderEvent
from malote.sync.models import OutboxMessage
from malote_dev.testing.fiscal import build_nfe_xml, make_nfe_key
from malote_dev.testing.nfe_events import CORRECTION, JUSTIFICATION, build_nfe_event_xml, event_protocol
from malote_dev.testing.orders import SYSTEM, bring_to

pytestmark = pytest.mark.django_db


@pytest.fixture
def invoiced(make_order: Callable[..., Order]) -> Order:
    return bring_to(make_order(), "invoiced")


def _invoice(order: Order) -> Invoice:
    return Invoice.objects.get(order=order)


def _fields(
    order: Order, *, kind: str = "cancellation", sequence: int = 1, **overrides: Any
) -> dict[str, Any]:
    invoice = _invoice(order)
    registered: datetime = overrides.pop("registered_at", invoice.issued_at + timedelta(hours=1))
    return {
        "key": invoice.key,
        "type": kind,
        "sequence": sequence,
        "protocol": event_protocol(invoice.key, sequence, kind),
        "registered_at": registered.isoformat(),
        "text": JUSTIFICATION if kind == "cancellation" else f"{CORRECTION} (nº {sequence})",
    } | overrides


def _refusal(order: Order, payload: dict[str, Any], actor: Actor = SYSTEM) -> MaloteError:
    with pytest.raises(MaloteError) as caught:
        record_invoice_event(order.pk, payload, actor=actor)
    return caught.value


def test_a_cancellation_is_recorded_with_its_timeline_entry(invoiced: Order) -> None:
    result = record_invoice_event(invoiced.pk, _fields(invoiced), actor=SYSTEM)
    assert result.applied
    event = InvoiceEvent.objects.get()
    assert (event.type, event.sequence, event.text, event.xml) == ("cancellation", 1, JUSTIFICATION, "")
    assert is_canceled(_invoice(invoiced))
    entry = OrderEvent.objects.filter(order=invoiced, type="invoice_event").get()
    assert (entry.data["type"], entry.data["code"], entry.data["protocol"]) == (
        "cancellation",
        "110111",
        event.protocol,
    )
    invoiced.refresh_from_db()
    assert invoiced.status == "invoiced"  # the NF-e's fate is a fact; the order's status is its own


def test_the_same_event_again_is_a_no_op_and_another_one_a_conflict(invoiced: Order) -> None:
    fields = _fields(invoiced)
    record_invoice_event(invoiced.pk, fields, actor=SYSTEM)
    again = record_invoice_event(invoiced.pk, fields, actor=SYSTEM)
    assert not again.applied
    assert InvoiceEvent.objects.count() == 1
    assert OrderEvent.objects.filter(type="invoice_event").count() == 1
    other = _refusal(invoiced, fields | {"protocol": "135250000999901"})
    assert isinstance(other, Conflict)
    assert (other.code, other.field) == ("invoice_event_conflict", "protocol")


def test_the_key_must_be_an_invoice_of_this_order(invoiced: Order, make_order: Callable[..., Order]) -> None:
    foreign = make_nfe_key(777_001)
    refused = _refusal(invoiced, _fields(invoiced, key=foreign))
    assert isinstance(refused, InvalidInput)
    assert (refused.code, refused.field) == ("invoice_event_key_not_of_order", "key")
    not_invoiced = bring_to(make_order(), "paid")
    missing = _refusal(not_invoiced, _fields(invoiced))
    assert isinstance(missing, Conflict) and missing.code == "invoice_missing"
    with pytest.raises(NotFound):
        record_invoice_event(999_999, _fields(invoiced), actor=SYSTEM)
    assert not InvoiceEvent.objects.exists()


def test_a_cancellation_counts_24_hours_from_the_issue_without_the_xml(invoiced: Order) -> None:
    issued = _invoice(invoiced).issued_at
    late = _refusal(invoiced, _fields(invoiced, registered_at=issued + timedelta(hours=24, seconds=30)))
    assert (late.code, late.field) == ("nfe_event_cancellation_window", "registered_at")
    early = _refusal(invoiced, _fields(invoiced, registered_at=issued - timedelta(seconds=1)))
    assert early.code == "nfe_event_before_authorization"
    on_time = _fields(invoiced, registered_at=issued + timedelta(hours=24))
    assert record_invoice_event(invoiced.pk, on_time, actor=SYSTEM).applied


def test_with_the_xml_stored_the_window_counts_from_the_authorization(invoiced: Order) -> None:
    invoice = _invoice(invoiced)
    # build_nfe_xml's SEFAZ answer (dhRecbto) comes one minute after the issue.
    xml = build_nfe_xml(invoice.key, total=Decimal(invoiced.total), issued_at=invoice.issued_at)
    Invoice.objects.filter(pk=invoice.pk).update(xml=xml)
    registered = invoice.issued_at + timedelta(hours=24, seconds=30)
    assert record_invoice_event(
        invoiced.pk, _fields(invoiced, registered_at=registered), actor=SYSTEM
    ).applied


def test_corrections_rise_and_the_latest_holds(invoiced: Order) -> None:
    record_invoice_event(invoiced.pk, _fields(invoiced, kind="correction", sequence=1), actor=SYSTEM)
    record_invoice_event(invoiced.pk, _fields(invoiced, kind="correction", sequence=3), actor=SYSTEM)
    stale = _refusal(invoiced, _fields(invoiced, kind="correction", sequence=2))
    assert isinstance(stale, Conflict)
    assert (stale.code, stale.field, stale.extra["last_sequence"]) == (
        "invoice_correction_sequence",
        "sequence",
        3,
    )
    rewritten = _refusal(invoiced, _fields(invoiced, kind="correction", sequence=3, text=CORRECTION + " bis"))
    assert (rewritten.code, rewritten.field) == ("invoice_event_conflict", "text")
    assert list(InvoiceEvent.objects.values_list("sequence", flat=True)) == [1, 3]


def test_a_canceled_nfe_takes_no_further_event(invoiced: Order) -> None:
    record_invoice_event(invoiced.pk, _fields(invoiced), actor=SYSTEM)
    after = _refusal(invoiced, _fields(invoiced, kind="correction", sequence=1))
    assert isinstance(after, Conflict) and after.code == "invoice_canceled"
    second = _refusal(invoiced, _fields(invoiced, protocol="135250000999901"))
    assert second.code == "invoice_event_conflict"  # one cancellation: sequence 1, once


def test_the_event_file_is_recorded_as_sent(invoiced: Order) -> None:
    invoice = _invoice(invoiced)
    xml = build_nfe_event_xml(
        invoice.key, kind="correction", registered_at=invoice.issued_at + timedelta(hours=2)
    )
    assert record_invoice_event(invoiced.pk, {"xml": xml}, actor=SYSTEM).applied
    event = InvoiceEvent.objects.get()
    assert (event.type, event.text, event.xml) == ("correction", CORRECTION, xml.strip())
    # The same event given as fields afterwards is the same event.
    fields = _fields(invoiced, kind="correction", sequence=1, text=CORRECTION)
    fields["registered_at"] = event.registered_at.isoformat()
    assert not record_invoice_event(invoiced.pk, fields, actor=SYSTEM).applied


def test_xml_and_fields_together_or_half_the_fields_are_refused(invoiced: Order) -> None:
    xml = build_nfe_event_xml(_invoice(invoiced).key)
    both = _refusal(invoiced, {"xml": xml, "key": _invoice(invoiced).key})
    assert (both.code, both.field) == ("invoice_event_xml_and_fields", "key")
    half = _fields(invoiced)
    del half["protocol"]
    missing = _refusal(invoiced, half)
    assert (missing.code, missing.field) == ("missing", "protocol")
    unknown = _refusal(invoiced, _fields(invoiced) | {"nfe": "x"})
    assert unknown.code == "extra_forbidden"
    short = _refusal(invoiced, _fields(invoiced, text="Desistiu"))
    assert (short.code, short.field) == ("nfe_event_justification_length", "text")
    unregistered = _refusal(invoiced, {"xml": build_nfe_event_xml(_invoice(invoiced).key, c_stat="573")})
    assert (unregistered.code, unregistered.field) == ("nfe_event_not_registered", "xml")
    assert not InvoiceEvent.objects.exists()


def test_a_cancellation_naming_another_authorization_is_refused(invoiced: Order) -> None:
    invoice = _invoice(invoiced)
    Invoice.objects.filter(pk=invoice.pk).update(authorization_protocol="135250000000042")
    registered = invoice.issued_at + timedelta(hours=1)
    xml = build_nfe_event_xml(invoice.key, registered_at=registered, authorization_protocol="135250000000043")
    refused = _refusal(invoiced, {"xml": xml})
    assert refused.code == "invoice_event_protocol_mismatch"
    matching = build_nfe_event_xml(
        invoice.key, registered_at=registered, authorization_protocol="135250000000042"
    )
    assert record_invoice_event(invoiced.pk, {"xml": matching}, actor=SYSTEM).applied


def test_the_systems_that_take_nfe_events_are_told_and_the_others_skipped(
    make_order: Callable[..., Order],
) -> None:
    Channel.objects.create(
        code="jet", name="Loja JET", role=ChannelRole.STOREFRONT, kind="webhook",
        base_url="http://127.0.0.1:9/unused", credentials={"secret": "s"}, options={"push_stock": False},
    )  # fmt: skip
    erp = Channel.objects.create(
        code="tiny", name="Tiny", role=ChannelRole.ERP, kind="tiny", base_url="http://127.0.0.1:9/tiny"
    )
    order = bring_to(make_order(channel="jet"), "invoiced")
    assert OrderLink.objects.filter(order=order, channel=erp).exists()
    before = set(OutboxMessage.objects.values_list("pk", flat=True))
    record_invoice_event(order.pk, _fields(order), actor=SYSTEM)
    queued = OutboxMessage.objects.exclude(pk__in=before)
    assert [(m.destination, m.kind) for m in queued] == [("channel:jet", "order.invoice_event")]
    assert queued.get().payload["event"]["type"] == "cancellation"
    entry = OrderEvent.objects.get(order=order, type="invoice_event")
    assert entry.data["sent_to"] == ["jet"]  # Tiny has no such operation: skipped


def test_the_system_that_reported_the_event_is_not_told_again(make_order: Callable[..., Order]) -> None:
    Channel.objects.create(
        code="jet", name="Loja JET", role=ChannelRole.STOREFRONT, kind="webhook",
        base_url="http://127.0.0.1:9/unused", credentials={"secret": "s"}, options={"push_stock": False},
    )  # fmt: skip
    order = bring_to(make_order(channel="jet"), "invoiced")
    before = OutboxMessage.objects.count()
    record_invoice_event(order.pk, _fields(order), actor=Actor.channel("jet"))
    assert OutboxMessage.objects.count() == before


def test_a_person_cancelling_an_invoiced_order_says_what_happens_to_the_nfe(
    invoiced: Order, make_order: Callable[..., Order]
) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_cancel_declares_nfe_action(invoiced.pk, {"reason": "customer_gave_up"})
    assert (caught.value.code, caught.value.field) == ("nfe_action_required", "nfe_action")
    check_cancel_declares_nfe_action(invoiced.pk, {"reason": "customer_gave_up", "nfe_action": "return_nfe"})
    check_cancel_declares_nfe_action(bring_to(make_order(), "paid").pk, {"reason": "customer_gave_up"})
    record_invoice_event(invoiced.pk, _fields(invoiced), actor=SYSTEM)
    check_cancel_declares_nfe_action(invoiced.pk, {"reason": "customer_gave_up"})  # canceled at SEFAZ already


def test_a_canceled_order_records_its_nfe_cancellation_afterwards(invoiced: Order) -> None:
    actions.run_transition(
        invoiced.pk, "cancel", {"reason": "customer_gave_up", "nfe_action": "cancel_nfe"}, actor=SYSTEM
    )
    assert record_invoice_event(invoiced.pk, _fields(invoiced), actor=SYSTEM).applied
    assert timezone.is_aware(InvoiceEvent.objects.get().registered_at)
