"""The lifecycle table: every transition from every status, allowed and forbidden."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from malote.conftest import SYSTEM
from malote.core.errors import Conflict, InvalidInput, NotFound
from malote.orders import actions
from malote.orders.effects import EFFECTS
from malote.orders.lifecycle import TRANSITIONS
from malote.orders.models import Order, OrderEvent
from malote.orders.statuses import TERMINAL, OrderStatus
from malote_dev.testing.orders import PATHS, bring_to, valid_input

pytestmark = pytest.mark.django_db

CASES = [(name, status) for name in TRANSITIONS for status in OrderStatus]


def test_every_transition_has_an_effect_and_every_status_a_path() -> None:
    assert set(EFFECTS) == set(TRANSITIONS)
    assert set(PATHS) == {s.value for s in OrderStatus}


def test_table_matches_design() -> None:
    t = TRANSITIONS
    assert t["approve_payment"].sources == {"pending_payment", "payment_review", "payment_overdue"}
    assert t["invoice"].sources == {"paid", "preparing"}
    assert t["ship"].sources == {"invoiced", "ready_to_ship"}
    assert t["deliver"].sources == {"shipped", "in_transit", "delivery_failed"}
    assert t["cancel"].sources == {s.value for s in OrderStatus} - {"delivered", "canceled"}
    assert (
        t["reopen"].sources == {"delivered", "canceled"} and t["reopen"].permission == "orders.reopen_order"
    )
    assert all(tr.permission == "orders.change_order_status" for n, tr in t.items() if n != "reopen")


@pytest.mark.parametrize(("name", "status"), CASES, ids=[f"{n}-from-{s}" for n, s in CASES])
def test_transition_from_status(make_order: Callable[..., Order], name: str, status: str) -> None:
    order = bring_to(make_order(), status)
    transition = TRANSITIONS[name]
    events_before = OrderEvent.objects.filter(order=order).count()
    payload = valid_input(order, name)
    if transition.target is not None and transition.target in order.status_path:
        earlier = OrderEvent.objects.filter(order=order, transition=name).first()
        payload = earlier.data["input"] if earlier else payload
        result = actions.run_transition(order.pk, name, payload, actor=SYSTEM)
        assert not result.applied, "a status already entered is never entered again"
        assert OrderEvent.objects.filter(order=order).count() == events_before
    elif status in transition.sources:
        path_before = list(order.status_path)
        result = actions.run_transition(order.pk, name, payload, actor=SYSTEM)
        order.refresh_from_db()
        assert result.applied
        assert order.status == (transition.target or path_before[-2])
        event = OrderEvent.objects.filter(order=order).latest("id")
        assert (event.transition, event.from_status, event.to_status) == (name, status, order.status)
        assert event.actor_label == "test"
    else:
        with pytest.raises(Conflict) as exc:
            actions.run_transition(order.pk, name, payload, actor=SYSTEM)
        assert exc.value.code == "transition_not_allowed"
        assert exc.value.extra["status"] == status
        order.refresh_from_db()
        assert order.status == status
        assert OrderEvent.objects.filter(order=order).count() == events_before


def test_terminal_statuses_allow_only_reopen(make_order: Callable[..., Order]) -> None:
    for status in TERMINAL:
        order = bring_to(make_order(), status)
        allowed = [n for n, t in TRANSITIONS.items() if t.blocking_reason(order) is None]
        assert allowed == ["reopen"]


def test_repeat_with_same_data_is_a_noop(make_order: Callable[..., Order]) -> None:
    order = bring_to(make_order(), "invoiced")
    payload = valid_input(order, "ship")
    first = actions.run_transition(order.pk, "ship", payload, actor=SYSTEM)
    second = actions.run_transition(order.pk, "ship", payload, actor=SYSTEM)
    assert first.applied and not second.applied
    assert OrderEvent.objects.filter(order=order, transition="ship").count() == 1
    assert order.shipments.count() == 1


def test_repeat_later_with_same_data_is_still_a_noop(make_order: Callable[..., Order]) -> None:
    order = bring_to(make_order(), "shipped")
    invoice_event = OrderEvent.objects.get(order=order, transition="invoice")
    result = actions.run_transition(order.pk, "invoice", invoice_event.data["input"], actor=SYSTEM)
    assert not result.applied


def test_repeat_with_different_data_is_a_conflict(make_order: Callable[..., Order]) -> None:
    order = bring_to(make_order(), "shipped")
    payload = valid_input(order, "ship") | {"tracking_code": "SZ460209415BR"}
    with pytest.raises(Conflict) as exc:
        actions.run_transition(order.pk, "ship", payload, actor=SYSTEM)
    assert (exc.value.code, exc.value.field) == ("transition_conflict", "tracking_code")
    assert order.shipments.get().tracking_code == "AA123456785BR"


def test_a_status_is_entered_once(make_order: Callable[..., Order], stock: Callable[..., None]) -> None:
    order = bring_to(make_order(), "out_of_stock")
    actions.run_transition(order.pk, "start_preparing", {}, actor=SYSTEM)
    result = actions.run_transition(order.pk, "flag_out_of_stock", {}, actor=SYSTEM)
    order.refresh_from_db()
    assert not result.applied
    assert order.status == "preparing"
    assert order.status_path == ["pending_payment", "paid", "out_of_stock", "preparing"]


def test_reopen_returns_to_the_status_before_and_allows_a_new_cancel(
    make_order: Callable[..., Order],
) -> None:
    order = bring_to(make_order(), "paid")
    actions.run_transition(order.pk, "cancel", valid_input(order, "cancel"), actor=SYSTEM)
    actions.run_transition(order.pk, "reopen", {"reason": "engano"}, actor=SYSTEM)
    order.refresh_from_db()
    assert order.status == "paid"
    assert order.status_path == ["pending_payment", "paid"]
    assert order.cancel_reason == ""
    actions.run_transition(order.pk, "cancel", {"reason": "fraud"}, actor=SYSTEM)
    order.refresh_from_db()
    assert (order.status, order.cancel_reason) == ("canceled", "fraud")
    reopen = OrderEvent.objects.get(order=order, transition="reopen")
    assert (reopen.from_status, reopen.to_status, reopen.data["input"]) == (
        "canceled",
        "paid",
        {"reason": "engano"},
    )


def test_reopen_needs_a_reason(make_order: Callable[..., Order]) -> None:
    order = bring_to(make_order(), "canceled")
    with pytest.raises(InvalidInput) as exc:
        actions.run_transition(order.pk, "reopen", {}, actor=SYSTEM)
    assert (exc.value.code, exc.value.field) == ("missing", "reason")


def test_unknown_transition_and_order(make_order: Callable[..., Order]) -> None:
    order = make_order()
    with pytest.raises(NotFound) as exc:
        actions.run_transition(order.pk, "teleport", {}, actor=SYSTEM)
    assert exc.value.code == "unknown_transition"
    with pytest.raises(NotFound) as exc:
        actions.run_transition(order.pk + 999, "cancel", {"reason": "other"}, actor=SYSTEM)
    assert exc.value.code == "order_not_found"


@pytest.mark.parametrize(
    "reason",
    ["customer_gave_up", "payment_refused", "payment_expired", "out_of_stock", "fraud", "channel", "other"],
)
def test_cancel_reasons_from_the_list(make_order: Callable[..., Order], reason: str) -> None:
    order = make_order()
    actions.run_transition(order.pk, "cancel", {"reason": reason}, actor=SYSTEM)
    order.refresh_from_db()
    assert order.cancel_reason == reason


def test_cancel_reason_outside_the_list_is_refused(make_order: Callable[..., Order]) -> None:
    order = make_order()
    with pytest.raises(InvalidInput) as exc:
        actions.run_transition(order.pk, "cancel", {"reason": "bored"}, actor=SYSTEM)
    assert (exc.value.code, exc.value.field) == ("enum", "reason")
    order.refresh_from_db()
    assert order.status == "pending_payment"


def test_unknown_input_field_is_refused(make_order: Callable[..., Order]) -> None:
    order = make_order()
    with pytest.raises(InvalidInput) as exc:
        actions.run_transition(order.pk, "start_review", {"surprise": 1}, actor=SYSTEM)
    assert (exc.value.code, exc.value.field) == ("extra_forbidden", "surprise")


def test_approve_payment_records_the_payment_facts(make_order: Callable[..., Order]) -> None:
    order = make_order()
    actions.run_transition(
        order.pk,
        "approve_payment",
        {
            "gateway": "adyen",
            "transaction_id": "psp-1",
            "amount": "114.80",
            "paid_at": "2026-11-20T15:00:00-03:00",
        },
        actor=SYSTEM,
    )
    payment = order.payments.get()
    assert (payment.status, payment.gateway, payment.transaction_id) == ("approved", "adyen", "psp-1")
    assert payment.paid_at is not None and payment.paid_at.isoformat().startswith("2026-11-20T18:00")
