"""Stock through the order lifecycle: reserve, release, consume, restock, out_of_stock and back."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from malote.conftest import SYSTEM
from malote.core.errors import Conflict, InvalidInput
from malote.orders import actions
from malote.orders.models import Order
from malote.stock.actions import StockLine, reserve, set_physical
from malote.stock.models import StockItem, StockMovement
from malote_dev.testing.orders import bring_to, valid_input

pytestmark = pytest.mark.django_db


def _item(sku: str = "CHINELO-42") -> StockItem:
    return StockItem.objects.get(sku=sku)


def _levels(sku: str = "CHINELO-42") -> tuple[int, int, int]:
    item = _item(sku)
    return item.physical, item.reserved, item.available


def test_create_reserves_and_cancel_releases(make_order: Callable[..., Order]) -> None:
    order = make_order(physical=5)
    assert _levels() == (5, 2, 3)
    actions.run_transition(order.pk, "cancel", {"reason": "customer_gave_up"}, actor=SYSTEM)
    assert _levels() == (5, 0, 5)
    order.refresh_from_db()
    assert order.stock_state == "released"
    reasons = list(
        StockMovement.objects.filter(order=order).order_by("id").values_list("reason", "reserved_delta")
    )
    assert reasons == [("order_reserve", 2), ("order_release", -2)]


def test_invoice_turns_the_reservation_into_a_physical_decrement(make_order: Callable[..., Order]) -> None:
    order = bring_to(make_order(physical=5), "invoiced")
    assert _levels() == (3, 0, 3)
    consume = StockMovement.objects.get(order=order, reason="order_consume")
    assert (consume.physical_delta, consume.reserved_delta) == (-2, -2)


def test_cancel_after_invoice_puts_units_back_but_not_after_shipping(
    make_order: Callable[..., Order],
) -> None:
    invoiced = bring_to(make_order(physical=5), "invoiced")
    actions.run_transition(invoiced.pk, "cancel", {"reason": "other"}, actor=SYSTEM)
    assert _levels() == (5, 0, 5)
    shipped = bring_to(make_order(physical=None), "shipped")
    assert _levels() == (3, 0, 3)
    actions.run_transition(shipped.pk, "cancel", {"reason": "other"}, actor=SYSTEM)
    assert _levels() == (3, 0, 3), "goods on the road come back through an inventory count, not a cancel"


def test_paid_order_without_stock_goes_out_of_stock_and_back(
    make_order: Callable[..., Order], stock: Callable[..., None]
) -> None:
    holder = make_order(physical=2)  # takes the only 2 units
    waiting = make_order(physical=None)
    assert waiting.stock_state == "unreserved"
    actions.run_transition(waiting.pk, "approve_payment", {}, actor=SYSTEM)
    waiting.refresh_from_db()
    assert waiting.status == "out_of_stock"
    assert waiting.status_path == ["pending_payment", "paid", "out_of_stock"]
    with pytest.raises(Conflict) as exc:
        actions.run_transition(waiting.pk, "start_preparing", {}, actor=SYSTEM)
    assert exc.value.code == "transition_not_allowed"
    # Stock arrives: the waiting order moves on and reserves.
    set_physical("CHINELO-42", 4, actor=SYSTEM)
    resumed = actions.resume_out_of_stock_orders(["CHINELO-42"], actor=SYSTEM)
    assert [o.pk for o in resumed] == [waiting.pk]
    waiting.refresh_from_db()
    assert (waiting.status, waiting.stock_state) == ("preparing", "reserved")
    assert _levels() == (4, 4, 0)
    assert holder.stock_state == "reserved"


def test_resume_takes_the_oldest_waiting_order_first(make_order: Callable[..., Order]) -> None:
    make_order(physical=0, status="paid", placed_at="2026-11-20T10:00:00-03:00")
    older = Order.objects.get()
    newer = make_order(physical=None, status="paid", placed_at="2026-11-20T11:00:00-03:00")
    set_physical("CHINELO-42", 2, actor=SYSTEM)
    resumed = actions.resume_out_of_stock_orders(["CHINELO-42"], actor=SYSTEM)
    assert [o.pk for o in resumed] == [older.pk]
    newer.refresh_from_db()
    assert newer.status == "out_of_stock"


def test_reserve_is_all_or_nothing(db: None) -> None:
    set_physical("A", 5, actor=SYSTEM)
    set_physical("B", 1, actor=SYSTEM)
    short = reserve([StockLine("A", 2), StockLine("B", 2)], order_id=None, actor=SYSTEM)  # type: ignore[arg-type]
    assert short == ["B"]
    assert (_item("A").reserved, _item("B").reserved) == (0, 0)
    assert not StockMovement.objects.filter(reason="order_reserve").exists()


def test_same_sku_on_two_lines_is_reserved_together(
    make_order: Callable[..., Order], stock: Callable[..., None]
) -> None:
    stock("CHINELO-42", 3)
    items = [
        {"sku": "CHINELO-42", "name": "Chinelo", "quantity": 2, "unit_price": "49.90"},
        {"sku": "CHINELO-42", "name": "Chinelo", "quantity": 2, "unit_price": "49.90"},
    ]
    order = make_order(physical=None, items=items, total="214.60")
    assert order.stock_state == "unreserved"
    assert _levels() == (3, 0, 3)


def test_set_physical_records_the_movement_and_refuses_below_reserved(
    make_order: Callable[..., Order],
) -> None:
    make_order(physical=5)
    set_physical("CHINELO-42", 8, actor=SYSTEM, reason="inventory_count", note="contagem mensal")
    move = StockMovement.objects.filter(reason="inventory_count").get()
    assert (move.physical_delta, move.note) == (3, "contagem mensal")
    with pytest.raises(InvalidInput) as exc:
        set_physical("CHINELO-42", 1, actor=SYSTEM)
    assert exc.value.code == "stock_below_reserved"
    with pytest.raises(InvalidInput) as exc:
        set_physical("CHINELO-42", -1, actor=SYSTEM)
    assert exc.value.code == "stock_negative"
    with pytest.raises(InvalidInput) as exc:
        set_physical("CHINELO-42", 9, actor=SYSTEM, reason="order_reserve")
    assert exc.value.code == "invalid_reason"
    assert _levels() == (8, 2, 6)


def test_reopen_of_a_canceled_paid_order_reserves_again(make_order: Callable[..., Order]) -> None:
    order = bring_to(make_order(physical=2), "paid")
    actions.run_transition(order.pk, "cancel", valid_input(order, "cancel"), actor=SYSTEM)
    assert _levels() == (2, 0, 2)
    actions.run_transition(order.pk, "reopen", {"reason": "cliente confirmou"}, actor=SYSTEM)
    assert _levels() == (2, 2, 0)


def test_reopen_without_stock_is_refused_for_a_paid_order(make_order: Callable[..., Order]) -> None:
    order = bring_to(make_order(physical=2), "paid")
    actions.run_transition(order.pk, "cancel", valid_input(order, "cancel"), actor=SYSTEM)
    set_physical("CHINELO-42", 1, actor=SYSTEM)
    with pytest.raises(Conflict) as exc:
        actions.run_transition(order.pk, "reopen", {"reason": "x"}, actor=SYSTEM)
    assert exc.value.code == "insufficient_stock"
    order.refresh_from_db()
    assert order.status == "canceled"
    assert _levels() == (1, 0, 1)


def test_the_database_refuses_negative_available_stock(db: None) -> None:
    from django.db import IntegrityError, transaction

    set_physical("X", 1, actor=SYSTEM)
    with pytest.raises(IntegrityError), transaction.atomic():
        StockItem.objects.filter(sku="X").update(reserved=2)
