"""Partial shipments and further NF-e: the commands that change no status (docs/lifecycle.md,
"Partial shipments").

- ``ship_part``: a further part (volume) of an order already shipped, with its own carrier,
  tracking code and units;
- ``deliver_part``: one part delivered (``run_transition("deliver", {…, "tracking_code"})`` comes
  here); the order's status changes only with its last part, through the ``deliver`` transition;
- ``add_invoice``: a further NF-e of an order already invoiced, when the ERP split the order.

Each takes the actor explicitly, locks the order row, and writes the facts and the timeline entry
in one transaction; nothing is written when a rule fails. Permissions are the caller's
(``orders.change_order_status``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction

from malote.core import fastsql
from malote.core.actors import Actor
from malote.core.errors import Conflict, InvalidInput, NotFound
from malote.orders import events, parts
from malote.orders.actions import TransitionResult, _apply, parse_input
from malote.orders.effects import (
    NO_XML_FIELDS,
    check_invoice_key,
    check_invoice_xml,
    check_key_free,
    checked_tracking_code,
)
from malote.orders.errors import OrdersErrorCode
from malote.orders.lifecycle import TRANSITIONS
from malote.orders.models import Invoice, Order, Shipment
from malote.orders.schemas import DeliverIn, InvoiceIn, ShipIn
from malote.orders.selectors import channels_needing_invoice_xml
from malote.orders.statuses import OrderStatus, ShipmentStatus

# While the order is on its way: a further part may leave.
SHIPPING = frozenset({OrderStatus.SHIPPED, OrderStatus.IN_TRANSIT, OrderStatus.DELIVERY_FAILED})


@dataclass(frozen=True)
class PartResult:
    order: Order
    shipment: Shipment
    applied: bool


def _lock(order_id: int) -> Order:
    order = fastsql.lock(Order, order_id)
    if order is None:
        raise NotFound(f"No order with id {order_id}.", code=OrdersErrorCode.ORDER_NOT_FOUND)
    return order


def _differing(order: Order, part: Shipment, data: ShipIn) -> list[str]:
    """The fields of ``data`` (as given) that differ from the part recorded under its code."""
    differing = [name for name in ("carrier", "method") if getattr(part, name) != getattr(data, name)]
    if data.tracking_url is not None and part.tracking_url != data.tracking_url:
        differing.append("tracking_url")
    if data.shipped_at is not None and part.shipped_at != data.shipped_at:
        differing.append("shipped_at")
    if data.lines is not None:
        ordered = {line.pk: line.quantity for line in order.lines.all()}
        given = {(item.line.pk, item.quantity) for item in parts.resolve(order, data.lines, ordered)}
        recorded = {(item.line_id, item.quantity) for item in part.lines.all()}
        if given != recorded:
            differing.append("lines")
    return differing


def ship_part(order_id: int, payload: dict[str, Any] | ShipIn | None, *, actor: Actor) -> PartResult:
    """Record a further part of an order already shipped (``ship``'s input; ``lines`` optional:
    without them, every unit left).

    Refusals: ``InvalidInput`` (422) for the input, the tracking code's rule and the lines
    (``shipment_line_unknown``, ``shipment_line_ambiguous``, ``shipment_line_repeated``,
    ``shipment_quantity_exceeds_remaining``); ``NotFound`` ``order_not_found``; ``Conflict`` (409)
    ``shipment_part_not_allowed`` (the order is not on its way: its first part is the ``ship``
    transition), ``order_fully_shipped``, ``shipment_part_conflict`` (the tracking code is another
    part's, or this part's with other data). The same part again is a no-op (``applied`` False).
    """
    data: ShipIn = parse_input(ShipIn, payload)
    code = checked_tracking_code(data)
    with transaction.atomic():
        order = _lock(order_id)
        sent = parts.sent_parts(order)
        same = next(
            (p for p in sent if parts.tracking_key(p.tracking_code) == parts.tracking_key(code)), None
        )
        if same is not None:
            differing = _differing(order, same, data)
            if differing:
                raise Conflict(
                    f"Part {code} is already recorded with other values for: {', '.join(differing)}.",
                    code=OrdersErrorCode.SHIPMENT_PART_CONFLICT,
                    field=differing[0],
                    extra={"status": order.status},
                )
            return PartResult(order, same, applied=False)
        if order.status not in SHIPPING:
            raise Conflict(
                "A further part leaves only once the order shipped (its first part is the ship"
                " transition) and while it is on its way.",
                code=OrdersErrorCode.SHIPMENT_PART_NOT_ALLOWED,
                extra={"status": order.status},
            )
        remaining = parts.remaining_quantities(order, sent)
        if not remaining:
            raise Conflict(
                "Every unit of the order has shipped.",
                code=OrdersErrorCode.ORDER_FULLY_SHIPPED,
                extra={"status": order.status},
            )
        lines = (
            parts.resolve(order, data.lines, remaining)
            if data.lines is not None
            else parts.every_unit_left(order, remaining)
        )
        number = parts.next_part(sent)
        part = parts.write_part(order, {**parts.shipment_facts(data, code), "part": number}, lines)
        events.shipment_part(
            order,
            actor,
            {
                "input": data.model_dump(mode="json", exclude_unset=True),
                "part": number,
                "tracking_code": code,
                "lines": parts.part_lines_dict(lines),
                "unshipped": parts.unshipped(order),
            },
        )
    return PartResult(order, part, applied=True)


def deliver_part(order_id: int, data: DeliverIn, *, actor: Actor) -> TransitionResult:
    """``deliver`` naming a part by its tracking code (``run_transition`` comes here).

    The part becomes delivered at ``delivered_at``. While another part is on its way or units
    remain unshipped, the order's status does not change (timeline: ``shipment_delivered``); with
    the last part, the ``deliver`` transition runs (status, e-mail, channels). Refusals:
    ``InvalidInput`` ``shipment_unknown`` (no part with this code), ``delivered_before_shipped``;
    ``Conflict`` ``transition_conflict`` (the part was delivered at another time),
    ``transition_not_allowed`` (the order's status is no source of ``deliver``). The part
    delivered again at the same time is a no-op (``applied`` False).
    """
    assert data.tracking_code is not None
    transition = TRANSITIONS["deliver"]
    with transaction.atomic():
        order = _lock(order_id)
        sent = parts.sent_parts(order)
        wanted = parts.tracking_key(data.tracking_code)
        part = next((p for p in sent if parts.tracking_key(p.tracking_code) == wanted), None)
        if part is not None and part.status == ShipmentStatus.DELIVERED:
            if part.delivered_at == data.delivered_at:
                return TransitionResult(order, applied=False)
            raise Conflict(
                f"Part {part.tracking_code} was delivered at another time.",
                code=OrdersErrorCode.TRANSITION_CONFLICT,
                field="delivered_at",
                extra={"status": order.status, "transition": transition.name},
            )
        reason = transition.blocking_reason(order)
        if reason:
            raise Conflict(
                reason,
                code=OrdersErrorCode.TRANSITION_NOT_ALLOWED,
                extra={"status": order.status, "transition": transition.name},
            )
        if part is None:
            raise InvalidInput(
                f"The order has no part with tracking code {data.tracking_code}.",
                code=OrdersErrorCode.SHIPMENT_UNKNOWN,
                field="tracking_code",
            )
        if part.shipped_at is not None and data.delivered_at < part.shipped_at:
            raise InvalidInput(
                "The delivery time is before the shipment left.",
                code=OrdersErrorCode.DELIVERED_BEFORE_SHIPPED,
                field="delivered_at",
            )
        others_open = any(p.pk != part.pk and p.status != ShipmentStatus.DELIVERED for p in sent)
        left = parts.unshipped(order, sent)
        if not others_open and not left:
            _apply(order, transition, data, actor)  # the last part: the order is delivered
            return TransitionResult(order, applied=True)
        Shipment.objects.filter(pk=part.pk).update(
            status=ShipmentStatus.DELIVERED, delivered_at=data.delivered_at
        )
        events.shipment_delivered(
            order,
            actor,
            {
                "input": data.model_dump(mode="json", exclude_unset=True),
                "part": part.part or 1,
                "tracking_code": part.tracking_code,
                "unshipped": left,
            },
        )
    return TransitionResult(order, applied=True)


def add_invoice(
    order_id: int, payload: dict[str, Any] | InvoiceIn | None, *, actor: Actor
) -> TransitionResult:
    """Record a further NF-e of an order already invoiced (the ERP split the order).

    The key is checked as in ``invoice`` (number, series and month; not another order's: 409
    ``invoice_key_in_use``); the XML, when given, must be that key's NF-e, for the customer, and
    SEFAZ-authorized when a channel of the order takes the NF-e only as XML, but its total may be
    part of the order's. No stock moves and no status changes. Refusals besides: ``NotFound``
    ``order_not_found``; ``Conflict`` ``invoice_missing`` (not invoiced yet: run ``invoice``),
    ``invoice_not_allowed`` (a canceled order). The same key again is a no-op (``applied`` False).
    """
    data: InvoiceIn = parse_input(InvoiceIn, payload)
    key = check_invoice_key(data)  # number and series come from the key: the same key, the same NF-e
    with transaction.atomic():
        order = _lock(order_id)
        keys = list(Invoice.objects.filter(order=order).values_list("key", flat=True))
        if data.key in keys:
            return TransitionResult(order, applied=False)
        if not keys:
            raise Conflict(
                "The order has no invoice yet: run the invoice transition first.",
                code=OrdersErrorCode.INVOICE_MISSING,
                extra={"status": order.status},
            )
        if order.status == OrderStatus.CANCELED:
            raise Conflict(
                "The order is canceled: it takes no further NF-e.",
                code=OrdersErrorCode.INVOICE_NOT_ALLOWED,
                extra={"status": order.status},
            )
        check_key_free(order, key.key)
        authorization: dict[str, Any] = {}
        if data.xml:
            needs_xml = bool(channels_needing_invoice_xml(order))
            authorization = check_invoice_xml(
                order, data.xml, key.key, needs_xml=needs_xml, whole_order=False
            )
        Invoice.objects.create(
            order=order,
            key=key.key,
            number=int(data.number),
            series=int(data.series),
            issued_at=data.issued_at,
            xml=data.xml or "",
            authorization_protocol=authorization.get("protocol", ""),
            authorization_status=authorization.get("status", ""),
            **authorization.get("fields", NO_XML_FIELDS),
        )
        events.invoice_added(
            order,
            actor,
            {"key": key.key, "number": int(data.number), "series": int(data.series)},
        )
    return TransitionResult(order, applied=True)
