"""Divergence (docs/channel-rules.md, "manual change in a marketplace breaks the flow"): a status Malote
cannot reach, or a channel going back, is recorded on the link and the timeline, never silently
overwritten either way; pushes to that channel for that order are held until an operator resolves."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from malote.channels.models import Channel, ChannelRole, LinkState, OrderLink
from malote.conftest import SYSTEM, ApiClient
from malote.core.actors import Actor
from malote.core.errors import Conflict, InvalidInput
from malote.orders import actions
from malote.orders.models import Order, OrderEvent
from malote.relay import intake
from malote.relay.divergence import resolve_divergence
from malote.relay.tests.stubs import Push, change, ops, recording_channel
from malote.sync.models import MessageState, OutboxMessage
from malote.sync.worker import drain
from malote_dev.testing.orders import bring_to, valid_input

pytestmark = pytest.mark.django_db

OPERATOR = Actor.system("operador")


@pytest.fixture
def mkt(db: None) -> Channel:
    return recording_channel("mkt")


@pytest.fixture
def erp(db: None) -> Channel:
    return recording_channel("erp", role=ChannelRole.ERP)


def _at(minutes: int) -> str:
    return (timezone.now() + timedelta(minutes=minutes)).isoformat()


def _report(channel: Channel, order: Order, remote: str, **fields: Any) -> str:
    return intake.take_in(channel, change(order.external_id, remote, **fields), headers={}, body="").result


def _link(order: Order, channel: Channel) -> OrderLink:
    return OrderLink.objects.get(order=order, channel=channel)


def _mkt_order(make_order: Callable[..., Order], status: str) -> Order:
    return bring_to(make_order(channel="mkt"), status)


def test_a_cancel_there_while_invoiced_here_is_divergent_and_holds_the_pushes(
    mkt: Channel, erp: Channel, make_order: Callable[..., Order], pushes: list[Push]
) -> None:
    order = _mkt_order(make_order, "invoiced")
    drain(prefix="channel:")
    pushes.clear()
    assert _report(mkt, order, "canceled", occurred_at=_at(1)) == "divergent"
    order.refresh_from_db()
    assert order.status == "invoiced", "Malote's status is not overwritten"
    link = _link(order, mkt)
    assert link.state == LinkState.DIVERGENT
    assert link.remote_status == "canceled"
    assert link.divergence["expected_remote_status"] == "invoiced"
    assert link.divergence["reason"] == "canceled_after:invoiced"
    event = OrderEvent.objects.get(order=order, type="divergence_detected")
    assert (event.data["channel"], event.data["remote_status"]) == ("mkt", "canceled")
    actions.run_transition(order.pk, "ship", valid_input(order, "ship"), actor=SYSTEM)
    drain(prefix="channel:")
    assert ops(pushes, "mkt") == [], "held: the channel is not told while it diverges"
    assert ops(pushes, "erp") == ["shipment"], "other systems are not held"
    held = OutboxMessage.objects.get(destination="channel:mkt", order=order, kind="order.shipment")
    assert held.state == MessageState.DEAD and held.last_error.startswith("divergent:")
    assert _link(order, mkt).state == LinkState.DIVERGENT, "a held push does not turn the link to error"


def test_a_cancel_there_before_the_invoice_cancels_here(
    mkt: Channel, make_order: Callable[..., Order]
) -> None:
    order = _mkt_order(make_order, "paid")
    assert _report(mkt, order, "canceled", occurred_at=_at(1)) == "applied"
    order.refresh_from_db()
    assert order.status == "canceled"
    assert _link(order, mkt).state == LinkState.LINKED


def test_a_status_the_lifecycle_cannot_reach_is_divergent(
    mkt: Channel, make_order: Callable[..., Order]
) -> None:
    order = _mkt_order(make_order, "canceled")
    assert _report(mkt, order, "shipped") == "divergent"
    link = _link(order, mkt)
    assert link.divergence["reason"].startswith("unreachable:canceled->shipped")
    assert link.divergence["expected_remote_status"] == "canceled"


def test_going_back_after_a_later_status_is_divergent(mkt: Channel, make_order: Callable[..., Order]) -> None:
    order = _mkt_order(make_order, "invoiced")
    assert _report(
        mkt, order, "shipped", occurred_at=_at(-30), facts={"shipment": valid_input(order, "ship")}
    ) == ("applied")
    assert _report(mkt, order, "approved", occurred_at=_at(-10)) == "divergent"
    link = _link(order, mkt)
    assert (link.remote_status, link.divergence["reason"]) == ("approved", "went_back:shipped->paid")
    order.refresh_from_db()
    assert order.status == "shipped"


def test_a_late_reordered_update_is_no_divergence(mkt: Channel, make_order: Callable[..., Order]) -> None:
    order = _mkt_order(make_order, "invoiced")
    _report(mkt, order, "shipped", occurred_at=_at(-10), facts={"shipment": valid_input(order, "ship")})
    assert _report(mkt, order, "approved", occurred_at=_at(-30)) == "already"
    assert _report(mkt, order, "new") == "already", "no time given: taken as a late update"
    link = _link(order, mkt)
    assert (link.state, link.remote_status) == (LinkState.LINKED, "shipped"), "the later status is kept"


def test_going_back_after_a_status_malote_pushed_is_divergent(
    mkt: Channel, make_order: Callable[..., Order], pushes: list[Push]
) -> None:
    order = _mkt_order(make_order, "shipped")
    drain(prefix="channel:")
    assert _link(order, mkt).expected_status == "shipped"
    assert _report(mkt, order, "invoiced", occurred_at=_at(-60)) == "already", "before our push: late"
    assert _report(mkt, order, "invoiced", occurred_at=_at(5), event="manual") == "divergent"


def test_regressions_are_not_judged_where_the_policy_is_off(
    mkt: Channel, make_order: Callable[..., Order]
) -> None:
    Channel.objects.filter(pk=mkt.pk).update(options={"detect_regressions": False})
    mkt.refresh_from_db()
    order = _mkt_order(make_order, "invoiced")
    _report(mkt, order, "shipped", occurred_at=_at(-30), facts={"shipment": valid_input(order, "ship")})
    assert _report(mkt, order, "approved", occurred_at=_at(-10)) == "already"


def test_while_divergent_the_channels_reports_are_recorded_not_applied(
    mkt: Channel, make_order: Callable[..., Order]
) -> None:
    order = _mkt_order(make_order, "invoiced")
    _report(mkt, order, "canceled", occurred_at=_at(1))
    assert _report(mkt, order, "shipped", facts={"shipment": valid_input(order, "ship")}) == "held_divergent"
    order.refresh_from_db()
    assert order.status == "invoiced"
    link = _link(order, mkt)
    assert (link.state, link.remote_status) == (LinkState.DIVERGENT, "shipped")


# --- resolving ----------------------------------------------------------------------------------


def _diverged(mkt: Channel, make_order: Callable[..., Order], pushes: list[Push]) -> Order:
    order = _mkt_order(make_order, "invoiced")
    drain(prefix="channel:")
    pushes.clear()
    _report(mkt, order, "canceled", occurred_at=_at(1))
    actions.run_transition(order.pk, "ship", valid_input(order, "ship"), actor=SYSTEM)
    drain(prefix="channel:")
    return order


def test_push_again_replays_the_held_pushes(
    mkt: Channel, make_order: Callable[..., Order], pushes: list[Push]
) -> None:
    order = _diverged(mkt, make_order, pushes)
    link = resolve_divergence(_link(order, mkt).pk, "push_again", actor=OPERATOR, reason="cliente confirmou")
    assert (link.state, link.divergence) == (LinkState.LINKED, {})
    drain(prefix="channel:")
    assert ops(pushes, "mkt") == ["shipment"]
    event = OrderEvent.objects.get(order=order, type="divergence_resolved")
    assert (event.data["action"], event.data["reason"]) == ("push_again", "cliente confirmou")
    assert event.actor_label == "operador"


def test_push_again_without_held_messages_pushes_the_current_status(
    mkt: Channel, make_order: Callable[..., Order], pushes: list[Push]
) -> None:
    order = _mkt_order(make_order, "invoiced")
    drain(prefix="channel:")
    pushes.clear()
    _report(mkt, order, "canceled", occurred_at=_at(1))
    resolve_divergence(_link(order, mkt).pk, "push_again", actor=OPERATOR)
    drain(prefix="channel:")
    assert [(p.op, p.status) for p in pushes] == [("status", "invoiced")]


def test_accept_remote_runs_the_lifecycle_and_sends_nothing_back(
    mkt: Channel, erp: Channel, make_order: Callable[..., Order], pushes: list[Push]
) -> None:
    order = _diverged(mkt, make_order, pushes)
    pushes.clear()
    resolve_divergence(_link(order, mkt).pk, "accept_remote", actor=OPERATOR)
    order.refresh_from_db()
    assert (order.status, order.cancel_reason) == ("canceled", "channel")
    assert _link(order, mkt).state == LinkState.LINKED
    drain(prefix="channel:")
    assert ops(pushes, "mkt") == [], "neither the held shipment nor the cancel goes back"
    assert ops(pushes, "erp") == ["cancellation"]
    assert OrderEvent.objects.filter(
        order=order, type="divergence_resolved", data__action="accept_remote"
    ).exists()


def test_accept_remote_is_refused_where_the_lifecycle_has_no_way(
    mkt: Channel, make_order: Callable[..., Order]
) -> None:
    order = _mkt_order(make_order, "invoiced")
    _report(mkt, order, "shipped", occurred_at=_at(-30), facts={"shipment": valid_input(order, "ship")})
    _report(mkt, order, "approved", occurred_at=_at(-10))
    link = _link(order, mkt)
    with pytest.raises(Conflict) as exc:
        resolve_divergence(link.pk, "accept_remote", actor=OPERATOR)
    assert exc.value.code == "accept_remote_not_allowed"
    assert _link(order, mkt).state == LinkState.DIVERGENT
    assert not OrderEvent.objects.filter(order=order, type="divergence_resolved").exists()


def test_dismiss_clears_without_sending_or_changing(
    mkt: Channel, make_order: Callable[..., Order], pushes: list[Push]
) -> None:
    order = _diverged(mkt, make_order, pushes)
    resolve_divergence(_link(order, mkt).pk, "dismiss", actor=OPERATOR, reason="acertado no marketplace")
    drain(prefix="channel:")
    assert ops(pushes, "mkt") == []
    order.refresh_from_db()
    assert order.status == "shipped"
    assert _link(order, mkt).state == LinkState.LINKED
    held = OutboxMessage.objects.get(destination="channel:mkt", order=order, kind="order.shipment")
    assert held.state == MessageState.DEAD


def test_only_divergent_links_and_known_actions(mkt: Channel, make_order: Callable[..., Order]) -> None:
    order = _mkt_order(make_order, "paid")
    link = _link(order, mkt)
    with pytest.raises(Conflict) as conflict:
        resolve_divergence(link.pk, "dismiss", actor=OPERATOR)
    assert conflict.value.code == "link_not_divergent"
    with pytest.raises(InvalidInput) as invalid:
        resolve_divergence(link.pk, "overwrite", actor=OPERATOR)
    assert invalid.value.code == "unknown_resolution"


def test_the_admin_resolves_divergences(
    mkt: Channel, make_order: Callable[..., Order], pushes: list[Push]
) -> None:
    from django.contrib.auth import get_user_model
    from django.test import Client

    order = _diverged(mkt, make_order, pushes)
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "x"))
    link = _link(order, mkt)
    assert client.get(f"/admin/channels/channel/{mkt.pk}/change/").status_code == 200
    response = client.post(
        "/admin/channels/orderlink/", {"action": "dismiss", "_selected_action": [str(link.pk)]}, follow=True
    )
    assert response.status_code == 200
    assert _link(order, mkt).state == LinkState.LINKED
    event = OrderEvent.objects.get(order=order, type="divergence_resolved")
    assert (event.actor_kind, event.data["action"]) == ("user", "dismiss")


def test_the_api_shows_the_divergence_and_lists_divergent_orders(
    api: ApiClient, mkt: Channel, make_order: Callable[..., Order]
) -> None:
    order = _mkt_order(make_order, "invoiced")
    calm = _mkt_order(make_order, "invoiced")
    _report(mkt, order, "canceled", occurred_at=_at(1))
    [link] = api.get(f"/api/v1/orders/{order.pk}").json()["links"]
    assert (link["channel"], link["state"], link["remote_status"]) == ("mkt", "divergent", "canceled")
    assert link["divergence"]["expected_remote_status"] == "invoiced"
    assert api.get(f"/api/v1/orders/{calm.pk}").json()["links"][0]["divergence"] is None
    assert [o["id"] for o in api.get("/api/v1/orders?divergent=true").json()["items"]] == [order.pk]


# --- a stale payment refusal -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("paid_under", "refused", "status"),
    [("psp-B", "psp-A", "paid"), ("psp-B", "psp-B", "canceled"), (None, "psp-A", "canceled")],
)
def test_a_refusal_cancels_only_an_order_not_paid_under_another_transaction(
    make_order: Callable[..., Order], paid_under: str | None, refused: str, status: str
) -> None:
    gateway = recording_channel("gw", role=ChannelRole.GATEWAY)
    order = make_order()
    if paid_under:
        actions.run_transition(order.pk, "approve_payment", {"transaction_id": paid_under}, actor=SYSTEM)
    refusal = change(
        "",
        "canceled",
        facts={"cancel_reason": "payment_refused"},
        transaction_id=refused,
        reference=order.number,
    )
    result = intake.take_in(gateway, refusal, headers={}, body="").result
    order.refresh_from_db()
    assert order.status == status
    assert (result == "stale_refusal") is (status == "paid")
