"""``webhook``: Malote's canonical JSON, both directions, for systems without a dedicated connector
(a JET store, a Hybris/Abacos pair, Eccosys).

Outbound, each change is POSTed to the channel's ``base_url`` as
``{"id", "type": "order.<op>", "created_at", "status", "order": <snapshot>}`` (or ``stock.available``
with ``sku`` and ``available``), with headers ``Malote-Signature`` (see ``signing``),
``Idempotency-Key`` (the outbox message's key: receivers must treat a repeat as the same event)
and ``Malote-Event``. For ``order.created`` the receiver may answer ``{"external_id": …}``; otherwise
the Malote number is its id there.

Inbound, ``POST /hooks/<code>`` takes ``{"id", "type": "order.created" | "order.updated",
"external_id", "status" (canonical or the system's own word, mapped through the channel's status
map), "order" (canonical order JSON, for creation), "facts" {payment, invoice, shipment,
delivered_at, cancel_reason}}``, signed the same way with the channel's ``secret`` credential;
requests outside the 5-minute window or with a bad signature are refused with 401.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from django.utils import timezone

from malote.connectors import signing
from malote.connectors.base import Connector, InboundChange
from malote.connectors.registry import register
from malote.orders.statuses import OrderStatus


@register
class WebhookConnector(Connector):
    kind = "webhook"
    default_status_out = {s.value: s.value for s in OrderStatus}
    default_status_in = {s.value: s.value for s in OrderStatus}

    def _post(self, event_type: str, payload: dict[str, Any], *, idempotency_key: str) -> dict[str, Any]:
        body = json.dumps(
            {"id": idempotency_key, "type": event_type, "created_at": timezone.now().isoformat(), **payload},
            ensure_ascii=False,
        ).encode()
        response = self.request(
            "POST",
            self.base_url,
            what=f"{self.channel.code} {event_type}",
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
            return {}
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

    def push_stock(self, sku: str, available: int, *, idempotency_key: str) -> None:
        self._post("stock.available", {"sku": sku, "available": available}, idempotency_key=idempotency_key)

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, query: Mapping[str, str]) -> None:
        signing.verify(self.credential("secret"), headers.get(signing.HEADER), body)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[InboundChange]:
        data = json.loads(body)
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
