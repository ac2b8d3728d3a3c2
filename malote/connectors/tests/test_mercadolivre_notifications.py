"""Mercado Livre notifications are answered at once (ML wants an answer within ~500 ms): the webhook
view verifies the notification and stores it unread, without any call to ML; a worker then reads
the order and takes it in. A repeated notification changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from django.utils import timezone

import malote.connectors.mercadolivre as ml
from malote.channels.models import Channel
from malote.conftest import SYSTEM
from malote.connectors.tests.mercadolivre_helpers import (
    CODE,
    UNREACHABLE_HOOK_URL,
    Fake,
    buy,
    last_notification,
    make_channel,
    post_notification,
)
from malote.orders.models import Order
from malote.stock.actions import set_physical
from malote.sync.models import InboxEvent, OutboxMessage
from malote.sync.worker import drain
from malote_dev.sandbox.seed import PRODUCTS
from malote_dev.sandbox.server import start_fake

pytestmark = pytest.mark.django_db
QUEUE = f"notification:{CODE}"


@pytest.fixture
def fake() -> Iterator[Fake]:
    ml.clear_token_cache()
    with start_fake("mercadolivre", seed=False, webhook_url=UNREACHABLE_HOOK_URL) as running:
        yield running
    ml.clear_token_cache()


@pytest.fixture
def channel(fake: Fake) -> Channel:
    for product in PRODUCTS:
        set_physical(product.sku, 50, actor=SYSTEM)
    return make_channel(fake)


def _notification_events() -> list[InboxEvent]:
    return list(InboxEvent.objects.filter(source=CODE, kind="notification").order_by("id"))


def test_the_notification_is_answered_without_reading_ml_and_imported_by_the_worker(
    fake: Fake, channel: Channel
) -> None:
    placed, _shipment = buy(fake)
    record = last_notification(fake, "orders_v2", f"/orders/{placed['id']}")
    fake.calls.clear()

    response = post_notification(record)
    assert response.status_code == 200 and response.json()["results"] == ["received"]
    assert fake.calls.all() == [], "answered before any call to Mercado Livre"
    assert not Order.objects.exists()
    [event] = _notification_events()
    assert (event.result, event.processed_at) == ("received", None)

    assert drain(prefix="notification:") == 1
    order = Order.objects.get(channel__code=CODE, external_id=str(placed["id"]))
    assert order.status == "paid"
    event.refresh_from_db()
    assert event.result == "already" and event.processed_at is not None  # imported as paid
    assert fake.calls.filter("GET", f"/orders/{placed['id']}"), "the worker read the order"


def test_a_repeated_notification_changes_nothing(fake: Fake, channel: Channel) -> None:
    placed, _shipment = buy(fake)
    record = last_notification(fake, "orders_v2", f"/orders/{placed['id']}")
    assert post_notification(record).json()["results"] == ["received"]
    drain(prefix="notification:")
    fake.calls.clear()

    # ML re-sends the same notification (same _id): stored nowhere, nothing queued, nothing read.
    again = post_notification(record)
    assert again.status_code == 200 and again.json()["results"] == ["duplicate"]
    assert drain(prefix="notification:") == 0
    assert fake.calls.all() == []
    assert len(_notification_events()) == 1 and Order.objects.count() == 1
    assert OutboxMessage.objects.filter(destination=QUEUE).count() == 1


def test_repeated_before_the_worker_ran_it_is_still_imported_once(fake: Fake, channel: Channel) -> None:
    placed, _shipment = buy(fake)
    record = last_notification(fake, "orders_v2", f"/orders/{placed['id']}")
    assert post_notification(record).json()["results"] == ["received"]
    assert post_notification(record).json()["results"] == ["duplicate"]
    assert drain(prefix="notification:") == 1
    assert Order.objects.count() == 1


def test_a_failed_read_is_retried_by_the_outbox_not_by_ml(fake: Fake, channel: Channel) -> None:
    placed, _shipment = buy(fake)
    fake.faults.set("error_5xx", status=503)
    response = post_notification(last_notification(fake, "orders_v2", f"/orders/{placed['id']}"))
    assert response.status_code == 200, "ML gets its answer whatever happens later"
    drain(prefix="notification:")
    message = OutboxMessage.objects.get(destination=QUEUE)
    assert (message.state, message.attempts) == ("pending", 1) and not Order.objects.exists()

    fake.faults.clear()
    OutboxMessage.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())
    assert drain(prefix="notification:") == 1
    assert Order.objects.count() == 1
    assert _notification_events()[0].result == "already"


def test_topics_malote_does_not_follow_are_answered_and_stored_nowhere(fake: Fake, channel: Channel) -> None:
    credentials = channel.credentials
    body = {
        "resource": "/collections/123",
        "topic": "payments",
        "_id": "n-1",
        "user_id": int(credentials["user_id"]),
        "application_id": int(credentials["client_id"]),
    }
    response = post_notification(body=json.dumps(body).encode())
    assert response.status_code == 200 and response.json() == {"received": 0, "results": []}
    assert not InboxEvent.objects.exists()
    assert not OutboxMessage.objects.exclude(kind="stock.available").exists()


def test_a_channel_may_still_read_before_answering(fake: Fake, channel: Channel) -> None:
    """The channel option ``answer_before_reading: false`` keeps the read in the request."""
    Channel.objects.filter(pk=channel.pk).update(options={"answer_before_reading": False})
    placed, _shipment = buy(fake)
    fake.calls.clear()
    response = post_notification(last_notification(fake, "orders_v2", f"/orders/{placed['id']}"))
    assert response.status_code == 200 and response.json()["results"] == ["already"]  # imported paid
    assert fake.calls.filter("GET", f"/orders/{placed['id']}")
    assert Order.objects.count() == 1 and not _notification_events()
