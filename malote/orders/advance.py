"""Walking the lifecycle toward a status another system reports: the shortest path of transitions
from the order's status, each run through the command functions with input built from the reported
facts. Used by the relay's intake and by the acceptance of a divergent remote status."""

from __future__ import annotations

from collections import deque
from typing import Any

from django.db import transaction

from malote.core.actors import Actor
from malote.core.errors import MaloteError
from malote.orders import actions
from malote.orders.lifecycle import TRANSITIONS
from malote.orders.models import Order
from malote.orders.statuses import OrderStatus


# The input each transition needs, built from an inbound change's facts (None: facts missing).
def input_for(name: str, facts: dict[str, Any]) -> dict[str, Any] | None:
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
        data = input_for(name, facts)
        if data is None:
            return f"waiting:{name}"
        try:
            # Each step in its own savepoint: the steps already taken stay when a later one is refused.
            with transaction.atomic():
                actions.run_transition(order_id, name, data, actor=actor)
        except MaloteError as exc:
            return f"refused:{name}:{exc.code}"
    return "applied"
