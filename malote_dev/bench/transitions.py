"""``malote bench transitions``: N orders through approve_payment → invoice → ship → deliver.

Besides the rate it prints what each transition costs regardless of the machine's load: the CPU
time this process spent (``time.process_time``) and the SQL statements it ran, counted by a
connection execute wrapper (a counter only, unlike ``CaptureQueriesContext``, which would slow
every statement down by recording it).
"""

from __future__ import annotations

import os
import random
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from malote.channels.models import Channel, ChannelRole
from malote.core.actors import Actor
from malote.orders import actions
from malote.orders.models import OrderEvent
from malote.orders.schemas import OrderIn
from malote.stock.actions import set_physical
from malote.stock.models import StockMovement
from malote.sync.models import OutboxMessage
from malote_dev import samples
from malote_dev.bench.database import insert_baseline, use_fresh_database


def _order(n: int) -> OrderIn:
    return OrderIn.model_validate(
        {
            "channel": "bench",
            "external_id": f"B-{n}",
            "placed_at": timezone.now().isoformat(),
            "customer": {"name": "Maria Souza", "document": "52998224725", "email": "maria@example.com"},
            "billing_address": {
                "street": "Rua A",
                "city": "São Paulo",
                "state": "SP",
                "postal_code": "01001000",
            },
            "items": [{"sku": f"SKU-{n % 50}", "name": "Item", "quantity": 1, "unit_price": "10.00"}],
            "total": "10.00",
            "payment": {"method": "credit_card"},
        }
    )


class StatementCounter:
    """A ``connection.execute_wrapper`` that counts statements (``executemany`` counts once)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        self.count += 1
        return execute(sql, params, many, context)


class SqliteStatementCounter:
    """Counts the statements SQLite itself starts (its trace callback), COMMIT left out as before.
    An execute wrapper would not do on SQLite: the hot path's pre-built statements go to the
    driver's cursor when nothing wraps Django's, so a wrapper would measure the slower path."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, statement: str) -> None:
        if statement.lstrip()[:6].upper() != "COMMIT":
            self.count += 1

    @contextmanager
    def counting(self) -> Iterator[None]:
        connection.ensure_connection()
        raw = connection.connection
        raw.set_trace_callback(self)
        try:
            yield
        finally:
            raw.set_trace_callback(None)


def run(orders: int) -> dict[str, Any]:
    path = use_fresh_database()
    actor = Actor.system("bench")
    rng = random.Random(1)
    Channel.objects.create(code="bench", name="Bench", role=ChannelRole.STOREFRONT)
    for sku in range(50):
        set_physical(f"SKU-{sku}", orders, actor=actor)
    ids = [actions.create_order(_order(n), actor=actor)[0].pk for n in range(orders)]
    issued = timezone.localtime()
    plans: list[tuple[int, str, dict[str, Any]]] = []
    for n, order_id in enumerate(ids):
        plans += [
            (order_id, "approve_payment", {}),
            (
                order_id,
                "invoice",
                {
                    "key": samples.nfe_key(n + 1, issued, rng=rng),
                    "number": str(n + 1),
                    "series": "1",
                    "issued_at": issued.isoformat(),
                },
            ),
            (
                order_id,
                "ship",
                {"carrier": "correios", "method": "SEDEX", "tracking_code": samples.correios_code(n)},
            ),
            (order_id, "deliver", {"delivered_at": (issued + timedelta(days=2)).isoformat()}),
        ]
    events_before = OrderEvent.objects.count()
    moves_before = StockMovement.objects.count()
    messages_before = OutboxMessage.objects.count()
    statements: StatementCounter | SqliteStatementCounter
    counting: AbstractContextManager[Any]
    if connection.vendor == "sqlite":
        statements = SqliteStatementCounter()
        counting = statements.counting()
    else:
        statements = StatementCounter()
        counting = connection.execute_wrapper(statements)
    with counting:
        cpu_start = time.process_time()
        start = time.perf_counter()
        for order_id, name, payload in plans:
            actions.run_transition(order_id, name, payload, actor=actor)
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu_start
    rate = len(plans) / elapsed
    baseline = insert_baseline(max(2000, len(plans)))
    result = {
        "benchmark": "transitions",
        "database": f"sqlite {sqlite3.sqlite_version} (WAL, synchronous={settings.SQLITE_SYNCHRONOUS})",
        "database_file": str(path),
        "orders": orders,
        "transitions": len(plans),
        "seconds": round(elapsed, 3),
        "transitions_per_second": round(rate, 1),
        "cpu_ms_per_transition": round(cpu * 1000 / len(plans), 3),
        "cpu_share_of_wall_time": round(cpu / elapsed, 3),
        # BEGIN IMMEDIATE and savepoints are counted; COMMIT is not.
        "queries_per_transition": round(statements.count / len(plans), 2),
        "event_rows_written": OrderEvent.objects.count() - events_before,
        "stock_movements_written": StockMovement.objects.count() - moves_before,
        "outbox_messages_written": OutboxMessage.objects.count() - messages_before,
        "baseline_sqlite3_insert_tx_per_second": round(baseline, 1),
        "ratio_to_baseline": round(rate / baseline, 3),
        "goal_transitions_per_second": 1000,
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    return result
