"""The ticket path with the real Zendesk connector and fake over HTTP, and divergences the
channels app recorded (resolved through ``malote.relay.divergence.resolve_divergence``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from malote.channels.models import Channel, ChannelRole, LinkState, OrderLink
from malote.core.actors import Actor
from malote.orders.models import Order
from malote.reconcile import divergent, integration, repair, tickets
from malote.reconcile.models import IntegrationIssue, IssueKind, IssueState
from malote.sync.worker import drain
from malote_dev.sandbox import start_fake
from malote_dev.sandbox.server import RunningFake
from malote_dev.testing.orders import bring_to

pytestmark = pytest.mark.django_db

ACTOR = Actor.schedule("reconcile")


@pytest.fixture
def zendesk_fake() -> Iterator[RunningFake[Any]]:
    with start_fake("zendesk", seed=False) as running:
        yield running


def test_a_zendesk_ticket_is_opened_once_and_followed(
    tiny: Channel,
    tiny_fake: RunningFake[Any],
    zendesk_fake: RunningFake[Any],
    make_order: Callable[..., Order],
) -> None:
    Channel.objects.create(
        code="zendesk",
        name="Zendesk",
        role=ChannelRole.HELPDESK,
        kind="zendesk",
        base_url=zendesk_fake.api_url,
        credentials=dict(zendesk_fake.credentials),
    )
    tiny.options = {**tiny.options, "repair_by_helpdesk": True}
    tiny.save()
    tiny_fake.faults.set("drop_order_creation", 1)
    order = make_order()
    drain()
    for _ in range(2):  # two schedule slots
        integration.check(tiny, actor=ACTOR)
        drain()
    with httpx.Client(timeout=5, trust_env=False) as http:
        listed = http.get(f"{zendesk_fake.url}/_sandbox/tickets").json()["tickets"]
        assert len(listed) == 1
        ticket = listed[0]
        assert ticket["subject"] == (
            f"Favor corrigir o problema de integração no pedido {order.external_id} (Malote {order.number})"
        )
        assert any(a["file_name"].endswith(".pdf") for c in ticket["comments"] for a in c["attachments"])
        issue = IntegrationIssue.objects.get(order=order)
        assert issue.ticket_id == str(ticket["id"]) and issue.state == IssueState.RESOLVING
        http.post(f"{zendesk_fake.url}/_sandbox/tickets/{ticket['id']}/status", json={"status": "solved"})
    assert tickets.follow(actor=ACTOR)["ticket_done"] == 1
    issue.refresh_from_db()
    # The solved ticket is recorded; the order is still not in Tiny, so the issue is not resolved:
    # it is open again, for a person.
    assert issue.state == IssueState.OPEN and issue.ticket_status == "solved"


def test_a_divergence_recorded_by_the_intake_is_reported_and_pushed_again(
    make_order: Callable[..., Order], channel: Channel
) -> None:
    from malote.relay.divergence import record_divergence

    erp = Channel.objects.create(code="tiny", name="Tiny ERP", role=ChannelRole.ERP, kind="tiny")
    order = bring_to(make_order(), "invoiced")
    OrderLink.objects.update_or_create(
        order=order, channel=erp, defaults={"external_id": "700000001", "state": LinkState.LINKED}
    )
    record_divergence(
        order, erp, remote_status="aberto", remote_canonical_status="", reason="went back", actor=ACTOR
    )
    assert divergent.detect(actor=ACTOR)["opened"] == 1  # no grace: the intake already held it
    issue = IntegrationIssue.objects.get(kind=IssueKind.DIVERGENT)
    assert issue.evidence["recorded_by_intake"] is True and issue.evidence["remote_status"] == "aberto"
    repair.act(issue.pk, "push_again", actor=Actor.system("op"))
    assert OrderLink.objects.get(order=order, channel=erp).state == LinkState.LINKED
    issue.refresh_from_db()
    assert issue.state == IssueState.RESOLVING
