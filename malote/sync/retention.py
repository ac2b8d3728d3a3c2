"""Retention: delete the delivery history nobody needs any more, in small batches, per policy.

Policies (days; each read from the Django setting of the same name, else the environment, else the
default; see docs/delivery.md#retention):

* ``MALOTE_RETENTION_OUTBOX_DAYS`` (30) — delivered (``done``) outbox messages, by ``delivered_at``;
* ``MALOTE_RETENTION_INBOX_DAYS`` (90) — settled inbox events, by ``received_at``;
* ``MALOTE_RETENTION_SCHEDULE_RUN_DAYS`` (7) — finished schedule runs, by ``started_at``;
* idempotency records: their own lifetime (24 h, ``malote.accounts.idempotency``), pruned there.

What is never pruned here: an outbox message pending, in flight or dead (dead letters go only when an
operator asks, ``dead_letter_days``); an inbox event not yet settled (``processed_at`` empty) or
waiting for its order (``awaiting_order``); the newest run of each schedule; any outbox message or
inbox event of an order a higher layer keeps (``register_order_keeper``: reconciliation keeps the
orders with an active integration issue, without ``sync`` importing it).

Rows go in batches (``BATCH_SIZE``), each in its own short transaction, so a large prune never holds
SQLite's single write lock for long. With ``export``, each batch is written and flushed to the
export file before its deletion commits: if writing fails, that batch stays and the prune stops.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.db.models import Max, Q
from django.utils import timezone

from malote.accounts import idempotency
from malote.accounts.models import IdempotencyRecord
from malote.sync.inbox import AWAITING_ORDER
from malote.sync.models import InboxEvent, MessageState, OutboxMessage, Schedule, ScheduleRun

log = logging.getLogger(__name__)

OUTBOX = "outbox"
INBOX = "inbox"
SCHEDULE_RUNS = "schedule_runs"
IDEMPOTENCY = "idempotency"
DEAD_LETTERS = "dead_letters"

BATCH_SIZE = 5000

PRUNE_JOB = "sync.prune"
PRUNE_SCHEDULE = "sync:prune"
PRUNE_INTERVAL = 24 * 3600

DEFAULT_DAYS = {
    "MALOTE_RETENTION_OUTBOX_DAYS": 30.0,
    "MALOTE_RETENTION_INBOX_DAYS": 90.0,
    "MALOTE_RETENTION_SCHEDULE_RUN_DAYS": 7.0,
}


def _days(name: str) -> float:
    raw = getattr(settings, name, None)
    if raw is None:
        raw = os.environ.get(name) or DEFAULT_DAYS[name]
    try:
        days = float(raw)
    except (TypeError, ValueError):
        raise ImproperlyConfigured(f"{name} must be a number of days, not {raw!r}") from None
    if not days > 0:
        raise ImproperlyConfigured(f"{name} must be more than 0 days, not {raw!r}")
    return days


@dataclass(frozen=True)
class Policy:
    """How many days each table keeps; ``dead_letter_days`` is ``None`` unless an operator asks."""

    outbox_days: float
    inbox_days: float
    schedule_run_days: float
    dead_letter_days: float | None = None


def policy(*, dead_letter_days: float | None = None) -> Policy:
    if dead_letter_days is not None and dead_letter_days < 0:
        raise ValueError("dead_letter_days must not be negative")
    return Policy(
        outbox_days=_days("MALOTE_RETENTION_OUTBOX_DAYS"),
        inbox_days=_days("MALOTE_RETENTION_INBOX_DAYS"),
        schedule_run_days=_days("MALOTE_RETENTION_SCHEDULE_RUN_DAYS"),
        dead_letter_days=dead_letter_days,
    )


# --- what higher layers keep ---------------------------------------------------------------------

OrderKeeper = Callable[[], Iterable[int]]
_ORDER_KEEPERS: dict[str, OrderKeeper] = {}


def register_order_keeper(name: str, keeper: OrderKeeper) -> None:
    """Keep every outbox message and inbox event of the orders ``keeper`` answers (ids, never
    ``None``; a values_list queryset is used as a subquery). Registered in ``AppConfig.ready``."""
    _ORDER_KEEPERS[name] = keeper


def _kept(qs: models.QuerySet[Any]) -> models.QuerySet[Any]:
    for keeper in _ORDER_KEEPERS.values():
        qs = qs.exclude(order_id__in=keeper())
    return qs


# --- candidates ------------------------------------------------------------------------------------


def _newest_runs() -> list[int]:
    """The newest run of each schedule, kept whatever its age (its last result and evidence for the
    stall check). Read once: a run started later is young, so never a candidate anyway."""
    newest = ScheduleRun.objects.order_by().values("schedule").annotate(newest=Max("pk"))
    return [row["newest"] for row in newest]


def candidates(now: datetime, rules: Policy) -> dict[str, models.QuerySet[Any]]:
    """The rows each policy would delete now, by table (idempotency records apart: see ``prune``)."""
    found: dict[str, models.QuerySet[Any]] = {
        OUTBOX: _kept(
            OutboxMessage.objects.filter(
                Q(state=MessageState.DONE, delivered_at__lt=now - timedelta(days=rules.outbox_days))
                # superseded dead messages: their state was delivered by a later message
                | Q(
                    state=MessageState.SUPERSEDED, next_attempt_at__lt=now - timedelta(days=rules.outbox_days)
                )
            )
        ),
        INBOX: _kept(
            InboxEvent.objects.filter(
                received_at__lt=now - timedelta(days=rules.inbox_days), processed_at__isnull=False
            ).exclude(result=AWAITING_ORDER)
        ),
        SCHEDULE_RUNS: ScheduleRun.objects.filter(
            started_at__lt=now - timedelta(days=rules.schedule_run_days), finished_at__isnull=False
        ).exclude(pk__in=_newest_runs()),
    }
    if rules.dead_letter_days is not None:
        # A dead letter's next_attempt_at is the moment it died (see outbox.settle).
        found[DEAD_LETTERS] = _kept(
            OutboxMessage.objects.filter(
                state=MessageState.DEAD, next_attempt_at__lt=now - timedelta(days=rules.dead_letter_days)
            )
        )
    return {table: qs.order_by() for table, qs in found.items()}


# --- pruning ---------------------------------------------------------------------------------------


@dataclass
class PruneReport:
    """Rows deleted (or, in a dry run, that would be) per table; ``idempotency`` included."""

    counts: dict[str, int] = field(default_factory=dict)
    dry_run: bool = False
    export: Path | None = None

    def summary(self) -> str:
        verb = "would prune" if self.dry_run else "pruned"
        parts = ", ".join(f"{table}={count}" for table, count in self.counts.items())
        return f"{verb} {parts}"


def _write(out: gzip.GzipFile, table: str, rows: list[dict[str, Any]]) -> None:
    for row in rows:
        out.write(json.dumps({"table": table, **row}, cls=DjangoJSONEncoder, ensure_ascii=False).encode())
        out.write(b"\n")


def _flush(out: gzip.GzipFile, raw: IO[bytes]) -> None:
    """Push what was written so far to the disk, so deleted rows are never only in memory."""
    out.flush()
    raw.flush()
    os.fsync(raw.fileno())


def _prune_table(
    table: str,
    qs: models.QuerySet[Any],
    *,
    batch_size: int,
    export: tuple[gzip.GzipFile, IO[bytes]] | None,
) -> int:
    deleted = 0
    while True:
        # Found outside any transaction (a plain read: in WAL mode it blocks no writer), so the write
        # lock below is held only for primary-key work, never for a scan of what is kept.
        ids = list(qs.values_list("pk", flat=True)[:batch_size])
        if not ids:
            return deleted
        with transaction.atomic():
            # Read again under the lock (FOR UPDATE on PostgreSQL; SQLite's IMMEDIATE transaction holds
            # the write lock) with the policy's filter: a row that changed meanwhile (a dead letter
            # replayed) is left, and the rows exported are exactly the rows deleted.
            batch = list(qs.filter(pk__in=ids).select_for_update().values())
            if export is not None and batch:
                _write(export[0], table, batch)
                _flush(*export)
            count, _ = qs.model.objects.filter(pk__in=[row["id"] for row in batch]).delete()
        deleted += count
        if len(ids) < batch_size:
            return deleted


def prune(
    *,
    now: datetime | None = None,
    rules: Policy | None = None,
    dry_run: bool = False,
    export: Path | None = None,
    batch_size: int = BATCH_SIZE,
) -> PruneReport:
    """Apply every policy; returns the counts per table. ``export`` is a new file (never
    overwritten) that receives every deleted row as gzip-compressed JSON lines
    ``{"table": …, <the row's columns>}``; idempotency records (cached answers, no history) are
    counted but not exported. A dry run counts and changes nothing."""
    now = now or timezone.now()
    rules = rules or policy()
    found = candidates(now, rules)
    expired_keys = IdempotencyRecord.objects.filter(started_at__lte=now - idempotency.lifetime())
    report = PruneReport(dry_run=dry_run, export=export)
    if dry_run:
        report.counts = {table: qs.count() for table, qs in found.items()}
        report.counts[IDEMPOTENCY] = expired_keys.count()
        return report
    raw = export.open("xb") if export is not None else None  # fails before anything is deleted
    try:
        stream = gzip.GzipFile(fileobj=raw, mode="wb") if raw is not None else None
        sink = (stream, raw) if stream is not None and raw is not None else None
        for table, qs in found.items():
            report.counts[table] = _prune_table(table, qs, batch_size=batch_size, export=sink)
        if stream is not None:
            stream.close()
    finally:
        if raw is not None:
            raw.close()
    report.counts[IDEMPOTENCY] = idempotency.prune(now)
    if report.counts.get(DEAD_LETTERS):
        log.warning(
            "pruned %s dead letters older than %s days", report.counts[DEAD_LETTERS], rules.dead_letter_days
        )
    return report


# --- the schedule ------------------------------------------------------------------------------------


def prune_job(schedule: Schedule, slot: datetime) -> str:
    """The daily ``sync:prune`` job: every policy but dead letters, which only an operator prunes."""
    return prune(now=slot).summary()


def ensure_prune_schedule() -> Schedule:
    """Create the daily schedule once; an operator's later changes to it (interval, disabled) stay."""
    schedule, _ = Schedule.objects.get_or_create(
        name=PRUNE_SCHEDULE, defaults={"job": PRUNE_JOB, "interval_seconds": PRUNE_INTERVAL, "enabled": True}
    )
    return schedule


def ensure_prune_schedule_after_migrate(sender: Any, **kwargs: Any) -> None:
    """An upgraded install (history already there) gets the schedule at its next migrate; a new one
    when its first worker starts (``malote worker``), so test databases see only their own rows."""
    if kwargs.get("using", "default") != "default":
        return
    if OutboxMessage.objects.exists() or InboxEvent.objects.exists() or ScheduleRun.objects.exists():
        ensure_prune_schedule()
