"""The generic ``webhook`` connector end to end: signed inbound events over HTTP into the inbox and
the lifecycle; outbound changes delivered through the outbox to a real HTTP receiver."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from malote.channels.models import Channel, ChannelRole, OrderLink
from malote.connectors import signing
from malote.orders.models import Order
from malote.stock.actions import set_physical
from malote.sync.models import InboxEvent, OutboxMessage
from malote.sync.worker import drain
from malote_dev.testing.orders import SYSTEM, order_data
from malote_dev.testing.sync import HttpSink, Reply

pytestmark = pytest.mark.django_db

SECRET = "s3cr3t-jet"


@pytest.fixture
def erp_sink() -> Iterator[HttpSink]:
    with HttpSink() as sink:
        yield sink


@pytest.fixture
def channels(erp_sink: HttpSink) -> tuple[Channel, Channel]:
    jet = Channel.objects.create(
        code="jet", name="Loja JET", role=ChannelRole.STOREFRONT, kind="webhook",
        base_url="http://127.0.0.1:9/unused", credentials={"secret": SECRET},
        options={"push_stock": False},  # the order flow only; stock pushes are tested apart
    )  # fmt: skip
    erp = Channel.objects.create(
        code="abacos", name="Abacos", role=ChannelRole.ERP, kind="webhook",
        base_url=erp_sink.url + "/malote", credentials={"secret": "erp-secret"},
    )  # fmt: skip
    set_physical("CHINELO-42", 10, actor=SYSTEM)
    return jet, erp


def _post(
    body: dict[str, Any], *, secret: str = SECRET, timestamp: int | None = None, code: str = "jet"
) -> Any:
    raw = json.dumps(body).encode()
    return Client().post(
        f"/hooks/{code}",
        data=raw,
        content_type="application/json",
        headers={signing.HEADER: signing.sign(secret, raw, timestamp=timestamp)},
    )


def _created(event_id: str = "evt-1") -> dict[str, Any]:
    order = order_data() | {"channel": "jet", "external_id": "JET-1001"}
    return {"id": event_id, "type": "order.created", "order": order, "status": "pending_payment"}


def test_signed_order_is_imported_and_reaches_the_erp_once(
    channels: tuple[Channel, Channel], erp_sink: HttpSink
) -> None:
    response = _post(_created())
    assert response.status_code == 200, response.content
    assert response.json()["results"] == ["already"]
    order = Order.objects.get(external_id="JET-1001")
    assert OrderLink.objects.filter(order=order, channel__code="jet", state="linked").exists()
    assert drain(prefix="channel:") == 1
    [sent] = erp_sink.requests
    signing.verify("erp-secret", sent.headers[signing.HEADER], sent.body)
    body = sent.json()
    assert body["type"] == "order.created" and body["order"]["number"] == order.number
    assert sent.headers["Idempotency-Key"] == body["id"]
    assert OrderLink.objects.get(order=order, channel__code="abacos").external_id == order.number


def test_duplicate_and_replayed_webhooks_change_nothing(channels: tuple[Channel, Channel]) -> None:
    _post(_created())
    again = _post(_created())
    assert again.status_code == 200 and again.json()["results"] == ["duplicate"]
    paid = {"id": "evt-2", "type": "order.updated", "external_id": "JET-1001", "status": "paid"}
    assert _post(paid).json()["results"] == ["applied"]
    assert _post(paid).json()["results"] == ["duplicate"]
    order = Order.objects.get()
    assert order.status == "paid"
    assert order.events.filter(transition="approve_payment").count() == 1
    assert InboxEvent.objects.count() == 2


def test_an_older_update_never_moves_the_order_back(channels: tuple[Channel, Channel]) -> None:
    _post(_created())
    _post({"id": "evt-3", "type": "order.updated", "external_id": "JET-1001", "status": "paid"})
    late = _post(
        {"id": "evt-2", "type": "order.updated", "external_id": "JET-1001", "status": "payment_review"}
    )
    assert late.json()["results"] == ["unreachable:paid->payment_review"]
    assert Order.objects.get().status == "paid"


@pytest.mark.parametrize(
    ("secret", "age", "code"),
    [("wrong", 0, "webhook_signature_invalid"), (SECRET, 3600, "webhook_replay_window")],
)
def test_bad_signature_or_stale_timestamp_is_401_and_stored_nowhere(
    channels: tuple[Channel, Channel], secret: str, age: int, code: str
) -> None:
    response = _post(_created(), secret=secret, timestamp=int(time.time()) - age)
    assert response.status_code == 401 and response.json()["code"] == code
    assert not InboxEvent.objects.exists() and not Order.objects.exists()


def test_missing_signature_and_unknown_channel(channels: tuple[Channel, Channel]) -> None:
    unsigned = Client().post("/hooks/jet", data=b"{}", content_type="application/json")
    assert unsigned.status_code == 401 and unsigned.json()["code"] == "webhook_signature_missing"
    assert _post(_created(), code="nope").status_code == 404


def test_malformed_but_signed_body_is_422(channels: tuple[Channel, Channel]) -> None:
    raw = b"[1, 2]"
    response = Client().post(
        "/hooks/jet",
        data=raw,
        content_type="application/json",
        headers={signing.HEADER: signing.sign(SECRET, raw)},
    )
    assert response.status_code == 422 and response.json()["code"] == "malformed_webhook"


def test_changes_in_malote_reach_the_storefront_in_order(channels: tuple[Channel, Channel]) -> None:
    jet, _ = channels
    with HttpSink() as store:
        Channel.objects.filter(pk=jet.pk).update(base_url=store.url + "/jet")

        _post(_created())
        order = Order.objects.get()
        from malote.orders import actions

        actions.run_transition(order.pk, "approve_payment", {}, actor=SYSTEM)
        actions.run_transition(order.pk, "cancel", {"reason": "fraud"}, actor=SYSTEM)
        drain()
        assert [b["type"] for b in store.bodies()] == ["order.status", "order.cancellation"]
        assert [b["status"] for b in store.bodies()] == ["paid", "canceled"]


def test_a_failing_erp_is_retried_and_does_not_block_the_storefront(
    channels: tuple[Channel, Channel],
) -> None:
    jet, erp = channels
    with HttpSink(lambda request: Reply(status=503)) as down, HttpSink() as store:
        Channel.objects.filter(pk=erp.pk).update(base_url=down.url)
        Channel.objects.filter(pk=jet.pk).update(base_url=store.url)

        _post(_created())
        _post({"id": "evt-2", "type": "order.updated", "external_id": "JET-1001", "status": "paid"})
        order = Order.objects.get()
        from malote.orders import actions

        actions.run_transition(order.pk, "cancel", {"reason": "fraud"}, actor=SYSTEM)
        drain()
        erp_messages = OutboxMessage.objects.filter(destination="channel:abacos").order_by("id")
        assert [m.state for m in erp_messages] == ["pending", "pending", "pending"]
        assert erp_messages[0].last_status == 503 and len(down.requests) == 1, "only the head was tried"
        assert [b["type"] for b in store.bodies()] == ["order.cancellation"]
        assert OrderLink.objects.get(order=order, channel=erp).state == "error"


def test_paid_only_import_policy_defers_unpaid_orders_until_paid(channels: tuple[Channel, Channel]) -> None:
    jet, _ = channels
    Channel.objects.filter(pk=jet.pk).update(import_policy="paid_only")
    unpaid = _post(_created("evt-a"))
    assert unpaid.json()["results"] == ["deferred_unpaid"]
    assert not Order.objects.exists()
    paid = _created("evt-b") | {"status": "paid"}
    paid["order"] = paid["order"] | {"status": "paid"}
    assert _post(paid).json()["results"] == ["already"]
    order = Order.objects.get()
    assert (order.status, order.external_id) == ("paid", "JET-1001")


def test_an_invalid_order_is_refused_and_recorded_not_lost(channels: tuple[Channel, Channel]) -> None:
    bad = _created("evt-bad")
    bad["order"]["customer"]["document"] = "111.111.111-11"
    response = _post(bad)
    assert response.status_code == 200
    assert response.json()["results"] == ["refused:cpf_repeated_digits"]
    event = InboxEvent.objects.get()
    assert event.result == "refused:cpf_repeated_digits" and "111.111.111-11" in event.body
    assert not Order.objects.exists()
