"""Retention (``malote.sync.retention``, ``malote prune``, the ``sync:prune`` schedule): what each
policy deletes and what it must never delete."""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Callable
from datetime import timedelta
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from malote.accounts.models import IdempotencyRecord
from malote.channels.models import Channel
from malote.orders.models import Order
from malote.reconcile.models import IntegrationIssue, IssueKind, IssueState
from malote.sync import retention, schedules
from malote.sync.models import InboxEvent, MessageState, OutboxMessage, Schedule, ScheduleRun

pytestmark = pytest.mark.django_db

NOW = timezone.now()
_ids = count(1)


def _message(
    state: str = MessageState.DONE, *, days: float = 31, order: Order | None = None
) -> OutboxMessage:
    at = NOW - timedelta(days=days)
    return OutboxMessage.objects.create(
        destination="channel:erp",
        key=f"order:{order.pk if order else 0}",
        order=order,
        kind="order.status",
        idempotency_key=f"k{next(_ids)}",
        state=state,
        created_at=at,
        next_attempt_at=at,
        delivered_at=at if state == MessageState.DONE else None,
    )


def _event(
    *, days: float = 91, result: str = "applied", processed: bool = True, order: Order | None = None
) -> InboxEvent:
    at = NOW - timedelta(days=days)
    return InboxEvent.objects.create(
        source="site",
        event_id=f"e{next(_ids)}",
        received_at=at,
        processed_at=at if processed else None,
        result=result,
        order=order,
    )


def _run(schedule: Schedule, *, days: float, finished: bool = True) -> ScheduleRun:
    at = NOW - timedelta(days=days)
    return ScheduleRun.objects.create(
        schedule=schedule, slot=at, worker="w", started_at=at, finished_at=at if finished else None, ok=True
    )


def _alive(*rows: Any) -> list[bool]:
    return [type(row).objects.filter(pk=row.pk).exists() for row in rows]


def test_delivered_messages_go_after_30_days_and_stay_before() -> None:
    old, young = _message(days=31), _message(days=29)
    report = retention.prune(now=NOW)
    assert _alive(old, young) == [False, True]
    assert report.counts[retention.OUTBOX] == 1


@pytest.mark.parametrize("state", [MessageState.PENDING, MessageState.IN_FLIGHT, MessageState.DEAD])
def test_undelivered_and_dead_messages_are_never_pruned_by_the_policies(state: str) -> None:
    message = _message(state, days=400)
    retention.prune(now=NOW)
    assert _alive(message) == [True]


def test_dead_letters_go_only_when_asked_and_by_the_age_asked() -> None:
    old_dead, young_dead = _message(MessageState.DEAD, days=61), _message(MessageState.DEAD, days=59)
    report = retention.prune(now=NOW, rules=retention.policy(dead_letter_days=60))
    assert _alive(old_dead, young_dead) == [False, True]
    assert report.counts[retention.DEAD_LETTERS] == 1


def test_settled_inbox_events_go_after_90_days_and_stay_before() -> None:
    old, young = _event(days=91), _event(days=89)
    retention.prune(now=NOW)
    assert _alive(old, young) == [False, True]


def test_inbox_events_still_waiting_are_never_pruned() -> None:
    awaiting = _event(days=400, result="awaiting_order")
    unread = _event(days=400, result="received", processed=False)
    retention.prune(now=NOW)
    assert _alive(awaiting, unread) == [True, True]


def test_schedule_runs_go_after_7_days_but_each_schedule_keeps_its_newest() -> None:
    often = Schedule.objects.create(name="often", job="x", interval_seconds=60)
    rarely = Schedule.objects.create(name="rarely", job="x", interval_seconds=30 * 86400)
    old, young = _run(often, days=8), _run(often, days=6)
    only = _run(rarely, days=40)
    retention.prune(now=NOW)
    assert _alive(old, young, only) == [False, True, True]


def test_an_unfinished_run_is_not_pruned() -> None:
    schedule = Schedule.objects.create(name="s", job="x")
    unfinished, _newest = _run(schedule, days=8, finished=False), _run(schedule, days=1)
    retention.prune(now=NOW)
    assert _alive(unfinished) == [True]


def test_expired_idempotency_records_are_pruned_with_the_rest() -> None:
    def record(key: str, hours: float) -> IdempotencyRecord:
        return IdempotencyRecord.objects.create(
            principal="p",
            key=key,
            method="POST",
            path="/",
            request_hash="h",
            status=200,
            body=b"",
            started_at=NOW - timedelta(hours=hours),
        )

    old, young = record("old", 25), record("young", 23)
    report = retention.prune(now=NOW)
    assert _alive(old, young) == [False, True]
    assert report.counts[retention.IDEMPOTENCY] == 1


def test_an_active_issue_keeps_its_orders_messages_and_events(
    make_order: Callable[..., Order], channel: Channel
) -> None:
    kept_order, other_order = make_order(), make_order()
    OutboxMessage.objects.all().delete()
    issue = IntegrationIssue.objects.create(
        kind=IssueKind.STUCK, order=kept_order, subject=f"order:{kept_order.pk}", channel=channel
    )
    kept = [_message(order=kept_order), _event(order=kept_order)]
    gone = [_message(order=other_order), _event(order=other_order)]
    retention.prune(now=NOW)
    assert _alive(*kept, *gone) == [True, True, False, False]

    IntegrationIssue.objects.filter(pk=issue.pk).update(state=IssueState.RESOLVED)
    retention.prune(now=NOW)
    assert _alive(*kept) == [False, False]


def test_dry_run_counts_and_deletes_nothing() -> None:
    rows = [_message(days=31), _event(days=91)]
    report = retention.prune(now=NOW, dry_run=True, rules=retention.policy(dead_letter_days=0))
    assert _alive(*rows) == [True, True]
    assert report.counts[retention.OUTBOX] == 1 and report.counts[retention.INBOX] == 1


def _exported(path: Path) -> list[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def test_export_holds_exactly_the_pruned_rows_across_batches(tmp_path: Path) -> None:
    pruned = [_message(days=31) for _ in range(5)] + [_event(days=91) for _ in range(2)]
    kept = [_message(days=29), _message(MessageState.DEAD, days=400), _event(days=89)]
    path = tmp_path / "pruned.jsonl.gz"
    retention.prune(now=NOW, export=path, batch_size=2)
    rows = _exported(path)
    assert sorted((row["table"], row["id"]) for row in rows) == sorted(
        (retention.OUTBOX if isinstance(row, OutboxMessage) else retention.INBOX, row.pk) for row in pruned
    )
    assert _alive(*pruned) == [False] * len(pruned) and _alive(*kept) == [True] * len(kept)
    first = next(row for row in rows if row["table"] == retention.OUTBOX)
    assert first["idempotency_key"].startswith("k") and first["state"] == "done"


def test_an_export_that_cannot_be_written_deletes_nothing(tmp_path: Path) -> None:
    message = _message(days=31)
    with pytest.raises(OSError):
        retention.prune(now=NOW, export=tmp_path / "missing-dir" / "pruned.jsonl.gz")
    existing = tmp_path / "taken.jsonl.gz"
    existing.write_bytes(b"earlier export")
    with pytest.raises(FileExistsError):
        retention.prune(now=NOW, export=existing)
    assert _alive(message) == [True] and existing.read_bytes() == b"earlier export"


def test_a_failure_while_writing_keeps_the_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    message = _message(days=31)

    def full_disk(*args: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(retention, "_flush", full_disk)
    with pytest.raises(OSError):
        retention.prune(now=NOW, export=tmp_path / "pruned.jsonl.gz")
    assert _alive(message) == [True]


def test_policies_come_from_settings_or_the_environment(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MALOTE_RETENTION_OUTBOX_DAYS", "10")
    settings.MALOTE_RETENTION_INBOX_DAYS = 5
    rules = retention.policy()
    assert (rules.outbox_days, rules.inbox_days, rules.schedule_run_days) == (10, 5, 7)
    message = _message(days=11)
    retention.prune(now=NOW, rules=rules)
    assert _alive(message) == [False]


@pytest.mark.parametrize("value", ["0", "-1", "thirty"])
def test_a_policy_that_is_not_a_positive_number_is_refused(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("MALOTE_RETENTION_SCHEDULE_RUN_DAYS", value)
    with pytest.raises(Exception, match="MALOTE_RETENTION_SCHEDULE_RUN_DAYS"):
        retention.policy()


def test_the_schedule_job_runs_the_policies_but_never_prunes_dead_letters() -> None:
    schedule = retention.ensure_prune_schedule()
    assert (schedule.job, schedule.interval_seconds) == (retention.PRUNE_JOB, 86400)
    old, dead = _message(days=31), _message(MessageState.DEAD, days=4000)
    won = schedules.run_due("w", now=NOW)
    run = ScheduleRun.objects.get(pk=next(r.pk for r in won if r.schedule_id == schedule.pk))
    assert run.ok is True and "outbox=1" in run.detail and "dead_letters" not in run.detail
    assert _alive(old, dead) == [False, True]


def test_the_schedule_appears_after_a_migrate_only_where_there_is_history() -> None:
    retention.ensure_prune_schedule_after_migrate(sender=None)
    assert not Schedule.objects.filter(name=retention.PRUNE_SCHEDULE).exists()
    _message(days=1)
    retention.ensure_prune_schedule_after_migrate(sender=None)
    assert Schedule.objects.filter(name=retention.PRUNE_SCHEDULE).exists()


def test_command_reports_counts_and_dead_letters(tmp_path: Path) -> None:
    _message(days=31)
    _message(MessageState.DEAD, days=100)
    out = io.StringIO()
    call_command("prune", "--dry-run", "--dead-letters-older-than", "90", stdout=out)
    assert "outbox\t1" in out.getvalue() and "dead letters: 1" in out.getvalue()
    assert OutboxMessage.objects.count() == 2
    path = tmp_path / "p.jsonl.gz"
    out = io.StringIO()
    call_command("prune", "--dead-letters-older-than", "90", "--export", str(path), stdout=out)
    assert f"dead letters: 1, exported to {path}" in out.getvalue()
    assert OutboxMessage.objects.count() == 0 and len(_exported(path)) == 2


def test_command_refuses_an_existing_export_and_export_with_dry_run(tmp_path: Path) -> None:
    existing = tmp_path / "e.gz"
    existing.write_bytes(b"x")
    with pytest.raises(CommandError, match="never overwrites"):
        call_command("prune", "--export", str(existing), stdout=io.StringIO())
    with pytest.raises(CommandError, match="dry run"):
        call_command("prune", "--dry-run", "--export", str(tmp_path / "n.gz"), stdout=io.StringIO())
