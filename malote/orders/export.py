"""Streaming export of the order history (CSV or JSON array) for billing systems.

Rows are read with a chunked iterator and written one by one, so memory does not grow with the
number of orders. Invoice and tracking data come from correlated subqueries, not per-row queries.

This is the machine export (the API's, stable column codes, ISO times in UTC, dot decimals); the
back office's exports for people are ``malote.orders.billing_export``, which shares the row query
and ``neutralise``.

CSV cells are neutralised against formula injection (``neutralise``): a shopper's name such as
``=HYPERLINK(...)`` reaches the spreadsheet as text. The JSON export carries values unchanged.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
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
    # The 2026 NF-e (docs/fiscal.md), appended so that existing column positions hold.
    "invoice_purpose",
    "invoice_ibs_total",
    "invoice_cbs_total",
]


def with_last_invoice_and_shipment(qs: QuerySet[Order]) -> QuerySet[Order]:
    """``qs`` annotated with its latest invoice's ``invoice_key``, ``invoice_number``,
    ``invoice_series``, ``invoice_issued_at``, ``invoice_purpose`` (finNFe code),
    ``invoice_ibs_total``, ``invoice_cbs_total`` and latest shipment's ``carrier`` and
    ``tracking_code`` (``None`` when there is none), as correlated subqueries: one query in all."""
    last_invoice = Invoice.objects.filter(order=OuterRef("pk")).order_by("-id")
    last_shipment = Shipment.objects.filter(order=OuterRef("pk")).order_by("-id")
    return qs.annotate(
        invoice_key=Subquery(last_invoice.values("key")[:1]),
        invoice_number=Subquery(last_invoice.values("number")[:1]),
        invoice_series=Subquery(last_invoice.values("series")[:1]),
        invoice_issued_at=Subquery(last_invoice.values("issued_at")[:1]),
        invoice_purpose=Subquery(last_invoice.values("purpose")[:1]),
        invoice_ibs_total=Subquery(last_invoice.values("ibs_total")[:1]),
        invoice_cbs_total=Subquery(last_invoice.values("cbs_total")[:1]),
        carrier=Subquery(last_shipment.values("carrier")[:1]),
        tracking_code=Subquery(last_shipment.values("tracking_code")[:1]),
    )


def _rows(qs: QuerySet[Order]) -> Iterator[dict[str, Any]]:
    rows = (
        with_last_invoice_and_shipment(qs.order_by("placed_at", "id"))
        .annotate(channel_code=F("channel__code"))
        .values(*[c if c != "channel" else "channel_code" for c in COLUMNS])
    )
    for row in rows.iterator(chunk_size=CHUNK):
        row["channel"] = row.pop("channel_code")
        yield {c: row[c] for c in COLUMNS}


# A spreadsheet reads a cell starting with one of these as a formula (OWASP, CSV injection).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# Inside a text cell, a separator followed by a trigger starts a formula cell in a spreadsheet that
# splits on that separator: Excel in pt-BR splits a ".csv" on ";", ignoring the comma quoting.
_TRIGGER_AFTER_SEPARATOR = re.compile(r"([,;\t\r\n]\s*)(?=[=+\-@])")


def neutralise(cell: str) -> str:
    """``cell`` safe to open in a spreadsheet: prefixed with ``'`` (shown, never evaluated) when it
    starts with a formula trigger, also after leading whitespace; and with ``'`` before a trigger
    that follows a separator inside it. Any other text comes out unchanged."""
    if cell.startswith(FORMULA_TRIGGERS) or cell.lstrip().startswith(FORMULA_TRIGGERS):
        cell = "'" + cell
    return _TRIGGER_AFTER_SEPARATOR.sub(r"\1'", cell)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)


def _cell(value: Any) -> str:
    """A CSV cell. Numbers Malote computed (Decimal, int: totals, a discount of ``-10.00``) and
    dates are written as they are; every text value, which may come from a shopper, a channel or
    an operator, is neutralised."""
    if isinstance(value, (Decimal, int)) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, (date, datetime)):
        return _text(value)
    return neutralise(_text(value))


def _csv(qs: QuerySet[Order]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for index, row in enumerate(_rows(qs)):
        writer.writerow([_cell(row[c]) for c in COLUMNS])
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
