"""``webhook``: Malote's canonical JSON both ways, for systems without a dedicated connector.

Outbound, each change is one signed POST to the channel's ``base_url`` (``signing``); inbound,
``POST /hooks/<code>`` takes the same envelope signed with the channel's ``secret``. The envelope
and headers are described in docs/connectors/webhook.md.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from django.utils import timezone

from malote.connectors import signing
from malote.connectors.base import Capability, Connector, InboundChange
from malote.connectors.http import JsonHttp
from malote.connectors.payload import load_json
from malote.connectors.registry import register
from malote.orders.statuses import OrderStatus


@register
class WebhookConnector(Connector):
    kind = "webhook"
    capabilities = frozenset(
        {
            Capability.RECEIVE_WEBHOOKS,
            Capability.PUSH_ORDER,
            Capability.PUSH_STATUS,
            Capability.PUSH_INVOICE,
            Capability.PUSH_SHIPMENT,
            Capability.PUSH_DELIVERY,
            Capability.PUSH_CANCELLATION,
            Capability.PUSH_INVOICE_EVENT,
            Capability.PUSH_STOCK,
        }
    )
    default_status_out = {s.value: s.value for s in OrderStatus}
    default_status_in = {s.value: s.value for s in OrderStatus}

    def _post(self, event_type: str, payload: dict[str, Any], *, idempotency_key: str) -> dict[str, Any]:
        body = json.dumps(
            {"id": idempotency_key, "type": event_type, "created_at": timezone.now().isoformat(), **payload},
            ensure_ascii=False,
        ).encode()
        response = JsonHttp(self.http, self.base_url, label=self.channel.code).send(
            "POST",
            "",
            what=event_type,
            content=body,
            headers={
                "Content-Type": "application/json",
                signing.HEADER: signing.sign(self.credential("secret"), body),
                "Idempotency-Key": idempotency_key,
                "Malote-Event": event_type,
            },
        )
        try:
            answer = response.json()
        except ValueError:
            return {}  # the receiver need not answer JSON
        return answer if isinstance(answer, dict) else {}

    def push_order(self, snapshot: dict[str, Any], *, idempotency_key: str) -> str:
        answer = self._post("order.created", {"order": snapshot}, idempotency_key=idempotency_key)
        return str(answer.get("external_id") or snapshot["number"])

    def _change(self, op: str, external_id: str, snapshot: dict[str, Any], idempotency_key: str) -> None:
        status = self.status_out(snapshot.get("change_status", snapshot["status"])) or snapshot["status"]
        payload = {"external_id": external_id, "status": status, "order": snapshot}
        self._post(f"order.{op}", payload, idempotency_key=idempotency_key)

    def push_status(self, external_id: str, snapshot: dict[str, Any], *, idempotency_key: str) -> None:
        self._change("status", external_id, snapshot, idempotency_key)

    def push_invoice(self, external_id: str, snapshot: dict[str, Any], *, idempotency_key: str) -> None:
        self._change("invoice", external_id, snapshot, idempotency_key)

    def push_shipment(self, external_id: str, snapshot: dict[str, Any], *, idempotency_key: str) -> None:
        self._change("shipment", external_id, snapshot, idempotency_key)

    def push_delivery(self, external_id: str, snapshot: dict[str, Any], *, idempotency_key: str) -> None:
        self._change("delivery", external_id, snapshot, idempotency_key)

    def push_cancellation(self, external_id: str, snapshot: dict[str, Any], *, idempotency_key: str) -> None:
        self._change("cancellation", external_id, snapshot, idempotency_key)

    def push_invoice_event(self, external_id: str, snapshot: dict[str, Any], *, idempotency_key: str) -> None:
        status = self.status_out(snapshot.get("change_status", snapshot["status"])) or snapshot["status"]
        payload = {"external_id": external_id, "status": status, "event": snapshot["invoice_event"]}
        self._post("order.invoice_event", payload | {"order": snapshot}, idempotency_key=idempotency_key)

    def push_stock(self, sku: str, available: int, *, idempotency_key: str) -> None:
        self._post("stock.available", {"sku": sku, "available": available}, idempotency_key=idempotency_key)

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, query: Mapping[str, str]) -> None:
        signing.verify(self.credential("secret"), headers.get(signing.HEADER), body)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[InboundChange]:
        data = load_json(body)
        if not isinstance(data, dict) or not data.get("id"):
            raise ValueError("a webhook event needs an id")
        order = data.get("order") if isinstance(data.get("order"), dict) else None
        external_id = str(data.get("external_id") or (order or {}).get("external_id") or "")
        remote = str(data.get("status") or (order or {}).get("status") or "")
        facts: dict[str, Any] = data["facts"] if isinstance(data.get("facts"), dict) else {}
        return [
            InboundChange(
                event_id=str(data["id"]),
                external_id=external_id,
                remote_status=remote,
                status=self.status_in(remote),
                order=order if data.get("type") == "order.created" else None,
                facts=facts,
                occurred_at=str(data.get("created_at") or ""),
            )
        ]
