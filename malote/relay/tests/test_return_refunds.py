"""Refunds and returns through the relay: a requested refund goes to the order's gateway; a
gateway's refund of a return, or of part of the payment, never cancels the order."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from malote.channels.models import Channel, ChannelRole
from malote.orders.models import Order, OrderEvent
from malote.returns import actions as return_actions
from malote.returns.models import Return
from malote.sync.models import OutboxMessage
from malote_dev.testing.orders import SYSTEM, bring_to

pytestmark = pytest.mark.django_db
PSP = "P000000000000001"
TWO_LINES: dict[str, Any] = {
    "items": [
        {"sku": "CHINELO-42", "name": "Chinelo de praia 42", "quantity": 2, "unit_price": "49.90"},
        {"sku": "TOALHA-01", "name": "Toalha de banho", "quantity": 1, "unit_price": "30.00"},
    ],
    "total": "144.80",
}


@pytest.fixture
def adyen(db: None) -> Channel:
    return Channel.objects.create(
        code="adyen",
        name="Adyen",
        role=ChannelRole.GATEWAY,
        kind="adyen",
        base_url="http://127.0.0.1:9/v71",
        credentials={"api_key": "k"},
        options={"webhook_signature": "none", "merchant_account": "Loja"},
    )


@pytest.fixture
def paid_by_adyen(make_order: Callable[..., Order], adyen: Channel) -> Callable[[str], Order]:
    def make(status: str) -> Order:
        payment = {"method": "credit_card", "gateway": "adyen", "transaction_id": PSP}
        return bring_to(make_order(payment=payment, **TWO_LINES), status)

    return make


def refund_hook(value: int, *, psp: str = "R000000000000001") -> bytes:
    item = {
        "amount": {"value": value, "currency": "BRL"},
        "eventCode": "REFUND",
        "eventDate": "2026-11-25T10:00:00-03:00",
        "merchantAccountCode": "Loja",
        "merchantReference": "",
        "originalReference": PSP,
        "pspReference": psp,
        "success": "true",
    }
    return json.dumps({"live": "false", "notificationItems": [{"NotificationRequestItem": item}]}).encode()


def post(body: bytes) -> None:
    answer = Client().post("/hooks/adyen", body, content_type="application/json")
    assert answer.status_code == 200, answer.content


def towel_refund_pending(order: Order) -> Return:
    payload = {"reason": "defective", "lines": [{"position": 2, "quantity": 1}]}
    ret = return_actions.create_return(order.pk, payload, actor=SYSTEM)
    return_actions.run_return_transition(ret.pk, "authorize", None, actor=SYSTEM)
    received = {"lines": [{"line": ret.lines.get().pk, "quantity": 1, "condition": "restock"}]}
    return_actions.run_return_transition(ret.pk, "receive", received, actor=SYSTEM)
    return return_actions.run_return_transition(
        ret.pk, "request_refund", {"amount": "30.00"}, actor=SYSTEM
    ).ret


def test_a_requested_refund_is_queued_for_the_orders_gateway(paid_by_adyen: Callable[[str], Order]) -> None:
    ret = towel_refund_pending(paid_by_adyen("delivered"))
    message = OutboxMessage.objects.get(destination="channel:adyen", kind="return.refund")
    assert message.payload == {"op": "refund", "return": ret.pk, "amount": "30.00", "reference": ret.number}
    event = ret.events.get(transition="request_refund")
    assert event.data["sent_to"] == ["adyen"]


def test_without_a_gateway_channel_nothing_is_queued(make_order: Callable[..., Order]) -> None:
    order = bring_to(make_order(**TWO_LINES), "delivered")  # paid through "pagarme": not configured
    towel_refund_pending(order)
    assert not OutboxMessage.objects.filter(kind="return.refund").exists()


def test_the_gateway_refund_of_a_return_marks_it_refunded(paid_by_adyen: Callable[[str], Order]) -> None:
    order = paid_by_adyen("delivered")
    ret = towel_refund_pending(order)
    post(refund_hook(3000))
    ret.refresh_from_db()
    order.refresh_from_db()
    assert (ret.status, ret.refund_reference) == ("refunded", "R000000000000001")
    assert order.status == "delivered"


def test_a_partial_refund_does_not_cancel_the_order(paid_by_adyen: Callable[[str], Order]) -> None:
    order = paid_by_adyen("paid")
    post(refund_hook(2000))
    order.refresh_from_db()
    assert order.status == "paid"
    assert OrderEvent.objects.get(order=order, type="partial_refund").data["amount"] == "20.00"


def test_a_refund_of_the_whole_payment_still_cancels(paid_by_adyen: Callable[[str], Order]) -> None:
    order = paid_by_adyen("paid")
    post(refund_hook(14480))
    order.refresh_from_db()
    assert order.status == "canceled"
