"""Inbox de-duplication in the effect's transaction; one schedule runner per slot."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from malote.core.errors import Conflict
from malote.sync import inbox, schedules
from malote.sync.models import InboxEvent, Schedule, ScheduleRun

pytestmark = pytest.mark.django_db


def test_an_event_is_applied_once_however_often_it_arrives() -> None:
    applied: list[int] = []

    def apply(event: InboxEvent) -> inbox.Applied:
        applied.append(event.pk)
        return inbox.Applied("applied")

    first = inbox.receive("jumpseller:loja", "evt-1", apply, body="{}")
    again = inbox.receive("jumpseller:loja", "evt-1", apply, body="{}")
    other_source = inbox.receive("tiny:erp", "evt-1", apply, body="{}")
    assert (first.result, again.result, again.duplicate, other_source.result) == (
        "applied",
        "duplicate",
        True,
        "applied",
    )
    assert len(applied) == 2
    assert InboxEvent.objects.get(source="jumpseller:loja").processed_at is not None


def test_a_refused_effect_is_stored_with_its_code_and_writes_nothing_else() -> None:
    def apply(event: InboxEvent) -> inbox.Applied:
        Schedule.objects.create(name="written-then-undone", job="x")
        raise Conflict("Order already delivered.", code="transition_not_allowed")

    received = inbox.receive("pagarme:gw", "hook_1", apply)
    assert received.result == "refused:transition_not_allowed"
    event = InboxEvent.objects.get()
    assert (event.result, event.detail) == ("refused:transition_not_allowed", "Order already delivered.")
    assert not Schedule.objects.exists(), "the effect's writes were rolled back"
    assert inbox.receive("pagarme:gw", "hook_1", apply).duplicate


def test_an_unexpected_error_stores_nothing_so_the_sender_retries() -> None:
    def apply(event: InboxEvent) -> inbox.Applied:
        raise RuntimeError("database hiccup")

    with pytest.raises(RuntimeError):
        inbox.receive("tiny:erp", "n-1", apply)
    assert not InboxEvent.objects.exists()


@pytest.fixture
def counted_job() -> list[datetime]:
    runs: list[datetime] = []

    def job(schedule: Schedule, slot: datetime) -> str:
        runs.append(slot)
        return f"ran {slot:%H:%M}"

    schedules.register_job("test.count", job)
    return runs


def test_one_runner_per_slot_across_workers(counted_job: list[datetime]) -> None:
    Schedule.objects.create(name="poll", job="test.count", interval_seconds=60)
    now = datetime(2026, 11, 21, 12, 0, 30, tzinfo=UTC)
    won_a = schedules.run_due("worker-a", now=now)
    won_b = schedules.run_due("worker-b", now=now + timedelta(seconds=5))
    assert len(won_a) == 1 and won_b == []
    assert counted_job == [datetime(2026, 11, 21, 12, 0, tzinfo=UTC)]
    run = ScheduleRun.objects.get()
    assert (run.worker, run.ok, run.detail) == ("worker-a", True, "ran 12:00")
    schedules.run_due("worker-b", now=now + timedelta(seconds=40))
    assert len(counted_job) == 2, "the next slot runs"


def test_missed_slots_are_caught_up_once(counted_job: list[datetime]) -> None:
    Schedule.objects.create(name="poll", job="test.count", interval_seconds=60)
    start = datetime(2026, 11, 21, 12, 0, 0, tzinfo=UTC)
    schedules.run_due("w", now=start)
    schedules.run_due("w", now=start + timedelta(hours=3))  # the workers were down for three hours
    assert len(counted_job) == 2


def test_a_failing_job_is_recorded_and_the_next_slot_runs(db: None) -> None:
    def broken(schedule: Schedule, slot: datetime) -> str:
        raise ValueError("remote said no")

    schedules.register_job("test.broken", broken)
    schedule = Schedule.objects.create(name="broken", job="test.broken", interval_seconds=60)
    now = datetime(2026, 11, 21, 12, 0, 0, tzinfo=UTC)
    schedules.run_due("w", now=now)
    schedule.refresh_from_db()
    assert schedule.last_result == "ValueError: remote said no"
    assert ScheduleRun.objects.get().ok is False
    assert len(schedules.run_due("w", now=now + timedelta(seconds=61))) == 1


@pytest.mark.parametrize("deferred", [True, False])
def test_a_job_deferred_by_the_rate_limit_logs_no_traceback_a_failure_does(
    db: None, caplog: pytest.LogCaptureFixture, deferred: bool
) -> None:
    from malote.sync.errors import DeliveryError

    class Deferred(DeliveryError):
        counts_as_attempt = False

    def limited(schedule: Schedule, slot: datetime) -> str:
        raise (Deferred if deferred else DeliveryError)("1/s for orders_get", retryable=True, retry_after=3.0)

    schedules.register_job("test.limited", limited)
    Schedule.objects.create(name="limited", job="test.limited", interval_seconds=60)
    schedules.run_due("w", now=datetime(2026, 11, 21, 12, 0, 0, tzinfo=UTC))
    [record] = [r for r in caplog.records if "limited" in r.getMessage()]
    assert (record.exc_info is None) is deferred
    assert ScheduleRun.objects.get().ok is False  # not done either way: the next slot runs it


def test_disabled_schedules_do_not_run(counted_job: list[datetime]) -> None:
    Schedule.objects.create(name="off", job="test.count", interval_seconds=60, enabled=False)
    assert schedules.run_due("w") == []
