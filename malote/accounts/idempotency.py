"""Commands on ``IdempotencyRecord``: claim a key, store or drop its answer, prune expired keys.

The HTTP side (which requests carry a key, what is answered) lives in
``malote.api.middleware.IdempotencyKeyMiddleware``; this module owns the rows.

* A key is claimed by inserting its record "in progress" (committed before the request runs, so
  a concurrent repeat sees it). The unique (principal, key) pair makes exactly one insert win.
* A record still in progress after the lease (``MALOTE_IDEMPOTENCY_LEASE_SECONDS``, 60: longer
  than any request may run, gunicorn kills a worker after 30 s) belongs to a dead request: the
  next repeat of the same request takes it over and runs it again.
* A record older than its lifetime (``MALOTE_IDEMPOTENCY_TTL_SECONDS``, 24 h) is expired: the key
  is new again, whatever the request, and ``prune`` deletes it.

Every takeover is one conditional UPDATE on the row's ``attempt`` counter, so of two repeats
racing for the same record only one wins (on SQLite writers are serialised; on PostgreSQL the
loser's UPDATE re-reads the row after the winner commits and matches nothing). The answer of an
attempt is stored, and its record dropped, only while that attempt still owns the row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from malote.accounts.models import IdempotencyRecord

IN_PROGRESS = 0
DEFAULT_LEASE_SECONDS = 60
DEFAULT_TTL_SECONDS = 24 * 3600


def lease() -> timedelta:
    """How long a request may hold its key in progress before a repeat may take it over."""
    return timedelta(
        seconds=int(getattr(settings, "MALOTE_IDEMPOTENCY_LEASE_SECONDS", DEFAULT_LEASE_SECONDS))
    )


def lifetime() -> timedelta:
    """How long a key stays bound to its first request (and its answer is replayed)."""
    return timedelta(seconds=int(getattr(settings, "MALOTE_IDEMPOTENCY_TTL_SECONDS", DEFAULT_TTL_SECONDS)))


@dataclass(frozen=True)
class Claim:
    """The outcome of ``claim``: either this request owns the record (``attempt`` set) and must run,
    or it does not and ``record`` is what another request left (``None`` if it vanished)."""

    record: IdempotencyRecord | None
    attempt: int | None = None

    @property
    def owned(self) -> bool:
        return self.attempt is not None


def _insert(
    principal: str, key: str, *, method: str, path: str, request_hash: str, now: datetime
) -> Claim | None:
    try:
        with transaction.atomic():
            record = IdempotencyRecord.objects.create(
                principal=principal,
                key=key,
                method=method,
                path=path[:500],
                request_hash=request_hash,
                status=IN_PROGRESS,
                body=b"",
                started_at=now,
            )
    except IntegrityError:
        return None
    return Claim(record, record.attempt)


def claim(
    principal: str, key: str, *, method: str, path: str, request_hash: str, now: datetime | None = None
) -> Claim:
    """Claim ``key`` for this request, taking over a dead or expired record; never blocks."""
    now = now or timezone.now()
    inserted = _insert(principal, key, method=method, path=path, request_hash=request_hash, now=now)
    if inserted is not None:
        return inserted
    record = IdempotencyRecord.objects.filter(principal=principal, key=key).first()
    if record is None:
        return Claim(None)
    expired = record.started_at <= now - lifetime()
    dead = (
        record.status == IN_PROGRESS
        and record.request_hash == request_hash
        and record.started_at <= now - lease()
    )
    if not (expired or dead):
        return Claim(record)
    taken = IdempotencyRecord.objects.filter(pk=record.pk, attempt=record.attempt).update(
        attempt=record.attempt + 1,
        started_at=now,
        status=IN_PROGRESS,
        body=b"",
        method=method,
        path=path[:500],
        request_hash=request_hash,
    )
    if taken != 1:  # another repeat took it over first: it is now a fresh request in progress
        return Claim(IdempotencyRecord.objects.filter(pk=record.pk).first())
    return Claim(record, record.attempt + 1)


def _owned_row(claimed: Claim) -> QuerySet[IdempotencyRecord]:
    """The claimed row, as long as this attempt still owns it (no takeover since)."""
    if claimed.record is None or claimed.attempt is None:
        raise ValueError("only an owned claim can store or drop its record")
    return IdempotencyRecord.objects.filter(pk=claimed.record.pk, attempt=claimed.attempt)


def store(claimed: Claim, status: int, body: bytes) -> bool:
    """Keep the answer of the owning attempt; ``False`` if a takeover made it lose the record."""
    return bool(_owned_row(claimed).update(status=status, body=body))


def drop(claimed: Claim) -> None:
    """Forget the owning attempt's claim, so the request may be retried under the same key."""
    _owned_row(claimed).delete()


def prune(now: datetime | None = None) -> int:
    """Delete the expired records; returns how many. Run hourly by the ``api.prune_idempotency`` job."""
    cutoff = (now or timezone.now()) - lifetime()
    deleted, _ = IdempotencyRecord.objects.filter(started_at__lte=cutoff).delete()
    return deleted
