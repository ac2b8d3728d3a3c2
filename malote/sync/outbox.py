"""The outbox: enqueue inside the caller's transaction; claim, complete, fail, replay.

Claim rule (keyed FIFO): a message can be claimed when it is due and no older message with the
same (destination, key) is still pending or in flight; an in-flight message whose lease expired
can be claimed again (its worker died). On PostgreSQL the claim uses ``FOR UPDATE SKIP LOCKED``;
on SQLite the IMMEDIATE transaction already serializes claimers. A unique partial index allows
one in-flight message per (destination, key) as a last line of defence.

Dead letters do not block later messages of their key: payloads carry the order's state and
sequence number, so later messages supersede, and the dead one stays visible for replay.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import F, QuerySet
from django.utils import timezone

from malote.core import fastsql
from malote.core.errors import Conflict
from malote.sync import crashpoints
from malote.sync.errors import DeliveryError, SyncErrorCode
from malote.sync.models import LIVE_STATES, MessageState, OutboxMessage
from malote.sync.write_lock import write_transaction

S = MessageState

# ``state IN ('pending', 'in_flight')`` written out as literals: the condition of the partial index
# ``outbox_key_state``, which a query must repeat word for word for SQLite to use that index.
_LIVE = f"state IN ({', '.join(repr(str(state)) for state in LIVE_STATES)})"


@dataclass(frozen=True)
class RetryPolicy:
    base_seconds: float = 2.0
    cap_seconds: float = 900.0
    max_attempts: int = 15
    max_retry_after_seconds: float = 3600.0

    def delay(self, attempts: int, retry_after: float | None = None) -> float:
        """Capped exponential backoff with jitter (half fixed, half random); ``Retry-After`` wins."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_retry_after_seconds)
        ceiling = min(self.cap_seconds, self.base_seconds * 2 ** max(attempts - 1, 0))
        return ceiling / 2 + random.uniform(0, ceiling / 2)


def policy() -> RetryPolicy:
    return RetryPolicy(**getattr(settings, "MALOTE_RETRY_POLICY", {}))


# --- writing ---------------------------------------------------------------------------------


def enqueue(
    destination: str,
    kind: str,
    payload: dict[str, Any],
    *,
    order_id: int | None = None,
    key: str | None = None,
    seq: int | None = None,
) -> None:
    """Add a message; call inside the transaction that makes the change (the order row locked).

    ``key`` defaults to the order; ``seq`` to the order's next sequence number.
    """
    now = timezone.now()
    values: dict[str, Any] = {
        "destination": destination,
        "key": key or f"order:{order_id}",
        "order": order_id,
        "kind": kind,
        "payload": payload,
        "idempotency_key": uuid.uuid4().hex,
        "state": str(S.PENDING),
        "attempts": 0,
        "next_attempt_at": now,
        "lease_owner": "",
        "last_error": "",
        "created_at": now,
    }
    if order_id is not None and seq is None:
        # The order's next number computed by the INSERT itself: one statement, not a MAX read first.
        fastsql.insert_next(OutboxMessage, "seq", ("order", order_id), **values)
    else:
        fastsql.insert(OutboxMessage, seq=seq or 0, **values)


# A message of (destination, key) waiting to be claimed; ``_LIVE`` adds nothing to ``state =
# 'pending'`` but the use of ``outbox_key_state`` (without it, SQLite reads every pending row).
_WAITING = f"""
SELECT 1 FROM sync_outboxmessage
WHERE destination = %s AND key = %s AND state = 'pending' AND {_LIVE}
LIMIT 1
"""


def enqueue_coalesced(destination: str, kind: str, key: str, payload: dict[str, Any]) -> bool:
    """Enqueue unless a message for (destination, key) is already waiting: for state pushes
    (available stock) whose handler reads the current value when it runs. Returns whether added."""
    waiting = fastsql.rows(_WAITING, [destination, key])
    if waiting:
        return False
    enqueue(destination, kind, payload, key=key)
    return True


# --- claiming --------------------------------------------------------------------------------

_CLAIMABLE = f"""
SELECT m.id FROM sync_outboxmessage m
WHERE ((m.state = 'pending' AND m.next_attempt_at <= %s)
       OR (m.state = 'in_flight' AND m.lease_expires_at < %s))
  AND m.{_LIVE}
  {{destination_filter}}
  AND NOT EXISTS (
      SELECT 1 FROM sync_outboxmessage o
      WHERE o.destination = m.destination AND o.key = m.key AND o.id < m.id
        AND o.{_LIVE})
ORDER BY m.id
LIMIT %s
"""


def claim(
    worker: str, *, limit: int = 50, lease_seconds: float = 30.0, prefix: str | None = None
) -> list[int]:
    """Lease up to ``limit`` messages, at most one per (destination, key); returns their ids."""
    now = timezone.now()
    at = fastsql.prep(OutboxMessage, "next_attempt_at", now)
    destination_filter = "AND m.destination LIKE %s" if prefix else ""
    sql = _CLAIMABLE.format(destination_filter=destination_filter)
    if connection.features.has_select_for_update_skip_locked:
        sql += " FOR UPDATE SKIP LOCKED"
    params: list[Any] = [at, at, *([f"{prefix}%"] if prefix else []), limit]
    with write_transaction():
        ids = [row[0] for row in fastsql.rows(sql, params)]
        if ids:
            OutboxMessage.objects.filter(id__in=ids).update(
                state=S.IN_FLIGHT,
                lease_owner=worker,
                lease_expires_at=now + timedelta(seconds=lease_seconds),
                attempts=F("attempts") + 1,
            )
    return ids


def renew_leases(worker: str, *, lease_seconds: float = 30.0) -> int:
    with write_transaction():
        return OutboxMessage.objects.filter(state=S.IN_FLIGHT, lease_owner=worker).update(
            lease_expires_at=timezone.now() + timedelta(seconds=lease_seconds)
        )


def release(worker: str, ids: list[int]) -> int:
    """Give back claimed messages not yet attempted (graceful shutdown)."""
    with write_transaction():
        return OutboxMessage.objects.filter(id__in=ids, state=S.IN_FLIGHT, lease_owner=worker).update(
            state=S.PENDING, lease_owner="", lease_expires_at=None, attempts=F("attempts") - 1
        )


@dataclass(frozen=True)
class Outcome:
    message_id: int
    error: DeliveryError | None = None


def settle(worker: str, outcomes: list[Outcome], *, retry: RetryPolicy | None = None) -> None:
    """Record the results of one batch in one transaction. A message whose lease this worker no
    longer holds is left alone: another worker took it over and will record its own result."""
    retry = retry or policy()
    now = timezone.now()
    delivered = [o.message_id for o in outcomes if o.error is None]
    with write_transaction():
        if delivered:
            OutboxMessage.objects.filter(id__in=delivered, state=S.IN_FLIGHT, lease_owner=worker).update(
                state=S.DONE, delivered_at=now, lease_owner="", lease_expires_at=None, last_error=""
            )
            _supersede(delivered)
        for outcome in outcomes:
            error = outcome.error
            if error is None:
                continue
            mine = OutboxMessage.objects.filter(id=outcome.message_id, state=S.IN_FLIGHT, lease_owner=worker)
            attempts = mine.values_list("attempts", flat=True).first()
            if attempts is None:
                continue
            if not error.counts_as_attempt:  # no remote call made (Malote's own rate limit)
                attempts = max(attempts - 1, 0)
            dead = not error.retryable or attempts >= retry.max_attempts
            mine.update(
                state=S.DEAD if dead else S.PENDING,
                attempts=attempts,
                next_attempt_at=now
                + timedelta(seconds=0 if dead else retry.delay(attempts, error.retry_after)),
                lease_owner="",
                lease_expires_at=None,
                last_error=error.detail[:2000],
                last_status=error.status,
            )
        crashpoints.reach("during_commit")


# Kinds whose payload is the whole current state of what they push (the order's status, a SKU's
# available stock): a later one delivered to the same destination and key leaves an earlier dead
# one with nothing to deliver. An order's creation, an invoice or an e-mail is never superseded.
STATE_KINDS = ("order.status", "order.cancellation", "stock.available")


def _supersede(delivered: list[int]) -> int:
    """Dead state messages older than a state message just delivered to the same destination and
    key become ``superseded`` (kept, but no longer a failure for a person). Returns how many."""
    fresh = OutboxMessage.objects.filter(id__in=delivered, state=S.DONE, kind__in=STATE_KINDS)
    superseded = 0
    for message_id, destination, key in fresh.values_list("id", "destination", "key"):
        superseded += OutboxMessage.objects.filter(
            destination=destination, key=key, state=S.DEAD, kind__in=STATE_KINDS, id__lt=message_id
        ).update(state=S.SUPERSEDED)
    return superseded


# --- operators ---------------------------------------------------------------------------------


def dead_letters() -> QuerySet[OutboxMessage]:
    return OutboxMessage.objects.filter(state=S.DEAD).order_by("id")


def replay(message_ids: list[int]) -> int:
    """Put dead (or pending) messages back at the head of the queue, attempts reset."""
    return OutboxMessage.objects.filter(id__in=message_ids, state__in=[S.DEAD, S.PENDING]).update(
        state=S.PENDING, attempts=0, next_attempt_at=timezone.now(), last_error=""
    )


def replay_all_dead(destination: str | None = None) -> int:
    qs = dead_letters()
    if destination:
        qs = qs.filter(destination=destination)
    return replay(list(qs.values_list("id", flat=True)))


def retry_now(message_id: int) -> OutboxMessage:
    """Make one pending or dead message due now (the operator's "retry" button)."""
    message = OutboxMessage.objects.filter(id=message_id).first()
    if message is None or message.state not in (S.PENDING, S.DEAD):
        raise Conflict(
            "Only pending or dead messages can be retried.", code=SyncErrorCode.MESSAGE_NOT_RETRYABLE
        )
    replay([message_id])
    message.refresh_from_db()
    return message
