"""The inbox: every webhook or polled change is stored once and applied in the same transaction.

``receive`` inserts ``InboxEvent(source, event_id)``; a duplicate insert means the event was
already taken in, and nothing else happens. The effect runs in a savepoint: a coded refusal
(``MaloteError``: a stale or impossible transition, invalid data) is stored as the event's result
for operators to see, never raised to the sender; any other exception rolls everything back so
the sender retries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from malote.core.errors import MaloteError
from malote.sync.models import InboxEvent

Apply = Callable[[InboxEvent], "Applied"]


@dataclass(frozen=True)
class Applied:
    result: str
    order_id: int | None = None
    detail: str = ""


@dataclass(frozen=True)
class Received:
    event_id: int | None
    result: str
    duplicate: bool = False
    detail: str = ""


def receive(
    source: str,
    event_id: str,
    apply: Apply,
    *,
    kind: str = "",
    headers: dict[str, Any] | None = None,
    body: str = "",
) -> Received:
    with transaction.atomic():
        try:
            with transaction.atomic():
                event = InboxEvent.objects.create(
                    source=source, event_id=event_id[:200], kind=kind[:80], headers=headers or {}, body=body
                )
        except IntegrityError:
            return Received(None, "duplicate", duplicate=True)
        applied = _apply_and_record(event, apply)
    return Received(event.pk, applied.result, detail=applied.detail)


def _apply_and_record(event: InboxEvent, apply: Apply) -> Applied:
    """Run the effect in a savepoint (a coded refusal is the event's result) and record the outcome;
    call inside the transaction that holds the event."""
    try:
        with transaction.atomic():
            applied = apply(event)
    except MaloteError as exc:
        applied = Applied(f"refused:{exc.code}", detail=exc.detail)
    InboxEvent.objects.filter(pk=event.pk).update(
        processed_at=timezone.now(),
        result=applied.result[:40],
        detail=applied.detail[:4000],
        order_id=applied.order_id,
    )
    return applied


# --- received now, applied later --------------------------------------------------------------
# A system that wants its notification answered before anything is read (Mercado Livre) has it
# stored first (``store``: result ``received``, no ``processed_at``) in the transaction that queues
# its reading; whoever reads it later records the outcome once (``settle``).

RECEIVED = "received"


def store(
    source: str, event_id: str, *, kind: str = "", headers: dict[str, Any] | None = None, body: str = ""
) -> Received:
    """Insert the event unapplied; a duplicate (same source and event id) inserts nothing. Call it
    inside the transaction that queues the event's processing, so both happen or neither."""
    try:
        with transaction.atomic():
            event = InboxEvent.objects.create(
                source=source,
                event_id=event_id[:200],
                kind=kind[:80],
                headers=headers or {},
                body=body,
                result=RECEIVED,
            )
    except IntegrityError:
        return Received(None, "duplicate", duplicate=True)
    return Received(event.pk, RECEIVED)


# --- applied again once what it needed arrived --------------------------------------------------
# A change about an order Malote does not have yet (a payment notification that beat the order's
# own webhook) is kept with result ``AWAITING_ORDER`` and the reference it names; when the order
# arrives, ``reapply`` applies it once more.

AWAITING_ORDER = "awaiting_order"


def reapply(event_pk: int, apply: Apply) -> Applied | None:
    """Apply a waiting event again, once, in one transaction; ``None`` when it no longer waits
    (another worker applied it). Still without its order, it keeps waiting."""
    with transaction.atomic():
        event = InboxEvent.objects.select_for_update().filter(pk=event_pk, result=AWAITING_ORDER).first()
        if event is None:
            return None
        applied = _apply_and_record(event, apply)
    return applied


def settle(event_pk: int, applied: Applied) -> bool:
    """Record the outcome of a stored event once; ``False`` when it was already settled."""
    updated = InboxEvent.objects.filter(pk=event_pk, processed_at__isnull=True).update(
        processed_at=timezone.now(),
        result=applied.result[:40],
        detail=applied.detail[:4000],
        order_id=applied.order_id,
    )
    return updated == 1
