"""The database token bucket (``malote.sync.rate_buckets.take``): tokens within the burst at once,
the wait beyond it, refills over time (driven through ``now``), one bucket shared by concurrent
connections, its own transaction only; and the outbox giving back the attempt of a delivery that
Malote's own rate limit deferred."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from malote.sync import outbox
from malote.sync.errors import DeliveryError
from malote.sync.models import OutboxMessage, RateBucket
from malote.sync.rate_buckets import take

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=timezone.get_fixed_timezone(-180))
KEY = "rate:skyhub:orders_get"


def _after(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.mark.django_db
def test_within_the_burst_every_take_is_at_once() -> None:
    assert [take(KEY, 3, 3, now=T0) for _ in range(3)] == [0.0, 0.0, 0.0]
    bucket = RateBucket.objects.get(key=KEY)
    assert bucket.tokens == pytest.approx(0.0) and bucket.refilled_at == T0


@pytest.mark.django_db
def test_over_the_limit_the_answer_is_the_wait_and_nothing_is_taken() -> None:
    for _ in range(3):
        take(KEY, 3, 3, now=T0)
    assert take(KEY, 3, 3, now=T0) == pytest.approx(1 / 3, abs=1e-6)
    assert take(KEY, 3, 3, now=_after(0.2)) == pytest.approx(1 / 3 - 0.2, abs=1e-6), "waiting took nothing"
    assert take("rate:skyhub:write", 3, 3, now=T0) == 0.0, "another key, another bucket"


@pytest.mark.django_db
def test_the_bucket_refills_with_time_up_to_its_burst() -> None:
    for _ in range(2):
        take(KEY, 1, 2, now=T0)
    assert take(KEY, 1, 2, now=_after(0.5)) == pytest.approx(0.5, abs=1e-6)
    assert take(KEY, 1, 2, now=_after(1)) == 0.0, "one token a second"
    assert take(KEY, 1, 2, now=_after(1)) > 0
    # An hour later the bucket holds its burst, not 3,600 tokens.
    assert [take(KEY, 1, 2, now=_after(3601)) for _ in range(3)] == [0.0, 0.0, pytest.approx(1.0, abs=1e-6)]


@pytest.mark.django_db
def test_a_clock_behind_the_bucket_refills_nothing_and_does_not_move_it_back() -> None:
    take(KEY, 1, 1, now=T0)
    assert take(KEY, 1, 1, now=_after(-30)) == pytest.approx(1.0, abs=1e-6)
    assert RateBucket.objects.get(key=KEY).refilled_at == T0
    assert take(KEY, 1, 1, now=_after(1)) == 0.0


@pytest.mark.django_db
def test_the_callers_rate_applies_at_the_next_take() -> None:
    take(KEY, 1, 1, now=T0)
    assert take(KEY, 1, 1, now=_after(0.5)) == pytest.approx(0.5, abs=1e-6)
    assert take(KEY, 10, 10, now=_after(0.5)) == 0.0, "raised to 10/s: half a second refilled five"


@pytest.mark.django_db
def test_a_rate_of_zero_is_refused() -> None:
    with pytest.raises(ValueError):
        take(KEY, 0, 1, now=T0)


@pytest.mark.django_db
def test_outside_a_transaction_it_commits_its_own_and_inside_one_it_refuses() -> None:
    assert take(KEY, 1, 1, now=T0) == 0.0
    with pytest.raises(RuntimeError), transaction.atomic():
        # A lock taken here would be held until the caller commits, across its remote call.
        take(KEY, 1, 1, now=_after(5))
    assert RateBucket.objects.get(key=KEY).refilled_at == T0


@pytest.mark.django_db(transaction=True)
def test_concurrent_connections_share_one_bucket_and_never_overdraw_it() -> None:
    """Six threads, each on its own database connection (as separate worker processes would be),
    take at the same instant from a bucket of five tokens: exactly five get one."""
    start = threading.Barrier(6)
    answers: list[float] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            start.wait()
            for _ in range(3):
                answers.append(take(KEY, 0.01, 5, now=T0))
        except BaseException as exc:  # reported by the test thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert len(answers) == 18 and answers.count(0.0) == 5
    assert RateBucket.objects.filter(key=KEY).count() == 1
    assert RateBucket.objects.get(key=KEY).tokens == pytest.approx(0.0)


class Deferred(DeliveryError):
    """What a connector raises when Malote's own rate limit defers a call (no remote call made)."""

    counts_as_attempt = False


@pytest.mark.django_db
def test_a_delivery_deferred_by_the_rate_limit_spends_no_attempt_and_waits_retry_after() -> None:
    outbox.enqueue("test:sink", "test.event", {}, key="order:1")
    outbox.enqueue("test:sink", "test.event", {}, key="order:2")
    first, second = outbox.claim("w")
    before = timezone.now()
    outbox.settle(
        "w",
        [
            outbox.Outcome(first, Deferred("over the channel's rate limit", retryable=True, retry_after=4)),
            outbox.Outcome(second, DeliveryError("remote 429", retryable=True, status=429, retry_after=4)),
        ],
    )
    deferred, answered = OutboxMessage.objects.get(pk=first), OutboxMessage.objects.get(pk=second)
    assert deferred.state == answered.state == "pending"
    assert deferred.attempts == 0, "no remote call: the attempt is given back"
    assert answered.attempts == 1, "a 429 from the remote is an attempt"
    assert before + timedelta(seconds=4) <= deferred.next_attempt_at <= timezone.now() + timedelta(seconds=4)


@pytest.mark.django_db
def test_a_deferral_never_pushes_a_message_over_its_attempts() -> None:
    outbox.enqueue("test:sink", "test.event", {}, key="order:1")
    (message,) = outbox.claim("w")
    OutboxMessage.objects.filter(pk=message).update(attempts=15)
    outbox.settle("w", [outbox.Outcome(message, Deferred("rate limit", retryable=True, retry_after=1))])
    assert OutboxMessage.objects.get(pk=message).state == "pending"
