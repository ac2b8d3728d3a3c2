"""Worker heartbeats: one row per running worker, renewed while it runs, gone when it stops."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone

from malote.sync import heartbeats
from malote.sync.models import WorkerHeartbeat
from malote.sync.worker import Worker, WorkerOptions


@pytest.mark.django_db
def test_a_beat_creates_the_row_once_then_renews_it() -> None:
    then = timezone.now() - timedelta(minutes=5)
    heartbeats.beat("w1", now=then)
    heartbeats.beat("w1")
    row = WorkerHeartbeat.objects.get()
    assert row.name == "w1"
    assert row.started_at == then
    assert row.beat_at > then


@pytest.mark.django_db
def test_alive_counts_only_recent_beats() -> None:
    now = timezone.now()
    heartbeats.beat("fresh", now=now - timedelta(seconds=119))
    heartbeats.beat("stale", now=now - timedelta(seconds=121))
    assert heartbeats.alive_count(now=now) == 1


@pytest.mark.django_db
def test_prune_forgets_only_workers_silent_for_a_day() -> None:
    now = timezone.now()
    heartbeats.beat("yesterday", now=now - timedelta(days=1, minutes=1))
    heartbeats.beat("an-hour-ago", now=now - timedelta(hours=1))
    assert heartbeats.prune(now=now) == 1
    assert list(WorkerHeartbeat.objects.values_list("name", flat=True)) == ["an-hour-ago"]


def _run_until_it_beats_twice(worker: Worker) -> None:
    """Run ``worker`` in a thread until its row shows a renewed beat, then stop it."""

    def run() -> None:
        try:
            worker.run()
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        first = None
        while time.monotonic() < deadline:
            row = WorkerHeartbeat.objects.filter(name=worker.name).first()
            if row and first is None:
                first = row.beat_at
            if row and first is not None and row.beat_at > first:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the worker never beat twice")
    finally:
        worker.stop()
        thread.join(timeout=20)
    assert not thread.is_alive()


@pytest.mark.django_db(transaction=True)
def test_a_running_worker_beats_and_a_stopped_one_is_gone() -> None:
    heartbeats.beat("long-dead", now=timezone.now() - timedelta(days=2))
    worker = Worker(WorkerOptions(threads=1, run_schedules=False, lease_seconds=1.5), name="test-worker")
    _run_until_it_beats_twice(worker)  # a renewal every lease / 3 = 0.5 s
    assert not WorkerHeartbeat.objects.filter(name="long-dead").exists()  # pruned at start
    assert not WorkerHeartbeat.objects.filter(name="test-worker").exists()


@pytest.mark.django_db(transaction=True)
def test_a_long_lease_does_not_slow_the_beat_past_beat_every(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(heartbeats, "BEAT_EVERY", timedelta(seconds=0.3))
    worker = Worker(WorkerOptions(threads=1, run_schedules=False, lease_seconds=600), name="long-lease")
    _run_until_it_beats_twice(worker)  # lease / 3 would be 200 s
