"""Read queries of the back office, built on the API's filters (one search, one filter set)."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, QuerySet

from malote.api.orders import filtered_orders
from malote.backoffice.forms import DEFAULT_SORT, SORTS
from malote.channels.models import Channel
from malote.orders.models import Order
from malote.orders.statuses import OrderStatus


def channel_choices() -> list[tuple[str, str]]:
    return [(code, name) for code, name in Channel.objects.order_by("name").values_list("code", "name")]


def orders_for(cleaned: dict[str, Any], *, with_status: bool = True) -> QuerySet[Order]:
    """Orders matching the list's filter form (``with_status=False`` ignores the status filter)."""
    placed_from = cleaned.get("placed_from")
    placed_to = cleaned.get("placed_to")
    statuses = [OrderStatus(s) for s in cleaned.get("status") or []] if with_status else None
    qs = filtered_orders(
        statuses or None,
        [cleaned["channel"]] if cleaned.get("channel") else None,
        placed_from.isoformat() if placed_from else None,
        placed_to.isoformat() if placed_to else None,
        cleaned.get("q") or None,
    )
    if cleaned.get("payment_method"):
        qs = qs.filter(payment_method=cleaned["payment_method"])
    return qs


def status_counts(cleaned: dict[str, Any]) -> list[dict[str, Any]]:
    """Per-status counts of the filtered orders (status filter aside), in one aggregate query."""
    rows = orders_for(cleaned, with_status=False).order_by().values("status").annotate(n=Count("id"))
    counts = {row["status"]: row["n"] for row in rows}
    return [
        {"code": status.value, "label": str(status.label), "count": counts.get(status.value, 0)}
        for status in OrderStatus
    ]


def sorted_orders(qs: QuerySet[Order], sort: str) -> QuerySet[Order]:
    name = (sort or DEFAULT_SORT).lstrip("-")
    if name not in SORTS:
        return qs.order_by("-placed_at", "-id")
    fields = SORTS[name]
    if (sort or DEFAULT_SORT).startswith("-"):
        return qs.order_by(*(f[1:] if f.startswith("-") else f"-{f}" for f in fields))
    return qs.order_by(*fields)


def order_page_data(order_id: int) -> Order | None:
    return (
        Order.objects.select_related("channel")
        .prefetch_related("lines", "payments", "invoices", "shipments", "events")
        .filter(pk=order_id)
        .first()
    )
