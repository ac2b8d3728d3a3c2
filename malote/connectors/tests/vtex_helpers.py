"""Shortcuts for the VTEX connector tests: the fake's control API, its recorded hooks replayed
into Malote's ``/hooks/<code>`` endpoint, and outbox bookkeeping."""

from __future__ import annotations

from typing import Any

import httpx
from django.test import Client
from django.utils import timezone

from malote.channels.models import Channel, ChannelRole
from malote.sync.models import OutboxMessage
from malote_dev.sandbox.server import RunningFake
from malote_dev.sandbox.vtex import VtexState
from malote_dev.sandbox.webhooks import WebhookRecord

Fake = RunningFake[VtexState]
CODE = "vtex"
DESTINATION = f"channel:{CODE}"
# The fake's hook thread cannot reach Django's test client: it posts here (refused at once) and the
# tests replay what it recorded.
UNREACHABLE_HOOK_URL = "http://127.0.0.1:9/hooks/vtex"
WRITES = ("POST", "PUT", "PATCH")


def http() -> httpx.Client:
    return httpx.Client(timeout=10, trust_env=False)


def make_channel(fake: Fake, **fields: Any) -> Channel:
    credentials = {
        "app_key": fake.credentials["app_key"],
        "app_token": fake.credentials["app_token"],
        "hook_secret": fake.credentials["hook_secret"],
    }
    values: dict[str, Any] = {
        "code": CODE,
        "name": "Loja VTEX",
        "role": ChannelRole.STOREFRONT,
        "kind": "vtex",
        "base_url": fake.url,
        "credentials": credentials,
        "options": {"account": fake.credentials["account"]},
        **fields,
    }
    return Channel.objects.create(**values)


def place_order(fake: Fake, **body: Any) -> dict[str, Any]:
    """A shopper checks out in the store (the fake's control API); returns the store's order."""
    with http() as client:
        answer = client.post(f"{fake.url}/_sandbox/orders", json=body)
    assert answer.status_code == 201, answer.text
    order: dict[str, Any] = answer.json()["order"]
    return order


def set_status(fake: Fake, order_id: str, status: str) -> None:
    """Someone moves the order in VTEX's admin (or VTEX's own workflow moves it)."""
    with http() as client:
        answer = client.post(f"{fake.url}/_sandbox/orders/{order_id}/status", json={"status": status})
    assert answer.status_code == 200, answer.text


def advance_clock(fake: Fake, seconds: int) -> None:
    with http() as client:
        assert client.post(f"{fake.url}/_sandbox/clock", json={"advance_seconds": seconds}).is_success


def remote_order(fake: Fake, order_id: str) -> dict[str, Any]:
    with fake.app.lock:
        return dict(fake.state.orders[order_id])


def hooks(fake: Fake, order_id: str | None = None) -> list[WebhookRecord]:
    """The hooks the store sent, oldest first, once its sender is idle."""
    assert fake.wait_for_webhooks(5.0)
    records = [record for record in fake.webhooks if record.event == "order"]
    if order_id is not None:
        records = [record for record in records if record.json.get("OrderId") == order_id]
    return records


def replay(record: WebhookRecord, *, body: bytes | None = None, headers: dict[str, str] | None = None) -> Any:
    """POST a recorded hook to Malote as VTEX would have (its custom headers included)."""
    sent = {
        name: value
        for name, value in record.headers.items()
        if name.lower() not in ("content-type", "user-agent")
    }
    return Client().post(
        f"/hooks/{CODE}",
        data=record.body if body is None else body,
        content_type="application/json",
        headers=sent if headers is None else headers,
    )


def writes(fake: Fake) -> list[tuple[str, str, Any]]:
    """The store's writing calls so far (feed commits left out): (method, path, body)."""
    return [
        (call.method, call.path, call.json)
        for call in fake.calls
        if call.method in WRITES and call.path != "/api/orders/feed"
    ]


def commits(fake: Fake) -> list[list[str]]:
    """The handles of every feed commit so far."""
    return [
        call.json["handles"]
        for call in fake.calls
        if call.method == "POST" and call.path == "/api/orders/feed"
    ]


def redeliver_done() -> int:
    """Make every delivered message due again, as if each were delivered a second time."""
    return OutboxMessage.objects.filter(destination=DESTINATION, state="done").update(
        state="pending", next_attempt_at=timezone.now(), delivered_at=None
    )


def make_due() -> int:
    """Time passes: every pending message is due now."""
    return OutboxMessage.objects.filter(destination=DESTINATION, state="pending").update(
        next_attempt_at=timezone.now()
    )
