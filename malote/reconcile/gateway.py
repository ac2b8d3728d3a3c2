"""Asking the payment gateway how an order's payment stands *now* (never inside a transaction).

The gateway channel is the enabled ``gateway`` channel whose code or kind is the payment's
``gateway``; the call is its connector's ``fetch_order(transaction_id)``, which answers an
``InboundChange`` with a canonical status (``paid``, ``canceled``, ``payment_review`` or ``""``
for still pending). A gateway that cannot be reached gives ``unreachable``: callers must then do
nothing irreversible and try again on the next slot.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from django.db.models import Q

from malote.channels.models import Channel, ChannelRole
from malote.connectors.base import InboundChange, Unsupported
from malote.connectors.registry import connector_for
from malote.orders.models import Order, Payment
from malote.sync.errors import DeliveryError

Verdict = Literal["paid", "canceled", "pending", "review", "unknown", "unreachable", "unchecked"]


@dataclass(frozen=True)
class PaymentCheck:
    verdict: Verdict
    gateway: Channel | None = None
    transaction_id: str = ""
    remote_status: str = ""
    detail: str = ""
    facts: dict[str, Any] = field(default_factory=dict)

    def evidence(self) -> dict[str, Any]:
        return {
            "gateway": self.gateway.code if self.gateway else "",
            "transaction_id": self.transaction_id,
            "verdict": self.verdict,
            "remote_status": self.remote_status,
            "detail": self.detail[:300],
        }


def latest_payment(order: Order) -> Payment | None:
    return order.payments.order_by("-id").first()


def gateway_channel(gateway: str) -> Channel | None:
    if not gateway:
        return None
    return (
        Channel.objects.filter(role=ChannelRole.GATEWAY, enabled=True)
        .filter(Q(code=gateway) | Q(kind=gateway))
        .order_by("id")
        .first()
    )


def _verdict(change: InboundChange) -> Verdict:
    verdicts: dict[str, Verdict] = {"paid": "paid", "canceled": "canceled", "payment_review": "review"}
    return verdicts.get(change.status, "pending")


def check_payment(order: Order) -> PaymentCheck:
    """How the gateway shows the order's payment now; ``unchecked`` when there is nobody to ask."""
    payment = latest_payment(order)
    if payment is None or not payment.transaction_id:
        return PaymentCheck("unchecked", detail="no payment transaction to check")
    channel = gateway_channel(payment.gateway)
    if channel is None:
        return PaymentCheck(
            "unchecked",
            transaction_id=payment.transaction_id,
            detail=f"no enabled gateway channel for {payment.gateway!r}",
        )
    try:
        with connector_for(channel) as connector:
            change = connector.fetch_order(payment.transaction_id)
    except Unsupported:
        return PaymentCheck("unchecked", channel, payment.transaction_id, detail="gateway cannot be read")
    except DeliveryError as exc:
        if exc.retryable:
            return PaymentCheck("unreachable", channel, payment.transaction_id, detail=exc.detail)
        return PaymentCheck("unknown", channel, payment.transaction_id, detail=exc.detail)
    except LookupError as exc:
        return PaymentCheck("unchecked", channel, payment.transaction_id, detail=str(exc))
    return PaymentCheck(
        _verdict(change),
        channel,
        payment.transaction_id,
        remote_status=change.remote_status,
        detail=str(change.facts.get("note") or ""),
        facts=dict(change.facts),
    )
