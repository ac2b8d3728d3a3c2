"""Reopen restores what the payment allows: a canceled order whose payment is gone (refused,
canceled, voided, refunded) comes back awaiting payment, never paid; one whose payment still
stands returns to the status it had."""

from __future__ import annotations

from typing import Any

import pytest

from malote.channels.models import Channel, ChannelRole
from malote.connectors.base import InboundChange
from malote.core.errors import Conflict
from malote.orders import actions
from malote.orders.effects import payment_is_gone
from malote.orders.models import Order, OrderEvent
from malote.orders.schemas import OrderIn
from malote.orders.serializers import transitions_for
from malote.relay import intake
from malote.relay.tests.stubs import recording_channel
from malote.stock.actions import set_physical
from malote.stock.models import StockItem
from malote.sync.models import OutboxMessage
from malote_dev.testing.orders import SYSTEM, order_data, valid_input

pytestmark = pytest.mark.django_db

REOPEN = {"reason": "cliente voltou atrás"}


@pytest.fixture
def store(db: None) -> Channel:
    return recording_channel("loja", role=ChannelRole.STOREFRONT)


@pytest.fixture
def gateway(db: None) -> Channel:
    return recording_channel("pagarme", role=ChannelRole.GATEWAY)


def _paid_order(store: Channel, **payment: Any) -> Order:
    set_physical("CHINELO-42", 10, actor=SYSTEM)
    data = order_data(channel=store.code, external_id="J-1001")
    data["payment"] = {**data["payment"], **payment}
    order, _ = actions.create_order(OrderIn.model_validate(data), actor=SYSTEM)
    actions.run_transition(order.pk, "approve_payment", {}, actor=SYSTEM)
    return order


def _status_pushes(order: Order, channel: Channel, *, after: int = 0) -> list[str]:
    return [
        m.payload.get("status", "")
        for m in OutboxMessage.objects.filter(
            order=order, destination=f"channel:{channel.code}", kind="order.status", id__gt=after
        ).order_by("id")
    ]


def _last_message_id() -> int:
    return OutboxMessage.objects.order_by("-id").values_list("id", flat=True).first() or 0


def test_a_captured_card_no_gateway_gave_back_returns_to_paid(store: Channel) -> None:
    order = _paid_order(store, method="credit_card", gateway="maquininha", transaction_id="cv-77")
    actions.run_transition(order.pk, "cancel", {"reason": "customer_gave_up"}, actor=SYSTEM)
    before = _last_message_id()
    assert not payment_is_gone(Order.objects.get(pk=order.pk))
    offered = {t["name"]: t["target"] for t in transitions_for(Order.objects.get(pk=order.pk), None)}
    assert offered["reopen"] == "paid"
    actions.run_transition(order.pk, "reopen", REOPEN, actor=SYSTEM)
    order.refresh_from_db()
    assert (order.status, order.status_path) == ("paid", ["pending_payment", "paid"])
    assert list(order.payments.values_list("status", flat=True)) == ["approved"]
    assert order.stock_state == "reserved"
    assert _status_pushes(order, store, after=before) == ["paid"]
    actions.run_transition(order.pk, "invoice", valid_input(order, "invoice"), actor=SYSTEM)
    order.refresh_from_db()
    assert order.status == "invoiced"


def test_a_refunded_pix_returns_awaiting_payment_and_is_never_told_paid(
    store: Channel, gateway: Channel
) -> None:
    order = _paid_order(store, method="pix", gateway="pagarme", transaction_id="ch_pix1")
    actions.run_transition(order.pk, "invoice", valid_input(order, "invoice"), actor=SYSTEM)
    actions.run_transition(order.pk, "cancel", {"reason": "customer_gave_up"}, actor=SYSTEM)
    # The cancellation asked the gateway for the money back (a refund, once paid).
    assert OutboxMessage.objects.filter(
        order=order, destination="channel:pagarme", kind="order.cancellation"
    ).exists()
    before = _last_message_id()
    order.refresh_from_db()
    offered = {t["name"]: t["target"] for t in transitions_for(order, None)}
    assert offered["reopen"] == "pending_payment", "the operator is shown where reopen leads"
    actions.run_transition(order.pk, "reopen", REOPEN, actor=SYSTEM)
    order.refresh_from_db()
    assert (order.status, order.status_path) == ("pending_payment", ["pending_payment"])
    assert list(order.payments.values_list("status", flat=True)) == ["canceled"]
    assert "paid" not in _status_pushes(order, store, after=before)
    event = OrderEvent.objects.filter(order=order, transition="reopen").get()
    assert (event.to_status, event.data["payment"]) == ("pending_payment", "gone")
    # Awaiting payment: the stock is held again, but the order cannot move on to shipping.
    assert order.stock_state == "reserved"
    assert StockItem.objects.get(sku="CHINELO-42").reserved == 2
    for name in ("invoice", "ship"):
        with pytest.raises(Conflict) as exc:
            actions.run_transition(order.pk, name, valid_input(order, name), actor=SYSTEM)
        assert exc.value.code == "transition_not_allowed"
    # A new payment brings it back to paid through the lifecycle, and only then is "paid" pushed.
    actions.run_transition(order.pk, "approve_payment", {"transaction_id": "ch_pix2"}, actor=SYSTEM)
    order.refresh_from_db()
    assert order.status == "paid"
    assert list(order.payments.values_list("status", "transaction_id")) == [("approved", "ch_pix2")]
    assert _status_pushes(order, store, after=before)[-1] == "paid"


def test_a_refund_reported_by_the_gateway_keeps_the_order_unpaid_on_reopen(
    store: Channel, gateway: Channel
) -> None:
    order = _paid_order(store, method="pix", gateway="pagarme", transaction_id="ch_pix9")
    refunded = InboundChange(
        event_id="hook-refund-1",
        external_id="ch_pix9",
        remote_status="refunded",
        status="canceled",
        transaction_id="ch_pix9",
        facts={"cancel_reason": "payment_refused"},
    )
    assert intake.take_in(gateway, refunded, headers={}, body="").result == "applied"
    order.refresh_from_db()
    assert order.status == "canceled"
    before = _last_message_id()
    actions.run_transition(order.pk, "reopen", REOPEN, actor=SYSTEM)
    order.refresh_from_db()
    assert order.status == "pending_payment"
    assert not order.payments.filter(status="approved").exists()
    assert "paid" not in _status_pushes(order, store, after=before)


def test_an_unpaid_order_canceled_comes_back_awaiting_payment(store: Channel) -> None:
    set_physical("CHINELO-42", 10, actor=SYSTEM)
    order, _ = actions.create_order(
        OrderIn.model_validate(order_data(channel=store.code, external_id="J-2")), actor=SYSTEM
    )
    actions.run_transition(order.pk, "mark_overdue", {}, actor=SYSTEM)
    actions.run_transition(order.pk, "cancel", {"reason": "payment_expired"}, actor=SYSTEM)
    actions.run_transition(order.pk, "reopen", REOPEN, actor=SYSTEM)
    order.refresh_from_db()
    assert order.status == "pending_payment"
    assert list(order.payments.values_list("status", flat=True)) == ["canceled"]
