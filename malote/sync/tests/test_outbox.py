"""Outbox: atomic enqueue, keyed-FIFO claims, leases, retries, dead letters, replay."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from malote.sync import outbox
from malote.sync.errors import DeliveryError
from malote.sync.handlers import register_handler
from malote.sync.models import OutboxMessage
from malote.sync.worker import drain

pytestmark = pytest.mark.django_db

DELIVERED: list[tuple[str, str]] = []


def _record(message: OutboxMessage) -> None:
    if message.payload.get("fail") == "retry":
        raise DeliveryError("remote 503", retryable=True, status=503)
    if message.payload.get("fail") == "permanent":
        raise DeliveryError("remote 400", retryable=False, status=400)
    if message.payload.get("fail") == "crash":
        raise RuntimeError("handler bug")
    DELIVERED.append((message.key, message.payload["n"]))


@pytest.fixture(autouse=True)
def _test_handler() -> Iterator[None]:
    DELIVERED.clear()
    register_handler("test", _record)
    yield
    DELIVERED.clear()


def _put(key: str, n: str, **payload: object) -> None:
    outbox.enqueue("test:sink", "test.event", {"n": n, **payload}, key=key)


def test_enqueue_is_atomic_with_the_callers_transaction() -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        _put("order:1", "a")
        raise RuntimeError("the change failed")
    assert OutboxMessage.objects.count() == 0
    _put("order:1", "a")
    assert OutboxMessage.objects.get().state == "pending"


def test_claim_takes_one_message_per_key_oldest_first() -> None:
    _put("order:1", "1a")
    _put("order:1", "1b")
    _put("order:2", "2a")
    ids = outbox.claim("w1")
    claimed = OutboxMessage.objects.filter(id__in=ids).order_by("id")
    assert [m.payload["n"] for m in claimed] == ["1a", "2a"]
    assert all(m.state == "in_flight" and m.lease_owner == "w1" and m.attempts == 1 for m in claimed)
    assert outbox.claim("w2") == [], "the next message of order 1 waits for the one in flight"
    outbox.settle("w1", [outbox.Outcome(i) for i in ids])
    second = outbox.claim("w2")
    assert [m.payload["n"] for m in OutboxMessage.objects.filter(id__in=second)] == ["1b"]


def test_a_retrying_message_keeps_its_place_at_the_head_of_its_key() -> None:
    _put("order:1", "first", fail="retry")
    _put("order:1", "second")
    drain()
    assert DELIVERED == []
    first = OutboxMessage.objects.get(payload__n="first")
    assert (first.state, first.attempts, first.last_status) == ("pending", 1, 503)
    assert first.next_attempt_at > timezone.now()
    assert OutboxMessage.objects.get(payload__n="second").state == "pending"


def test_expired_lease_is_taken_over_and_the_late_owner_cannot_settle() -> None:
    _put("order:1", "a")
    ids = outbox.claim("dead-worker", lease_seconds=30)
    OutboxMessage.objects.filter(id__in=ids).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    taken = outbox.claim("w2")
    assert taken == ids
    outbox.settle("dead-worker", [outbox.Outcome(ids[0])])
    assert OutboxMessage.objects.get().state == "in_flight", "the late worker's result is ignored"
    outbox.settle("w2", [outbox.Outcome(ids[0])])
    message = OutboxMessage.objects.get()
    assert (message.state, message.attempts) == ("done", 2)


def test_permanent_failure_goes_to_dead_letters_and_does_not_block_the_key() -> None:
    _put("order:1", "bad", fail="permanent")
    _put("order:1", "good")
    drain()
    assert OutboxMessage.objects.get(payload__n="bad").state == "dead"
    assert DELIVERED == [("order:1", "good")]
    assert list(outbox.dead_letters().values_list("payload__n", flat=True)) == ["bad"]


def test_too_many_attempts_is_dead() -> None:
    _put("order:1", "x", fail="retry")
    ids = outbox.claim("w")
    OutboxMessage.objects.filter(id__in=ids).update(attempts=15)
    outbox.settle("w", [outbox.Outcome(ids[0], DeliveryError("503", retryable=True))])
    assert OutboxMessage.objects.get().state == "dead"


def test_retry_after_is_honoured_and_backoff_grows() -> None:
    policy = outbox.RetryPolicy(base_seconds=2, cap_seconds=60)
    assert policy.delay(3, retry_after=17) == 17
    delays = [policy.delay(n) for n in (1, 2, 3, 4, 10)]
    assert 1 <= delays[0] <= 2 and 2 <= delays[1] <= 4 and 4 <= delays[2] <= 8 and 8 <= delays[3] <= 16
    assert 30 <= delays[4] <= 60, "capped"


def test_handler_crash_is_a_retry_not_a_dead_worker() -> None:
    _put("order:1", "x", fail="crash")
    assert drain() == 1
    message = OutboxMessage.objects.get()
    assert message.state == "pending" and "RuntimeError: handler bug" in message.last_error


def test_replay_puts_dead_letters_back() -> None:
    _put("order:1", "bad", fail="permanent")
    drain()
    message = OutboxMessage.objects.get()
    OutboxMessage.objects.filter(pk=message.pk).update(payload={"n": "bad-now-fixed"})
    assert outbox.replay_all_dead() == 1
    drain()
    message.refresh_from_db()
    assert (message.state, message.attempts) == ("done", 1)
    assert DELIVERED == [("order:1", "bad-now-fixed")]


def test_retry_now_refuses_done_messages() -> None:
    _put("order:1", "ok")
    drain()
    from malote.core.errors import Conflict

    with pytest.raises(Conflict):
        outbox.retry_now(OutboxMessage.objects.get().pk)


def test_coalesced_enqueue_keeps_one_waiting_message_per_key() -> None:
    added = [
        outbox.enqueue_coalesced("test:sink", "stock.available", "sku:A", {"n": str(i)}) for i in range(100)
    ]
    assert added.count(True) == 1
    ids = outbox.claim("w")
    assert outbox.enqueue_coalesced("test:sink", "stock.available", "sku:A", {"n": "after"}), (
        "a message in flight may already have read the old value: one more may wait"
    )
    assert not outbox.enqueue_coalesced("test:sink", "stock.available", "sku:A", {"n": "again"})
    outbox.settle("w", [outbox.Outcome(i) for i in ids])
    assert OutboxMessage.objects.filter(key="sku:A").count() == 2


def test_unknown_destination_is_dead_at_once() -> None:
    outbox.enqueue("nowhere:x", "k", {"n": "1"}, key="k")
    drain()
    assert OutboxMessage.objects.get().state == "dead"
