"""Which connected systems must hear about an order change, and what to tell them.

Runs as an ``OrderChange`` listener inside the change's transaction and only writes outbox rows
(destination ``channel:<code>``, keyed by order, so each system gets the order's changes in order):
the sales channels linked to the order, every enabled ERP, the payment gateway (a cancellation),
never the channel that reported the change. The per-channel rules applied here (invoice needs XML,
invoice waits for shipment, delivery from the channel, stock push) are described in
docs/channel-rules.md. Pushes to a divergent link are held by the delivery handler
(``malote.relay.delivery``), not here: routing stays a pure function of the change.
"""

from __future__ import annotations

from typing import Any

from malote.channels.cache import RowKeyedQuery
from malote.channels.models import Channel, ChannelRole, ImportPolicy, OrderLink
from malote.connectors.base import Capability, supports
from malote.connectors.registry import provider
from malote.core import fastsql
from malote.core.actors import Actor
from malote.orders.changes import INVOICE_EVENT_RECORDED, INVOICE_XML_ATTACHED, OrderChange
from malote.orders.models import Order
from malote.orders.statuses import OrderStatus
from malote.stock.models import StockItem
from malote.sync import outbox

# Transitions that carry facts: their op replaces the plain status push.
FACT_OPS = {"invoice": "invoice", "ship": "shipment", "deliver": "delivery", "cancel": "cancellation"}
OFF = frozenset({"false", "0", "off", "no"})  # an option written as text in a form
PAID_OR_LATER = frozenset(
    set(OrderStatus) - {"pending_payment", "payment_review", "payment_overdue", "canceled"}
)


# Read on every transition: pre-built SQL, and the instances reused while the rows are unchanged.
_ENABLED_CHANNELS = RowKeyedQuery(
    "routing.enabled_channels", lambda: Channel.objects.filter(enabled=True).exclude(kind="manual")
)


def enabled_channels() -> list[Channel]:
    """Enabled channels driven by a connector, as read in the caller's transaction (shared
    instances: read them, never change them)."""
    return _ENABLED_CHANNELS()


def linked_channel_ids(order_id: int) -> set[int]:
    return {
        row[0]
        for row in fastsql.rows("SELECT channel_id FROM channels_orderlink WHERE order_id = %s", [order_id])
    }


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


def _hears_as_sales(channel: Channel, order: Order, linked: set[int]) -> bool:
    return channel.is_sales and (channel.pk == order.channel_id or channel.pk in linked)


def route_order_change(change: OrderChange) -> None:
    if change.transition == INVOICE_XML_ATTACHED:
        change.told.extend(route_invoice_xml_attached(change.order, change.actor))
        return
    if change.transition == INVOICE_EVENT_RECORDED:
        change.told.extend(route_invoice_event(change))
        return
    channels = enabled_channels()
    if not channels:
        return
    order, source = change.order, _source(change)
    linked = linked_channel_ids(order.pk) if change.transition != "created" else set()
    for channel in channels:
        if channel.code == source:
            continue
        if _hears_as_sales(channel, order, linked):
            _route_to_sales(channel, change)
        elif channel.role == ChannelRole.ERP:
            _route_to_erp(channel, change, channel.pk in linked)
        elif channel.role == ChannelRole.GATEWAY and change.transition == "cancel":
            payment = order.payments.order_by("-id").values_list("gateway", flat=True).first()
            if payment in (channel.code, channel.kind):
                _send(channel, order.pk, "cancellation")


def _invoice_has_xml(order: Order) -> bool:
    row = fastsql.rows(
        "SELECT xml <> '' FROM orders_invoice WHERE order_id = %s ORDER BY id DESC LIMIT 1", [order.pk]
    )
    return bool(row and row[0][0])


def _route_to_sales(channel: Channel, change: OrderChange) -> None:
    order = change.order
    if change.transition == "created":
        if channel.pk == order.channel_id:
            OrderLink.objects.get_or_create(
                order=order, channel=channel, defaults={"external_id": order.external_id, "state": "linked"}
            )
        return
    op = FACT_OPS.get(change.transition, "status")
    if op == "delivery" and channel.reports_delivery_of(order.shipping_method):
        return
    if op in ("invoice", "shipment"):
        waits = channel.invoice_waits_for_shipment_of(order.marketplace, order.shipping_method)
        lacks_xml = channel.invoice_needs_xml_for(order.marketplace) and not _invoice_has_xml(order)
        if op == "invoice" and (waits or lacks_xml):
            return
        if op == "shipment" and waits and not lacks_xml:
            # The channel replicates the key only once it has the shipping data: shipment first.
            _send(channel, order.pk, op, status=change.to_status)
            _send(channel, order.pk, "invoice")
            return
    _send(channel, order.pk, op, status=change.to_status)


def route_invoice_xml_attached(order: Order, actor: Actor) -> list[str]:
    """The XML has just been stored: send the invoice to each channel that was waiting only for it
    (not to one that still waits for the shipment). Returns the codes of the channels told."""
    source = actor.ref if actor.kind == "channel" else None
    linked = linked_channel_ids(order.pk)
    shipped = OrderStatus.SHIPPED in order.status_path
    told = []
    for channel in enabled_channels():
        if channel.code == source or not _hears_as_sales(channel, order, linked):
            continue
        if not channel.invoice_needs_xml_for(order.marketplace):
            continue  # it got the invoice already (or gets it with the shipment)
        if channel.invoice_waits_for_shipment_of(order.marketplace, order.shipping_method) and not shipped:
            continue  # it gets the invoice, XML included, together with the shipment
        _send(channel, order.pk, "invoice", status=OrderStatus.INVOICED)
        told.append(channel.code)
    return told


def route_invoice_event(change: OrderChange) -> list[str]:
    """SEFAZ registered a cancellation or CC-e on the order's NF-e: tell each system of the order
    (its linked sales channels and ERPs, never the one that reported it) whose connector takes NF-e
    events; the others lack the operation and are skipped. Returns the codes of the systems told."""
    order, source = change.order, _source(change)
    linked = linked_channel_ids(order.pk)
    told = []
    for channel in enabled_channels():
        if channel.code == source or not supports(provider(channel.kind), Capability.PUSH_INVOICE_EVENT):
            continue
        of_order = _hears_as_sales(channel, order, linked) or (
            channel.role == ChannelRole.ERP and channel.pk in linked
        )
        if of_order:
            _send(channel, order.pk, "invoice_event", status=change.to_status, event=change.data)
            told.append(channel.code)
    return told


def _route_to_erp(erp: Channel, change: OrderChange, linked: bool) -> None:
    order = change.order
    if not linked:
        if change.to_status == OrderStatus.CANCELED or not _erp_wants_order(erp, change.to_status):
            return
        OrderLink.objects.create(order=order, channel=erp)
        _send(erp, order.pk, "order", status=change.to_status)
        return
    if change.transition != "created":
        _send(erp, order.pk, FACT_OPS.get(change.transition, "status"), status=change.to_status)


def takes_stock(channel: Channel) -> bool:
    """A sales channel whose connector can push stock gets Malote's available stock, by default:
    only ``push_stock: false`` in its options turns it off (docs/channel-rules.md, "Stock push")."""
    if not channel.is_sales or str(channel.option("push_stock", True)).strip().lower() in OFF:
        return False
    return supports(provider(channel.kind), Capability.PUSH_STOCK)


def route_stock_change(skus: list[str]) -> None:
    """One pending stock message per channel and SKU (coalesced): the handler reads the available
    quantity when it runs, so however many movements happen meanwhile, the last value is sent."""
    wanted = sorted(set(skus))
    if not wanted:
        return
    for channel in enabled_channels():
        if takes_stock(channel):
            for sku in wanted:
                outbox.enqueue_coalesced(
                    f"channel:{channel.code}", "stock.available", f"sku:{sku}", {"op": "stock", "sku": sku}
                )


def push_all_stock(channel_codes: list[str] | None = None) -> int:
    """Queue a push of every SKU Malote keeps to each sales channel that takes stock (all of
    them, or those in ``channel_codes``): for a channel just connected, or to re-align a store
    that shows other quantities. Coalesced like any stock change; returns the messages added."""
    skus = sorted(StockItem.objects.values_list("sku", flat=True))
    added = 0
    for channel in enabled_channels():
        if (channel_codes is None or channel.code in channel_codes) and takes_stock(channel):
            for sku in skus:
                added += outbox.enqueue_coalesced(
                    f"channel:{channel.code}", "stock.available", f"sku:{sku}", {"op": "stock", "sku": sku}
                )
    return added


# Saving only these fields never changes what a channel should be told (a token refresh saves
# ``credentials`` every few hours: it must not queue the whole catalogue each time).
STOCK_NEUTRAL_FIELDS = frozenset({"credentials"})


def push_stock_after_channel_saved(
    sender: Any, instance: Channel, update_fields: frozenset[str] | None = None, **_: Any
) -> None:
    """However a sales channel is saved (admin, back office, demo), an enabled one that takes stock
    is told Malote's available quantity of every SKU (coalesced: a burst of saves is one push per
    SKU); a store just connected never keeps showing its own stale numbers."""
    if update_fields is not None and set(update_fields) <= STOCK_NEUTRAL_FIELDS:
        return
    if instance.enabled and takes_stock(instance):
        push_all_stock([instance.code])
