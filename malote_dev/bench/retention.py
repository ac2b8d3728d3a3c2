"""``malote bench retention``: table sizes after a simulated year, and what ``malote prune`` takes.

The target shop does 10,000 orders a day: per order about 12 delivered outbox messages (channel
pushes, ERP, e-mails) and 6 inbox events, plus 10 schedules running every 15 s. The flows are not
run: rows shaped like theirs (same columns, realistic keys, payloads and webhook bodies) are
bulk-inserted into a scratch SQLite file. ``--orders-per-day`` scales the whole load (``scale`` =
orders per day / 10,000; the schedules' interval is stretched by the same factor, so every table
shrinks alike) and the figures are multiplied back by 1/scale in ``extrapolated_to_target``, an
estimate, labelled as such.

Measured: rows and bytes per table (SQLite ``dbstat``: pages of the table and its indexes) before
and after the first prune of a year's history, the time it takes, and the time of the next day's
prune (the steady state of the daily ``sync:prune`` job: one day of each table goes).
"""

from __future__ import annotations

import json
import shutil
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from malote.channels.models import Channel, ChannelRole
from malote.sync import retention
from malote.sync.models import Schedule
from malote_dev.bench import search
from malote_dev.bench.database import use_fresh_sqlite

TARGET_ORDERS_PER_DAY = 10_000
TARGET_SCHEDULES = 10
TARGET_RUN_SECONDS = 15

TABLES = {
    "outbox": "sync_outboxmessage",
    "inbox": "sync_inboxevent",
    "schedule_runs": "sync_schedulerun",
    "orders": "orders_order",
}

# (destination, kind, status) of one order's messages, in the order they are written, and the
# day after placement they are delivered.
MESSAGES = [
    ("channel:erp", "order.created", "paid", 0),
    ("channel:site", "order.status", "paid", 0),
    ("email:customer", "email.status", "paid", 0),
    ("channel:erp", "order.status", "invoiced", 1),
    ("channel:site", "order.invoice", "invoiced", 1),
    ("email:customer", "email.status", "invoiced", 1),
    ("channel:erp", "order.shipment", "shipped", 2),
    ("channel:site", "order.shipment", "shipped", 2),
    ("email:customer", "email.status", "shipped", 2),
    ("channel:site", "order.status", "delivered", 6),
    ("channel:erp", "order.status", "delivered", 6),
    ("email:customer", "email.status", "delivered", 6),
]
EVENTS = [("site", "created", 0), ("pagarme", "paid", 0), ("tiny", "invoiced", 1), ("tiny", "shipped", 2),
          ("site", "shipped", 2), ("tiny", "delivered", 6)]  # fmt: skip
HEADERS = json.dumps({"Content-Type": "application/json", "User-Agent": "Jumpseller-Webhooks"})
BODY = json.dumps(
    {
        "order": {
            "id": 0,
            "status": "",
            "customer": {"email": "cliente@example.com", "fullname": "Maria Souza", "phone": "11999990000"},
            "shipping_address": {
                "street": "Rua das Flores",
                "number": "123",
                "city": "São Paulo",
                "postal": "01001-000",
                "region": "SP",
            },
            "products": [{"sku": "CHINELO-42", "qty": 1, "price": "59.90", "name": "Chinelo azul 42"}],
            "total": "79.90",
            "shipping": "20.00",
            "payment_method_name": "Pix",
        }
    },
    ensure_ascii=False,
)


def _at(moment: datetime) -> str:
    """Django's SQLite datetime text (UTC, no offset), so range filters compare like its own rows."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _insert(sql: str, rows: list[tuple[Any, ...]]) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(sql, rows)
    rows.clear()


OUTBOX_SQL = (
    "INSERT INTO sync_outboxmessage (destination, key, order_id, seq, kind, payload, idempotency_key, "
    "state, attempts, next_attempt_at, lease_owner, lease_expires_at, last_error, last_status, "
    "created_at, delivered_at) VALUES (%s, %s, %s, %s, %s, %s, %s, 'done', 1, %s, '', NULL, '', 200, %s, %s)"
)
INBOX_SQL = (
    "INSERT INTO sync_inboxevent (source, event_id, kind, headers, body, received_at, processed_at, "
    "result, detail, order_id, awaiting) VALUES (%s, %s, %s, %s, %s, %s, %s, 'applied', '', %s, '')"
)
RUN_SQL = (
    "INSERT INTO sync_schedulerun (schedule_id, slot, worker, started_at, finished_at, ok, detail) "
    "VALUES (%s, %s, 'worker-1:4242:ab12', %s, %s, 1, %s)"
)


def _fill_history(now: datetime, days: int, orders_per_day: int, run_seconds: float) -> None:
    """Orders placed over ``days`` days up to ``now``, with their messages and events, and the runs."""
    search._fill(days * orders_per_day, _channel().pk)
    start = now - timedelta(days=days)
    outbox: list[tuple[Any, ...]] = []
    inbox: list[tuple[Any, ...]] = []
    for n in range(1, days * orders_per_day + 1):
        placed = start + timedelta(seconds=(n - 1) * 86400 / orders_per_day)
        for seq, (destination, kind, status, day) in enumerate(MESSAGES, start=1):
            at = placed + timedelta(days=day, seconds=seq)
            if at >= now:
                continue
            payload = json.dumps({"op": kind.split(".")[1], "status": status})
            outbox.append((destination, f"order:{n}", n, seq, kind, payload,
                           f"{destination}:{n}:{seq}:{kind}", _at(at), _at(at), _at(at)))  # fmt: skip
        for seq, (source, status, day) in enumerate(EVENTS, start=1):
            at = placed + timedelta(days=day, seconds=seq)
            if at >= now:
                continue
            inbox.append((source, f"{source}-{n}-{seq}-{status}", status, HEADERS, BODY, _at(at), _at(at), n))
        if len(outbox) >= 50_000:
            _insert(OUTBOX_SQL, outbox)
            _insert(INBOX_SQL, inbox)
    _insert(OUTBOX_SQL, outbox)
    _insert(INBOX_SQL, inbox)
    runs: list[tuple[Any, ...]] = []
    for index in range(TARGET_SCHEDULES):
        schedule = Schedule.objects.create(name=f"poll:bench-{index}", job="relay.poll", interval_seconds=15)
        slot = start
        while slot < now:
            runs.append(
                (schedule.pk, _at(slot), _at(slot), _at(slot + timedelta(seconds=0.4)), "pulled 2 changes")
            )
            slot += timedelta(seconds=run_seconds)
            if len(runs) >= 50_000:
                _insert(RUN_SQL, runs)
    _insert(RUN_SQL, runs)


def _channel() -> Channel:
    return Channel.objects.create(code="site", name="Loja", role=ChannelRole.STOREFRONT)


def _sizes() -> dict[str, dict[str, int]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT m.tbl_name, SUM(d.pgsize) FROM dbstat d JOIN sqlite_master m ON m.name = d.name "
            "GROUP BY m.tbl_name"
        )
        pages = dict(cursor.fetchall())
        sizes = {}
        for label, table in TABLES.items():
            cursor.execute(f"SELECT COUNT(*) FROM {table}")
            sizes[label] = {"rows": cursor.fetchone()[0], "bytes": int(pages.get(table, 0))}
        cursor.execute("PRAGMA page_count")
        page_count = cursor.fetchone()[0]
        cursor.execute("PRAGMA freelist_count")
        free = cursor.fetchone()[0]
        cursor.execute("PRAGMA page_size")
        size = cursor.fetchone()[0]
    sizes["file"] = {"bytes": page_count * size, "free_bytes": free * size}
    return sizes


def _scaled(sizes: dict[str, dict[str, int]], factor: float) -> dict[str, dict[str, int]]:
    return {table: {k: round(v * factor) for k, v in figures.items()} for table, figures in sizes.items()}


def _mb(sizes: dict[str, dict[str, int]]) -> dict[str, Any]:
    return {table: {**figures, "mb": round(figures["bytes"] / 2**20, 1)} for table, figures in sizes.items()}


def run(days: int, orders_per_day: int) -> dict[str, Any]:
    path = use_fresh_sqlite()
    scale = orders_per_day / TARGET_ORDERS_PER_DAY
    run_seconds = TARGET_RUN_SECONDS / scale
    now = timezone.now()
    started = time.perf_counter()
    _fill_history(now, days, orders_per_day, run_seconds)
    fill_seconds = time.perf_counter() - started
    before = _sizes()

    started = time.perf_counter()
    first = retention.prune(now=now)
    first_seconds = time.perf_counter() - started
    after = _sizes()

    started = time.perf_counter()
    next_day = retention.prune(now=now + timedelta(days=1))
    next_day_seconds = time.perf_counter() - started
    rules = retention.policy()
    factor = 1 / scale
    connection.close()
    shutil.rmtree(path.parent)  # a simulated year is gigabytes; the figures are what is kept
    return {
        "benchmark": "retention",
        "database": f"{path} (removed)",
        "simulated": {
            "days": days,
            "orders_per_day": orders_per_day,
            "scale_of_target": scale,
            "schedules": TARGET_SCHEDULES,
            "schedule_interval_seconds": run_seconds,
            "messages_per_order": len(MESSAGES),
            "events_per_order": len(EVENTS),
        },
        "policy_days": {
            "outbox": rules.outbox_days,
            "inbox": rules.inbox_days,
            "schedule_runs": rules.schedule_run_days,
        },
        "fill_seconds": round(fill_seconds, 1),
        "before_prune": _mb(before),
        "first_prune": {
            "seconds": round(first_seconds, 2),
            "deleted": first.counts,
            "batch": retention.BATCH_SIZE,
        },
        "after_prune": _mb(after),
        "next_day_prune": {"seconds": round(next_day_seconds, 2), "deleted": next_day.counts},
        "extrapolated_to_target": {
            "note": (
                f"ESTIMATE, not measured: the figures above times {factor:g} "
                f"({TARGET_ORDERS_PER_DAY} orders/day, "
                f"{TARGET_SCHEDULES} schedules every {TARGET_RUN_SECONDS} s)"
            ),
            "before_prune": _mb(_scaled(before, factor)),
            "after_prune": _mb(_scaled(after, factor)),
            "first_prune_seconds": round(first_seconds * factor),
            "next_day_prune_seconds": round(next_day_seconds * factor, 1),
        },
    }
