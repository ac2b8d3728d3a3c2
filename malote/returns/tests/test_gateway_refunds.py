"""Refunds a gateway reports: a return's, a partial one, or a refund of everything left."""

from __future__ import annotations

from decimal import Decimal

import pytest

from malote.core.actors import Actor
from malote.orders.models import Order, OrderEvent
from malote.returns import actions, selectors
from malote.returns.models import Return
from malote_dev.testing.orders import SYSTEM

pytestmark = pytest.mark.django_db
GATEWAY = Actor.channel("adyen")


def refund_pending(order: Order, position: int, quantity: int, amount: str) -> Return:
    payload = {"reason": "defective", "lines": [{"position": position, "quantity": quantity}]}
    ret = actions.create_return(order.pk, payload, actor=SYSTEM)
    actions.run_return_transition(ret.pk, "authorize", None, actor=SYSTEM)
    line = ret.lines.get()
    received = {"lines": [{"line": line.pk, "quantity": quantity, "condition": "restock"}]}
    actions.run_return_transition(ret.pk, "receive", received, actor=SYSTEM)
    return actions.run_return_transition(ret.pk, "request_refund", {"amount": amount}, actor=SYSTEM).ret


def report(
    order: Order, amount: str | None, reference: str = "psp-1", total: str | None = None
) -> str | None:
    return actions.record_gateway_refund(
        order.pk,
        amount=None if amount is None else Decimal(amount),
        total=None if total is None else Decimal(total),
        reference=reference,
        actor=GATEWAY,
    )


def test_the_refund_a_return_asked_for_confirms_it(delivered: Order) -> None:
    ret = refund_pending(delivered, 2, 1, "30.00")
    assert report(delivered, "30.00") == f"return_refunded:{ret.number}"
    ret.refresh_from_db()
    assert (ret.status, ret.refunded_amount, ret.refund_reference) == ("refunded", Decimal("30.00"), "psp-1")


def test_another_amount_is_not_that_returns_refund(delivered: Order) -> None:
    ret = refund_pending(delivered, 2, 1, "30.00")
    assert report(delivered, "10.00") == "partial_refund"
    assert Return.objects.get(pk=ret.pk).status == "refund_pending"


def test_a_partial_refund_without_a_return_is_noted_for_a_person(delivered: Order) -> None:
    assert report(delivered, "20.00") == "partial_refund"
    note = OrderEvent.objects.get(order=delivered, type="partial_refund")
    assert note.data["amount"] == "20.00" and note.data["left"] == "124.80"
    assert selectors.refundable_amount(delivered) == Decimal("124.80")


def test_a_refund_of_everything_left_stays_a_cancellation(delivered: Order) -> None:
    assert report(delivered, "144.80") is None
    assert report(delivered, None) is None


def test_a_total_already_known_changes_nothing(delivered: Order) -> None:
    ret = refund_pending(delivered, 1, 2, "99.80")
    assert report(delivered, None, total="99.80", reference="ch_1") == f"return_refunded:{ret.number}"
    assert report(delivered, None, total="99.80", reference="ch_1") == "refund_known"
    assert report(delivered, None, total="144.80", reference="ch_1") is None  # the rest, all of it
