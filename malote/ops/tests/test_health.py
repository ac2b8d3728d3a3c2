"""/healthz (liveness: the database) and /readyz (readiness: database, workers, schedules)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from malote.ops import health
from malote.sync.models import Schedule, WorkerHeartbeat

pytestmark = pytest.mark.django_db

WORKER = "worker-host.internal.example:4242:abcdef"


@pytest.fixture
def fresh_worker() -> WorkerHeartbeat:
    return WorkerHeartbeat.objects.create(name=WORKER, beat_at=timezone.now() - timedelta(seconds=5))


def test_all_well_is_200_on_both(client: Client, fresh_worker: WorkerHeartbeat) -> None:
    Schedule.objects.create(name="poll", job="x", interval_seconds=60, last_slot=timezone.now())
    for path in ("/healthz", "/readyz"):
        response = client.get(path)
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "ok"
        assert body["checks"]["database"]["ok"] is True
        assert body["checks"]["workers"] == {"ok": True, "alive": 1, "stale_after_seconds": 120}
        assert body["checks"]["schedules"] == {"ok": True, "enabled": 1, "late": 0}


def test_a_stale_heartbeat_makes_readiness_fail_but_not_liveness(client: Client) -> None:
    WorkerHeartbeat.objects.create(name=WORKER, beat_at=timezone.now() - timedelta(minutes=3))
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["status"] == "failing"
    assert ready.json()["checks"]["workers"]["ok"] is False
    live = client.get("/healthz")
    assert live.status_code == 200
    assert live.json()["status"] == "degraded"


def test_a_fresh_start_with_no_worker_yet_is_alive_not_ready(client: Client) -> None:
    # What serve_web, the soak and `malote up` wait on: they must not wait for a worker.
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 503


def test_a_schedule_three_intervals_late_makes_readiness_fail(
    client: Client, fresh_worker: WorkerHeartbeat
) -> None:
    now = timezone.now()
    schedule = Schedule.objects.create(
        name="poll", job="x", interval_seconds=60, last_slot=now - timedelta(seconds=60 + 170)
    )
    assert client.get("/readyz").status_code == 200  # 170 s behind: within 3 intervals (180 s)
    Schedule.objects.filter(pk=schedule.pk).update(last_slot=now - timedelta(seconds=60 + 200))
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["schedules"] == {"ok": False, "enabled": 1, "late": 1}
    Schedule.objects.filter(pk=schedule.pk).update(enabled=False)  # a disabled schedule is never late
    assert client.get("/readyz").status_code == 200


def test_a_short_schedule_gets_a_minute_before_it_is_late() -> None:
    now = timezone.now()
    schedule = Schedule(name="s", job="x", interval_seconds=1, last_slot=now - timedelta(seconds=50))
    assert not health.is_late(schedule, health.schedule_lag(schedule, now))
    schedule.last_slot = now - timedelta(seconds=70)
    assert health.is_late(schedule, health.schedule_lag(schedule, now))


def test_a_database_that_does_not_answer_is_503_on_both_and_says_nothing_more(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    class DownConnection:
        vendor = "postgresql"

        def cursor(self) -> Any:
            raise OSError("could not connect to server db-primary.internal:5432 password=hunter2")

    monkeypatch.setattr(health, "connection", DownConnection())
    for path in ("/healthz", "/readyz"):
        response = client.get(path)
        assert response.status_code == 503
        assert response.json()["checks"]["database"] == {"ok": False}
        assert b"internal" not in response.content and b"hunter2" not in response.content


def test_the_answer_names_no_worker_host_or_schedule(client: Client, fresh_worker: WorkerHeartbeat) -> None:
    Schedule.objects.create(name="poll:secret-shop", job="x", interval_seconds=60)
    content = client.get("/readyz").content
    assert b"worker-host" not in content and b"secret-shop" not in content


def test_a_check_that_cannot_run_fails_without_a_500(
    client: Client, monkeypatch: pytest.MonkeyPatch, fresh_worker: WorkerHeartbeat
) -> None:
    def broken(now: Any) -> int:
        raise RuntimeError("no such table: sync_workerheartbeat")

    monkeypatch.setattr(health.heartbeats, "alive_count", lambda now: broken(now))
    assert client.get("/healthz").status_code == 200
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["workers"] == {"ok": False}


def test_health_is_cheap(
    client: Client, fresh_worker: WorkerHeartbeat, django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(3):
        client.get("/readyz")
