"""A dead status or stock message whose state a later message of the same destination and key
delivered is ``superseded``: no longer a failure for a person (the soak's Bling "paid" push that
died on a 404 before the order's cancellation was delivered stayed in the inbox). Creations,
invoices and e-mails are never superseded, and nothing crosses destinations or keys."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from malote.sync import outbox, retention
from malote.sync.models import MessageState, OutboxMessage

pytestmark = pytest.mark.django_db


def _dead(destination: str, kind: str, key: str) -> OutboxMessage:
    outbox.enqueue(destination, kind, {"op": kind}, key=key)
    message = OutboxMessage.objects.order_by("-id").first()
    assert message is not None
    OutboxMessage.objects.filter(pk=message.pk).update(state=MessageState.DEAD, last_error="HTTP 404")
    return message


def _deliver(destination: str, kind: str, key: str) -> None:
    outbox.enqueue(destination, kind, {"op": kind}, key=key)
    ids = outbox.claim("w1")
    assert ids, "the message is claimable"
    outbox.settle("w1", [outbox.Outcome(i) for i in ids])


def _state(message: OutboxMessage) -> str:
    message.refresh_from_db()
    return message.state


def test_a_later_status_delivered_supersedes_the_dead_one() -> None:
    paid = _dead("channel:bling", "order.status", "order:9")
    _deliver("channel:bling", "order.cancellation", "order:9")
    assert _state(paid) == MessageState.SUPERSEDED
    assert not outbox.dead_letters().exists()


def test_a_later_stock_level_delivered_supersedes_the_dead_one() -> None:
    stock = _dead("channel:loja", "stock.available", "sku:BONE-AZUL")
    _deliver("channel:loja", "stock.available", "sku:BONE-AZUL")
    assert _state(stock) == MessageState.SUPERSEDED


@pytest.mark.parametrize(
    ("dead", "delivered"),
    [
        (
            ("channel:bling", "order.order", "order:9"),
            ("channel:bling", "order.status", "order:9"),
        ),  # a creation
        (
            ("channel:loja", "order.invoice", "order:9"),
            ("channel:loja", "order.status", "order:9"),
        ),  # an NF-e
        (("email:customer", "email.status", "order:9"), ("email:customer", "email.status", "order:9")),
        (
            ("channel:bling", "order.status", "order:9"),
            ("channel:tiny", "order.status", "order:9"),
        ),  # elsewhere
        (
            ("channel:bling", "order.status", "order:9"),
            ("channel:bling", "order.status", "order:10"),
        ),  # other order
    ],
)
def test_what_a_later_message_does_not_carry_stays_a_dead_letter(
    dead: tuple[str, str, str], delivered: tuple[str, str, str]
) -> None:
    message = _dead(*dead)
    _deliver(*delivered)
    assert _state(message) == MessageState.DEAD


def test_a_newer_dead_message_is_not_superseded_by_an_older_delivery() -> None:
    outbox.enqueue("channel:bling", "order.status", {"op": "status"}, key="order:9")
    older = OutboxMessage.objects.get()
    newer = _dead("channel:bling", "order.status", "order:9")
    ids = outbox.claim("w1")
    assert ids == [older.pk]
    outbox.settle("w1", [outbox.Outcome(older.pk)])
    assert _state(newer) == MessageState.DEAD


def test_superseded_messages_are_pruned_with_the_delivered_ones() -> None:
    paid = _dead("channel:bling", "order.status", "order:9")
    _deliver("channel:bling", "order.cancellation", "order:9")
    rules = retention.policy()
    soon = timezone.now() + timedelta(days=1)
    assert paid.pk not in retention.candidates(soon, rules)[retention.OUTBOX].values_list("pk", flat=True)
    later = timezone.now() + timedelta(days=rules.outbox_days + 1)
    assert paid.pk in retention.candidates(later, rules)[retention.OUTBOX].values_list("pk", flat=True)
