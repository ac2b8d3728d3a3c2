"""Channel rules as data: who hears which change, never the reporter, invoice waits for shipment,
delivery from the channel, ERP import policy, coalesced stock pushes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.utils import timezone

from malote.channels.models import Channel, ChannelRole, ImportPolicy
from malote.conftest import SYSTEM
from malote.core.actors import Actor
from malote.orders import actions
from malote.orders.models import Order
from malote.stock.actions import set_physical
from malote.sync.models import OutboxMessage
from malote.sync.worker import drain
from malote_dev.testing.orders import bring_to, valid_input
from malote_dev.testing.sync import HttpSink

pytestmark = pytest.mark.django_db


@pytest.fixture
def sink() -> Iterator[HttpSink]:
    with HttpSink() as receiver:
        yield receiver


@pytest.fixture
def store(channel: Channel, sink: HttpSink) -> Channel:
    """The ``site`` channel of ``make_order``, driven by the webhook connector into the sink."""
    Channel.objects.filter(pk=channel.pk).update(
        kind="webhook", base_url=sink.url + "/store", credentials={"secret": "s"}
    )
    channel.refresh_from_db()
    return channel


def _erp(sink: HttpSink, **fields: Any) -> Channel:
    erp = Channel.objects.create(
        code="erp", name="ERP", role=ChannelRole.ERP, kind="webhook", base_url=sink.url + "/erp",
        credentials={"secret": "e"}, **fields,
    )  # fmt: skip
    return erp


def _ops(destination: str) -> list[str]:
    """The order messages to ``destination`` (stock pushes, on by default, are keyed by SKU)."""
    return [
        str(p["op"])
        for p in OutboxMessage.objects.filter(destination=destination, kind__startswith="order.")
        .order_by("id")
        .values_list("payload", flat=True)
    ]


def test_store_hears_status_facts_and_cancel_in_order(
    store: Channel, make_order: Callable[..., Order]
) -> None:
    order = bring_to(make_order(), "delivered")
    assert _ops("channel:site") == ["status", "invoice", "shipment", "delivery"]
    reopened = bring_to(make_order(), "paid")
    actions.run_transition(reopened.pk, "cancel", valid_input(reopened, "cancel"), actor=SYSTEM)
    assert _ops("channel:site")[-2:] == ["status", "cancellation"]
    assert order.links.get(channel=store).external_id == order.external_id


def test_a_change_is_never_sent_back_to_the_channel_that_reported_it(
    store: Channel, make_order: Callable[..., Order]
) -> None:
    order = make_order()
    actions.run_transition(order.pk, "approve_payment", {}, actor=Actor.channel("site"))
    actions.run_transition(order.pk, "cancel", {"reason": "channel"}, actor=Actor.channel("site"))
    assert _ops("channel:site") == []


def test_invoice_waits_for_shipment_and_delivery_from_channel(
    store: Channel, make_order: Callable[..., Order]
) -> None:
    Channel.objects.filter(pk=store.pk).update(invoice_waits_for_shipment=True, delivery_from_channel=True)
    order = bring_to(make_order(), "invoiced")
    assert _ops("channel:site") == ["status"], "the key waits for the shipment"
    actions.run_transition(order.pk, "ship", valid_input(order, "ship"), actor=SYSTEM)
    actions.run_transition(order.pk, "deliver", valid_input(order, "deliver"), actor=SYSTEM)
    assert _ops("channel:site") == ["status", "shipment", "invoice"], "no delivery push to this channel"


@pytest.mark.parametrize(
    ("policy", "created_in_erp_at"), [(ImportPolicy.ALL, "created"), (ImportPolicy.PAID_ONLY, "paid")]
)
def test_erp_gets_the_order_by_its_import_policy(
    sink: HttpSink, make_order: Callable[..., Order], policy: str, created_in_erp_at: str
) -> None:
    _erp(sink, import_policy=policy)
    order = make_order()
    after_creation = _ops("channel:erp")
    actions.run_transition(order.pk, "approve_payment", {}, actor=SYSTEM)
    if created_in_erp_at == "created":
        assert after_creation == ["order"]
        assert _ops("channel:erp") == ["order", "status"]
    else:
        assert after_creation == []
        assert _ops("channel:erp") == ["order"]
    drain(prefix="channel:")
    assert next(r.json()["type"] for r in sink.requests) == "order.created"


def test_a_canceled_unpaid_order_never_reaches_a_paid_only_erp(
    sink: HttpSink, make_order: Callable[..., Order]
) -> None:
    _erp(sink, import_policy=ImportPolicy.PAID_ONLY)
    order = make_order()
    actions.run_transition(order.pk, "cancel", {"reason": "payment_expired"}, actor=SYSTEM)
    assert _ops("channel:erp") == []


def test_stock_pushes_are_coalesced_per_sku(store: Channel, sink: HttpSink, db: None) -> None:
    Channel.objects.filter(pk=store.pk).update(options={"push_stock": True})
    # 1,000 here (inside one test transaction); test_jumpseller proves 10,000 with real commits.
    for n in range(1_000):
        set_physical("CHINELO-42", n % 50, actor=SYSTEM)
    assert OutboxMessage.objects.filter(key="sku:CHINELO-42").count() == 1
    drain(prefix="channel:")
    [push] = [r.json() for r in sink.requests]
    assert (push["type"], push["sku"], push["available"]) == ("stock.available", "CHINELO-42", 999 % 50)


def test_a_message_queued_before_the_channel_was_disabled_waits_without_spending_attempts(
    store: Channel, make_order: Callable[..., Order], sink: HttpSink
) -> None:
    bring_to(make_order(), "paid")
    Channel.objects.filter(pk=store.pk).update(enabled=False)
    for _ in range(20):  # more than the retry budget (15 attempts)
        OutboxMessage.objects.filter(destination="channel:site").update(next_attempt_at=timezone.now())
        drain(prefix="channel:")
    waiting = OutboxMessage.objects.filter(destination="channel:site", kind__startswith="order.")
    assert {(m.state, m.attempts) for m in waiting} == {("pending", 0)}
    assert "disabled" in waiting.first().last_error  # type: ignore[union-attr]
    assert sink.requests == []

    Channel.objects.filter(pk=store.pk).update(enabled=True)
    OutboxMessage.objects.filter(destination="channel:site").update(next_attempt_at=timezone.now())
    drain(prefix="channel:")
    assert set(waiting.values_list("state", flat=True)) == {"done"}
    assert sink.requests


def test_disabled_channels_hear_nothing(store: Channel, make_order: Callable[..., Order]) -> None:
    Channel.objects.filter(pk=store.pk).update(enabled=False)
    bring_to(make_order(), "paid")
    assert _ops("channel:site") == []
