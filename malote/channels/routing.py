"""Which connected systems must hear about an order change, and what to tell them.

Runs as an ``OrderChange`` listener inside the change's transaction and only writes outbox rows
(destination ``channel:<code>``, keyed by order, so each system gets the order's changes in order).

- The sales channel the order came from hears every status it has a word for, plus the invoice,
  the shipment, the delivery (unless the channel itself reports deliveries) and a cancellation.
- Every enabled ERP gets the order (at creation, or once paid when its import policy says so),
  then the same kinds of change.
- The payment gateway hears a cancellation, so the charge is voided.
- A change is never sent back to the channel that reported it.
- "Invoice waits for shipment" channels get the invoice only together with the shipment.
- Available stock is pushed, coalesced per SKU, to sales channels with the option ``push_stock``.
"""

from __future__ import annotations

from typing import Any

from malote.channels.models import Channel, ChannelRole, ImportPolicy, OrderLink
from malote.connectors.registry import provider
from malote.core import fastsql
from malote.orders.changes import OrderChange
from malote.orders.statuses import OrderStatus
from malote.sync import outbox

# Transitions that carry facts: their op replaces the plain status push.
FACT_OPS = {"invoice": "invoice", "ship": "shipment", "deliver": "delivery", "cancel": "cancellation"}
PAID_OR_LATER = frozenset(
    set(OrderStatus) - {"pending_payment", "payment_review", "payment_overdue", "canceled"}
)


def enabled_channels() -> list[Channel]:
    """Enabled channels driven by a connector; runs on every transition, so its SQL is pre-built."""
    return fastsql.fixed_query(
        "routing.enabled_channels", lambda: Channel.objects.filter(enabled=True).exclude(kind="manual")
    )


def _send(channel: Channel, order_id: int, op: str, **payload: Any) -> None:
    if op == "status":
        connector = provider(channel.kind)
        if connector is not None and not connector.maps_status(channel, str(payload.get("status", ""))):
            return  # the system has no word for this status: nothing to tell it
    outbox.enqueue(f"channel:{channel.code}", f"order.{op}", {"op": op, **payload}, order_id=order_id)


def _source(change: OrderChange) -> str | None:
    return change.actor.ref if change.actor.kind == "channel" else None


def _erp_wants_order(erp: Channel, status: str) -> bool:
    return erp.import_policy == ImportPolicy.ALL or status in PAID_OR_LATER


def route_order_change(change: OrderChange) -> None:
    channels = enabled_channels()
    if not channels:
        return
    order, source = change.order, _source(change)
    for channel in channels:
        if channel.code == source:
            continue
        if channel.pk == order.channel_id and channel.is_sales:
            _route_to_sales(channel, change)
        elif channel.role == ChannelRole.ERP:
            _route_to_erp(channel, change)
        elif channel.role == ChannelRole.GATEWAY and change.transition == "cancel":
            payment = order.payments.order_by("-id").values_list("gateway", flat=True).first()
            if payment in (channel.code, channel.kind):
                _send(channel, order.pk, "cancellation")


def _route_to_sales(channel: Channel, change: OrderChange) -> None:
    order = change.order
    if change.transition == "created":
        OrderLink.objects.get_or_create(
            order=order, channel=channel, defaults={"external_id": order.external_id, "state": "linked"}
        )
        return
    op = FACT_OPS.get(change.transition, "status")
    if op == "delivery" and channel.delivery_from_channel:
        return
    if op == "invoice" and channel.invoice_waits_for_shipment:
        return
    if op == "shipment" and channel.invoice_waits_for_shipment:
        _send(channel, order.pk, "invoice")
    _send(channel, order.pk, op, status=change.to_status)


def _route_to_erp(erp: Channel, change: OrderChange) -> None:
    order = change.order
    linked = OrderLink.objects.filter(order=order, channel=erp).exists()
    if not linked:
        if change.to_status == OrderStatus.CANCELED or not _erp_wants_order(erp, change.to_status):
            return
        OrderLink.objects.create(order=order, channel=erp)
        _send(erp, order.pk, "order", status=change.to_status)
        return
    if change.transition != "created":
        _send(erp, order.pk, FACT_OPS.get(change.transition, "status"), status=change.to_status)


def route_stock_change(skus: list[str]) -> None:
    for channel in enabled_channels():
        if channel.is_sales and channel.option("push_stock", False):
            for sku in sorted(set(skus)):
                outbox.enqueue_coalesced(
                    f"channel:{channel.code}", "stock.available", f"sku:{sku}", {"op": "stock", "sku": sku}
                )
