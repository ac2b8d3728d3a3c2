"""Taking in what channels report: import new orders, move existing ones forward, never back.

Every change goes through the inbox (unique per channel and event id) in the same transaction as
its effect. The order is found by its link to the channel, or, for gateways, by the payment's
transaction id or the shop's order reference. A status the order already passed is ignored (an
out-of-order or repeated update never moves an order backwards); a later status is reached
through the lifecycle's own transitions, using the facts the change carries; a step whose facts
are missing stops the walk and is reported as waiting.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from django.db import transaction
from django.utils import timezone
from pydantic import ValidationError

from malote.channels.models import Channel, ChannelRole, ImportPolicy, LinkState, OrderLink
from malote.connectors.base import InboundChange
from malote.core.actors import Actor
from malote.core.errors import MaloteError
from malote.orders import actions
from malote.orders.lifecycle import TRANSITIONS
from malote.orders.models import Order, Payment
from malote.orders.schemas import OrderIn
from malote.orders.statuses import OrderStatus
from malote.sync import inbox
from malote.sync.models import InboxEvent

PAID = frozenset({OrderStatus.PAID})


def take_in(channel: Channel, change: InboundChange, *, headers: dict[str, str], body: str) -> inbox.Received:
    return inbox.receive(
        channel.code,
        change.event_id,
        lambda event: apply_change(channel, change, event),
        kind=change.remote_status or change.status,
        headers=headers,
        body=body,
    )


def find_order(channel: Channel, change: InboundChange) -> Order | None:
    link = OrderLink.objects.filter(channel=channel, external_id=change.external_id).select_related("order")
    found = link.first()
    if found is not None:
        return found.order
    if channel.role == ChannelRole.GATEWAY:
        if change.transaction_id:
            payment = (
                Payment.objects.filter(transaction_id=change.transaction_id).select_related("order").first()
            )
            if payment is not None:
                return payment.order
        if change.reference:
            return (
                Order.objects.filter(number=change.reference).first()
                or Order.objects.filter(external_id=change.reference).first()
            )
    if channel.is_sales:
        return Order.objects.filter(channel=channel, external_id=change.external_id).first()
    return None


def apply_change(channel: Channel, change: InboundChange, event: InboxEvent) -> inbox.Applied:
    actor = Actor.channel(channel.code)
    order = find_order(channel, change)
    if order is None:
        if not (channel.is_sales and change.order):
            return inbox.Applied("unknown_order", detail=f"{channel.code} order {change.external_id}")
        if channel.import_policy == ImportPolicy.PAID_ONLY and change.status not in PAID:
            return inbox.Applied("deferred_unpaid", detail="import policy: only paid orders")
        try:
            data = OrderIn.model_validate(change.order)
        except ValidationError as exc:
            # Refused and recorded (the inbox keeps the raw body), so one bad order never blocks a poll.
            raise actions.invalid_input_from(exc, prefix="order") from None
        order, _ = actions.create_order(data, actor=actor)
    _remember_remote_status(order, channel, change)
    if not change.status:
        return inbox.Applied("recorded", order.pk, detail=f"no canonical status for {change.remote_status!r}")
    result = advance(order.pk, change.status, change.facts, actor=actor)
    return inbox.Applied(result, order.pk)


def _remember_remote_status(order: Order, channel: Channel, change: InboundChange) -> None:
    if channel.pk == order.channel_id and not change.external_id:
        return
    OrderLink.objects.update_or_create(
        order=order,
        channel=channel,
        defaults={
            "external_id": change.external_id,
            "remote_status": change.remote_status[:60],
            "remote_status_at": timezone.now(),
            "state": LinkState.LINKED,
        },
    )


# --- walking the lifecycle -------------------------------------------------------------------


# The input each transition needs, built from an inbound change's facts (None: facts missing).
def _input_for(name: str, facts: dict[str, Any]) -> dict[str, Any] | None:
    if name == "approve_payment":
        return {k: v for k, v in (facts.get("payment") or {}).items() if v not in (None, "")}
    if name == "invoice":
        return facts.get("invoice") or None
    if name == "ship":
        return facts.get("shipment") or None
    if name == "deliver":
        when = facts.get("delivered_at")
        return {"delivered_at": when} if when else None
    if name == "cancel":
        return {"reason": facts.get("cancel_reason") or "channel", "note": facts.get("note", "")}
    if name == "report_delivery_problem":
        return {"description": facts.get("problem") or "Reported by the channel"}
    if name == "ready_to_ship":
        return {k: v for k, v in (facts.get("collection") or {}).items() if v}
    return {}


def path_to(current: str, target: str, visited: list[str]) -> list[str] | None:
    """Shortest list of transitions from ``current`` to ``target`` through statuses not yet entered."""
    queue: deque[tuple[str, list[str]]] = deque([(current, [])])
    seen = {current}
    while queue:
        status, steps = queue.popleft()
        for transition in TRANSITIONS.values():
            nxt = transition.target
            if nxt is None or status not in transition.sources or nxt in seen or nxt in visited:
                continue
            if nxt == target:
                return [*steps, transition.name]
            # Never pass through a terminal status or out_of_stock on the way somewhere else.
            if nxt not in (OrderStatus.CANCELED, OrderStatus.DELIVERED, OrderStatus.OUT_OF_STOCK):
                seen.add(nxt)
                queue.append((nxt, [*steps, transition.name]))
    return None


def advance(order_id: int, target: str, facts: dict[str, Any], *, actor: Actor) -> str:
    """Move the order to ``target`` if it is ahead; returns what happened, for the inbox record."""
    order = Order.objects.get(pk=order_id)
    if target == order.status or target in order.status_path:
        return "already"
    steps = path_to(order.status, target, list(order.status_path))
    if steps is None:
        return f"unreachable:{order.status}->{target}"
    for name in steps:
        data = _input_for(name, facts)
        if data is None:
            return f"waiting:{name}"
        try:
            # Each step in its own savepoint: the steps already taken stay when a later one is refused.
            with transaction.atomic():
                actions.run_transition(order_id, name, data, actor=actor)
        except MaloteError as exc:
            return f"refused:{name}:{exc.code}"
    return "applied"
