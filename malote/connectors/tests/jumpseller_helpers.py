"""Shortcuts for the Jumpseller connector tests: the fake's control API, its recorded hooks
replayed into Malote's ``/hooks/<code>`` endpoint, and outbox bookkeeping."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
from django.test import Client
from django.utils import timezone

from malote.channels.models import Channel, ChannelRole
from malote.sync.models import OutboxMessage
from malote_dev.sandbox.jumpseller import JumpsellerState
from malote_dev.sandbox.server import RunningFake
from malote_dev.sandbox.webhooks import WebhookRecord

Fake = RunningFake[JumpsellerState]
CODE = "jumpseller"
DESTINATION = f"channel:{CODE}"
# The fake's hook thread cannot reach Django's test client: it posts here (refused at once) and the
# tests replay what it recorded.
UNREACHABLE_HOOK_URL = "http://127.0.0.1:9/hooks/jumpseller"


def http() -> httpx.Client:
    return httpx.Client(timeout=10, trust_env=False)


def make_channel(fake: Fake, **fields: Any) -> Channel:
    credentials = {name: fake.credentials[name] for name in ("login", "authtoken", "hooks_token")}
    values: dict[str, Any] = {
        "code": CODE,
        "name": "Loja Jumpseller",
        "role": ChannelRole.STOREFRONT,
        "kind": "jumpseller",
        "base_url": fake.api_url,
        "credentials": credentials,
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


def admin_edit(fake: Fake, order_id: int, **changes: Any) -> list[str]:
    """A person edits the order in the store's admin; returns the hook events it caused."""
    with http() as client:
        answer = client.post(f"{fake.url}/_sandbox/orders/{order_id}/status", json=changes)
    assert answer.status_code == 200, answer.text
    events: list[str] = answer.json()["events"]
    return events


def api(fake: Fake, method: str, path: str, **kwargs: Any) -> Any:
    """Call the store's API directly (what a person or another app would do)."""
    auth = (fake.credentials["login"], fake.credentials["authtoken"])
    with http() as client:
        answer = client.request(method, f"{fake.api_url}{path}", auth=auth, **kwargs)
    assert answer.is_success, answer.text
    return answer.json()


def hooks(fake: Fake, event: str | None = None, order_id: int | None = None) -> list[WebhookRecord]:
    """The hooks the store sent (or suppressed), oldest first, once its sender is idle."""
    assert fake.wait_for_webhooks(5.0)
    records = [record for record in fake.webhooks if event is None or record.event == event]
    if order_id is not None:
        records = [record for record in records if record.json.get("order", {}).get("id") == order_id]
    return records


def the_hook(fake: Fake, event: str, order_id: int) -> WebhookRecord:
    [record] = hooks(fake, event, order_id)
    return record


def replay(
    record: WebhookRecord,
    *,
    body: bytes | None = None,
    signature: str | None = None,
    drop: tuple[str, ...] = (),
    code: str = CODE,
) -> Any:
    """POST a recorded hook to Malote as the store would have, optionally tampered with."""
    headers = {
        name: value
        for name, value in record.headers.items()
        if name.lower() not in ("content-type", "user-agent") and name not in drop
    }
    if signature is not None:
        headers["Jumpseller-Hmac-Sha256"] = signature
    return Client().post(
        f"/hooks/{code}",
        data=record.body if body is None else body,
        content_type="application/json",
        headers=headers,
    )


def redeliver_done() -> int:
    """Make every delivered message due again, as if each were delivered a second time (a lost
    answer, a worker that died before recording the result)."""
    return OutboxMessage.objects.filter(destination=DESTINATION, state="done").update(
        state="pending", next_attempt_at=timezone.now(), delivered_at=None
    )


def make_due() -> int:
    """Time passes: every pending message is due now."""
    return OutboxMessage.objects.filter(destination=DESTINATION, state="pending").update(
        next_attempt_at=timezone.now()
    )


def writes(fake: Fake) -> list[tuple[str, str, Any]]:
    """The store's writing calls so far: (method, path, body)."""
    return [(call.method, call.path, call.json) for call in fake.calls if call.method in ("PUT", "POST")]


def events_of(fake: Fake, order_id: int) -> Iterator[str]:
    return (record.event for record in hooks(fake, order_id=order_id))
