"""Refunds between returns and payment gateways.

Out: a return's ``request_refund`` queues one ``channel:<gateway>`` message (op ``refund``) for
the gateway the order was paid through, when its connector can refund (``PUSH_REFUND``); the
delivery (``push_refund``) confirms the return at once when the gateway's answer says the money
went back (Pagar.me), else the gateway's webhook does (Adyen). Without such a gateway nothing is
queued: a person refunds and confirms by hand.

In: a gateway change carrying ``facts["refund"]`` is offered to ``returns.record_gateway_refund``
before anything else; a refund of a return, or of part of the payment, never cancels the order
(docs/returns.md). Only a refund of all that was left goes on as before (a cancellation).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from malote.channels.models import Channel, ChannelRole
from malote.connectors.base import Capability, Connector, InboundChange, supports
from malote.connectors.registry import provider
from malote.core.actors import Actor
from malote.orders.models import Order
from malote.relay.routing import enabled_channels
from malote.relay.snapshots import order_snapshot
from malote.returns import actions as return_actions
from malote.returns.changes import ReturnChange
from malote.sync import inbox, outbox
from malote.sync.errors import DeliveryError
from malote.sync.models import OutboxMessage


def _gateway_of(order: Order, channels: list[Channel]) -> Channel | None:
    gateway = order.payments.order_by("-id").values_list("gateway", flat=True).first()
    if not gateway:
        return None
    for channel in channels:
        if channel.role == ChannelRole.GATEWAY and gateway in (channel.code, channel.kind):
            return channel
    return None


def route_return_change(change: ReturnChange) -> None:
    """Return listener: a requested refund goes to the order's gateway (in this transaction)."""
    if change.transition != "request_refund":
        return
    ret = change.ret
    gateway = _gateway_of(ret.order, enabled_channels())
    if gateway is None or not supports(provider(gateway.kind), Capability.PUSH_REFUND):
        return
    payload = {"op": "refund", "return": ret.pk, "amount": str(ret.refund_amount), "reference": ret.number}
    outbox.enqueue(f"channel:{gateway.code}", "return.refund", payload, order_id=ret.order_id)
    change.told.append(gateway.code)


def push_refund(connector: Connector, channel: Channel, message: OutboxMessage, order: Order) -> None:
    """The delivery of op ``refund`` (outside any transaction); a confirming answer marks the
    return refunded (a repeat, or the webhook first, changes nothing)."""
    payload: dict[str, Any] = message.payload
    transaction_id = order.payments.order_by("-id").values_list("transaction_id", flat=True).first() or ""
    try:
        return_id = int(payload["return"])
        amount = str(Decimal(str(payload["amount"])))
    except (KeyError, ValueError, InvalidOperation) as exc:
        raise DeliveryError(f"Malformed refund message: {exc}", retryable=False) from None
    answer = connector.push_refund(
        transaction_id,
        order_snapshot(order),
        amount=amount,
        reference=str(payload.get("reference") or ""),
        idempotency_key=message.idempotency_key,
    )
    if answer.confirmed:
        return_actions.run_return_transition(
            return_id, "confirm_refund", {"reference": answer.reference}, actor=Actor.channel(channel.code)
        )


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def take_refund(channel: Channel, order: Order, change: InboundChange) -> inbox.Applied | None:
    """A gateway's refund as a return's or a partial one (``None``: not a refund, or a refund of
    all that was left, which the intake handles as before)."""
    refund = change.facts.get("refund")
    if channel.role != ChannelRole.GATEWAY or not isinstance(refund, dict):
        return None
    taken = return_actions.record_gateway_refund(
        order.pk,
        amount=_decimal(refund.get("amount")),
        total=_decimal(refund.get("total")),
        reference=str(refund.get("reference") or "")[:100],
        actor=Actor.channel(channel.code),
    )
    if taken is None:
        return None
    return inbox.Applied(taken, order.pk, detail=f"{channel.code} {change.remote_status}: {refund}"[:500])
