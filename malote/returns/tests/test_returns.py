"""Returns: the table, the rules (each allowed and forbidden), stock and the audit record."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from malote.core.errors import Conflict, InvalidInput, NotFound
from malote.orders.models import Order
from malote.returns import actions, selectors
from malote.returns.changes import ReturnChange, register_listener
from malote.returns.models import Return, ReturnEvent
from malote.stock.models import StockItem, StockMovement
from malote_dev.testing.orders import SYSTEM

pytestmark = pytest.mark.django_db


def open_return(order: Order, *lines: tuple[int, int], **fields: Any) -> Return:
    payload = {"reason": "defective", "lines": [{"position": p, "quantity": q} for p, q in lines], **fields}
    return actions.create_return(order.pk, payload, actor=SYSTEM)


def run(ret: Return, name: str, payload: dict[str, Any] | None = None) -> Return:
    return actions.run_return_transition(ret.pk, name, payload, actor=SYSTEM).ret


def receive_all(ret: Return, condition: str = "restock") -> Return:
    lines = [{"line": line.pk, "quantity": line.quantity, "condition": condition} for line in ret.lines.all()]
    return run(ret, "receive", {"lines": lines})


def physical(sku: str) -> int:
    return StockItem.objects.get(sku=sku).physical


@pytest.mark.parametrize("status", ["shipped", "in_transit", "delivery_failed", "delivered"])
def test_an_order_that_shipped_can_be_returned(order_in: Callable[[str], Order], status: str) -> None:
    ret = open_return(order_in(status), (1, 1))
    assert ret.status == "requested"
    assert ret.number.endswith("-D1")


@pytest.mark.parametrize("status", ["paid", "invoiced", "ready_to_ship", "canceled"])
def test_before_shipping_it_is_a_cancellation(order_in: Callable[[str], Order], status: str) -> None:
    order = order_in(status)
    with pytest.raises(Conflict) as refused:
        open_return(order, (1, 1))
    assert refused.value.code == "order_not_shipped"
    assert "cancel the order" in refused.value.detail
    assert not Return.objects.filter(order=order).exists()


def test_quantity_up_to_what_other_returns_leave(delivered: Order) -> None:
    first = open_return(delivered, (1, 1))
    second = open_return(delivered, (1, 1))
    assert second.number.endswith("-D2")
    with pytest.raises(InvalidInput) as refused:
        open_return(delivered, (1, 1))
    assert refused.value.code == "return_quantity_exceeds_ordered"
    assert refused.value.field == "lines.0.quantity"
    run(first, "refuse", {"note": "fora do prazo"})
    run(second, "cancel", {})
    # Refused and canceled returns hold nothing: both units may be returned again.
    assert open_return(delivered, (1, 2)).lines.get().quantity == 2


def test_every_broken_line_rule_is_reported_at_once(delivered: Order) -> None:
    with pytest.raises(InvalidInput) as refused:
        open_return(delivered, (1, 3), (9, 1), (2, 1), (2, 1))
    codes = [(e["code"], e["field"]) for e in refused.value.extra["errors"]]
    assert codes == [
        ("return_quantity_exceeds_ordered", "lines.0.quantity"),
        ("return_line_unknown", "lines.1.position"),
        ("return_line_repeated", "lines.3.position"),
    ]
    assert not Return.objects.exists()


def test_a_customer_request_names_its_channel(delivered: Order) -> None:
    ret = open_return(delivered, (2, 1), requested_by="customer")
    assert ret.channel_code == "site"
    with pytest.raises(InvalidInput) as refused:
        open_return(delivered, (1, 1), requested_by="customer", channel="nenhum")
    assert refused.value.code == "return_channel_unknown"


def test_the_table_refuses_what_it_does_not_list(delivered: Order) -> None:
    ret = open_return(delivered, (1, 1))
    with pytest.raises(Conflict) as refused:
        run(ret, "receive", {"lines": [{"line": ret.lines.get().pk, "quantity": 1, "condition": "restock"}]})
    assert refused.value.code == "return_transition_not_allowed"
    assert refused.value.extra["status"] == "requested"
    with pytest.raises(NotFound):
        run(ret, "teleport")
    ret = run(ret, "authorize")
    assert actions.run_return_transition(ret.pk, "authorize", None, actor=SYSTEM).applied is False
    ret = receive_all(ret)
    with pytest.raises(Conflict):
        run(ret, "cancel", {})  # received: too late to cancel


def test_receipt_restocks_only_what_came_back_in_condition(delivered: Order) -> None:
    ret = run(open_return(delivered, (1, 2), (2, 1)), "authorize")
    shoes, towel = ret.lines.order_by("id")
    before = physical("CHINELO-42"), physical("TOALHA-01")
    run(
        ret,
        "receive",
        {
            "lines": [
                {"line": shoes.pk, "quantity": 1, "condition": "restock"},
                {"line": towel.pk, "quantity": 1, "condition": "damaged"},
            ]
        },
    )
    assert (physical("CHINELO-42"), physical("TOALHA-01")) == (before[0] + 1, before[1])
    movement = StockMovement.objects.filter(reason="return_restock").get()
    assert (movement.sku, movement.physical_delta, movement.note) == ("CHINELO-42", 1, ret.number)
    shoes.refresh_from_db()
    assert (shoes.received_quantity, shoes.condition) == (1, "restock")


def test_received_quantities_stay_within_what_was_asked(delivered: Order) -> None:
    ret = run(open_return(delivered, (1, 1)), "authorize")
    line = ret.lines.get()
    stock = physical("CHINELO-42")
    with pytest.raises(InvalidInput) as refused:
        run(ret, "receive", {"lines": [{"line": line.pk, "quantity": 2, "condition": "restock"}]})
    assert refused.value.code == "received_exceeds_requested"
    with pytest.raises(InvalidInput) as refused:
        run(ret, "receive", {"lines": [{"line": line.pk, "quantity": 1}]})
    assert refused.value.code == "received_condition_missing"
    assert physical("CHINELO-42") == stock
    assert Return.objects.get(pk=ret.pk).status == "authorized"


def test_refund_up_to_what_was_paid_minus_refunds(delivered: Order) -> None:
    whole = receive_all(run(open_return(delivered, (1, 2)), "authorize"))
    assert selectors.suggested_refund(whole) == Decimal("99.80")
    with pytest.raises(InvalidInput) as refused:
        run(whole, "request_refund", {"amount": "144.81"})
    assert refused.value.code == "refund_exceeds_paid"
    assert refused.value.extra["refundable"] == "144.80"
    run(whole, "request_refund", {"amount": "129.80"})
    towel = receive_all(run(open_return(delivered, (2, 1)), "authorize"))
    with pytest.raises(InvalidInput) as refused:
        run(towel, "request_refund", {"amount": "15.01"})
    assert refused.value.code == "refund_exceeds_paid"
    assert run(towel, "request_refund", {"amount": "15.00"}).status == "refund_pending"
    with pytest.raises(InvalidInput) as refused:
        run(towel, "confirm_refund", {"amount": "14.00"})
    assert refused.value.code == "refund_amount_mismatch"
    done = run(towel, "confirm_refund", {"reference": "manual-pix"})
    assert (done.status, done.refunded_amount) == ("refunded", Decimal("15.00"))
    assert run(done, "close").status == "closed"


def test_every_change_is_recorded_and_published(delivered: Order) -> None:
    seen: list[ReturnChange] = []
    register_listener(seen.append)
    ret = run(open_return(delivered, (1, 1)), "authorize")
    assert [(c.transition, c.to_status) for c in seen[-2:]] == [
        ("created", "requested"),
        ("authorize", "authorized"),
    ]
    events = list(ReturnEvent.objects.filter(ret=ret).values_list("type", "transition", "actor_label"))
    assert events == [("created", "", "test"), ("transition", "authorize", "test")]


def test_nothing_is_written_when_a_rule_fails(delivered: Order) -> None:
    ret = run(open_return(delivered, (1, 1)), "authorize")
    with pytest.raises(InvalidInput):
        run(ret, "receive", {"lines": [{"line": ret.lines.get().pk, "quantity": 5, "condition": "restock"}]})
    assert ReturnEvent.objects.filter(ret=ret).count() == 2
