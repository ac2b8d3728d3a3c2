"""GET /api/v1/orders/export: CSV and JSON, the list's filters, streamed with flat memory."""

from __future__ import annotations

import csv
import io
import json
import tracemalloc
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from malote.api.tests.helpers import ORDERS, assert_error
from malote.channels.models import Channel
from malote.conftest import ApiClient
from malote.orders import export
from malote.orders.export import COLUMNS
from malote.orders.models import Invoice, Order
from malote_dev.testing.orders import bring_to

pytestmark = pytest.mark.django_db

EXPORT = f"{ORDERS}/export"


def _content(response: Any) -> str:
    assert response.status_code == 200, getattr(response, "content", b"")[:300]
    assert response.streaming is True
    return b"".join(response.streaming_content).decode("utf-8")


def _csv(api: ApiClient, query: str = "") -> list[dict[str, str]]:
    response = api.get(f"{EXPORT}?format=csv{query}")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="orders-')
    assert response["Content-Disposition"].endswith('.csv"')
    text = _content(response)
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == COLUMNS
    return [dict(zip(COLUMNS, row, strict=True)) for row in rows[1:]]


def _json(api: ApiClient, query: str = "") -> list[dict[str, Any]]:
    response = api.get(f"{EXPORT}?format=json{query}")
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"].endswith('.json"')
    data: list[dict[str, Any]] = json.loads(_content(response))
    return data


def test_csv_has_a_header_and_one_row_per_order(api: ApiClient, make_order: Callable[..., Order]) -> None:
    first = make_order(placed_at="2026-11-20T10:00:00-03:00")
    second = make_order(placed_at="2026-11-21T10:00:00-03:00")
    rows = _csv(api)
    assert [r["number"] for r in rows] == [first.number, second.number]  # oldest first
    row = rows[0]
    assert row["channel"] == "site"
    assert row["external_id"] == first.external_id
    assert row["placed_at"] == "2026-11-20T13:00:00+00:00"
    assert row["status"] == "pending_payment"
    assert (row["subtotal"], row["shipping_price"], row["total"]) == ("99.80", "15.00", "114.80")
    assert row["customer_document"] == "52998224725"
    assert row["invoice_key"] == ""
    assert row["tracking_code"] == ""


def test_csv_is_the_default_format(api: ApiClient, make_order: Callable[..., Order]) -> None:
    make_order()
    response = api.get(EXPORT)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert _content(response).splitlines()[0] == ",".join(COLUMNS)


def test_invoice_and_tracking_columns_filled_after_invoicing_and_shipping(
    api: ApiClient, make_order: Callable[..., Order]
) -> None:
    invoiced = bring_to(make_order(), "invoiced")
    shipped = bring_to(make_order(), "shipped")
    pending = make_order()
    rows = {r["number"]: r for r in _csv(api)}
    key = Invoice.objects.get(order=invoiced).key
    assert rows[invoiced.number or ""]["invoice_key"] == key
    assert rows[invoiced.number or ""]["invoice_series"] == "1"
    assert rows[invoiced.number or ""]["invoice_issued_at"]
    assert rows[invoiced.number or ""]["tracking_code"] == ""
    assert rows[shipped.number or ""]["invoice_key"] == Invoice.objects.get(order=shipped).key
    assert rows[shipped.number or ""]["carrier"] == "correios"
    assert rows[shipped.number or ""]["tracking_code"] == "AA123456785BR"
    assert rows[pending.number or ""]["invoice_key"] == ""


def test_json_export_parses(api: ApiClient, make_order: Callable[..., Order]) -> None:
    invoiced = bring_to(make_order(), "invoiced")
    make_order()
    data = _json(api)
    assert len(data) == 2
    assert list(data[0]) == COLUMNS
    by_number = {d["number"]: d for d in data}
    assert by_number[invoiced.number]["invoice_key"] == Invoice.objects.get(order=invoiced).key
    assert by_number[invoiced.number]["total"] == "114.80"  # money stays a decimal string
    assert Decimal(by_number[invoiced.number]["total"]) == Decimal("114.80")


def test_json_export_of_nothing_is_an_empty_array(api: ApiClient, db: None) -> None:
    assert _json(api) == []


def test_csv_export_of_nothing_is_only_the_header(api: ApiClient, db: None) -> None:
    assert _csv(api) == []


def test_export_applies_the_list_filters(
    api: ApiClient, make_order: Callable[..., Order], xml_channel: Channel
) -> None:
    paid = bring_to(make_order(placed_at="2026-11-20T10:00:00-03:00"), "paid")
    pending = make_order(placed_at="2026-11-22T10:00:00-03:00")
    ml = make_order(channel="mercadolivre", placed_at="2026-11-21T10:00:00-03:00")

    def numbers(query: str) -> list[str]:
        return [r["number"] for r in _csv(api, query)]

    assert numbers("&status=paid") == [paid.number]
    assert numbers("&status=canceled") == []
    assert numbers("&channel=mercadolivre") == [ml.number]
    assert numbers("&placed_from=2026-11-21") == [ml.number, pending.number]
    assert numbers("&placed_to=2026-11-21") == [paid.number, ml.number]
    assert numbers(f"&q={pending.external_id}") == [pending.number]
    assert numbers("&q=000000000000") == []
    assert [d["number"] for d in _json(api, "&status=pending_payment")] == [ml.number, pending.number]


@pytest.mark.parametrize(
    ("query", "code", "field"),
    [
        ("format=xml", "literal_error", "format"),
        ("status=lost", "enum", "status.0"),
        ("placed_from=tomorrow", "invalid_datetime", "placed_from"),
    ],
)
def test_export_invalid_query_is_422(
    api: ApiClient, make_order: Callable[..., Order], query: str, code: str, field: str
) -> None:
    make_order()
    assert_error(api.get(f"{EXPORT}?{query}"), 422, code, field)


def test_text_with_commas_quotes_and_accents_round_trips(
    api: ApiClient, make_order: Callable[..., Order]
) -> None:
    customer = {"name": 'João "Zé", da Silva', "document": "529.982.247-25", "email": "ze@example.com"}
    make_order(customer=customer)
    [row] = _csv(api)
    assert row["customer_name"] == 'João "Zé", da Silva'
    assert _json(api)[0]["customer_name"] == 'João "Zé", da Silva'


# --- flat memory and a fixed number of queries ----------------------------------------------------


def _bulk_orders(channel: Channel, n: int) -> None:
    start = timezone.now() - timedelta(days=30)
    Order.objects.bulk_create(
        (
            Order(
                channel=channel,
                external_id=f"BULK-{i:06d}",
                number=f"B{i:07d}",
                placed_at=start + timedelta(seconds=i),
                status="paid",
                status_path=["paid"],
                subtotal=Decimal("99.80"),
                shipping_price=Decimal("15.00"),
                total=Decimal("114.80"),
                customer_name=f"Cliente {i} com um nome razoavelmente comprido para o teste",
                customer_email=f"cliente{i}@example.com",
                customer_document="52998224725",
                payment_method="pix",
            )
            for i in range(n)
        ),
        batch_size=500,
    )


def _measure(api: ApiClient, fmt: str) -> tuple[int, int, int]:
    """(peak traced bytes, queries, bytes streamed) while serving and consuming the export."""
    tracemalloc.start()
    try:
        with CaptureQueriesContext(connection) as queries:
            response = api.get(f"{EXPORT}?format={fmt}")
            assert response.streaming is True
            size = 0
            for chunk in response.streaming_content:
                size += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, len(queries), size


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_export_memory_and_queries_do_not_grow_with_the_number_of_orders(
    api: ApiClient, channel: Channel, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    # The rows are fetched CHUNK at a time (2000 in production): memory is bounded by the chunk,
    # not by the number of orders. A smaller chunk lets 300 vs 3000 orders show that nothing else
    # (a buffer, a list of rows, the JSON separators) grows with N.
    monkeypatch.setattr(export, "CHUNK", 100)
    _bulk_orders(channel, 300)
    _measure(api, fmt)  # warm up: imports, caches, the first request's one-time costs
    small_peak, small_queries, small_size = _measure(api, fmt)
    Order.objects.filter(external_id__startswith="BULK-").delete()
    _bulk_orders(channel, 3000)
    big_peak, big_queries, big_size = _measure(api, fmt)

    assert big_size > 9 * small_size  # the export really did stream ten times the rows
    assert big_queries == small_queries
    assert big_peak < 1.5 * small_peak, (small_peak, big_peak)
