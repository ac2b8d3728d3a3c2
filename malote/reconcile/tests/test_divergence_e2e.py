"""A manual change in the SkyHub panel (a marketplace's status changed by hand breaks the flow,
since nothing reports it) proven end to end: the SkyHub and Tiny fakes over real HTTP, the change
found by reading the order back from SkyHub (the panel's manual changes are not queued, so the
queue poll alone does not see them), the real intake, the outbox drained by the worker, and the
reconciliation's divergence detection.

Never overwritten in either direction: Malote's order keeps its status, nothing is pushed over
SkyHub's status while the link is divergent (the pushes are held, the ERP still hears), an
``IntegrationIssue`` ``divergent`` carries both values, and each resolution does what
``malote.relay.divergence`` documents.
"""

from __future__ import annotations

from typing import Any

import pytest

from malote.channels.models import LinkState, OrderLink
from malote.conftest import SYSTEM
from malote.orders.models import Order
from malote.reconcile import divergent
from malote.reconcile.models import IntegrationIssue, IssueKind, IssueState
from malote.reconcile.tests.conftest import changed_by_hand, invoiced_from_skyhub, skyhub_status
from malote.relay.delivery import HELD_PREFIX
from malote.relay.divergence import resolve_divergence
from malote.relay.tests.e2e import (
    channel_of,
    connect,
    deliver_all,
    fetch,
    paths,
    poll,
    run,
    running,
    tiny_pedido,
)
from malote.stock.actions import set_physical
from malote.sync.models import MessageState, OutboxMessage
from malote_dev.sandbox.server import RunningFake

pytestmark = pytest.mark.django_db

SKU = "CHINELO-42"
SHIP = {"carrier": "correios", "method": "SEDEX", "tracking_code": "AA123456785BR"}


@pytest.fixture
def fakes(db: None) -> Any:
    set_physical(SKU, 10, actor=SYSTEM)
    with running("skyhub") as skyhub, running("tiny") as tiny:
        connect(skyhub, "skyhub")
        connect(tiny, "tiny")
        yield skyhub, tiny


def _writes(skyhub: RunningFake[Any], code: str) -> list[str]:
    prefix = "/orders/" + code.replace(" ", "%20") + "/"
    found = paths(skyhub, "POST", prefix) or paths(skyhub, "POST", f"/orders/{code}/")
    return [p.rsplit("/", 1)[1] for p in found]


def _held(order: Order) -> list[OutboxMessage]:
    return list(
        OutboxMessage.objects.filter(
            destination="channel:skyhub", order=order, last_error__startswith=HELD_PREFIX
        )
    )


def _link(order: Order) -> OrderLink:
    return OrderLink.objects.select_related("channel").get(order=order, channel__code="skyhub")


def _issue(order: Order) -> IntegrationIssue:
    divergent.detect(actor=SYSTEM)
    return IntegrationIssue.objects.get(kind=IssueKind.DIVERGENT, order=order)


def test_a_cancel_by_hand_in_skyhub_is_a_divergence_never_overwritten(fakes: Any) -> None:
    skyhub, tiny = fakes
    code, order = invoiced_from_skyhub(skyhub, SKU, 901)
    changed_by_hand(skyhub, code, "order_canceled")

    poll(channel_of(skyhub))  # the manual change is not in the queue: the poll alone does not see it
    assert _link(order).state == LinkState.LINKED
    assert fetch(channel_of(skyhub), code) == "divergent"

    link = _link(order)
    order.refresh_from_db()
    assert order.status == "invoiced", "Malote's order is not canceled by a channel's report"
    assert link.state == LinkState.DIVERGENT
    assert (link.divergence["remote_status"], link.divergence["malote_status"]) == (
        "order_canceled",
        "invoiced",
    )
    assert link.divergence["expected_remote_status"] == "order_invoiced"
    assert fetch(channel_of(skyhub), code) == "duplicate", "the same SkyHub state read again: one inbox event"
    assert IntegrationIssue.objects.filter(kind=IssueKind.DIVERGENT).count() == 0

    # A later change in Malote is held for SkyHub (never pushed over its status), not for the ERP.
    order = run(order, "ship", SHIP)
    deliver_all()
    assert _writes(skyhub, code) == ["invoice"]
    assert skyhub_status(skyhub, code) == "order_canceled"
    [held] = _held(order)
    assert (held.kind, held.state) == ("order.shipment", MessageState.DEAD)
    assert tiny_pedido(tiny, order.number)["_situacao"] == "enviado"

    issue = _issue(order)
    assert issue.evidence["remote_status"] == "order_canceled"
    assert issue.evidence["order_status"] == "shipped"
    assert issue.evidence["expected_remote"] == "order_invoiced"
    assert issue.recommended_action == "push_again"

    # dismiss: settled by hand; nothing is sent or changed, the held push stays dead.
    link = resolve_divergence(link.pk, "dismiss", actor=SYSTEM, reason="cancelado por engano no painel")
    assert link.state == LinkState.LINKED and link.divergence == {}
    deliver_all()
    assert _writes(skyhub, code) == ["invoice"]
    assert [m.state for m in _held(order)] == [MessageState.DEAD]
    order.refresh_from_db()
    assert order.status == "shipped"


def test_a_status_set_back_by_hand_is_held_then_pushed_again(fakes: Any) -> None:
    skyhub, _ = fakes
    code, order = invoiced_from_skyhub(skyhub, SKU, 901)
    changed_by_hand(skyhub, code, "payment_received")  # back to "approved" after Malote's invoice reached it
    assert fetch(channel_of(skyhub), code) == "divergent"
    link = _link(order)
    assert link.state == LinkState.DIVERGENT
    assert link.divergence["reason"] == "went_back:invoiced->paid"

    order = run(order, "ship", SHIP)
    deliver_all()
    assert _writes(skyhub, code) == ["invoice"], "held: the shipment is not pushed over the manual change"
    assert skyhub_status(skyhub, code) == "payment_received"
    assert len(_held(order)) == 1
    issue = _issue(order)
    assert (issue.evidence["remote_status"], issue.evidence["expected_remote"]) == (
        "payment_received",
        "order_invoiced",
    )

    # push_again: Malote is right; the held shipment is replayed and SkyHub is back in line.
    resolve_divergence(link.pk, "push_again", actor=SYSTEM)
    deliver_all()
    assert _writes(skyhub, code) == ["invoice", "shipments"]
    assert skyhub_status(skyhub, code) == "order_shipped"
    assert _link(order).state == LinkState.LINKED
    order.refresh_from_db()
    assert order.status == "shipped"
    assert fetch(channel_of(skyhub), code) == "already", "SkyHub now shows what Malote has"
    divergent.detect(actor=SYSTEM)
    issue.refresh_from_db()
    assert issue.state == IssueState.RESOLVED, "the issue clears once both sides agree"
