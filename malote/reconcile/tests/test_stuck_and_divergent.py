"""Stuck orders (per-stage deadlines, business days) and divergences (the status a system shows
against the one it should show, past a grace period), and the issue's rules."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from malote.channels.models import Channel, ChannelRole, OrderLink
from malote.core.actors import Actor
from malote.core.errors import Conflict, InvalidInput
from malote.orders import actions as order_actions
from malote.orders.models import Order, OrderEvent
from malote.reconcile import actions, divergent, repair, stuck
from malote.reconcile.calendar import BRASILIA
from malote.reconcile.models import IntegrationIssue, IssueKind, IssueState
from malote.reconcile.tests.conftest import live
from malote.sync.models import OutboxMessage
from malote_dev.testing.orders import bring_to

pytestmark = pytest.mark.django_db

ACTOR = Actor.schedule("reconcile")


def paid_at(order: Order, moment: datetime) -> None:
    OrderEvent.objects.filter(order=order, transition="approve_payment").update(created_at=moment)


def test_paid_without_invoice_is_stuck_after_two_business_days(make_order: Callable[..., Order]) -> None:
    order = bring_to(make_order(), "paid")
    paid_at(order, datetime(2026, 11, 19, 15, 0, tzinfo=BRASILIA))  # Thursday; Friday is a holiday
    assert stuck.detect(datetime(2026, 11, 24, 14, 59, tzinfo=BRASILIA), actor=ACTOR)["stuck"] == 0
    assert stuck.detect(datetime(2026, 11, 24, 15, 0, tzinfo=BRASILIA), actor=ACTOR)["opened"] == 1
    issue = IntegrationIssue.objects.get(kind=IssueKind.STUCK)
    assert issue.evidence["stage"] == "paid_not_invoiced" and issue.order_id == order.pk
    assert stuck.counts() == {
        "paid_not_invoiced": 1,
        "invoiced_not_shipped": 0,
        "shipped_not_delivered": 0,
        "total": 1,
    }
    # Seen again: the same issue, no new history.
    stuck.detect(datetime(2026, 11, 25, 9, 0, tzinfo=BRASILIA), actor=ACTOR)
    assert IntegrationIssue.objects.count() == 1 and issue.history.count() == 1


def test_a_stuck_issue_clears_when_the_order_moves_on(make_order: Callable[..., Order]) -> None:
    order = bring_to(make_order(), "shipped")
    late = timezone.now() + timedelta(days=16)
    assert stuck.detect(late, actor=ACTOR)["opened"] == 1
    assert stuck.detect(late, actor=ACTOR)["cleared"] == 0
    order_actions.run_transition(
        order.pk, "deliver", {"delivered_at": timezone.now().isoformat()}, actor=ACTOR
    )
    assert stuck.detect(late, actor=ACTOR)["cleared"] == 1
    assert IntegrationIssue.objects.get().state == IssueState.RESOLVED


def test_channel_options_change_the_deadline(make_order: Callable[..., Order], channel: Channel) -> None:
    channel.options = {"stuck_invoiced_hours": 4}
    channel.save()
    bring_to(make_order(), "invoiced")
    assert stuck.detect(timezone.now() + timedelta(hours=3), actor=ACTOR)["stuck"] == 0
    assert stuck.detect(timezone.now() + timedelta(hours=5), actor=ACTOR)["stuck"] == 1


def test_one_active_issue_per_subject_is_a_database_rule(
    make_order: Callable[..., Order], channel: Channel
) -> None:
    order = make_order()
    first = actions.report(IssueKind.STUCK, channel=channel, actor=ACTOR, order=order).issue
    with pytest.raises(IntegrityError), transaction.atomic():
        IntegrationIssue.objects.create(
            kind=IssueKind.STUCK, channel=channel, order=order, subject=first.subject
        )
    actions.dismiss(first.pk, actor=ACTOR, reason="conferido")
    assert actions.report(
        IssueKind.STUCK, channel=channel, actor=ACTOR, order=order
    ).created  # a new one may open


def test_dismiss_needs_a_reason_and_a_closed_issue_cannot_move(
    make_order: Callable[..., Order], channel: Channel
) -> None:
    issue = actions.report(IssueKind.STUCK, channel=channel, actor=ACTOR, order=make_order()).issue
    with pytest.raises(InvalidInput):
        actions.dismiss(issue.pk, actor=ACTOR, reason="  ")
    actions.dismiss(issue.pk, actor=ACTOR, reason="o cliente retira na loja")
    with pytest.raises(Conflict):
        actions.resolve(issue.pk, actor=ACTOR, note="x")


@pytest.fixture
def erp(db: None) -> Channel:
    return Channel.objects.create(
        code="tiny",
        name="Tiny ERP",
        role=ChannelRole.ERP,
        kind="tiny",
        options={"divergence_grace_minutes": 60},
    )


def link_showing(order: Order, erp: Channel, remote: str, *, minutes_ago: int) -> OrderLink:
    at = timezone.now() - timedelta(minutes=minutes_ago)
    Order.objects.filter(pk=order.pk).update(status_changed_at=at)
    link, _ = OrderLink.objects.update_or_create(
        order=order,
        channel=erp,
        defaults={
            "external_id": f"70000{order.pk:04d}",
            "remote_status": remote,
            "remote_status_at": at,
            "last_synced_at": at,
        },
    )
    return link


def test_a_divergence_past_the_grace_period_is_reported_with_both_values(
    make_order: Callable[..., Order], erp: Channel
) -> None:
    order = bring_to(make_order(), "invoiced")
    link_showing(order, erp, "aprovado", minutes_ago=30)
    assert divergent.detect(actor=ACTOR)["within_grace"] == 1
    link_showing(order, erp, "aprovado", minutes_ago=61)
    assert divergent.detect(actor=ACTOR)["opened"] == 1
    issue = IntegrationIssue.objects.get(kind=IssueKind.DIVERGENT)
    assert issue.evidence["expected_remote"] == "faturado" and issue.evidence["remote_status"] == "aprovado"
    assert issue.recommended_action == "push_again"
    repair.act(issue.pk, "push_again", actor=Actor.system("op"))
    message = OutboxMessage.objects.filter(destination="channel:tiny", order=order).last()
    assert message is not None and message.payload["status"] == "invoiced"
    link_showing(order, erp, "faturado", minutes_ago=61)
    assert divergent.detect(actor=ACTOR)["cleared"] == 1


def test_agreeing_statuses_are_no_divergence(make_order: Callable[..., Order], erp: Channel) -> None:
    order = bring_to(make_order(), "in_transit")  # Tiny has no word for in_transit: shows enviado
    link_showing(order, erp, "enviado", minutes_ago=600)
    assert divergent.detect(actor=ACTOR)["divergent"] == 0
    order2 = bring_to(make_order(), "paid")
    link_showing(order2, erp, "enviado", minutes_ago=600)  # the ERP is ahead of Malote
    assert divergent.detect(actor=ACTOR)["divergent"] == 1


def test_accept_and_dismiss_close_a_divergence(make_order: Callable[..., Order], erp: Channel) -> None:
    order = bring_to(make_order(), "paid")
    link_showing(order, erp, "aberto", minutes_ago=120)
    divergent.detect(actor=ACTOR)
    issue = IntegrationIssue.objects.get()
    with pytest.raises(InvalidInput):
        repair.act(issue.pk, "dismiss", actor=ACTOR)
    repair.act(issue.pk, "accept", actor=ACTOR, reason="ERP conferido por telefone")
    issue.refresh_from_db()
    assert issue.state == IssueState.RESOLVED and issue.resolution == "ERP conferido por telefone"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_detectors_open_one_issue(make_order: Callable[..., Order], channel: Channel) -> None:
    import threading

    from django.db import connections

    order = make_order()
    barrier = threading.Barrier(4)
    created: list[bool] = []

    def detector() -> None:
        try:
            barrier.wait()
            created.append(actions.report(IssueKind.STUCK, channel=channel, actor=ACTOR, order=order).created)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=detector) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(created) == [False, False, False, True]
    assert IntegrationIssue.objects.filter(order=order).count() == 1


def test_history_placed_before_go_live_is_never_stuck(
    make_order: Callable[..., Order], channel: Channel
) -> None:
    order = bring_to(make_order(), "paid")
    paid_at(order, timezone.now() - timedelta(days=20))
    live(channel, at=order.placed_at + timedelta(minutes=1))
    assert stuck.detect(actor=ACTOR)["stuck"] == 0
    live(channel, at=order.placed_at - timedelta(minutes=1))
    assert stuck.detect(actor=ACTOR)["opened"] == 1
