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
    return Received(event.pk, applied.result, detail=applied.detail)
