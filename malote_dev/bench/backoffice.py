"""``malote bench backoffice``: p50/p95 of the back office's orders list and order page.

Fills a scratch SQLite file with N orders (default 100,000) spread over three channels and the
statuses, plus a few hundred orders made through the real commands (lines, payment, invoice,
shipment, timeline, outbox messages — what the order page reads), then requests the pages through
Django's full stack (middleware, session, auth, templates) as a logged-in admin and prints the
figures. The goal (p95 under 300 ms) is printed, never asserted.
"""

from __future__ import annotations

import random
import sqlite3
import statistics
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from malote.accounts.roles import assign_role, sync_roles
from malote.channels.models import Channel, ChannelRole
from malote.core.actors import Actor
from malote.orders.models import Order
from malote.orders.statuses import OrderStatus
from malote_dev.bench import search
from malote_dev.bench.database import use_fresh_database, vacuum_analyze

STATUSES = [s.value for s in OrderStatus]
FULL_ORDERS = 300
GOAL_P95_MS = 300


def _spread(count: int, channel_ids: list[int]) -> None:
    """Give the bulk-inserted orders varied statuses, channels and payment methods (one UPDATE each)."""
    status_case = " ".join(f"WHEN {n} THEN '{s}'" for n, s in enumerate(STATUSES))
    channel_case = " ".join(f"WHEN {n} THEN {cid}" for n, cid in enumerate(channel_ids))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"UPDATE orders_order SET status = CASE id % {len(STATUSES)} {status_case} END")
        cursor.execute(
            f"UPDATE orders_order SET channel_id = CASE id % {len(channel_ids)} {channel_case} END"
        )
        cursor.execute(
            "UPDATE orders_order SET payment_method = CASE id % 3 WHEN 0 THEN 'pix' "
            "WHEN 1 THEN 'boleto' ELSE 'credit_card' END"
        )


def _full_orders(count: int, channel: Channel) -> list[int]:
    """Orders made through the commands, walked to varied statuses (the order page's real load)."""
    from malote.orders import actions
    from malote.orders.schemas import OrderIn
    from malote.stock.actions import set_physical
    from malote_dev.testing.orders import bring_to, order_data

    actor = Actor.system("bench")
    set_physical("CHINELO-42", 10 * count, actor=actor)
    targets = ["paid", "invoiced", "shipped", "delivered", "canceled"]
    ids = []
    for n in range(count):
        data = {**order_data(), "channel": channel.code, "external_id": f"FULL-{n:05d}"}
        order, _ = actions.create_order(OrderIn.model_validate(data), actor=actor)
        bring_to(order, targets[n % len(targets)])
        ids.append(order.pk)
    return ids


def _time(client: Client, url: str) -> tuple[float, int]:
    with CaptureQueriesContext(connection) as queries:
        start = time.perf_counter()
        response = client.get(url)
        elapsed = (time.perf_counter() - start) * 1000
    if response.status_code != 200:
        raise SystemExit(f"{url} answered {response.status_code}")
    return elapsed, len(queries)


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * p))], 1)


def run(orders: int, *, requests: int = 200, **_: Any) -> dict[str, Any]:
    path = Path(settings.BASE_DIR) / "var" / "bench" / f"backoffice-{orders}.sqlite3"
    use_fresh_database(path)
    build = time.perf_counter()
    channels = [
        Channel.objects.create(code=code, name=name, role=ChannelRole.STOREFRONT)
        for code, name in (("bench", "Loja"), ("skyhub", "SkyHub"), ("ml", "Mercado Livre"))
    ]
    search._fill(orders, channels[0].pk)
    _spread(orders, [c.pk for c in channels])
    vacuum_analyze("orders_order")
    full = _full_orders(min(FULL_ORDERS, max(orders // 100, 10)), channels[0])
    sync_roles()
    user = get_user_model().objects.create_user(username="bench", password="bench-password")
    assign_role(user, "admin")
    build_seconds = time.perf_counter() - build

    client = Client()
    client.force_login(user)
    rng = random.Random(7)
    core = search.external_id(rng.randrange(1, orders + 1)).split("-")[1]
    list_urls = [
        "/backoffice/",
        "/backoffice/?status=paid",
        "/backoffice/?status=shipped&status=invoiced",
        f"/backoffice/?q={core}",
        "/backoffice/?q=Maria",
        "/backoffice/?channel=skyhub&payment_method=pix",
        "/backoffice/?sort=-total",
        "/backoffice/?page=200",
        "/backoffice/?problem=on",
        "/backoffice/?placed_from=2024-01-01&placed_to=2024-03-31",
    ]
    for url in list_urls[:2]:  # warm the caches once, as a running server would be
        _time(client, url)
    list_ms, list_queries, order_ms, order_queries = [], [], [], []
    per_url: dict[str, list[float]] = {url: [] for url in list_urls}
    for n in range(requests):
        url = list_urls[n % len(list_urls)]
        elapsed, queries = _time(client, url)
        list_ms.append(elapsed)
        list_queries.append(queries)
        per_url[url].append(elapsed)
        elapsed, queries = _time(client, f"/backoffice/orders/{rng.choice(full)}/")
        order_ms.append(elapsed)
        order_queries.append(queries)
    return {
        "benchmark": "backoffice",
        "database": f"sqlite {sqlite3.sqlite_version}, file {path}",
        "orders": Order.objects.count(),
        "orders_with_full_history": len(full),
        "build_seconds": round(build_seconds, 1),
        "requests_per_page": requests,
        "list_p50_ms": _pct(list_ms, 0.50),
        "list_p95_ms": _pct(list_ms, 0.95),
        "list_max_ms": round(max(list_ms), 1),
        "list_mean_ms": round(statistics.fmean(list_ms), 1),
        "list_queries_max": max(list_queries),
        "list_p95_ms_by_url": {url: _pct(values, 0.95) for url, values in per_url.items() if values},
        "order_p50_ms": _pct(order_ms, 0.50),
        "order_p95_ms": _pct(order_ms, 0.95),
        "order_max_ms": round(max(order_ms), 1),
        "order_queries_max": max(order_queries),
        "goal_p95_ms": GOAL_P95_MS,
    }
