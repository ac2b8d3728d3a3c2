"""Token buckets in the database, shared by every worker, thread and poll on every host.

``take(key, rate_per_second, burst)`` takes one token from the bucket ``key`` and returns 0, or
takes nothing and returns the seconds until a token will be there. A bucket holds at most
``burst`` tokens (a new bucket starts full) and refills at ``rate_per_second`` since its
``refilled_at``; the rate and the burst are the caller's, so changing a channel's limit takes effect
at the next call. A clock that runs behind the bucket's (another host) refills nothing and never
moves ``refilled_at`` back.

Contract: ``take`` runs its own short transaction — read the row under a row lock
(``SELECT … FOR UPDATE`` on PostgreSQL; on SQLite every write transaction starts ``IMMEDIATE``, so
writers are serialized anyway), refill, take, commit — and returns before the caller's remote call
starts. It must be called outside any transaction (``atomic(durable=True)``: called inside a
caller's ``atomic`` block it raises ``RuntimeError`` instead of holding the row lock until that
block commits, across the remote call). Malote calls connectors only outside transactions (outbox
handlers after the claim commits, schedule jobs, the webhook view's read-backs), so this holds.
"""

from __future__ import annotations

import math
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from malote.sync.models import RateBucket

# Times are stored to the microsecond: a refill that a truncated microsecond leaves a hair under a
# whole token counts as whole, and a wait is rounded up to the next microsecond.
MICROSECOND = 1e-6


def take(key: str, rate_per_second: float, burst: float, *, now: datetime | None = None) -> float:
    """Take one token from bucket ``key``: 0.0 when taken, else the seconds to wait (nothing taken).

    ``rate_per_second`` > 0; ``burst`` (at least 1) is the bucket's capacity.
    """
    if rate_per_second <= 0:
        raise ValueError(f"rate_per_second must be positive, not {rate_per_second!r}")
    burst = max(float(burst), 1.0)
    now = now or timezone.now()
    with transaction.atomic(durable=True):
        bucket = _locked(key, burst, now)
        elapsed = max(0.0, (now - bucket.refilled_at).total_seconds())
        tokens = min(burst, bucket.tokens + elapsed * rate_per_second)
        if tokens + rate_per_second * MICROSECOND < 1.0:
            return math.ceil((1.0 - tokens) / rate_per_second / MICROSECOND) * MICROSECOND
        RateBucket.objects.filter(pk=bucket.pk).update(
            tokens=max(tokens - 1.0, 0.0), refilled_at=max(bucket.refilled_at, now)
        )
        return 0.0


def _locked(key: str, burst: float, now: datetime) -> RateBucket:
    """The bucket's row, locked until the transaction ends; created full when missing (two
    processes creating it at once: the second insert does nothing and both lock the one row)."""
    bucket = RateBucket.objects.select_for_update().filter(key=key).first()
    if bucket is None:
        RateBucket.objects.bulk_create(
            [RateBucket(key=key, tokens=burst, refilled_at=now)], ignore_conflicts=True
        )
        bucket = RateBucket.objects.select_for_update().get(key=key)
    return bucket
