"""The checks behind ``/healthz`` and ``/readyz``: the database, the workers, the schedules.

Each check is one small indexed query and reports counts only: the answer is unauthenticated, so
it never names a worker (worker names carry host names), a schedule, a channel or an error text.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.utils import timezone

from malote.sync import heartbeats
from malote.sync.models import Schedule

log = logging.getLogger(__name__)

# A schedule is late when its next slot has been due for this many intervals (and at least
# LATE_FLOOR, so a one-second schedule does not flap while a long job holds the schedules thread).
LATE_INTERVALS = 3
LATE_FLOOR = timedelta(seconds=60)


@dataclass(frozen=True)
class Check:
    ok: bool
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, **self.details}


def schedule_lag(schedule: Schedule, now: datetime) -> timedelta | None:
    """How long the schedule's next slot has been due (zero when on time); ``None`` if it never ran."""
    if schedule.last_slot is None:
        return None
    due = schedule.last_slot + timedelta(seconds=max(int(schedule.interval_seconds), 1))
    return max(now - due, timedelta(0))


def is_late(schedule: Schedule, lag: timedelta | None) -> bool:
    if lag is None:
        return False
    return lag > max(LATE_INTERVALS * timedelta(seconds=schedule.interval_seconds), LATE_FLOOR)


def check_database() -> Check:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:  # reported as down; the cause goes to the log, never into the answer
        log.exception("health check: the database does not answer")
        return Check(False)
    return Check(True, {"vendor": connection.vendor})


def check_workers(now: datetime) -> Check:
    alive = heartbeats.alive_count(now=now)
    return Check(
        alive > 0, {"alive": alive, "stale_after_seconds": int(heartbeats.STALE_AFTER.total_seconds())}
    )


def check_schedules(now: datetime) -> Check:
    schedules = list(Schedule.objects.filter(enabled=True).only("interval_seconds", "last_slot"))
    late = sum(1 for s in schedules if is_late(s, schedule_lag(s, now)))
    return Check(late == 0, {"enabled": len(schedules), "late": late})


def run_checks(now: datetime | None = None) -> dict[str, Check]:
    """Every check; when the database is down the others are reported failed without being run."""
    now = now or timezone.now()
    database = check_database()
    if not database.ok:
        return {"database": database, "workers": Check(False), "schedules": Check(False)}
    return {
        "database": database,
        "workers": _safely(check_workers, now),
        "schedules": _safely(check_schedules, now),
    }


def _safely(check: Callable[[datetime], Check], now: datetime) -> Check:
    # A check that cannot run (a table not migrated yet, a lock timeout) fails; it never makes the
    # health answer a 500.
    try:
        return check(now)
    except Exception:
        log.exception("health check %s failed", check.__name__)
        return Check(False)
