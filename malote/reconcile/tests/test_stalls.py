"""Channel stalled (docs/reconciliation.md): refused credentials, a schedule that stopped, a sales
channel silent far beyond its rhythm; cleared only on positive evidence."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.utils import timezone

from malote.channels.models import Channel, ChannelRole
from malote.core.actors import Actor
from malote.orders.models import Order
from malote.reconcile import jobs, stalls
from malote.reconcile.models import IntegrationIssue, IssueKind, IssueState
from malote.sync.models import MessageState, OutboxMessage, Schedule, ScheduleRun

pytestmark = pytest.mark.django_db
ACTOR = Actor.schedule("reconcile:stalled")
_ids = itertools.count(1)


@pytest.fixture
def ml(db: None) -> Channel:
    channel = Channel.objects.create(
        code="ml", name="Mercado Livre", role=ChannelRole.MARKETPLACE, kind="recording"
    )
    return _aged(channel, days=30)


def _aged(channel: Channel, *, days: float) -> Channel:
    moment = timezone.now() - timedelta(days=days)
    Channel.objects.filter(pk=channel.pk).update(created_at=moment, go_live_at=moment)
    channel.refresh_from_db()
    return channel


def _message(
    channel: Channel, *, ago: timedelta, state: str, status: int | None = None, error: str = ""
) -> None:
    moment = timezone.now() - ago
    n = next(_ids)
    OutboxMessage.objects.create(
        destination=f"channel:{channel.code}",
        key=f"order:{n}",
        kind="order.status",
        idempotency_key=f"test-{n}",
        state=state,
        last_status=status,
        last_error=error,
        next_attempt_at=moment,
        created_at=moment,
        delivered_at=moment if state == MessageState.DONE else None,
    )


def _active(channel: Channel) -> IntegrationIssue | None:
    return IntegrationIssue.objects.filter(
        kind=IssueKind.CHANNEL_STALLED, channel=channel, state__in=[IssueState.OPEN, IssueState.RESOLVING]
    ).first()


def _causes(channel: Channel) -> list[str]:
    issue = _active(channel)
    return [c["cause"] for c in issue.evidence["causes"]] if issue else []


# --- auth ----------------------------------------------------------------------------------------


def test_refused_credentials_open_an_issue_recommending_new_credentials(ml: Channel) -> None:
    _message(ml, ago=timedelta(hours=3), state=MessageState.DONE)
    _message(
        ml, ago=timedelta(hours=1), state=MessageState.DEAD, status=401, error="ml PUT: HTTP 401 invalid"
    )
    assert stalls.detect(actor=ACTOR)["opened"] == 1
    issue = _active(ml)
    assert issue is not None and issue.external_ref == "channel:ml"
    assert issue.subject == "channel:ml", "the channel itself, not an order reference (ref:…)"
    assert _causes(ml) == ["auth"] and "Renovar as credenciais do canal" in issue.detail
    assert stalls.detect(actor=ACTOR)["opened"] == 0, "one active issue per channel"
    _message(ml, ago=timedelta(minutes=1), state=MessageState.DONE)  # a successful call
    assert stalls.detect(actor=ACTOR)["cleared"] == 1
    assert _active(ml) is None


def test_a_failed_token_refresh_in_a_poll_counts_as_refused(ml: Channel) -> None:
    schedule = Schedule.objects.create(name="poll:ml", job="relay.poll", channel=ml, interval_seconds=300)
    ScheduleRun.objects.create(
        schedule=schedule,
        slot=timezone.now(),
        worker="w",
        finished_at=timezone.now(),
        ok=False,
        detail="DeliveryError: ml POST /oauth/token: Mercado Livre refused the refresh token (invalid_grant)",
    )
    stalls.detect(actor=ACTOR)
    assert _causes(ml) == ["auth"]


def test_other_failures_and_refusals_followed_by_success_raise_nothing(ml: Channel) -> None:
    _message(ml, ago=timedelta(hours=2), state=MessageState.DEAD, status=500, error="ml PUT: HTTP 500 oops")
    _message(ml, ago=timedelta(hours=2), state=MessageState.DEAD, status=401, error="ml PUT: HTTP 401")
    _message(ml, ago=timedelta(hours=1), state=MessageState.DONE)
    _message(ml, ago=timedelta(days=3), state=MessageState.DEAD, status=403, error="too old to count")
    assert stalls.detect(actor=ACTOR) == {"stalled": 0, "opened": 0, "cleared": 0}


# --- schedules ----------------------------------------------------------------------------------


def _schedule(channel: Channel, last_run: timedelta) -> Schedule:
    return Schedule.objects.create(
        name=f"poll:{channel.code}",
        job="relay.poll",
        channel=channel,
        interval_seconds=600,
        last_run_at=timezone.now() - last_run,
    )


def test_a_schedule_not_run_for_three_intervals_stalls_the_channel(ml: Channel) -> None:
    schedule = _schedule(ml, timedelta(minutes=40))
    assert stalls.detect(actor=ACTOR)["opened"] == 1
    assert _causes(ml) == ["schedule"] and "poll:ml" in _active(ml).detail  # type: ignore[union-attr]
    Schedule.objects.filter(pk=schedule.pk).update(last_run_at=timezone.now())  # it ran
    assert stalls.detect(actor=ACTOR)["cleared"] == 1


def test_a_schedule_within_three_intervals_or_never_run_is_fine(ml: Channel) -> None:
    _schedule(ml, timedelta(minutes=25))
    Schedule.objects.create(name="reconcile:integration:ml", job="reconcile.integration", channel=ml)
    assert stalls.detect(actor=ACTOR)["stalled"] == 0


# --- silence ------------------------------------------------------------------------------------


def _orders(make_order: Callable[..., Order], channel: Channel, count: int, last: timedelta) -> None:
    """``count`` orders an hour apart, the last one ``last`` ago."""
    newest = timezone.now() - last
    for i in range(count):
        order = make_order(channel=channel.code)
        Order.objects.filter(pk=order.pk).update(created_at=newest - timedelta(hours=count - 1 - i))


def test_a_sales_channel_silent_far_beyond_its_rhythm_stalls(
    ml: Channel, make_order: Callable[..., Order]
) -> None:
    _orders(make_order, ml, 12, timedelta(hours=10))  # hourly sales, then 10 h of nothing (> 6 h)
    assert stalls.detect(actor=ACTOR)["opened"] == 1
    issue = _active(ml)
    assert _causes(ml) == ["silent"] and "Nenhum pedido novo" in issue.detail  # type: ignore[union-attr]
    make_order(channel="ml")  # a new order arrived
    assert stalls.detect(actor=ACTOR)["cleared"] == 1


def test_silence_within_the_rhythm_raises_nothing(ml: Channel, make_order: Callable[..., Order]) -> None:
    _orders(make_order, ml, 12, timedelta(hours=5))
    assert stalls.detect(actor=ACTOR)["stalled"] == 0


@pytest.mark.parametrize(("count", "age_days"), [(12, 0.5), (5, 30)], ids=["new-channel", "little-history"])
def test_a_new_channel_or_one_with_little_history_raises_nothing(
    ml: Channel, make_order: Callable[..., Order], count: int, age_days: float
) -> None:
    _orders(make_order, ml, count, timedelta(hours=10))
    _aged(ml, days=age_days)
    assert stalls.detect(actor=ACTOR)["stalled"] == 0


def test_only_positive_evidence_clears(ml: Channel, make_order: Callable[..., Order]) -> None:
    _orders(make_order, ml, 12, timedelta(hours=10))
    stalls.detect(actor=ACTOR)
    ml.options = {"stall_min_orders": 100}  # the rule can no longer be measured: not evidence
    ml.save()
    assert stalls.detect(actor=ACTOR)["cleared"] == 0
    assert _causes(ml) == ["silent"]


def test_a_healthy_channel_raises_nothing(ml: Channel, make_order: Callable[..., Order]) -> None:
    _orders(make_order, ml, 12, timedelta(minutes=30))
    _schedule(ml, timedelta(minutes=5))
    _message(ml, ago=timedelta(minutes=2), state=MessageState.DONE)
    assert stalls.detect(actor=ACTOR) == {"stalled": 0, "opened": 0, "cleared": 0}


def test_the_check_runs_on_its_own_schedule(ml: Channel) -> None:
    jobs.sync_schedules()
    schedule = Schedule.objects.get(name="reconcile:stalled")
    assert schedule.job == "reconcile.stalled" and jobs.JOBS["reconcile.stalled"] is stalls.stalled_job
    _schedule(ml, timedelta(hours=2))
    assert "opened 1" in stalls.stalled_job(schedule, timezone.now())
