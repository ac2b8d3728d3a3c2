"""Shortcuts for the Mercado Livre connector tests: the fake's control API, its recorded
notifications replayed into Malote's ``/hooks/<code>`` endpoint, NF-e XML for a fake order."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx
from django.test import Client
from django.utils import timezone

from malote.channels.models import Channel, ChannelRole
from malote.sync.models import InboxEvent, OutboxMessage
from malote.sync.worker import drain
from malote_dev.sandbox.clock import BRASILIA
from malote_dev.sandbox.server import RunningFake
from malote_dev.sandbox.webhooks import WebhookRecord
from malote_dev.testing.fiscal import build_nfe_xml, make_nfe_key

Fake = RunningFake[Any]
CODE = "mercadolivre"
DESTINATION = f"channel:{CODE}"
# The fake's notification thread cannot reach Django's test client: it posts here (refused at
# once) and the tests replay what it recorded.
UNREACHABLE_HOOK_URL = "http://127.0.0.1:9/hooks/mercadolivre"


def http() -> httpx.Client:
    return httpx.Client(timeout=10, trust_env=False)


def make_channel(fake: Fake, **fields: Any) -> Channel:
    names = ("client_id", "client_secret", "access_token", "refresh_token", "user_id")
    values: dict[str, Any] = {
        "code": CODE,
        "name": "Mercado Livre",
        "role": ChannelRole.MARKETPLACE,
        "kind": "mercadolivre",
        "base_url": fake.api_url,
        "credentials": {name: fake.credentials[name] for name in names},
        "invoice_needs_xml": True,
        "delivery_from_channel": True,
        **fields,
    }
    return Channel.objects.create(**values)


def control(
    fake: Fake, path: str, body: dict[str, Any] | None = None, *, status: int = 200
) -> dict[str, Any]:
    with http() as client:
        answer = client.post(f"{fake.url}/_sandbox/{path}", json=body or {})
    assert answer.status_code == status, answer.text
    data: dict[str, Any] = answer.json()
    return data


def buy(fake: Fake, **body: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """A buyer buys on Mercado Livre (paid by default); returns (order, shipment) as ML has them."""
    answer = control(fake, "orders", body, status=201)
    return answer["order"], answer["shipment"]


def move_shipment(fake: Fake, shipment_id: int, status: str, substatus: str | None = None) -> dict[str, Any]:
    return control(fake, f"shipments/{shipment_id}/status", {"status": status, "substatus": substatus})


def notifications(fake: Fake, topic: str | None = None, resource: str | None = None) -> list[WebhookRecord]:
    """The notifications the fake sent, oldest first, once its sender is idle."""
    assert fake.wait_for_webhooks(5.0)
    return [
        record
        for record in fake.webhooks
        if (topic is None or record.event == topic)
        and (resource is None or record.json["resource"] == resource)
    ]


def last_notification(fake: Fake, topic: str, resource: str) -> WebhookRecord:
    found = notifications(fake, topic, resource)
    assert found, f"no {topic} notification for {resource}"
    return found[-1]


@dataclass(frozen=True)
class Read:
    """A notification's answer followed by its reading: ``results`` are what reading it did."""

    status_code: int
    answer: dict[str, Any]

    def json(self) -> dict[str, Any]:
        return self.answer


def post_notification(
    record: WebhookRecord | None = None, *, body: bytes | None = None, code: str = CODE
) -> Any:
    """POST a notification to Malote as ML would have (ML sends no signature headers): the answer
    only (the notification is stored unread, ML wants an answer before anything is read)."""
    raw = body if body is not None else record.body if record is not None else b""
    return Client().post(f"/hooks/{code}", data=raw, content_type="application/json")


def replay(record: WebhookRecord | None = None, *, body: bytes | None = None, code: str = CODE) -> Any:
    """POST a notification, then let the worker read it: the answer with ``results`` of the reading
    (a notification already received is ``["duplicate"]``), as if it had been read at once."""
    response = post_notification(record, body=body, code=code)
    if response.status_code != 200 or response.json().get("results") != ["received"]:
        return response
    drain(prefix="notification:")
    event = InboxEvent.objects.filter(source=code, kind="notification").order_by("-id").first()
    assert event is not None
    if event.processed_at is None:  # the reading failed and waits for a retry
        message = OutboxMessage.objects.get(destination=f"notification:{code}", payload__event=event.pk)
        return Read(503, {"code": "upstream_unavailable", "detail": message.last_error})
    results = event.detail.split(", ") if event.detail else []
    return Read(200, {"received": len(results), "results": results})


def nfe_for(
    order: dict[str, Any], *, number: int = 1234, recipient_cpf: str = "11144477735", **kwargs: Any
) -> dict[str, Any]:
    """An invoice (transition input) with an authorized nfeProc for the ML order: issued now, total =
    what the buyer paid (items + shipping), recipient = the buyer."""
    now = timezone.now().astimezone(BRASILIA)
    key = make_nfe_key(number, year=now.year, month=now.month)
    total = Decimal(str(order["paid_amount"])).quantize(Decimal("0.01"))
    xml = build_nfe_xml(
        key, total=total, recipient_cpf=recipient_cpf, issued_at=_whole_seconds(now), **kwargs
    )
    return {"key": key, "number": str(number), "series": "1", "issued_at": now.isoformat(), "xml": xml}


def _whole_seconds(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


def make_due() -> int:
    """Time passes: every pending message is due now."""
    return OutboxMessage.objects.filter(destination=DESTINATION, state="pending").update(
        next_attempt_at=timezone.now()
    )


def redeliver_done() -> int:
    """Every delivered message is delivered again (a lost answer, a worker that died)."""
    return OutboxMessage.objects.filter(destination=DESTINATION, state="done").update(
        state="pending", next_attempt_at=timezone.now(), delivered_at=None
    )
