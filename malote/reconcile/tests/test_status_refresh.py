"""Status changes made by hand in SkyHub's panel (not queued there) noticed by the reconciliation
itself within one schedule slot (issue 6; ``malote.reconcile.refresh``): the SkyHub fake over real
HTTP, a real ``skyhub`` channel, orders imported through its queue poll, and only the channel's
``reconcile:integration:skyhub`` schedule run, as a worker runs it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from malote.channels.models import Channel, LinkState, OrderLink
from malote.conftest import SYSTEM
from malote.orders.models import Order
from malote.reconcile import integration, jobs
from malote.reconcile.models import ACTIVE_STATES, IntegrationIssue, IssueKind
from malote.reconcile.tests.conftest import (
    changed_by_hand,
    imported_from_skyhub,
    invoiced_from_skyhub,
    live,
    skyhub_status,
)
from malote.relay.tests.e2e import (
    channel_of,
    connect,
    deliver_all,
    poll,
    run,
    running,
)
from malote.stock.actions import set_physical
from malote.sync import schedules
from malote.sync.models import Schedule, ScheduleRun
from malote_dev.sandbox.server import RunningFake

pytestmark = pytest.mark.django_db

SKU = "CHINELO-42"
SCHEDULE = "reconcile:integration:skyhub"
SHIP = {"carrier": "correios", "method": "SEDEX", "tracking_code": "AA123456785BR"}


@pytest.fixture
def skyhub(db: None) -> Iterator[RunningFake[Any]]:
    set_physical(SKU, 20, actor=SYSTEM)
    with running("skyhub") as fake:
        connect(fake, "skyhub")
        live(channel_of(fake))
        yield fake


def _reads(skyhub: RunningFake[Any], code: str) -> int:
    """``GET /orders/{code}`` calls the fake received (the path as the server decoded it)."""
    return sum(1 for call in skyhub.calls.filter("GET", "/orders/") if call.path == f"/orders/{code}")


def _reconcile(slot: int) -> str:
    """One slot of the channel's reconciliation schedule alone (poll and global checks off, so
    whatever happens is this job's doing); returns the run's summary."""
    jobs.sync_schedules()
    Schedule.objects.exclude(name=SCHEDULE).update(enabled=False)
    [won] = schedules.run_due("test-worker", now=timezone.now() + timedelta(hours=slot))
    done = ScheduleRun.objects.select_related("schedule").get(pk=won.pk)
    assert done.schedule.name == SCHEDULE
    assert done.ok, done.detail
    return done.detail


def _link(order: Order) -> OrderLink:
    return OrderLink.objects.get(order=order, channel__code="skyhub")


def _divergent_issues(order: Order) -> list[IntegrationIssue]:
    return list(IntegrationIssue.objects.filter(kind=IssueKind.DIVERGENT, order=order))


def test_a_cancel_by_hand_of_an_invoiced_order_is_a_divergent_issue_in_one_slot(
    skyhub: RunningFake[Any],
) -> None:
    code, order = invoiced_from_skyhub(skyhub, SKU, 901)
    untouched_code, untouched = imported_from_skyhub(skyhub, SKU)
    changed_by_hand(skyhub, code, "order_canceled")
    poll(channel_of(skyhub))  # not queued: the queue poll alone does not see it
    assert _link(order).state == LinkState.LINKED
    reads, untouched_reads = _reads(skyhub, code), _reads(skyhub, untouched_code)

    summary = _reconcile(1)

    assert _reads(skyhub, code) == reads + 1
    assert _reads(skyhub, untouched_code) == untouched_reads, "an unchanged order is not read again"
    assert "refresh:divergent 1" in summary and "divergent:opened 1" in summary, summary
    order.refresh_from_db()
    assert order.status == "invoiced", "Malote's order is not canceled by a channel's report"
    link = _link(order)
    assert link.state == LinkState.DIVERGENT
    assert (link.divergence["remote_status"], link.divergence["malote_status"]) == (
        "order_canceled",
        "invoiced",
    )
    [issue] = _divergent_issues(order)
    assert issue.state in ACTIVE_STATES
    assert (issue.evidence["remote_status"], issue.evidence["order_status"]) == ("order_canceled", "invoiced")
    assert issue.evidence["expected_remote"] == "order_invoiced"
    untouched.refresh_from_db()
    assert untouched.status == "paid" and _link(untouched).remote_status == "payment_received"
    assert _divergent_issues(untouched) == []

    summary = _reconcile(2)

    assert "refreshed" not in summary, summary
    assert _reads(skyhub, code) == reads + 1 and _reads(skyhub, untouched_code) == untouched_reads
    assert len(_divergent_issues(order)) == 1, "a second run opens no second issue"
    assert IntegrationIssue.objects.filter(kind=IssueKind.DIVERGENT).count() == 1


def test_a_delivery_by_hand_moves_the_order_forward_not_divergent(skyhub: RunningFake[Any]) -> None:
    code, order = invoiced_from_skyhub(skyhub, SKU, 902)
    order = run(order, "ship", SHIP)
    deliver_all()
    assert skyhub_status(skyhub, code) == "order_shipped"
    changed_by_hand(skyhub, code, "complete")

    summary = _reconcile(1)

    assert "refresh:applied 1" in summary, summary
    order.refresh_from_db()
    assert order.status == "delivered"
    link = _link(order)
    assert (link.state, link.remote_status) == (LinkState.LINKED, "complete")
    assert _divergent_issues(order) == []
    reads = _reads(skyhub, code)
    assert "refreshed" not in _reconcile(2)
    assert _reads(skyhub, code) == reads


def test_reads_are_capped_per_slot_and_the_rest_come_next_slot(skyhub: RunningFake[Any]) -> None:
    channel = channel_of(skyhub)
    Channel.objects.filter(pk=channel.pk).update(options={"status_refresh_max_per_run": 1})
    first_code, first = imported_from_skyhub(skyhub, SKU)
    second_code, second = imported_from_skyhub(skyhub, SKU)
    changed_by_hand(skyhub, first_code, "order_canceled")
    changed_by_hand(skyhub, second_code, "order_canceled")

    summary = _reconcile(1)

    assert "refreshed 1" in summary and "refresh_deferred 1" in summary, summary
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == ("canceled", "paid"), "a paid order canceled there is canceled"
    assert _reads(skyhub, second_code) == 0

    summary = _reconcile(2)

    assert "refreshed 1" in summary and "refresh_deferred" not in summary, summary
    second.refresh_from_db()
    assert second.status == "canceled"
    assert "refreshed" not in _reconcile(3)
    assert (_reads(skyhub, first_code), _reads(skyhub, second_code)) == (1, 1)


def test_a_failed_read_is_not_raised_and_is_retried_next_slot(skyhub: RunningFake[Any]) -> None:
    code, order = imported_from_skyhub(skyhub, SKU)
    changed_by_hand(skyhub, code, "order_canceled")
    skyhub.faults.set("error_5xx", 1, method="GET", path_prefix=f"/orders/{code}")

    summary = _reconcile(1)

    assert "refresh_failed 1" in summary and "refreshed" not in summary, summary
    order.refresh_from_db()
    assert order.status == "paid"
    assert _link(order).remote_status == "payment_received"

    summary = _reconcile(2)

    assert "refreshed 1" in summary and "refresh_failed" not in summary, summary
    order.refresh_from_db()
    assert order.status == "canceled"


def test_a_dry_run_reports_the_change_and_reads_nothing(skyhub: RunningFake[Any]) -> None:
    code, order = invoiced_from_skyhub(skyhub, SKU, 903)
    changed_by_hand(skyhub, code, "order_canceled")
    reads = _reads(skyhub, code)
    findings: list[dict[str, Any]] = []

    counts = integration.check(channel_of(skyhub), actor=SYSTEM, dry_run=True, findings=findings)

    assert counts["status_changed"] == 1 and counts["refreshed"] == 0
    assert _reads(skyhub, code) == reads
    [found] = [f for f in findings if f["kind"] == "status_changed"]
    assert (found["order"], found["external_ref"]) == (order.number, code)
    assert found["reference"].endswith("-> order_canceled")
    assert _link(order).state == LinkState.LINKED
    assert _divergent_issues(order) == []


def test_the_refresh_can_be_turned_off(skyhub: RunningFake[Any]) -> None:
    channel = channel_of(skyhub)
    Channel.objects.filter(pk=channel.pk).update(options={"status_refresh": False})
    code, order = imported_from_skyhub(skyhub, SKU)
    changed_by_hand(skyhub, code, "order_canceled")

    assert "refreshed" not in _reconcile(1)
    assert _reads(skyhub, code) == 0
    order.refresh_from_db()
    assert order.status == "paid"


def test_a_status_set_back_by_hand_to_the_one_recorded_before_a_push_is_noticed(
    skyhub: RunningFake[Any],
) -> None:
    code, order = invoiced_from_skyhub(skyhub, SKU, 904)
    # The link still holds the status of the import: Malote's own push changed SkyHub since.
    assert _link(order).remote_status == "payment_received"
    changed_by_hand(skyhub, code, "payment_received")  # back to "approved" after Malote's invoice reached it

    summary = _reconcile(1)

    assert "refresh:divergent 1" in summary and "divergent:opened 1" in summary, summary
    link = _link(order)
    assert (link.state, link.divergence["reason"]) == (LinkState.DIVERGENT, "went_back:invoiced->paid")
    [issue] = _divergent_issues(order)
    assert (issue.evidence["remote_status"], issue.evidence["expected_remote"]) == (
        "payment_received",
        "order_invoiced",
    )
    reads = _reads(skyhub, code)
    assert "refreshed" not in _reconcile(2)
    assert _reads(skyhub, code) == reads


def test_a_status_the_intake_kept_back_is_read_once_not_every_slot(skyhub: RunningFake[Any]) -> None:
    channel = channel_of(skyhub)
    Channel.objects.filter(pk=channel.pk).update(options={"detect_regressions": False})
    code, order = invoiced_from_skyhub(skyhub, SKU, 905)
    assert "refresh:already 1" in _reconcile(1), "Malote's own push, read back once"
    assert _link(order).remote_status == "order_invoiced"
    changed_by_hand(skyhub, code, "payment_received")  # without regression detection: a late update
    reads = _reads(skyhub, code)

    assert "refresh:already 1" in _reconcile(2)
    assert _reads(skyhub, code) == reads + 1
    assert _link(order).remote_status == "order_invoiced", "the intake keeps the later status"

    assert "refreshed" not in _reconcile(3), "the same status was read after the link's: not again"
    assert _reads(skyhub, code) == reads + 1
    order.refresh_from_db()
    assert order.status == "invoiced"
    assert _divergent_issues(order) == []
