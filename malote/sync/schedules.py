"""Periodic jobs from ``Schedule`` rows, exactly one runner per slot across all workers.

Slots are aligned on the epoch (``floor(now / interval)``). A worker runs a schedule's current
slot only if it wins the unique ``ScheduleRun(schedule, slot)`` insert; after downtime only the
current slot runs, so a missed slot is caught up once, not once per missed interval.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from malote.sync.errors import DeliveryError
from malote.sync.models import Schedule, ScheduleRun

log = logging.getLogger(__name__)

Job = Callable[[Schedule, datetime], str]
_JOBS: dict[str, Job] = {}


def register_job(name: str, job: Job) -> None:
    """A job does its work (through commands and the outbox) and returns a one-line summary."""
    _JOBS[name] = job


def current_slot(schedule: Schedule, now: datetime) -> datetime:
    interval = max(int(schedule.interval_seconds), 1)
    epoch = int(now.timestamp())
    return datetime.fromtimestamp(epoch - epoch % interval, tz=now.tzinfo or timezone.get_current_timezone())


def _elect(schedule: Schedule, slot: datetime, worker: str) -> ScheduleRun | None:
    try:
        with transaction.atomic():
            return ScheduleRun.objects.create(schedule=schedule, slot=slot, worker=worker)
    except IntegrityError:
        return None


def run_due(worker: str, *, now: datetime | None = None) -> list[ScheduleRun]:
    """Run every enabled schedule whose current slot nobody has taken yet. Returns the runs won."""
    now = now or timezone.now()
    won = []
    for schedule in Schedule.objects.filter(enabled=True).select_related("channel"):
        slot = current_slot(schedule, now)
        if schedule.last_slot is not None and slot <= schedule.last_slot:
            continue
        run = _elect(schedule, slot, worker)
        if run is None:
            continue
        won.append(run)
        job = _JOBS.get(schedule.job)
        try:
            if job is None:
                raise LookupError(f"no job named {schedule.job!r}")
            detail, ok = job(schedule, slot), True
        except Exception as exc:  # a failing job is recorded and retried next slot, never kills the worker
            if isinstance(exc, DeliveryError) and not getattr(exc, "counts_as_attempt", True):
                # Deferred before any remote call (Malote's own rate limit): expected, no traceback.
                log.warning("schedule %s deferred to its next slot: %s", schedule.name, exc)
            else:
                log.exception("schedule %s failed", schedule.name)
            detail, ok = f"{type(exc).__name__}: {exc}", False
        finished = timezone.now()
        ScheduleRun.objects.filter(pk=run.pk).update(finished_at=finished, ok=ok, detail=detail[:4000])
        Schedule.objects.filter(pk=schedule.pk).update(
            last_slot=slot, last_run_at=finished, last_result=detail[:4000]
        )
    return won
