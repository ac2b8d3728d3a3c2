"""``malote bench growth``'s shapes and comparison (the benchmark itself prints figures, never asserts)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from malote.connectors.base import ListedOrder
from malote_dev.bench import growth

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def test_history_spreads_a_year_of_orders_up_to_now() -> None:
    history = growth.History(365_000, NOW)
    assert history.placed(365_000) == NOW
    assert NOW - history.placed(1) < timedelta(days=365)
    recent = history.first_recent()
    assert history.placed(recent) >= NOW - timedelta(days=growth.RECENT_DAYS)
    assert history.placed(recent - 1) < NOW - timedelta(days=growth.RECENT_DAYS)


def test_outbox_history_has_the_flows_shapes() -> None:
    history = growth.History(100, NOW)
    rows = list(growth._outbox_rows(history, 1000))
    assert len(rows) == 1000
    per_order = Counter(row[2] for row in rows)
    assert set(per_order.values()) == {10}
    first_order = [row for row in rows if row[2] == 1]
    assert [row[3] for row in first_order] == list(range(1, 11))  # seq
    assert {row[1] for row in first_order} == {"order:1"}
    assert {row[0] for row in rows} == {"channel:tiny", "channel:loja", "email:customer"}
    assert len({row[6] for row in rows}) == 1000  # idempotency keys are unique
    delivered = [row[9] for row in first_order]
    assert delivered == sorted(delivered)


def test_outbox_rows_need_not_divide_evenly() -> None:
    rows = list(growth._outbox_rows(growth.History(7, NOW), 30))
    assert len(rows) == 30


def test_ratios_read_above_one_as_slower_for_rates_and_times() -> None:
    empty: dict[str, dict[str, float]] = {section: {} for section, _, _ in growth.COMPARED}
    filled: dict[str, dict[str, float]] = {section: {} for section, _, _ in growth.COMPARED}
    for section, name, higher_is_better in growth.COMPARED:
        empty[section][name] = 100.0
        filled[section][name] = 50.0 if higher_is_better else 200.0
    table = growth._ratios(empty, filled)
    assert {row["cost_ratio"] for row in table.values()} == {2.0}
    assert not any(row["within_goal"] for row in table.values())


def test_the_listed_erp_pages_its_listing() -> None:
    listed = [ListedOrder(external_id=f"tiny-{n}") for n in range(2500)]
    connector = growth._ListedErp(None, listed)
    seen, cursor = [], None
    while True:
        page = connector.list_orders("2026-01-01T00:00:00+00:00", cursor)
        seen += page.orders
        if not page.more:
            break
        cursor = page.cursor
    connector.close()
    assert seen == listed
