"""Claiming an ``Idempotency-Key``: a dead attempt is taken over by exactly one repeat, even when
several race for it (real threads, real connections), and a late attempt cannot overwrite its
successor. Runs on both databases; the PostgreSQL pass of ``make test`` is the proof under true
concurrency (the loser's conditional UPDATE re-reads the row and matches nothing)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import Any

import pytest
from django.db import connection, connections
from django.utils import timezone

from malote.accounts import idempotency
from malote.accounts.idempotency import Claim
from malote.accounts.models import IdempotencyRecord

pytestmark = pytest.mark.django_db(transaction=True)

RACERS = 4
ROUNDS = 5
DEAD = timedelta(seconds=idempotency.DEFAULT_LEASE_SECONDS + 1)


def _claim(key: str = "k", request_hash: str = "h") -> Claim:
    return idempotency.claim("t:caller", key, method="POST", path="/api/v1/orders", request_hash=request_hash)


def _dead(key: str = "k", request_hash: str = "h") -> IdempotencyRecord:
    return IdempotencyRecord.objects.create(
        principal="t:caller",
        key=key,
        method="POST",
        path="/api/v1/orders",
        request_hash=request_hash,
        status=idempotency.IN_PROGRESS,
        body=b"",
        started_at=timezone.now() - DEAD,
    )


def _in_threads(workers: list[Callable[[], Any]]) -> list[Any]:
    barrier = threading.Barrier(len(workers))
    results: list[Any] = [None] * len(workers)

    def run(index: int, work: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=10)
            results[index] = work()
        except Exception as exc:  # surfaced by the assertions below
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, w)) for i, w in enumerate(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_the_first_claim_owns_a_new_key_and_a_repeat_does_not() -> None:
    first = _claim()
    assert first.owned and first.attempt == 1
    repeat = _claim()
    assert not repeat.owned
    assert repeat.record is not None and repeat.record.pk == first.record.pk  # type: ignore[union-attr]


def test_racing_repeats_take_a_dead_record_over_exactly_once() -> None:
    for round_ in range(ROUNDS):
        key = f"dead-{round_}"
        _dead(key)
        claims = _in_threads([partial(_claim, key) for _ in range(RACERS)])
        assert all(isinstance(c, Claim) for c in claims), claims
        owners = [c for c in claims if c.owned]
        assert len(owners) == 1, f"round {round_}: {len(owners)} owners on {connection.vendor}"
        assert owners[0].attempt == 2
        losers = [c for c in claims if not c.owned]
        assert all(c.record.status == idempotency.IN_PROGRESS for c in losers)
        assert IdempotencyRecord.objects.get(key=key).attempt == 2


def test_racing_first_requests_insert_one_record() -> None:
    claims = _in_threads([lambda: _claim("new") for _ in range(RACERS)])
    assert all(isinstance(c, Claim) for c in claims), claims
    assert sum(c.owned for c in claims) == 1
    assert IdempotencyRecord.objects.filter(key="new").count() == 1


def test_a_late_attempt_cannot_store_over_its_successor() -> None:
    _dead()
    successor = _claim()
    assert successor.owned and successor.attempt == 2
    late = Claim(successor.record, 1)  # the first attempt, which was only slow, finishes now
    assert idempotency.store(late, 201, b'{"late": true}') is False
    idempotency.drop(late)
    assert IdempotencyRecord.objects.get().status == idempotency.IN_PROGRESS
    assert idempotency.store(successor, 201, b'{"ok": true}') is True
    record = IdempotencyRecord.objects.get()
    assert (record.status, bytes(record.body)) == (201, b'{"ok": true}')


def test_a_dropped_claim_frees_the_key() -> None:
    claim = _claim()
    idempotency.drop(claim)
    assert not IdempotencyRecord.objects.exists()
    assert _claim().owned
