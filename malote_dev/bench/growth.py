"""``malote bench growth``: does the cost of the daily work grow with the years of history?

The same work is measured twice, in one run: on an *empty* database and on a *filled* one.

* empty: the shop's working set only — the orders of the last ``RECENT_DAYS`` days (the
  reconciliation's 72-hour window plus its 30-day reference margin) and no outbox history;
* filled: a year of orders (``--orders``, 1,000,000 by default, the recent ones identical to the
  empty database's) and ``--outbox-rows`` delivered outbox messages (10,000,000: ten per order —
  ERP, storefront and customer e-mails —, delivered over the year).

History is bulk-inserted with raw SQL (rows shaped like the flows' own: destinations, ordering
keys, per-order sequence numbers, payloads, ``delivered_at`` spread over the months); ``--reuse``
keeps the filled file under ``var/bench/`` for the next run. Measured on each:

* claim/settle: ``PENDING_ORDERS`` orders each get two transitions' messages to three
  destinations (enqueued in their own transactions), then claimed and settled 100 at a time in
  this process (``outbox.claim``/``settle``, no remote call): enqueued and settled per second;
* latency: ``malote bench latency``'s core (a real ``malote worker`` process, commit → arrival at
  an HTTP sink at a steady rate; start-up apart);
* the back office's orders list (``malote bench backoffice``'s pages and timing, p95);
* the reconciliation of one ERP channel: the production ``ErpCheck`` (a dry run) over its 72-hour
  window against a listing of the window's orders made in this process (a few left out, to be
  found missing), and the channel's stall causes (``stalls.find_causes``, which read the outbox).

The goal — each figure within 1.5× of the empty database's — is printed, never asserted.
"""

from __future__ import annotations

import json
import os
import sqlite3
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.test import Client

from malote.accounts.roles import assign_role, sync_roles
from malote.channels.models import Channel, ChannelRole
from malote.connectors.base import Connector, ListedOrder, OrderListing
from malote.core.actors import Actor
from malote.orders import search as order_search
from malote.orders.models import Order
from malote.reconcile import stalls
from malote.reconcile.integration import ErpCheck
from malote.sync import outbox
from malote.sync.models import OutboxMessage
from malote_dev.bench import backoffice, delivery
from malote_dev.bench import search as search_bench
from malote_dev.bench.database import use_fresh_sqlite

HISTORY_DAYS = 365
RECENT_DAYS = 35
GOAL_RATIO = 1.5
PENDING_ORDERS = 1000
PENDING_DESTINATIONS = ("channel:tiny", "channel:loja", "email:customer")
CLAIM_BATCH = 100
LISTING_PAGE = 1000
BATCH_ROWS = 100_000

# One order's delivered messages (destination, kind, the day after placement it was delivered).
MESSAGES = [
    ("channel:tiny", "order.created", 0),
    ("channel:loja", "order.status", 0),
    ("email:customer", "email.status", 0),
    ("channel:tiny", "order.status", 1),
    ("channel:loja", "order.invoice", 1),
    ("email:customer", "email.status", 1),
    ("channel:tiny", "order.shipment", 2),
    ("channel:loja", "order.shipment", 2),
    ("email:customer", "email.status", 2),
    ("channel:loja", "order.status", 6),
]
STATUS_OF_DAY = {0: "paid", 1: "invoiced", 2: "shipped", 6: "delivered"}

OUTBOX_SQL = (
    "INSERT INTO sync_outboxmessage (destination, key, order_id, seq, kind, payload, idempotency_key, "
    "state, attempts, next_attempt_at, lease_owner, lease_expires_at, last_error, last_status, "
    "created_at, delivered_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'done', 1, ?, '', NULL, '', 200, ?, ?)"
)

LIST_URLS = [
    "/backoffice/",
    "/backoffice/?status=paid",
    "/backoffice/?status=shipped&status=invoiced",
    "/backoffice/?q={core}",
    "/backoffice/?q=Maria",
    "/backoffice/?channel=skyhub&payment_method=pix",
    "/backoffice/?sort=-total",
    "/backoffice/?page=10",
    "/backoffice/?problem=on",
    "/backoffice/?placed_from={week_ago}&placed_to={today}",
]


# --- shapes ---------------------------------------------------------------------------------------


def _at(moment: datetime) -> str:
    """Django's SQLite datetime text (UTC, no offset), so range filters compare like its own rows."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


class History:
    """Order ``n`` (1 … ``orders``) was placed ``(orders - n) × spacing`` before ``now``: a year of
    orders, the newest now. The empty and the filled database share the recent ones exactly."""

    def __init__(self, orders: int, now: datetime) -> None:
        self.orders = orders
        self.now = now
        self.spacing = timedelta(days=HISTORY_DAYS) / orders

    def placed(self, n: int) -> datetime:
        return self.now - (self.orders - n) * self.spacing

    def first_recent(self) -> int:
        return max(1, self.orders - int(timedelta(days=RECENT_DAYS) / self.spacing))


def _order_rows(history: History, first: int, channel_ids: list[int]) -> Iterator[tuple[Any, ...]]:
    prefix = settings.MALOTE_ORDER_NUMBER_PREFIX
    statuses = backoffice.STATUSES
    for n in range(first, history.orders + 1):
        number = f"{prefix}{n:07d}"
        ext = search_bench.external_id(n)
        name = search_bench.NAMES[n % len(search_bench.NAMES)]
        email = f"cliente{n}@example.com"
        placed = _at(history.placed(n))
        status = statuses[n % len(statuses)]
        values = {
            "number": number,
            "channel_id": channel_ids[n % len(channel_ids)],
            "external_id": ext,
            "placed_at": placed,
            "status": status,
            "status_path": json.dumps([status]),
            "status_changed_at": placed,
            "stock_state": "reserved",
            "cancel_reason": "",
            "currency": "BRL",
            "subtotal": "100.00",
            "shipping_price": "0.00",
            "discount": "0.00",
            "tax": "0.00",
            "total": f"{50 + n % 450}.00",
            "customer_name": name,
            "customer_email": email,
            "customer_phone": "",
            "customer_document": "52998224725",
            "billing_address": "{}",
            "shipping_address": "{}",
            "shipping_method": "",
            "marketplace": "",
            "payment_method": ("pix", "boleto", "credit_card")[n % 3],
            "search_key": order_search.search_key([number, ext, "52998224725", email, name]),
            "created_at": placed,
            "updated_at": placed,
        }
        yield (n, *(values[column] for column in search_bench.COLUMNS))


def _outbox_rows(history: History, rows: int) -> Iterator[tuple[Any, ...]]:
    """``rows`` delivered messages spread evenly over the orders, oldest order first."""
    per_order = rows / history.orders
    payloads = [
        json.dumps({"op": kind.split(".")[1], "status": STATUS_OF_DAY[day]}) for _, kind, day in MESSAGES
    ]
    made = 0
    for n in range(1, history.orders + 1):
        count = int(n * per_order) - made
        placed = history.placed(n)
        key = f"order:{n}"
        for seq in range(1, count + 1):
            which = (seq - 1) % len(MESSAGES)
            destination, kind, day = MESSAGES[which]
            at = _at(placed + timedelta(days=day, seconds=5 + seq))
            made += 1
            yield (destination, key, n, seq, kind, payloads[which], f"{made:032x}", at, at, at)


def _insert(sql: str, rows: Iterator[tuple[Any, ...]]) -> int:
    """Insert in transactions of ``BATCH_ROWS`` on the raw connection; returns how many."""
    raw = connection.connection
    total = 0
    while True:
        batch = [row for _, row in zip(range(BATCH_ROWS), rows, strict=False)]
        if not batch:
            return total
        raw.execute("BEGIN IMMEDIATE")
        raw.executemany(sql, batch)
        raw.execute("COMMIT")
        total += len(batch)


@contextmanager
def _bulk_loading() -> Iterator[None]:
    """A large page cache and no fsync while history is loaded (the load is not what is measured)."""
    connection.ensure_connection()
    raw = connection.connection
    raw.execute("PRAGMA cache_size = -1000000")
    raw.execute("PRAGMA synchronous = OFF")
    try:
        yield
    finally:
        raw.execute(f"PRAGMA synchronous = {settings.SQLITE_SYNCHRONOUS}")
        raw.execute("PRAGMA cache_size = -2000")
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _channels(now: datetime) -> dict[str, Channel]:
    live = now - timedelta(days=2 * HISTORY_DAYS)
    made = {}
    for code, name, role in (
        ("loja", "Loja", ChannelRole.STOREFRONT),
        ("skyhub", "SkyHub", ChannelRole.MARKETPLACE),
        ("tiny", "Tiny", ChannelRole.ERP),
    ):
        made[code] = Channel.objects.create(
            code=code, name=name, role=role, go_live_at=live, options={"auto_repair": False}
        )
    return made


def _build(path: Path, history: History, outbox_rows: int, *, whole: bool) -> dict[str, Any]:
    use_fresh_sqlite(path)
    channels = _channels(history.now)
    sales = [channels["loja"].pk, channels["skyhub"].pk]
    first = 1 if whole else history.first_recent()
    sql = f"INSERT INTO orders_order (id, {', '.join(search_bench.COLUMNS)}) VALUES ({', '.join(['?'] * (len(search_bench.COLUMNS) + 1))})"  # noqa: E501
    start = time.perf_counter()
    with _bulk_loading():
        orders = _insert(sql, _order_rows(history, first, sales))
        orders_seconds = time.perf_counter() - start
        messages = _insert(OUTBOX_SQL, _outbox_rows(history, outbox_rows)) if whole else 0
    return {
        "orders": orders,
        "outbox_rows": messages,
        "orders_seconds": round(orders_seconds, 1),
        "outbox_seconds": round(time.perf_counter() - start - orders_seconds, 1),
        "now": history.now.isoformat(),
    }


# --- the measurements -----------------------------------------------------------------------------


def _claim_settle() -> dict[str, Any]:
    """Enqueue two transitions' messages for the newest orders, then claim and settle them all."""
    order_ids = list(Order.objects.order_by("-id").values_list("id", flat=True)[:PENDING_ORDERS])
    start = time.perf_counter()
    for transition in ("invoice", "ship"):
        for order_id in order_ids:
            with transaction.atomic():
                for destination in PENDING_DESTINATIONS:
                    outbox.enqueue(destination, "order.status", {"op": transition}, order_id=order_id)
    enqueue_seconds = time.perf_counter() - start
    enqueued = 2 * len(order_ids) * len(PENDING_DESTINATIONS)
    claim_ms: list[float] = []
    settled = 0
    start = time.perf_counter()
    while True:
        began = time.perf_counter()
        ids = outbox.claim("growth-bench", limit=CLAIM_BATCH)
        claim_ms.append((time.perf_counter() - began) * 1000)
        if not ids:
            break
        outbox.settle("growth-bench", [outbox.Outcome(message_id) for message_id in ids])
        settled += len(ids)
    settle_seconds = time.perf_counter() - start
    return {
        "enqueued": enqueued,
        "enqueued_per_second": round(enqueued / enqueue_seconds, 1),
        "settled": settled,
        "claimed_and_settled_per_second": round(settled / settle_seconds, 1),
        "claim_p50_ms": round(statistics.median(claim_ms), 2),
        "claim_max_ms": round(max(claim_ms), 2),
    }


def _backoffice(history: History, requests: int) -> dict[str, Any]:
    sync_roles()
    user, _ = get_user_model().objects.get_or_create(username="growth-bench")
    assign_role(user, "admin")
    client = Client()
    client.force_login(user)
    newest = history.orders
    today = history.now.date()
    urls = [
        url.format(
            core=search_bench.external_id(newest - 7).split("-")[1],
            week_ago=(today - timedelta(days=7)).isoformat(),
            today=today.isoformat(),
        )
        for url in LIST_URLS
    ]
    for url in urls[:2]:  # warm the caches once, as a running server would be
        backoffice._time(client, url)
    timings: dict[str, list[float]] = {url: [] for url in urls}
    every = []
    for n in range(requests):
        url = urls[n % len(urls)]
        elapsed, _queries = backoffice._time(client, url)
        timings[url].append(elapsed)
        every.append(elapsed)
    return {
        "list_p50_ms": backoffice._pct(every, 0.50),
        "list_p95_ms": backoffice._pct(every, 0.95),
        "list_p95_ms_by_url": {url: backoffice._pct(values, 0.95) for url, values in timings.items()},
    }


class _ListedErp(Connector):
    """The ERP's side, made in this process: what it lists is not what grows with history."""

    def __init__(self, channel: Any, listed: list[ListedOrder]) -> None:
        super().__init__(channel)
        self.listed = listed

    def list_orders(self, since: str, cursor: str | None = None) -> OrderListing:
        start = int(cursor or 0)
        page = self.listed[start : start + LISTING_PAGE]
        more = start + LISTING_PAGE < len(self.listed)
        return OrderListing(page, str(start + LISTING_PAGE) if more else None, more=more)


def _erp_listing(erp: Channel, now: datetime) -> list[ListedOrder]:
    since = now - timedelta(hours=72)
    window = (
        Order.objects.filter(placed_at__gte=since).order_by("id").values_list("id", "number", "placed_at")
    )
    return [
        ListedOrder(external_id=f"tiny-{pk}", reference=number or "", placed_at=placed.isoformat())
        for pk, number, placed in window
        if pk % 500 != 7  # never reached the ERP: found missing
    ]


def _timed(work: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """Median seconds of ``repeats`` runs, and the last run's result."""
    seconds = []
    result = None
    for _ in range(repeats):
        start = time.perf_counter()
        result = work()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), result


def _reconcile(history: History, repeats: int = 3) -> dict[str, Any]:
    erp = Channel.objects.get(code="tiny")
    listed = _erp_listing(erp, history.now)
    actor = Actor.system("growth-bench")
    with mock.patch(
        "malote.reconcile.checks.connector_for", lambda channel, **_: _ListedErp(channel, listed)
    ):
        check_seconds, counts = _timed(lambda: ErpCheck.run(erp, actor=actor, dry_run=True), repeats)
    stall_seconds, causes = _timed(lambda: stalls.find_causes(erp), repeats)
    return {
        "erp_check_ms": round(check_seconds * 1000, 1),
        "erp_check_counts": dict(counts),
        "stall_causes_ms": round(stall_seconds * 1000, 2),
        "stall_causes": len(causes),
    }


def _measure(path: Path, history: History, *, rate: float, seconds: float, requests: int) -> dict[str, Any]:
    figures: dict[str, Any] = {
        "database_file": str(path),
        "orders": Order.objects.count(),
        "outbox_rows": OutboxMessage.objects.count(),
        "file_mb": round(path.stat().st_size / 2**20),
    }
    figures["claim_settle"] = _claim_settle()
    figures["backoffice"] = _backoffice(history, requests)
    figures["reconcile"] = _reconcile(history)
    latency = delivery.measure_latency(path.parent, rate, seconds)
    latency.pop("worker_startup", None)
    figures["latency"] = latency
    return figures


# --- the comparison ----------------------------------------------------------------------------------

# (section, figure, whether higher is better): the figures compared empty vs filled.
COMPARED = [
    ("claim_settle", "enqueued_per_second", True),
    ("claim_settle", "claimed_and_settled_per_second", True),
    ("latency", "p50_ms", False),
    ("latency", "p99_ms", False),
    ("backoffice", "list_p95_ms", False),
    ("reconcile", "erp_check_ms", False),
    ("reconcile", "stall_causes_ms", False),
]


def _ratios(empty: dict[str, Any], filled: dict[str, Any]) -> dict[str, Any]:
    """Cost filled / cost empty (for a rate: empty / filled), so above 1 is always slower."""
    table = {}
    for section, name, higher_is_better in COMPARED:
        before, after = empty[section][name], filled[section][name]
        ratio = (before / after) if higher_is_better else (after / before)
        table[f"{section}.{name}"] = {
            "empty": before,
            "filled": after,
            "cost_ratio": round(ratio, 2),
            "within_goal": ratio <= GOAL_RATIO,
        }
    return table


def _load() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def run(
    outbox_rows: int,
    orders: int,
    *,
    reuse: bool = False,
    rate: float = 200.0,
    seconds: float = 15.0,
    requests: int = 100,
) -> dict[str, Any]:
    base = Path(settings.BASE_DIR) / "var" / "bench"
    filled_path = base / f"growth-{orders}-{outbox_rows}" / "malote.sqlite3"
    marker = filled_path.parent / "filled.json"
    load_start = _load()

    reused = reuse and marker.exists() and filled_path.exists()
    if reused:
        history = History(orders, datetime.fromisoformat(json.loads(marker.read_text())["now"]))
        use_fresh_sqlite(filled_path, reuse=True)
        built = json.loads(marker.read_text())
    else:
        marker.unlink(missing_ok=True)
        history = History(orders, datetime.now(UTC))
        built = _build(filled_path, history, outbox_rows, whole=True)
        marker.write_text(json.dumps(built))
    filled = _measure(filled_path, history, rate=rate, seconds=seconds, requests=requests)

    # The empty database holds the same recent orders, placed at the same moments.
    empty_path = base / "growth-empty" / "malote.sqlite3"
    _build(empty_path, history, 0, whole=False)
    empty = _measure(empty_path, history, rate=rate, seconds=seconds, requests=requests)

    return {
        "benchmark": "growth",
        "database": f"sqlite {sqlite3.sqlite_version} (WAL, synchronous={settings.SQLITE_SYNCHRONOUS})",
        "filled_with": {"orders": orders, "delivered_outbox_rows": outbox_rows, "reused_file": reused},
        "build": built,
        "compared": _ratios(empty, filled),
        "empty": empty,
        "filled": filled,
        "goal": f"each figure within {GOAL_RATIO}x of the empty database's",
        "load_average_start_end": [load_start, _load()],
        "cpus": os.cpu_count(),
    }
