"""``outbox_key_state`` covers the live messages only (pending, in flight): the history of a key
changes neither the claim's per-key order nor coalescing, and the queries that need the index
repeat its condition so the planner can use it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone

from malote.sync import outbox
from malote.sync.handlers import register_handler
from malote.sync.models import MessageState, OutboxMessage

pytestmark = pytest.mark.django_db

SINK = "live:sink"


@pytest.fixture(autouse=True)
def _sink() -> Iterator[None]:
    register_handler("live", lambda message: None)
    yield


def _put(key: str, n: str) -> int:
    outbox.enqueue(SINK, "test.event", {"n": n}, key=key)
    return OutboxMessage.objects.latest("id").pk


def _history(key: str) -> None:
    """Older messages of the key that are no longer live: one delivered, one dead."""
    done, dead = _put(key, "done"), _put(key, "dead")
    OutboxMessage.objects.filter(pk=done).update(state=MessageState.DONE, delivered_at=timezone.now())
    OutboxMessage.objects.filter(pk=dead).update(state=MessageState.DEAD)


def test_delivered_and_dead_history_does_not_hold_the_next_message_of_its_key() -> None:
    _history("order:1")
    first = _put("order:1", "a")
    second = _put("order:1", "b")
    assert outbox.claim("w") == [first]  # the history blocks nothing, the older live one does
    assert outbox.claim("w") == []  # "b" waits while "a" is in flight
    outbox.settle("w", [outbox.Outcome(first)])
    assert outbox.claim("w") == [second]


def test_coalescing_counts_only_a_waiting_message_not_the_keys_history() -> None:
    _history("sku:A")
    assert outbox.enqueue_coalesced(SINK, "stock.available", "sku:A", {"n": "1"})
    assert not outbox.enqueue_coalesced(SINK, "stock.available", "sku:A", {"n": "2"})
    assert outbox.enqueue_coalesced(SINK, "stock.available", "sku:B", {"n": "1"})


def _plan(sql: str, params: list[Any]) -> str:
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # A test table is tiny: make every path but an index dearer, so the plan shows which
            # index the query may use at all (a partial one only if its condition is implied).
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("EXPLAIN " + sql, params)
        else:
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        return "\n".join(str(row[-1]) for row in cursor.fetchall())


def test_the_coalesced_enqueue_searches_the_live_key_index() -> None:
    plan = _plan(outbox._WAITING, [SINK, "sku:A"])
    assert "outbox_key_state" in plan, plan


@pytest.mark.skipif(connection.vendor != "sqlite", reason="PostgreSQL's anti-join follows statistics")
def test_the_claim_looks_for_an_older_live_sibling_in_the_live_key_index() -> None:
    now = timezone.now()
    plan = _plan(outbox._CLAIMABLE.format(destination_filter=""), [now, now, 50])
    assert "SEARCH o USING COVERING INDEX outbox_key_state" in plan, plan


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the id-order walk is PostgreSQL's plan")
def test_the_claims_walk_in_id_order_reads_live_messages_not_the_history() -> None:
    # With statistics PostgreSQL may walk ids in order and stop at the limit; over the primary key
    # that walk passes every delivered row (237 ms at a million), over outbox_live_id only the queue.
    _history("order:1")
    _put("order:1", "a")
    now = timezone.now()
    sql = outbox._CLAIMABLE.format(destination_filter="")
    with transaction.atomic(), connection.cursor() as cursor:
        for setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
            cursor.execute(f"SET LOCAL {setting} = off")
        cursor.execute("EXPLAIN " + sql, [now, now, 50])
        plan = "\n".join(str(row[0]) for row in cursor.fetchall())
    assert "Index Scan using outbox_live_id on sync_outboxmessage m" in plan, plan
