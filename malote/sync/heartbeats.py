"""Worker heartbeats: one ``WorkerHeartbeat`` row per running worker process.

A worker beats when it starts and then on every lease renewal (every ``lease_seconds / 3``, 10 s
by default, and at least every ``BEAT_EVERY``), and deletes its row when it stops cleanly. A
worker is *alive* while its last beat is younger than ``STALE_AFTER``; rows of killed workers are
kept ``FORGET_AFTER`` so the metrics still show which worker went silent, then pruned when any
worker starts.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from malote.sync.models import WorkerHeartbeat

BEAT_EVERY = timedelta(seconds=30)
STALE_AFTER = timedelta(minutes=2)  # four missed beats at the longest interval
FORGET_AFTER = timedelta(days=1)


def beat(name: str, *, now: datetime | None = None) -> None:
    """Record that worker ``name`` is alive now (one UPDATE; an INSERT on its first beat)."""
    now = now or timezone.now()
    if not WorkerHeartbeat.objects.filter(name=name).update(beat_at=now):
        WorkerHeartbeat.objects.create(name=name, started_at=now, beat_at=now)


def forget(name: str) -> None:
    """A worker stopping cleanly: it is gone, not silent."""
    WorkerHeartbeat.objects.filter(name=name).delete()


def prune(*, now: datetime | None = None) -> int:
    """Delete the rows of workers silent for longer than ``FORGET_AFTER``; returns how many."""
    now = now or timezone.now()
    deleted, _ = WorkerHeartbeat.objects.filter(beat_at__lt=now - FORGET_AFTER).delete()
    return deleted


def alive_count(*, now: datetime | None = None) -> int:
    """How many workers beat within ``STALE_AFTER``."""
    now = now or timezone.now()
    return WorkerHeartbeat.objects.filter(beat_at__gte=now - STALE_AFTER).count()
