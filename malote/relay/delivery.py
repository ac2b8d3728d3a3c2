"""The outbox handler for ``channel:<code>`` destinations: push one change through a connector.

While the order's link to the channel is divergent (``OrderLink.state``), every push about that
order to that channel is held: the message fails at once, not retryable, with ``last_error``
starting ``divergent:``, so it lands in the dead letters (visible, never sent) and later
messages of the order are held the same way. ``resolve_divergence(..., "push_again")`` replays
the held messages in their order; ``accept_remote`` and ``dismiss`` leave them dead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from django.utils import timezone

from malote.channels.errors import CredentialsUnreadable
from malote.channels.models import Channel, ChannelRole, LinkState, OrderLink
from malote.connectors.base import Connector, Unsupported
from malote.connectors.registry import connector_for
from malote.core.actors import Actor
from malote.orders import events
from malote.orders.models import Order
from malote.relay import refunds
from malote.relay.snapshots import order_snapshot
from malote.stock import actions as stock_actions
from malote.stock.models import StockItem
from malote.sync.errors import DeliveryError
from malote.sync.models import OutboxMessage

PUSHES: dict[str, Callable[[Connector], Callable[..., None]]] = {
    "status": lambda c: c.push_status,
    "invoice": lambda c: c.push_invoice,
    "shipment": lambda c: c.push_shipment,
    "delivery": lambda c: c.push_delivery,
    "cancellation": lambda c: c.push_cancellation,
    "invoice_event": lambda c: c.push_invoice_event,
}


def deliver_to_channel(message: OutboxMessage) -> None:
    code = message.destination.split(":", 1)[1]
    channel = Channel.objects.filter(code=code).first()
    if channel is None:
        raise DeliveryError(f"Channel {code!r} no longer exists.", retryable=False)
    if not channel.enabled:
        raise ChannelPaused(f"Channel {code!r} is disabled; the message waits.")
    op = str(message.payload.get("op", ""))
    if message.order_id is not None and op != "stock":
        _hold_if_divergent(channel, message.order_id)
    try:
        with connector_for(channel) as connector:
            if op == "stock":
                _push_stock(connector, channel, message)
            elif op == "order":
                _push_order(connector, channel, message)
            elif op == "refund":
                refunds.push_refund(connector, channel, message, _order(message))
            elif op in PUSHES:
                _push_change(connector, channel, message, PUSHES[op](connector))
            else:
                raise DeliveryError(f"Unknown operation {op!r}.", retryable=False)
    except Unsupported:
        return  # the system has no such operation: nothing to tell it
    except LookupError as exc:
        raise DeliveryError(str(exc), retryable=False) from exc
    except CredentialsUnreadable as exc:
        # The key was lost or replaced: retried with backoff until an operator restores it or
        # enters the credentials again.
        raise DeliveryError(f"{exc.code}: {exc.detail}", retryable=True) from exc
    except DeliveryError as exc:
        if message.order_id is not None and exc.counts_as_attempt:
            # Only a failed call marks the link; a deferral by Malote's own rate limit made none.
            OrderLink.objects.filter(order_id=message.order_id, channel=channel).exclude(
                state=LinkState.DIVERGENT
            ).update(state=LinkState.ERROR, last_error=exc.detail[:2000])
        raise


class ChannelPaused(DeliveryError):
    """The channel was disabled after the message was queued: it waits, unsent, for as long as the
    channel stays off (no attempt is spent, so it never goes to the dead letters for that)."""

    counts_as_attempt = False
    PAUSE_SECONDS: ClassVar[float] = 300.0

    def __init__(self, detail: str) -> None:
        super().__init__(detail, retryable=True, retry_after=self.PAUSE_SECONDS)


HELD_PREFIX = "divergent:"


def _hold_if_divergent(channel: Channel, order_id: int) -> None:
    divergent = OrderLink.objects.filter(order_id=order_id, channel=channel, state=LinkState.DIVERGENT)
    if divergent.exists():
        raise DeliveryError(
            f"{HELD_PREFIX} the order's status in {channel.code} diverges from Malote's;"
            " held until an operator resolves it.",
            retryable=False,
        )


def _push_stock(connector: Connector, channel: Channel, message: OutboxMessage) -> None:
    """Push the SKU's available stock as it is now (a coalesced message stands for every movement
    since the last push), then record what the channel took, after the call and outside any
    transaction that held it (the back office compares it with the available stock)."""
    sku = str(message.payload["sku"])
    item = StockItem.objects.filter(sku=sku).values_list("physical", "reserved").first()
    available = max(item[0] - item[1], 0) if item else 0
    connector.push_stock(sku, available, idempotency_key=message.idempotency_key)
    stock_actions.record_channel_stock(channel.code, sku, available, actor=Actor.channel(channel.code))


def _order(message: OutboxMessage) -> Order:
    order = (
        Order.objects.select_related("channel").filter(pk=message.order_id).first()
        if message.order_id is not None
        else None
    )
    if order is None:
        raise DeliveryError("The order no longer exists.", retryable=False)
    return order


def _mark_synced(order: Order, channel: Channel, **fields: Any) -> None:
    values = {"last_error": "", "last_synced_at": timezone.now(), **fields}
    link, created = OrderLink.objects.get_or_create(
        order=order, channel=channel, defaults={"state": LinkState.LINKED, **values}
    )
    if not created:
        OrderLink.objects.filter(pk=link.pk).update(**values)
        # A divergence found while this push was on its way stays until an operator resolves it.
        OrderLink.objects.filter(pk=link.pk).exclude(state=LinkState.DIVERGENT).update(state=LinkState.LINKED)


def _push_order(connector: Connector, channel: Channel, message: OutboxMessage) -> None:
    """Create the order there with the status Malote tells that system (``change_status``,
    ``StatusMap.told``: the latest status of the order's path it has a word for), the same the
    divergence checks expect; e.g. an order that went ``paid`` → ``out_of_stock`` (no word in an
    ERP) is created as ``paid``'s word, not left at the ERP's default situação."""
    order = _order(message)
    snapshot = order_snapshot(order)
    told, _ = connector.status_map.told(order.status_path, order.status)
    snapshot["change_status"] = told or order.status
    external_id = connector.push_order(snapshot, idempotency_key=message.idempotency_key)
    _mark_synced(order, channel, external_id=external_id, expected_status=snapshot["change_status"])


def _push_change(
    connector: Connector, channel: Channel, message: OutboxMessage, push: Callable[..., None]
) -> None:
    order = _order(message)
    link = OrderLink.objects.filter(order=order, channel=channel).first()
    external_id = link.external_id if link and link.external_id else ""
    if not external_id and channel.pk == order.channel_id:
        external_id = order.external_id
    if not external_id and channel.role == ChannelRole.GATEWAY:
        # The gateway knows the order by its charge, before any webhook linked them.
        external_id = order.payments.order_by("-id").values_list("transaction_id", flat=True).first() or ""
    if not external_id:
        raise DeliveryError(f"The order is not in {channel.code} yet.", retryable=True)
    snapshot = order_snapshot(order)
    snapshot["change_status"] = message.payload.get("status", order.status)
    if "event" in message.payload:
        snapshot["invoice_event"] = message.payload["event"]  # the NF-e event, as recorded
    try:
        push(external_id, snapshot, idempotency_key=message.idempotency_key)
    except DeliveryError as exc:
        if exc.status != 404 or message.payload.get("op") != "cancellation":
            raise
        found = _look_up_missing(connector, snapshot, external_id)
        if found is None:
            _forget_absent(order, channel, external_id)
            return
        push(found, snapshot, idempotency_key=message.idempotency_key)
        external_id = found
    _mark_synced(order, channel, external_id=external_id, expected_status=snapshot["change_status"])


def _look_up_missing(connector: Connector, snapshot: dict[str, Any], external_id: str) -> str | None:
    """A cancellation answered "no such order": is the sale there under another id (returned), or
    not at all (``None``)? Re-raises the 404 when the system cannot be asked or names the same id."""
    try:
        found = connector.find_order(snapshot)
    except Unsupported:
        raise DeliveryError(
            f"{connector.channel.code} has no order {external_id} to cancel.", retryable=False, status=404
        ) from None
    if found == external_id:
        raise DeliveryError(
            f"{connector.channel.code} lists order {external_id} but cannot cancel it.", retryable=False
        )
    return found


def _forget_absent(order: Order, channel: Channel, external_id: str) -> None:
    """The system never kept the order (its creation was answered but not stored): no cancellation
    is owed there. The link forgets the id and the timeline says so, instead of a dead letter."""
    OrderLink.objects.filter(order=order, channel=channel).delete()
    events.integration_link(
        order,
        Actor.channel(channel.code),
        channel=channel.code,
        external_id="",
        note=f"{channel.name} não tem o pedido {external_id}: nada a cancelar lá.",
    )
