"""Dashboard: access per role, inline SVG charts and tables with the same numbers (per status, per
channel, per day, lag and failure rate per channel), the attention tile, query ceiling."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from malote.backoffice.tests import pages
from malote.backoffice.tests.pages import ROLES, html
from malote.channels.models import Channel, ChannelRole, LinkState, OrderLink
from malote.orders.models import Order
from malote.sync.models import MessageState, OutboxMessage
from malote_dev.testing.orders import bring_to

pytestmark = pytest.mark.django_db

# Shared fixtures (pytest finds them as module attributes).
client_as, nobody, clear_cache = pages.client_as, pages.nobody, pages.clear_cache

URL = "/backoffice/dashboard/"


def _section(page: str, section_id: str) -> str:
    match = re.search(rf'<section class="card chart[^"]*" id="{section_id}">(.*?)</section>', page, re.S)
    assert match, section_id
    return match.group(1)


def _chart_values(section: str) -> list[str]:
    """The values pygal drew, in series order."""
    return re.findall(r'<desc class="value">([^<]*)</desc>', section)


def _table(section: str) -> dict[str, list[str]]:
    """``data-key`` → the numeric cells of that row."""
    rows = re.findall(r'<tr data-key="([^"]*)">(.*?)</tr>', section, re.S)
    return {key: re.findall(r'<td class="num">([^<]*)</td>', cells) for key, cells in rows}


@pytest.fixture
def market(db: None) -> Channel:
    return Channel.objects.create(code="mlb", name="Mercado Livre", role=ChannelRole.MARKETPLACE)


@pytest.fixture
def orders(make_order: Any, market: Channel) -> list[Order]:
    """Site: 2 pending, 1 paid, 1 out of stock (placed now); Mercado Livre: 1 canceled (3 days ago)."""
    now = timezone.now().isoformat()
    made = [make_order(placed_at=now), make_order(placed_at=now), bring_to(make_order(placed_at=now), "paid")]
    made.append(bring_to(make_order(placed_at=now), "out_of_stock"))
    placed = (timezone.now() - timedelta(days=3)).isoformat()
    made.append(bring_to(make_order(channel="mlb", placed_at=placed), "canceled"))
    return made


@pytest.mark.parametrize("role", ROLES)
def test_every_role_sees_the_dashboard(client_as: Callable[[str], Client], role: str) -> None:
    assert client_as(role).get(URL).status_code == 200


def test_anonymous_goes_to_login_and_no_role_is_forbidden(client: Client, nobody: Client) -> None:
    response = client.get(URL)
    assert response.status_code == 302 and response["Location"].startswith("/backoffice/login/?next=")
    assert nobody.get(URL).status_code == 403


def test_charts_are_inline_svg_without_scripts(
    client_as: Callable[[str], Client], orders: list[Order]
) -> None:
    page = html(client_as("viewer").get(URL))
    for section_id in ("chart-status", "chart-channel", "chart-day", "chart-lag", "chart-failures"):
        section = _section(page, section_id)
        assert "<svg" in section and "</svg>" in section
        assert "<script" not in section
    assert "window.pygal" not in page


def test_orders_per_status_chart_and_table_agree(
    client_as: Callable[[str], Client], orders: list[Order]
) -> None:
    section = _section(html(client_as("viewer").get(URL)), "chart-status")
    table = _table(section)
    assert table["pending_payment"] == ["2"]
    assert table["paid"] == ["1"] and table["out_of_stock"] == ["1"] and table["canceled"] == ["1"]
    assert table["delivered"] == ["0"]
    assert _chart_values(section) == [cells[0] for cells in table.values()]


def test_orders_per_channel_chart_and_table_agree(
    client_as: Callable[[str], Client], orders: list[Order]
) -> None:
    section = _section(html(client_as("viewer").get(URL)), "chart-channel")
    table = _table(section)
    assert table == {"site": ["4"], "mlb": ["1"]}
    assert "Mercado Livre" in section
    assert _chart_values(section) == ["4", "1"]


def test_orders_per_day_covers_30_days(
    client_as: Callable[[str], Client], orders: list[Order], make_order: Any
) -> None:
    make_order(placed_at=(timezone.now() - timedelta(days=45)).isoformat())  # outside the window
    section = _section(html(client_as("viewer").get(URL)), "chart-day")
    table = _table(section)
    today = timezone.localdate()
    assert len(table) == 30
    assert table[today.isoformat()] == ["4"]
    assert table[(today - timedelta(days=3)).isoformat()] == ["1"]
    assert sum(int(cells[0]) for cells in table.values()) == 5
    assert _chart_values(section) == [cells[0] for cells in table.values()]


def test_lag_and_failure_rate_per_channel(client_as: Callable[[str], Client], market: Channel) -> None:
    now = timezone.now()

    def message(n: int, **fields: Any) -> None:
        OutboxMessage.objects.create(
            destination="channel:mlb", key=f"k{n}", kind="order.status", idempotency_key=f"i{n}", **fields
        )

    message(1, state=MessageState.PENDING, created_at=now - timedelta(seconds=600))
    message(2, state=MessageState.DONE, delivered_at=now - timedelta(hours=1))
    message(3, state=MessageState.DONE, delivered_at=now - timedelta(hours=2))
    message(4, state=MessageState.DONE, delivered_at=now - timedelta(hours=3))
    message(5, state=MessageState.DEAD, last_error="HTTP 400", next_attempt_at=now - timedelta(hours=4))
    message(
        6, state=MessageState.DEAD, last_error="HTTP 400", next_attempt_at=now - timedelta(days=3)
    )  # too old
    page = html(client_as("viewer").get(URL))
    lag = _table(_section(page, "chart-lag"))
    assert 600 <= int(lag["mlb"][0]) < 660 and lag["mlb"][1] == "1"
    failures = _section(page, "chart-failures")
    assert _table(failures)["mlb"] == ["25,0", "1", "3"]
    assert _chart_values(failures) == ["25"]
    assert _chart_values(_section(page, "chart-lag")) == [lag["mlb"][0]]


def test_attention_tile_counts(
    client_as: Callable[[str], Client], orders: list[Order], market: Channel
) -> None:
    OutboxMessage.objects.create(
        destination="channel:mlb",
        key="k",
        kind="order.status",
        idempotency_key="dead-1",
        state=MessageState.DEAD,
    )
    OrderLink.objects.create(order=orders[0], channel=market, state=LinkState.DIVERGENT, external_id="1")
    OrderLink.objects.create(order=orders[1], channel=market, state=LinkState.ERROR, external_id="2")
    OrderLink.objects.create(order=orders[2], channel=market, state=LinkState.LINKED, external_id="3")
    page = html(client_as("viewer").get(URL))
    assert '<strong data-count="out_of_stock">1</strong>' in page
    assert '<strong data-count="dead_letters">1</strong>' in page
    assert '<strong data-count="link_problems">2</strong>' in page


def test_empty_dashboard_renders(client_as: Callable[[str], Client]) -> None:
    page = html(client_as("viewer").get(URL))
    assert "Sem pedidos." in page and '<strong data-count="dead_letters">0</strong>' in page


@pytest.mark.parametrize("count", [3, 30])
def test_query_count_does_not_grow_with_orders_or_channels(
    client_as: Callable[[str], Client], django_assert_max_num_queries: Any, make_order: Any, count: int
) -> None:
    for n in range(count):
        Channel.objects.create(code=f"c{n}", name=f"Canal {n}", role=ChannelRole.MARKETPLACE)
        make_order(channel=f"c{n}")
    client = client_as("viewer")
    with django_assert_max_num_queries(
        17
    ):  # the channels' health reads live messages and the day's deliveries apart
        response = client.get(URL)
    assert sum(r["count"] for r in response.context["per_channel"]) == count
