"""``malote bench search``: p50/p95 of the order contains-search over many orders (default 1M).

Orders are bulk-inserted straight into the table (the search index is kept by its triggers), so
building a million takes a minute or two, not hours; ``--reuse`` keeps the file between runs.
"""

from __future__ import annotations

import random
import sqlite3
import statistics
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from malote.channels.models import Channel, ChannelRole
from malote.orders import search
from malote.orders.models import Order
from malote.orders.selectors import filtered_orders
from malote_dev.bench.database import after_bulk_insert, bulk_insert, use_fresh_database

NAMES = ["Maria Souza", "João Lima", "Ana Pereira", "Carlos Dias", "Fernanda Alves", "Paulo Rocha"]
COLUMNS = [
    "number",
    "channel_id",
    "external_id",
    "placed_at",
    "status",
    "status_path",
    "status_changed_at",
    "stock_state",
    "cancel_reason",
    "currency",
    "subtotal",
    "shipping_price",
    "discount",
    "tax",
    "total",
    "customer_name",
    "customer_email",
    "customer_phone",
    "customer_document",
    "billing_address",
    "shipping_address",
    "shipping_method",
    "marketplace",
    "payment_method",
    "search_key",
    "created_at",
    "updated_at",
]


def external_id(n: int) -> str:
    return f"{n % 98 + 1:02d}-{700000000 + n * 7}"


def _fill(count: int, channel_id: int) -> None:
    prefix = settings.MALOTE_ORDER_NUMBER_PREFIX
    start = timezone.now() - timedelta(days=365)
    batch: list[tuple[Any, ...]] = []
    now = timezone.now().isoformat()
    for n in range(1, count + 1):
        number = f"{prefix}{n:07d}"
        ext = external_id(n)
        name = NAMES[n % len(NAMES)]
        email = f"cliente{n}@example.com"
        key = search.search_key([number, ext, "52998224725", email, name])
        placed = (start + timedelta(seconds=n * 31)).isoformat()
        batch.append(
            (n, number, channel_id, ext, placed, "paid", '["paid"]', placed, "reserved", "", "BRL",
             "100.00", "0.00", "0.00", "0.00", "100.00", name, email, "", "52998224725",
             "{}", "{}", "", "", "pix", key, now, now)
        )  # fmt: skip
        if len(batch) == 20_000:
            _flush(batch)
    _flush(batch)
    after_bulk_insert("orders_order")


def _flush(batch: list[tuple[Any, ...]]) -> None:
    bulk_insert("orders_order", ["id", *COLUMNS], batch)
    batch.clear()


def _time(query: str) -> float:
    start = time.perf_counter()
    list(filtered_orders(None, None, None, None, query).order_by("-placed_at", "-id")[:51])
    return (time.perf_counter() - start) * 1000


def run(orders: int, *, reuse: bool, queries: int) -> dict[str, Any]:
    path = Path(settings.BASE_DIR) / "var" / "bench" / f"search-{orders}.sqlite3"
    existing = reuse and path.exists()
    use_fresh_database(path, reuse=existing)
    build_seconds = 0.0
    if not existing or Order.objects.count() != orders:
        use_fresh_database(path)
        channel = Channel.objects.create(code="bench", name="Bench", role=ChannelRole.STOREFRONT)
        start = time.perf_counter()
        _fill(orders, channel.pk)
        build_seconds = time.perf_counter() - start
    rng = random.Random(3)
    kinds: dict[str, list[float]] = {
        "external_id_with_dash": [],
        "external_id_digits": [],
        "order_core_number": [],
        "with_shipment_suffix": [],
        "malote_number": [],
        "no_match": [],
    }
    found = 0
    for _ in range(queries):
        n = rng.randrange(1, orders + 1)
        ext = external_id(n)
        core = ext.split("-")[1]
        forms = {
            "external_id_with_dash": ext,
            "external_id_digits": ext.replace("-", ""),
            "order_core_number": core,
            "with_shipment_suffix": f"{core}-1",
            "malote_number": f"{settings.MALOTE_ORDER_NUMBER_PREFIX}{n:07d}",
            "no_match": f"99{rng.randrange(10**7):07d}x",
        }
        for kind, text in forms.items():
            kinds[kind].append(_time(text))
        found += int(filtered_orders(None, None, None, None, core).filter(external_id=ext).exists())
    every = sorted(t for values in kinds.values() for t in values)

    def pct(values: list[float], p: float) -> float:
        ordered = sorted(values)
        return round(ordered[min(len(ordered) - 1, int(len(ordered) * p))], 2)

    return {
        "benchmark": "search",
        "database": f"sqlite {sqlite3.sqlite_version}, FTS5 trigram index, file {path}",
        "orders": orders,
        "build_seconds": round(build_seconds, 1),
        "queries": len(every),
        "p50_ms": pct(every, 0.50),
        "p95_ms": pct(every, 0.95),
        "max_ms": round(max(every), 2),
        "mean_ms": round(statistics.fmean(every), 2),
        "per_kind_p95_ms": {kind: pct(values, 0.95) for kind, values in kinds.items()},
        "target_found_by_core_number": f"{found}/{queries}",
        "goal_p95_ms": 50,
    }
