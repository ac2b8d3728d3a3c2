"""Read queries over orders: filters, search, and the facts a transition guard needs."""

from __future__ import annotations

from datetime import datetime

from django.db import connection
from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL

from malote.core import fastsql
from malote.orders import search
from malote.orders.models import Order
from malote.stock import actions as stock_actions

FTS_TABLE = "orders_order_fts"


def order_stock_lines(order: Order) -> list[stock_actions.StockLine]:
    rows = fastsql.rows("SELECT sku, quantity FROM orders_orderline WHERE order_id = %s", [order.pk])
    return [stock_actions.StockLine(sku, qty) for sku, qty in rows]


def channel_policy(order: Order) -> tuple[str, bool]:
    """(code, invoice_needs_xml) of the order's channel, read without building the Channel."""
    code, needs_xml = fastsql.rows(
        "SELECT code, invoice_needs_xml FROM channels_channel WHERE id = %s", [order.channel_id]
    )[0]
    return str(code), bool(needs_xml)


def stock_shortages(order: Order) -> list[str]:
    lines = order_stock_lines(order)
    totals: dict[str, int] = {}
    for line in lines:
        totals[line.sku] = totals.get(line.sku, 0) + line.quantity
    return stock_actions.shortages(sorted(totals.items()))


def search_orders(qs: QuerySet[Order], query: str) -> QuerySet[Order]:
    """Contains-search (see ``malote.orders.search``); an empty query returns ``qs`` unchanged."""
    variants = search.query_variants(query)
    if not variants:
        return qs
    if connection.vendor == "sqlite" and all(len(v) >= search.MIN_INDEXED_LENGTH for v in variants):
        # FTS5 trigram index: a quoted phrase matches any substring; variants are [a-z0-9 ] only.
        match = " OR ".join(f'"{v}"' for v in variants)
        return qs.filter(id__in=RawSQL(f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s", [match]))
    condition = Q()
    for variant in variants:
        condition |= Q(search_key__contains=variant)
    return qs.filter(condition)


def filter_orders(
    qs: QuerySet[Order],
    *,
    status: list[str] | None = None,
    channel: list[str] | None = None,
    placed_from: datetime | None = None,
    placed_to: datetime | None = None,
    q: str | None = None,
) -> QuerySet[Order]:
    if status:
        qs = qs.filter(status__in=status)
    if channel:
        qs = qs.filter(channel__code__in=channel)
    if placed_from:
        qs = qs.filter(placed_at__gte=placed_from)
    if placed_to:
        qs = qs.filter(placed_at__lte=placed_to)
    if q:
        qs = search_orders(qs, q)
    return qs
