"""The parts (volumes) of a partial shipment: which units each carries and which are left.

A ``Shipment`` without ``ShipmentLine`` rows is the whole order shipped in one part (the default,
written by ``ship`` without ``lines``); a part with lines carries those units only
(docs/lifecycle.md, "Partial shipments"). These helpers run inside the commands' transactions with
the order row locked; none of them is on the path of an order shipped in one part.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import prefetch_related_objects
from django.utils import timezone

from malote import fiscal
from malote.core.errors import InvalidInput
from malote.orders.errors import OrdersErrorCode
from malote.orders.models import Order, OrderLine, Shipment, ShipmentLine
from malote.orders.schemas import ShipLineIn
from malote.orders.statuses import ShipmentStatus


@dataclass(frozen=True)
class PartLine:
    line: OrderLine
    quantity: int


def load_lines(order: Order) -> None:
    """Read the lines of the order's shipments in one query, onto the order's shipments as already
    read (``order.shipments.all()``, prefetched or not), each line's order line taken from
    ``order.lines.all()``: for pages that show every part."""
    if not any(shipment.part for shipment in order.shipments.all()):
        return  # shipped whole (or not yet): no shipment has lines of its own
    prefetch_related_objects([order], "shipments__lines")
    by_id = {line.pk: line for line in order.lines.all()}
    for shipment in order.shipments.all():
        for item in shipment.lines.all():
            if item.line_id in by_id:
                ShipmentLine.line.field.set_cached_value(item, by_id[item.line_id])


def next_part(parts: Sequence[Shipment]) -> int:
    """The number of the part that leaves after ``parts``."""
    return max((part.part for part in parts), default=0) + 1


def sent_parts(order: Order) -> list[Shipment]:
    """The order's parts that left (every shipment but one still ready for collection), oldest
    first, each with its lines prefetched."""
    return list(
        Shipment.objects.filter(order=order)
        .exclude(status=ShipmentStatus.READY)
        .prefetch_related("lines")
        .order_by("id")
    )


def shipped_quantities(order: Order, parts: Sequence[Shipment] | None = None) -> dict[int, int] | None:
    """Units shipped per order line id, over the parts that left; ``None`` when a part without
    lines left (the whole order shipped in one part)."""
    shipped: dict[int, int] = {}
    for part in sent_parts(order) if parts is None else parts:
        if not part.part:
            return None
        for item in part.lines.all():
            shipped[item.line_id] = shipped.get(item.line_id, 0) + item.quantity
    return shipped


def remaining_quantities(order: Order, parts: Sequence[Shipment] | None = None) -> dict[int, int]:
    """Units not yet in any part, per order line id (lines with none left are left out)."""
    shipped = shipped_quantities(order, parts)
    if shipped is None:
        return {}
    left = {line.pk: line.quantity - shipped.get(line.pk, 0) for line in order.lines.all()}
    return {pk: units for pk, units in left.items() if units > 0}


def unshipped(order: Order, parts: Sequence[Shipment] | None = None) -> list[dict[str, Any]]:
    """The units not yet in any part, as ``{line, sku, quantity}`` (line: its position)."""
    left = remaining_quantities(order, parts)
    return [
        {"line": line.position, "sku": line.sku, "quantity": left[line.pk]}
        for line in order.lines.all()
        if line.pk in left
    ]


def resolve(order: Order, requested: Sequence[ShipLineIn], remaining: dict[int, int]) -> list[PartLine]:
    """The order lines and units a part names, checked against what is left to ship.

    Every broken rule is listed in ``errors`` at once (422): ``shipment_line_unknown`` (no such
    line, or the SKU and position disagree), ``shipment_line_ambiguous`` (a SKU on two lines, named
    without its position), ``shipment_line_repeated``, ``shipment_quantity_exceeds_remaining``."""
    lines = list(order.lines.all())
    found: list[PartLine] = []
    errors: list[dict[str, Any]] = []
    seen: set[int] = set()
    for index, item in enumerate(requested):
        where = f"lines.{index}"
        matches = [
            line
            for line in lines
            if (item.line is None or line.position == item.line)
            and (item.sku is None or line.sku == item.sku)
        ]
        if not matches:
            errors.append(
                {
                    "field": f"{where}.sku" if item.line is None else f"{where}.line",
                    "code": OrdersErrorCode.SHIPMENT_LINE_UNKNOWN,
                    "detail": "The order has no such line.",
                }
            )
            continue
        if len(matches) > 1:
            errors.append(
                {
                    "field": f"{where}.sku",
                    "code": OrdersErrorCode.SHIPMENT_LINE_AMBIGUOUS,
                    "detail": f"SKU {item.sku} is on several lines: name the line's position (line).",
                }
            )
            continue
        line = matches[0]
        if line.pk in seen:
            errors.append(
                {
                    "field": where,
                    "code": OrdersErrorCode.SHIPMENT_LINE_REPEATED,
                    "detail": f"Line {line.position} is named twice.",
                }
            )
            continue
        seen.add(line.pk)
        left = remaining.get(line.pk, 0)
        if item.quantity > left:
            errors.append(
                {
                    "field": f"{where}.quantity",
                    "code": OrdersErrorCode.SHIPMENT_QUANTITY_EXCEEDS_REMAINING,
                    "detail": f"Line {line.position} ({line.sku}) has {left} unit(s) left to ship,"
                    f" not {item.quantity}.",
                    "remaining": left,
                    "line": line.position,
                }
            )
            continue
        found.append(PartLine(line, item.quantity))
    if errors:
        first = errors[0]
        extra: dict[str, Any] = {"errors": errors}
        if "remaining" in first:
            extra["remaining"] = first["remaining"]
        raise InvalidInput(first["detail"], code=first["code"], field=first["field"], extra=extra)
    return found


def every_unit_left(order: Order, remaining: dict[int, int]) -> list[PartLine]:
    """A part carrying everything still unshipped."""
    return [PartLine(line, remaining[line.pk]) for line in order.lines.all() if line.pk in remaining]


def write_part(order: Order, facts: dict[str, Any], lines: Sequence[PartLine]) -> Shipment:
    """Record a part that left with ``lines``: the shipment ready for collection, if there is one,
    becomes it; else a new shipment."""
    part = Shipment.objects.filter(order=order, status=ShipmentStatus.READY).order_by("id").first()
    if part is None:
        part = Shipment.objects.create(order=order, **facts)
    else:
        for name, value in facts.items():
            setattr(part, name, value)
        part.save(update_fields=list(facts))
    ShipmentLine.objects.bulk_create(
        ShipmentLine(shipment=part, line=item.line, quantity=item.quantity) for item in lines
    )
    return part


def shipment_facts(data: Any, code: str) -> dict[str, Any]:
    """The ``Shipment`` columns of a ``ShipIn``-shaped input whose tracking code is ``code``."""
    return {
        "status": ShipmentStatus.SHIPPED,
        "carrier": data.carrier,
        "method": data.method,
        "tracking_code": code,
        "tracking_url": data.tracking_url or fiscal.tracking_url(data.carrier, code) or "",
        "shipped_at": data.shipped_at or timezone.now(),
    }


def tracking_key(code: str) -> str:
    """A tracking code as compared between parts: blanks dropped, upper case."""
    return re.sub(r"\s+", "", code).upper()


def part_lines_dict(lines: Sequence[PartLine]) -> list[dict[str, Any]]:
    """The lines of a part as the timeline records them."""
    return [{"line": item.line.position, "sku": item.line.sku, "quantity": item.quantity} for item in lines]


def units_left_to_ship(order: Order) -> list[dict[str, Any]]:
    """Once part of the order left, the units not yet in any part (``{line, sku, quantity}``);
    before it left, or when everything did, none (docs/lifecycle.md, "Partial shipments")."""
    sent = [s for s in order.shipments.all() if s.status != ShipmentStatus.READY]
    if not any(s.part for s in sent):
        return []  # nothing sent yet, or everything in one shipment
    load_lines(order)
    return unshipped(order, sent)


def line_items(shipment: Shipment) -> list[ShipmentLine]:
    """The units this part carries (none: a shipment of the whole order). The lines of all the
    order's shipments are read together (``load_lines``)."""
    if not shipment.part:
        return []
    load_lines(shipment.order)
    return sorted(shipment.lines.all(), key=lambda item: item.line.position)
