"""Auto-cancel of unpaid orders against the Pagar.me fake over HTTP: business days over a national
holiday, the gateway re-check before the cancel, a late payment, an unreachable gateway."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from malote.channels.models import Channel
from malote.core.actors import Actor
from malote.orders.models import Order
from malote.reconcile import unpaid
from malote.reconcile.calendar import BRASILIA, add_business_days, is_business_day, payable_until
from malote.reconcile.models import IntegrationIssue, IssueKind
from malote.reconcile.tests.conftest import live
from malote.sync.models import OutboxMessage

pytestmark = pytest.mark.django_db

ACTOR = Actor.schedule("reconcile.unpaid")
DUE = "2026-11-19"  # a Thursday; Friday 2026-11-20 is Consciência Negra (national since 2024)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BRASILIA)


def status(order: Order) -> str:
    order.refresh_from_db()
    return order.status


def test_the_holiday_is_national_in_2026() -> None:
    assert not is_business_day(date(2026, 11, 20))
    assert add_business_days(date(2026, 11, 19), 3) == date(2026, 11, 25)
    # Without the holiday the third business day would be Tuesday the 24th.
    assert add_business_days(date(2026, 11, 26), 3) == date(2026, 12, 1)


def test_boleto_canceled_on_the_right_day_not_a_day_earlier(
    paying_order: Callable[..., tuple[Order, str]],
) -> None:
    order, _ = paying_order("boleto", due_date=DUE)
    assert unpaid.run(at("2026-11-19T23:59:00"), actor=ACTOR)["waiting"] == 1
    assert status(order) == "pending_payment"
    unpaid.run(at("2026-11-20T00:00:01"), actor=ACTOR)
    assert status(order) == "payment_overdue"
    # Tuesday the 24th would be the deadline without the holiday; Wednesday is the 3rd business day.
    unpaid.run(at("2026-11-25T23:59:59"), actor=ACTOR)
    assert status(order) == "payment_overdue"
    outcome = unpaid.run(at("2026-11-26T00:00:01"), actor=ACTOR)
    assert outcome["canceled"] == 1
    order.refresh_from_db()
    assert order.status == "canceled" and order.cancel_reason == "payment_expired"
    assert order.stock_state == "released"
    unpaid.run(at("2026-11-27T10:00:00"), actor=ACTOR)
    emails = OutboxMessage.objects.filter(
        order=order, destination="email:customer", payload__status="canceled"
    )
    assert emails.count() == 1
    # The gateway hears the cancellation (the charge is voided) through routing.
    assert OutboxMessage.objects.filter(order=order, destination="channel:pagarme").count() == 1


@pytest.mark.parametrize(
    ("due", "still_on_time", "overdue_from"),
    [
        # Saturday; Sunday the 15th is a holiday too: payable on Monday the 16th.
        ("2026-11-14", "2026-11-16T23:59:00", "2026-11-17T00:00:01"),
        # Consciência Negra (Friday): payable on Monday the 23rd.
        ("2026-11-20", "2026-11-23T23:59:00", "2026-11-24T00:00:01"),
    ],
)
def test_a_boleto_due_on_a_non_business_day_is_on_time_until_the_next_business_day(
    paying_order: Callable[..., tuple[Order, str]], due: str, still_on_time: str, overdue_from: str
) -> None:
    order, _ = paying_order("boleto", due_date=due)
    assert unpaid.run(at(still_on_time), actor=ACTOR)["waiting"] == 1
    assert status(order) == "pending_payment"
    unpaid.run(at(overdue_from), actor=ACTOR)
    assert status(order) == "payment_overdue"


def test_payable_until_keeps_a_business_due_date() -> None:
    assert payable_until(date(2026, 11, 19)) == date(2026, 11, 19)
    assert payable_until(date(2026, 11, 21)) == date(2026, 11, 23)
    assert payable_until(date(2026, 11, 19), extra=[date(2026, 11, 19)]) == date(2026, 11, 23)


def test_a_late_payment_is_approved_not_canceled(
    paying_order: Callable[..., tuple[Order, str]], pagarme_control: Callable[..., dict[str, Any]]
) -> None:
    order, charge = paying_order("boleto", due_date=DUE)
    unpaid.run(at("2026-11-21T09:00:00"), actor=ACTOR)
    assert status(order) == "payment_overdue"
    pagarme_control(f"charges/{charge}/pay")  # paid at the bank; the webhook never arrived
    outcome = unpaid.run(at("2026-11-26T08:00:00"), actor=ACTOR)
    assert outcome["approved_late"] == 1
    order.refresh_from_db()
    assert order.status == "paid"
    assert order.payments.get().transaction_id == charge


def test_an_unreachable_gateway_never_cancels(
    paying_order: Callable[..., tuple[Order, str]], pagarme_fake: Any
) -> None:
    order, _ = paying_order("boleto", due_date=DUE)
    pagarme_fake.faults.set("error_5xx", 10)
    outcome = unpaid.run(at("2026-11-26T08:00:00"), actor=ACTOR)
    assert outcome["gateway_unreachable"] == 1
    assert status(order) == "payment_overdue"
    pagarme_fake.faults.clear()
    assert unpaid.run(at("2026-11-26T08:10:00"), actor=ACTOR)["canceled"] == 1
    assert status(order) == "canceled"


def test_pix_canceled_after_expiry_card_after_days(
    paying_order: Callable[..., tuple[Order, str]],
) -> None:
    pix, _ = paying_order("pix", expires_at="2026-11-22T10:00:00-03:00")
    unpaid.run(at("2026-11-22T09:59:00"), actor=ACTOR)
    assert status(pix) == "pending_payment"
    unpaid.run(at("2026-11-22T10:00:01"), actor=ACTOR)
    assert status(pix) == "canceled"


def test_no_gateway_to_ask_opens_an_issue_instead(make_order: Callable[..., Order], channel: Channel) -> None:
    order = make_order(
        payment={"method": "boleto", "gateway": "itau", "transaction_id": "x1", "due_date": DUE}
    )
    unpaid.run(at("2026-11-26T08:00:00"), actor=ACTOR)
    assert status(order) == "payment_overdue"
    issue = IntegrationIssue.objects.get(kind=IssueKind.UNPAID, order=order)
    assert issue.recommended_action == "cancel"
    unpaid.run(at("2026-11-26T09:00:00"), actor=ACTOR)
    assert IntegrationIssue.objects.filter(kind=IssueKind.UNPAID).count() == 1
    assert order.events.filter(type="integration_issue").count() == 1


def test_card_authorization_canceled_after_the_configured_days(
    paying_order: Callable[..., tuple[Order, str]], channel: Channel
) -> None:
    channel.options = {"card_cancel_after_days": 2}
    channel.save()
    card, _ = paying_order("credit_card")
    placed = card.placed_at
    unpaid.run(placed + timedelta(days=1, hours=23), actor=ACTOR)
    assert status(card) == "pending_payment"
    assert unpaid.run(placed + timedelta(days=2, minutes=1), actor=ACTOR)["canceled"] == 1
    assert status(card) == "canceled"


def test_dry_run_changes_nothing(paying_order: Callable[..., tuple[Order, str]]) -> None:
    order, _ = paying_order("boleto", due_date=DUE)
    assert unpaid.run(at("2026-11-26T08:00:00"), actor=ACTOR, dry_run=True)["would_cancel"] == 1
    assert status(order) == "pending_payment"


def test_history_placed_before_go_live_is_never_canceled_nor_flagged(
    paying_order: Callable[..., tuple[Order, str]], channel: Channel
) -> None:
    history, _ = paying_order("boleto", due_date=DUE)
    live(channel, at=history.placed_at + timedelta(minutes=1))  # the shop connected Malote after it
    outcome = unpaid.run(at("2026-11-26T00:00:01"), actor=ACTOR)
    assert status(history) == "pending_payment"
    assert sum(outcome.values()) == 0
    assert not IntegrationIssue.objects.filter(order=history).exists()
    live(channel, at=history.placed_at - timedelta(minutes=1))  # placed after go-live: it is checked
    unpaid.run(at("2026-11-26T00:00:01"), actor=ACTOR)
    assert status(history) == "canceled"
