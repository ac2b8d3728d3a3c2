"""Two orders racing for the last unit: exactly one gets it (real threads, real connections).

Runs on both databases; the PostgreSQL pass of ``make test`` is the proof under true concurrency
(row locks on the conditional UPDATE), the SQLite pass shows serialized writers give the same answer.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, connections

from malote.channels.models import Channel, ChannelRole
from malote.orders import actions
from malote.orders.models import Order
from malote.orders.schemas import OrderIn
from malote.stock.actions import set_physical
from malote.stock.models import StockItem
from malote_dev.testing.orders import SYSTEM, order_data

pytestmark = pytest.mark.django_db(transaction=True)

ROUNDS = 8


def _in_threads(workers: list[Callable[[], Any]]) -> list[Any]:
    barrier = threading.Barrier(len(workers))
    results: list[Any] = [None] * len(workers)

    def run(index: int, work: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=10)
            results[index] = work()
        except Exception as exc:  # surfaced by the assertions below
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, w)) for i, w in enumerate(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def _paid_order(external_id: str) -> Callable[[], Order]:
    data = order_data() | {"external_id": external_id, "status": "paid"}
    data["items"][0]["quantity"] = 1
    data["total"] = "64.90"

    def create() -> Order:
        return actions.create_order(OrderIn.model_validate(data), actor=SYSTEM)[0]

    return create


def test_two_paid_orders_race_for_the_last_unit() -> None:
    Channel.objects.create(code="site", name="Site", role=ChannelRole.STOREFRONT)
    for round_ in range(ROUNDS):
        # Each round's winner keeps its unit reserved, so one more unit leaves exactly one available.
        set_physical("CHINELO-42", round_ + 1, actor=SYSTEM)
        results = _in_threads([_paid_order(f"race-{round_}-a"), _paid_order(f"race-{round_}-b")])
        assert all(isinstance(r, Order) for r in results), results
        statuses = sorted(Order.objects.get(pk=r.pk).status for r in results)
        assert statuses == ["out_of_stock", "paid"], f"round {round_}: {statuses} on {connection.vendor}"
        item = StockItem.objects.get(sku="CHINELO-42")
        assert item.available == 0


def test_two_payments_race_for_the_last_unit() -> None:
    Channel.objects.create(code="site", name="Site", role=ChannelRole.STOREFRONT)
    pending = []
    for n in range(2):
        data = order_data() | {"external_id": f"pending-{n}", "total": "64.90"}
        data["items"][0]["quantity"] = 1
        pending.append(actions.create_order(OrderIn.model_validate(data), actor=SYSTEM)[0])
    assert all(o.stock_state == "unreserved" for o in pending)  # no stock yet
    set_physical("CHINELO-42", 1, actor=SYSTEM)

    def pay(order: Order) -> Callable[[], object]:
        return lambda: actions.run_transition(order.pk, "approve_payment", {}, actor=SYSTEM)

    results = _in_threads([pay(o) for o in pending])
    assert not any(isinstance(r, Exception) for r in results), results
    statuses = sorted(Order.objects.filter(pk__in=[o.pk for o in pending]).values_list("status", flat=True))
    assert statuses == ["out_of_stock", "paid"]
    item = StockItem.objects.get(sku="CHINELO-42")
    assert (item.physical, item.reserved) == (1, 1)
