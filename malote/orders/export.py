"""Streaming export of the order history (CSV or JSON array) for billing systems.

Rows are read with a chunked iterator and written one by one, so memory does not grow with the
number of orders. Invoice and tracking data come from correlated subqueries, not per-row queries.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import F, OuterRef, QuerySet, Subquery
from django.utils import timezone

from malote.orders.models import Invoice, Order, Shipment

CHUNK = 2000

COLUMNS = [
    "number",
    "channel",
    "external_id",
    "placed_at",
    "status",
    "currency",
    "subtotal",
    "shipping_price",
    "discount",
    "tax",
    "total",
    "payment_method",
    "customer_name",
    "customer_email",
    "customer_document",
    "invoice_key",
    "invoice_number",
    "invoice_series",
    "invoice_issued_at",
    "carrier",
    "tracking_code",
]


def _rows(qs: QuerySet[Order]) -> Iterator[dict[str, Any]]:
    last_invoice = Invoice.objects.filter(order=OuterRef("pk")).order_by("-id")
    last_shipment = Shipment.objects.filter(order=OuterRef("pk")).order_by("-id")
    rows = (
        qs.order_by("placed_at", "id")
        .annotate(
            channel_code=F("channel__code"),
            invoice_key=Subquery(last_invoice.values("key")[:1]),
            invoice_number=Subquery(last_invoice.values("number")[:1]),
            invoice_series=Subquery(last_invoice.values("series")[:1]),
            invoice_issued_at=Subquery(last_invoice.values("issued_at")[:1]),
            carrier=Subquery(last_shipment.values("carrier")[:1]),
            tracking_code=Subquery(last_shipment.values("tracking_code")[:1]),
        )
        .values(*[c if c != "channel" else "channel_code" for c in COLUMNS])
    )
    for row in rows.iterator(chunk_size=CHUNK):
        row["channel"] = row.pop("channel_code")
        yield {c: row[c] for c in COLUMNS}


def _text(value: Any) -> str:
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)


def _csv(qs: QuerySet[Order]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for index, row in enumerate(_rows(qs)):
        writer.writerow([_text(row[c]) for c in COLUMNS])
        if index % 200 == 199:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _json(qs: QuerySet[Order]) -> Iterator[str]:
    yield "["
    separator = ""
    for row in _rows(qs):
        yield separator + json.dumps(row, cls=DjangoJSONEncoder, ensure_ascii=False)
        separator = ","
    yield "]"


@dataclass(frozen=True)
class Export:
    """An export ready to stream: its text chunks, content type and file name."""

    chunks: Iterator[str]
    content_type: str
    filename: str


def export_orders(qs: QuerySet[Order], fmt: str) -> Export:
    """The orders of ``qs`` as CSV (``fmt`` ``csv``) or a JSON array (``json``), read in chunks."""
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    if fmt == "json":
        return Export(_json(qs), "application/json", f"orders-{stamp}.json")
    return Export(_csv(qs), "text/csv; charset=utf-8", f"orders-{stamp}.csv")
