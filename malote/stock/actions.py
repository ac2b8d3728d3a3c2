"""Stock commands. They run inside the caller's transaction and lock rows in SKU order.

Reservation is a conditional UPDATE (``reserved + q`` only where ``physical − reserved ≥ q``), so
two transactions racing for the last unit serialize on the row and exactly one succeeds; the
database's check constraints are the last line of defence.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from malote.core import fastsql
from malote.core.actors import Actor
from malote.core.errors import InvalidInput
from malote.stock import changes
from malote.stock.errors import StockErrorCode
from malote.stock.models import ChannelStock, MovementReason, StockItem, StockMovement


@dataclass(frozen=True)
class StockLine:
    sku: str
    quantity: int


def _per_sku(lines: Iterable[StockLine]) -> list[tuple[str, int]]:
    totals: Counter[str] = Counter()
    for line in lines:
        totals[line.sku] += line.quantity
    # Sorted so that concurrent transactions lock rows in the same order and cannot deadlock.
    return sorted(totals.items())


_SHIFT = (
    "UPDATE stock_stockitem SET physical = physical + %s, reserved = reserved + %s, updated_at = %s"
    " WHERE sku = %s"
)
# The guard makes the update conditional: it changes nothing unless `available` covers the quantity.
_SHIFT_IF_AVAILABLE = _SHIFT + " AND physical - reserved >= %s"


def _now() -> object:
    return fastsql.prep(StockItem, "updated_at", timezone.now())


def _shift(sku: str, physical: int, reserved: int, *, needs_available: int | None = None) -> bool:
    """Add to a SKU's physical and reserved counts in one statement (row-locked by the database).

    With ``needs_available`` the change happens only while available stock covers it; returns
    whether a row changed. Pre-built SQL: this runs on every order transition (see ``fastsql``).
    """
    if needs_available is None:
        return fastsql.execute(_SHIFT, [physical, reserved, _now(), sku]) == 1
    return fastsql.execute(_SHIFT_IF_AVAILABLE, [physical, reserved, _now(), sku, needs_available]) == 1


def _record(
    moves: list[tuple[str, int, int]], reason: str, *, order_id: int | None, actor: Actor, note: str = ""
) -> None:
    now = timezone.now()
    changes.publish([sku for sku, _physical, _reserved in moves])
    for sku, physical, reserved in moves:
        fastsql.insert(
            StockMovement,
            sku=sku,
            order=order_id,
            reason=reason,
            physical_delta=physical,
            reserved_delta=reserved,
            note=note,
            actor=actor.label[:150],
            created_at=now,
        )


def _take_all(wanted: list[tuple[str, int]], *, physical: int, reserved: int) -> list[str]:
    """Shift every SKU by ``physical``/``reserved`` × quantity while available covers it, all or none.

    Returns the SKUs whose available stock cannot cover the quantity (empty on success).
    """
    done: list[tuple[str, int]] = []
    for sku, qty in wanted:
        if not _shift(sku, physical * qty, reserved * qty, needs_available=qty):
            for done_sku, done_qty in done:
                _shift(done_sku, -physical * done_qty, -reserved * done_qty)
            return shortages(wanted)
        done.append((sku, qty))
    return []


def shortages(wanted: list[tuple[str, int]]) -> list[str]:
    """SKUs whose available stock is below the wanted quantity (missing items count as zero)."""
    available = {
        sku: physical - reserved
        for sku, physical, reserved in StockItem.objects.filter(sku__in=[s for s, _ in wanted]).values_list(
            "sku", "physical", "reserved"
        )
    }
    return [sku for sku, qty in wanted if available.get(sku, 0) < qty]


def reserve(lines: Iterable[StockLine], *, order_id: int, actor: Actor) -> list[str]:
    """Reserve every line or none. Returns the SKUs that could not be reserved (empty on success)."""
    wanted = _per_sku(lines)
    short = _take_all(wanted, physical=0, reserved=1)
    if not short:
        _record([(s, 0, q) for s, q in wanted], MovementReason.ORDER_RESERVE, order_id=order_id, actor=actor)
    else:
        # Nothing moved, but a channel is selling what Malote does not have: tell it again.
        changes.publish(short)
    return short


def release(lines: Iterable[StockLine], *, order_id: int, actor: Actor) -> None:
    """Give back a reservation (order canceled before invoicing)."""
    moves = _per_sku(lines)
    for sku, qty in moves:
        _shift(sku, 0, -qty)
    _record([(s, 0, -q) for s, q in moves], MovementReason.ORDER_RELEASE, order_id=order_id, actor=actor)


def consume(lines: Iterable[StockLine], *, order_id: int, actor: Actor) -> None:
    """Turn a reservation into a physical decrement (order invoiced)."""
    moves = _per_sku(lines)
    for sku, qty in moves:
        _shift(sku, -qty, -qty)
    _record([(s, -q, -q) for s, q in moves], MovementReason.ORDER_CONSUME, order_id=order_id, actor=actor)


def consume_unreserved(lines: Iterable[StockLine], *, order_id: int, actor: Actor) -> list[str]:
    """Take units straight from the available stock, all or none; returns the SKUs short."""
    wanted = _per_sku(lines)
    short = _take_all(wanted, physical=-1, reserved=0)
    if not short:
        _record([(s, -q, 0) for s, q in wanted], MovementReason.ORDER_CONSUME, order_id=order_id, actor=actor)
    else:
        changes.publish(short)
    return short


def restock(
    lines: Iterable[StockLine],
    *,
    order_id: int,
    actor: Actor,
    reason: str = MovementReason.ORDER_RESTOCK,
    note: str = "",
) -> None:
    """Put consumed units back on the shelf: an order canceled after invoicing, before shipping
    (``order_restock``), or a customer's return received in condition to sell (``return_restock``)."""
    moves = _per_sku(lines)
    for sku, qty in moves:
        _shift(sku, qty, 0)
    _record([(s, q, 0) for s, q in moves], reason, order_id=order_id, actor=actor, note=note)


def set_physical(
    sku: str,
    physical: int,
    *,
    actor: Actor,
    reason: str = MovementReason.ADJUSTMENT,
    note: str = "",
    name: str | None = None,
) -> StockItem:
    """Set the physical quantity of a SKU (creating the item if new) and record the movement.

    Refuses, with ``stock_below_reserved``, a count below what is already reserved: those units
    are promised to orders, which must be canceled first.
    """
    if reason not in (MovementReason.ADJUSTMENT, MovementReason.INVENTORY_COUNT):
        raise InvalidInput(
            "Reason must be adjustment or inventory_count.",
            code=StockErrorCode.INVALID_REASON,
            field="reason",
        )
    if physical < 0:
        raise InvalidInput(
            "Physical stock cannot be negative.", code=StockErrorCode.STOCK_NEGATIVE, field="physical"
        )
    with transaction.atomic():
        item, _created = StockItem.objects.select_for_update().get_or_create(sku=sku)
        if physical < item.reserved:
            raise InvalidInput(
                f"{item.reserved} units of {sku} are reserved by open orders; physical cannot go below that.",
                code=StockErrorCode.STOCK_BELOW_RESERVED,
                field="physical",
            )
        delta = physical - item.physical
        item.physical = physical
        if name is not None:
            item.name = name
        item.save()
        _record([(sku, delta, 0)], reason, order_id=None, actor=actor, note=note)
    return item


def record_channel_stock(channel_code: str, sku: str, available: int, *, actor: Actor) -> ChannelStock:
    """Record that ``channel_code`` took ``available`` units of ``sku`` just now (called by the
    stock delivery after the remote call succeeded, never inside a transaction holding it).
    ``actor`` is the one that pushed (the channel's delivery); the row keeps only value and time."""
    now = timezone.now()
    with transaction.atomic():
        row, _created = ChannelStock.objects.update_or_create(
            channel_code=channel_code,
            sku=sku,
            defaults={"available_pushed": available, "pushed_at": now},
        )
    return row
