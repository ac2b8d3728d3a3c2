"""The reconciliation's reference index (``OrderIndex``): the orders placed in the window and any
older one spelled exactly like a listed reference, read with one indexed query each."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Q
from django.utils import timezone

from malote.channels.models import Channel, ChannelRole
from malote.orders.models import Order
from malote.reconcile import references
from malote.reconcile.references import OrderIndex, _indexed_lookups, order_keys

pytestmark = pytest.mark.django_db


def _order(channel: Channel, external_id: str, placed_at: datetime, number: str) -> Order:
    money = Decimal("10.00")
    return Order.objects.create(
        channel=channel,
        external_id=external_id,
        placed_at=placed_at,
        number=number,
        subtotal=money,
        total=money,
    )


@pytest.fixture
def orders() -> dict[str, Order]:
    now = timezone.now()
    site = Channel.objects.create(code="site", name="Loja", role=ChannelRole.STOREFRONT)
    market = Channel.objects.create(code="market", name="Marketplace", role=ChannelRole.MARKETPLACE)
    old = now - timedelta(days=400)
    return {
        "recent": _order(site, "02-704319102", now - timedelta(hours=1), "M0000101"),
        "recent_market": _order(market, "MK-55501", now - timedelta(days=2), "M0000102"),
        "old_by_number": _order(site, "old-site-1", old, "M0000001"),
        "old_by_external": _order(market, "MK-11111", old, "M0000002"),
        "old_unreferenced": _order(site, "old-site-3", old, "M0000003"),
    }


def _single_or_query(refs: list[str], since: datetime) -> dict[str, list[int]]:
    """What the index held when it was read with one ``OR`` query: the split must find the same."""
    found = Order.objects.filter(Q(placed_at__gte=since) | Q(number__in=refs) | Q(external_id__in=refs))
    by_key: dict[str, list[int]] = {}
    for pk, number, external_id in found.values_list("pk", "number", "external_id"):
        for key in order_keys(number, external_id):
            by_key.setdefault(key, []).append(pk)
    return by_key


def test_the_window_and_the_older_orders_named_exactly_are_indexed(orders: dict[str, Order]) -> None:
    since = timezone.now() - timedelta(days=30)
    refs = ["M0000001", "MK-11111", "704319102", "no-such-order"]
    index = OrderIndex(refs, since)
    assert index.find("704319102-1") == orders["recent"].pk  # in the window, by a spelling of its id
    assert index.find("M0000102") == orders["recent_market"].pk
    assert index.find("M0000001") == orders["old_by_number"].pk  # older, by its number
    assert index.find("MK-11111") == orders["old_by_external"].pk  # older, by its id in the channel
    assert index.find("M0000003") is None  # older and not referenced: not read
    assert set(index.numbers) == {
        orders[name].pk for name in ("recent", "recent_market", "old_by_number", "old_by_external")
    }
    expected = _single_or_query(refs, since)
    assert {key: sorted(pks) for key, pks in index.by_key.items()} == {
        key: sorted(pks) for key, pks in expected.items()
    }


def test_references_read_a_few_at_a_time_find_the_same_orders(
    orders: dict[str, Order], monkeypatch: pytest.MonkeyPatch
) -> None:
    since = timezone.now() - timedelta(days=30)
    refs = ["M0000001", "MK-11111", "704319102", "no-such-order", "M0000002"]
    whole = OrderIndex(refs, since)
    monkeypatch.setattr(references, "REFERENCES_PER_QUERY", 2)
    assert len(_indexed_lookups(refs, since)) == 1 + 2 * 3  # the window, then number and id per chunk
    chunked = OrderIndex(refs, since)
    assert chunked.by_key == whole.by_key
    assert chunked.find("MK-11111") == orders["old_by_external"].pk


def test_without_references_only_the_window_is_read(orders: dict[str, Order]) -> None:
    index = OrderIndex([], timezone.now() - timedelta(days=30))
    assert set(index.numbers) == {orders["recent"].pk, orders["recent_market"].pk}


def test_an_order_found_by_several_lookups_is_indexed_once(orders: dict[str, Order]) -> None:
    recent = orders["recent"]
    index = OrderIndex([recent.number or "", recent.external_id], timezone.now() - timedelta(days=30))
    assert all(pks.count(recent.pk) <= 1 for pks in index.by_key.values())
    assert index.find(recent.external_id) == recent.pk


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's plan; PostgreSQL's follows statistics")
def test_each_lookup_is_an_index_search_not_a_scan_of_every_order(orders: dict[str, Order]) -> None:
    lookups = _indexed_lookups(["M0000001", "MK-11111"], timezone.now() - timedelta(days=30))
    plans = [lookup.order_by().values_list("pk").explain() for lookup in lookups]
    assert len(plans) == 3
    for plan in plans:
        assert "SEARCH orders_order USING" in plan and "SCAN orders_order" not in plan, plan
