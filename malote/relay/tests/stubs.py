"""A connector for channel-rule tests: records every push instead of calling a system."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pytest

from malote.channels.models import Channel, ChannelRole
from malote.connectors.base import Capability, Connector, InboundChange
from malote.connectors.registry import register
from malote.orders.statuses import OrderStatus

S = OrderStatus


@dataclass
class Push:
    channel: str
    op: str
    external_id: str = ""
    status: str = ""
    sku: str = ""
    available: int | None = None
    snapshot: dict[str, Any] = field(default_factory=dict)


PUSHES: list[Push] = []


@register
class RecordingConnector(Connector):
    """Kind ``recording``: a marketplace-like system with a status word for most statuses."""

    kind = "recording"
    capabilities = frozenset(
        {
            Capability.PUSH_ORDER,
            Capability.PUSH_STATUS,
            Capability.PUSH_INVOICE,
            Capability.PUSH_SHIPMENT,
            Capability.PUSH_DELIVERY,
            Capability.PUSH_CANCELLATION,
            Capability.PUSH_STOCK,
        }
    )
    default_status_out: ClassVar[dict[str, str]] = {
        S.PAID: "approved",
        S.INVOICED: "invoiced",
        S.SHIPPED: "shipped",
        S.DELIVERED: "delivered",
        S.CANCELED: "canceled",
    }
    default_status_in: ClassVar[dict[str, str]] = {
        "new": S.PENDING_PAYMENT,
        "approved": S.PAID,
        "invoiced": S.INVOICED,
        "shipped": S.SHIPPED,
        "delivered": S.DELIVERED,
        "canceled": S.CANCELED,
    }

    def _record(self, op: str, external_id: str, snapshot: dict[str, Any]) -> None:
        status = str(snapshot.get("change_status", ""))
        PUSHES.append(Push(self.channel.code, op, external_id, status, snapshot=snapshot))

    def push_order(self, snapshot: dict[str, Any], *, idempotency_key: str) -> str:
        self._record("order", "", snapshot)
        return f"R-{snapshot['id']}"

    def push_status(self, external_id: str, snapshot: dict[str, Any], *, idempotency_key: str) -> None:
        self._record("status", external_id, snapshot)

    def push_invoice(self, external_id: str, snapshot: dict[str, Any], *, idempotency_key: str) -> None:
        self._record("invoice", external_id, snapshot)

    def push_shipment(self, external_id: str, snapshot: dict[str, Any], *, idempotency_key: str) -> None:
        self._record("shipment", external_id, snapshot)

    def push_delivery(self, external_id: str, snapshot: dict[str, Any], *, idempotency_key: str) -> None:
        self._record("delivery", external_id, snapshot)

    def push_cancellation(self, external_id: str, snapshot: dict[str, Any], *, idempotency_key: str) -> None:
        self._record("cancellation", external_id, snapshot)

    def push_stock(self, sku: str, available: int, *, idempotency_key: str) -> None:
        PUSHES.append(Push(self.channel.code, "stock", sku=sku, available=available))


@pytest.fixture
def pushes() -> Iterator[list[Push]]:
    PUSHES.clear()
    yield PUSHES
    PUSHES.clear()


def recording_channel(code: str, role: str = ChannelRole.MARKETPLACE, **fields: Any) -> Channel:
    return Channel.objects.create(code=code, name=code.title(), role=role, kind="recording", **fields)


def ops(pushes: list[Push], channel: str) -> list[str]:
    return [p.op for p in pushes if p.channel == channel]


def change(external_id: str, remote: str, *, event: str = "", **fields: Any) -> InboundChange:
    """An inbound change of a ``recording`` channel (its status map read the connector's way)."""
    return InboundChange(
        event_id=event or f"{external_id}:{remote}:{fields.get('occurred_at', '')}",
        external_id=external_id,
        remote_status=remote,
        status=str(RecordingConnector.default_status_in.get(remote, "")),
        **fields,
    )
