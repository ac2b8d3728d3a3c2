"""Factories for the append-only ``OrderEvent`` timeline, one function per event type."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from malote.core import fastsql
from malote.core.actors import Actor
from malote.orders.models import Order, OrderEvent

# Written on every transition, so the statement is written out (see fastsql): the text and key
# columns are stored as given; only the JSON and the time go through their fields' conversion.
_INSERT_EVENT = (
    "INSERT INTO orders_orderevent (order_id, type, transition, from_status, to_status,"
    " actor_kind, actor_label, actor_user_id, data, created_at)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)


def _event(order: Order, type_: str, actor: Actor, data: dict[str, Any], **fields: str) -> None:
    fastsql.execute(
        _INSERT_EVENT,
        [
            order.pk,
            type_,
            fields.get("transition", ""),
            fields.get("from_status", ""),
            fields.get("to_status", ""),
            str(actor.kind),
            actor.label[:200],
            actor.user_id,
            fastsql.prep(OrderEvent, "data", data),
            fastsql.prep(OrderEvent, "created_at", timezone.now()),
        ],
    )


def order_created(order: Order, actor: Actor, *, stock: str, short_skus: list[str]) -> None:
    data: dict[str, Any] = {"channel": order.channel.code, "external_id": order.external_id, "stock": stock}
    if short_skus:
        data["short_skus"] = short_skus
    _event(order, "created", actor, data, to_status=order.status)


def transition_applied(
    order: Order, transition: str, from_status: str, to_status: str, actor: Actor, data: dict[str, Any]
) -> None:
    _event(
        order, "transition", actor, data, transition=transition, from_status=from_status, to_status=to_status
    )


def invoice_xml_pending(order: Order, actor: Actor, *, channels: list[str]) -> None:
    """Invoiced without the XML: ``channels`` take the NF-e only as XML and wait for it."""
    _event(order, "invoice_xml_pending", actor, {"channels": channels})


def invoice_xml_attached(order: Order, actor: Actor, *, key: str, sent_to: list[str], protocol: str) -> None:
    _event(order, "invoice_xml_attached", actor, {"key": key, "sent_to": sent_to, "protocol": protocol})


def invoice_event_recorded(order: Order, actor: Actor, *, event: dict[str, Any], sent_to: list[str]) -> None:
    """SEFAZ registered a cancellation or a CC-e on the order's NF-e (``event``: key, type,
    sequence, protocol, registered_at, text); ``sent_to``: the systems told."""
    _event(order, "invoice_event", actor, {**event, "sent_to": sent_to})


def divergence_detected(order: Order, actor: Actor, *, channel: str, divergence: dict[str, Any]) -> None:
    """A channel shows a status Malote cannot reach from its own: recorded, nothing overwritten."""
    _event(order, "divergence_detected", actor, {"channel": channel, **divergence})


def divergence_resolved(
    order: Order, actor: Actor, *, channel: str, action: str, reason: str, detail: dict[str, Any]
) -> None:
    _event(
        order,
        "divergence_resolved",
        actor,
        {"channel": channel, "action": action, "reason": reason, **detail},
    )


def integration_link(order: Order, actor: Actor, *, channel: str, external_id: str, note: str) -> None:
    """The order's copy in ``channel`` was found under ``external_id`` ("" : it has none there)."""
    _event(order, "integration_link", actor, {"channel": channel, "external_id": external_id, "note": note})


def shipment_part(order: Order, actor: Actor, data: dict[str, Any]) -> None:
    """A further part of a partial shipment left (``data``: input, part, tracking_code, lines,
    unshipped)."""
    _event(order, "shipment_part", actor, data)


def shipment_delivered(order: Order, actor: Actor, data: dict[str, Any]) -> None:
    """One part of several was delivered; the order's status did not change (others are on their
    way or units remain unshipped)."""
    _event(order, "shipment_delivered", actor, data)


def invoice_added(order: Order, actor: Actor, data: dict[str, Any]) -> None:
    """A further NF-e of the order (the ERP split it): key, number, series."""
    _event(order, "invoice_added", actor, data)
