"""Trust on a real day (issue 11): one time basis from the go-live, no harmful automatic re-send,
matching by the sale's references, resolution only on evidence. Each rule with an allowed and a
forbidden case, against the Tiny and Pagar.me fakes over HTTP."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from malote.channels.models import Channel, OrderLink
from malote.core.actors import Actor
from malote.orders.models import Order
from malote.reconcile import integration
from malote.reconcile.models import IntegrationIssue, IssueKind, IssueState
from malote.reconcile.references import reference_keys
from malote.reconcile.tests.conftest import live
from malote.sync.models import OutboxMessage
from malote.sync.worker import drain
from malote_dev.sandbox.server import RunningFake
from malote_dev.testing.orders import bring_to

pytestmark = pytest.mark.django_db

ACTOR = Actor.schedule("t")


def resends(order: Order) -> int:
    return OutboxMessage.objects.filter(order=order, destination="channel:tiny", payload__op="order").count()


def unlinked(tiny: Channel, make: Callable[[], Order]) -> Order:
    """An order made while Tiny was off: no link, no message."""
    Channel.objects.filter(pk=tiny.pk).update(enabled=False)
    order = make()
    Channel.objects.filter(pk=tiny.pk).update(enabled=True)
    tiny.refresh_from_db()
    return order


def test_an_order_placed_before_the_go_live_is_neither_flagged_nor_resent_without_a_backfill(
    tiny: Channel, tiny_fake: RunningFake[Any], paid_order: Callable[..., tuple[Order, str]]
) -> None:
    tiny_fake.faults.set("drop_order_creation", 1)
    order, _ = paid_order()  # placed an hour ago
    drain()
    live(tiny, timezone.now() - timedelta(minutes=5))  # Tiny went live after the sale
    counts = integration.check(tiny, actor=ACTOR)
    assert counts["missing"] == 0 and not IntegrationIssue.objects.exists()
    assert resends(order) == 1
    # The operator's explicit backfill: a dry run lists it (action and why), then it is done.
    findings: list[dict[str, Any]] = []
    since = timezone.now() - timedelta(days=2)
    integration.check(tiny, actor=ACTOR, since=since, backfill=True, dry_run=True, findings=findings)
    assert [(f["order"], f["action"]) for f in findings] == [(order.number, "reintegrated")]
    assert findings[0]["why"] and not IntegrationIssue.objects.exists() and resends(order) == 1
    counts = integration.check(tiny, actor=ACTOR, since=since, backfill=True)
    assert counts["missing"] == 1 and counts["repair:reintegrated"] == 1 and resends(order) == 2


def test_a_since_without_backfill_stays_after_the_go_live(
    tiny: Channel, tiny_fake: RunningFake[Any], paid_order: Callable[..., tuple[Order, str]]
) -> None:
    tiny_fake.faults.set("drop_order_creation", 1)
    order, _ = paid_order()
    drain()
    live(tiny, timezone.now() - timedelta(minutes=5))
    since = timezone.now() - timedelta(days=2)
    assert integration.check(tiny, actor=ACTOR, since=since)["missing"] == 0
    assert resends(order) == 1


def test_history_the_erp_does_not_take_now_is_left_to_a_person(
    tiny: Channel, make_order: Callable[..., Order]
) -> None:
    order = unlinked(tiny, lambda: bring_to(make_order(), "delivered"))
    counts = integration.check(tiny, actor=ACTOR)
    assert counts["missing"] == 1 and counts["repair:erp_does_not_want"] == 1
    issue = IntegrationIssue.objects.get(order=order)
    assert issue.state == IssueState.OPEN and issue.recommended_action == "investigate"
    assert list(issue.history.values_list("action", flat=True)) == ["opened", "erp_does_not_want"]
    assert resends(order) == 0


def test_a_payment_the_gateway_did_not_confirm_is_not_resent(
    tiny: Channel, paying_order: Callable[..., tuple[Order, str]]
) -> None:
    # Paid in Malote, but the gateway still shows the charge pending: no automatic re-send.
    order = unlinked(tiny, lambda: bring_to(paying_order("credit_card")[0], "paid"))
    counts = integration.check(tiny, actor=ACTOR)
    assert counts["repair:payment_not_confirmed"] == 1 and resends(order) == 0
    issue = IntegrationIssue.objects.get(order=order)
    assert issue.state == IssueState.OPEN and issue.recommended_action == "reintegrate"
    event = issue.history.get(action="payment_not_confirmed")
    assert event.data["payment"]["verdict"] == "pending"


def test_a_paid_and_confirmed_order_is_resent(
    tiny: Channel, paid_order: Callable[..., tuple[Order, str]]
) -> None:
    order = unlinked(tiny, lambda: paid_order()[0])
    assert integration.check(tiny, actor=ACTOR)["repair:reintegrated"] == 1
    assert resends(order) == 1


MARKETPLACE_PAYMENT = {"method": "credit_card", "gateway": "skyhub", "transaction_id": "", "installments": 1}


def test_a_marketplace_paid_order_nobody_can_be_asked_about_is_resent(
    tiny: Channel, make_order: Callable[..., Order]
) -> None:
    # Paid at the marketplace: no gateway of Malote's can be asked; Malote's approved record stands.
    order = unlinked(tiny, lambda: bring_to(make_order(payment=MARKETPLACE_PAYMENT), "paid"))
    assert integration.check(tiny, actor=ACTOR)["repair:reintegrated"] == 1
    assert resends(order) == 1


def test_an_unapproved_payment_nobody_can_be_asked_about_is_not_resent(
    tiny: Channel, make_order: Callable[..., Order]
) -> None:
    # Malote's own record is not approved either: nothing to stand on, a person decides.
    order = unlinked(tiny, lambda: bring_to(make_order(payment=MARKETPLACE_PAYMENT), "paid"))
    order.payments.update(status="pending")
    counts = integration.check(tiny, actor=ACTOR)
    assert counts["repair:payment_not_confirmed"] == 1 and resends(order) == 0


def test_reference_keys_follow_the_search_normalisation() -> None:
    keys = {
        k for ref in ("02-704319102", "02704319102", "704319102", "704319102-1") for k in reference_keys(ref)
    }
    assert "704319102" in set(reference_keys("704319102-1")) & set(reference_keys("02-704319102"))
    assert "02704319102" in set(reference_keys("02704319102")) & set(reference_keys("02-704319102"))
    assert "1234" not in keys and reference_keys("12") == []


def test_an_erp_order_referencing_a_known_sale_is_linked_not_unknown(
    tiny: Channel, make_order: Callable[..., Order], tiny_control: Callable[..., dict[str, Any]]
) -> None:
    order = unlinked(tiny, make_order)
    short = order.external_id.split("-", 1)[1]  # the store's number, without the "02-" prefix
    typed = tiny_control("orders", {"numero_ecommerce": f"{short}-1"})["pedido"]
    counts = integration.check(tiny, actor=ACTOR)
    assert counts["linked"] == 1 and counts["unknown_in_erp"] == 0 and counts["missing"] == 0
    assert OrderLink.objects.get(order=order, channel=tiny).external_id == str(typed["id"])
    assert not IntegrationIssue.objects.exists()
    # Forbidden: a reference no sale matches is unknown to Malote.
    other = tiny_control("orders", {"numero_ecommerce": "LOJA-FISICA-77"})["pedido"]
    assert integration.check(tiny, actor=ACTOR)["unknown_in_erp"] == 1
    assert IntegrationIssue.objects.get().external_ref == str(other["id"])


def test_a_second_erp_order_for_a_linked_sale_is_one_duplicate_issue(
    tiny: Channel, make_order: Callable[..., Order], tiny_control: Callable[..., dict[str, Any]]
) -> None:
    order = make_order()
    drain()
    linked_id = OrderLink.objects.get(order=order, channel=tiny).external_id
    typed = tiny_control("orders", {"numero_ecommerce": order.external_id.replace("-", "")})["pedido"]
    for _ in range(2):
        counts = integration.check(tiny, actor=ACTOR)
    assert counts["duplicate"] == 1 and counts["unknown_in_erp"] == 0 and counts["missing"] == 0
    issue = IntegrationIssue.objects.get()
    assert issue.kind == IssueKind.DUPLICATE and issue.order_id == order.pk
    assert issue.evidence["tiny"]["remote_ids"] == [linked_id, str(typed["id"])]


def test_an_issue_whose_order_left_the_window_stays_open(
    tiny: Channel, tiny_fake: RunningFake[Any], make_order: Callable[..., Order]
) -> None:
    tiny.options = {**tiny.options, "auto_repair": False}
    tiny.save()
    tiny_fake.faults.set("drop_order_creation", 1)
    order = make_order()
    drain()
    integration.check(tiny, actor=ACTOR)
    issue = IntegrationIssue.objects.get(order=order)
    later = timezone.now() + timedelta(days=4)  # the 72 h window has moved past the order
    counts = integration.check(tiny, later, actor=ACTOR)
    issue.refresh_from_db()
    assert counts["cleared"] == 0 and issue.state == IssueState.OPEN
    assert "cleared" not in list(issue.history.values_list("action", flat=True))


def test_a_charge_naming_the_sale_in_another_spelling_is_no_unknown_payment(
    pagarme: Channel,
    make_order: Callable[..., Order],
    pagarme_control: Callable[..., dict[str, Any]],
) -> None:
    pagarme.options = {**pagarme.options, "integration_grace_minutes": 0}
    pagarme.save()
    payment = {"method": "pix", "gateway": "pagarme", "transaction_id": "", "installments": 1}
    make_order(external_id="02-704319102", payment=payment)
    # Allowed: the store sent the charge with its number typed without the dash.
    pagarme_control("orders", {"code": "02704319102", "items": [{"sku": "CHINELO-42", "qty": 2}]})
    counts = integration.check(pagarme, actor=ACTOR)
    assert counts["unknown_payment"] == 0 and not IntegrationIssue.objects.exists()
    # Forbidden: a charge whose reference names no sale is a payment unknown to Malote.
    pagarme_control("orders", {"code": "99-555000111", "items": [{"sku": "CHINELO-42", "qty": 1}]})
    counts = integration.check(pagarme, actor=ACTOR)
    assert counts["unknown_payment"] == 1
    assert IntegrationIssue.objects.get().external_ref.startswith("ch_")
