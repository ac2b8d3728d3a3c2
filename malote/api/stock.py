"""Stock: read, set the physical quantity with a reason, list (low stock), movement history."""

from __future__ import annotations

from typing import Any

from django.db.models import F
from django.http import HttpRequest
from ninja import Query, Router

from malote.api.auth import actor_for, require
from malote.api.errors import ApiErrorCode
from malote.api.schemas import MAX_OFFSET, StockIn, StockMovementOut, StockOut, error_responses
from malote.core.errors import NotFound
from malote.orders import actions as order_actions
from malote.stock import actions
from malote.stock.models import StockItem, StockMovement

router = Router(tags=["stock"])
ERRORS = error_responses(404)
BODY_ERRORS = error_responses(404, 413)


def _check_sku(sku: str) -> None:
    # No SKU is empty, longer than 60 or holds NUL (PostgreSQL text cannot): such a path names nothing.
    if not sku or len(sku) > 60 or "\x00" in sku:
        raise NotFound("SKUs are 1 to 60 printable characters.", code=ApiErrorCode.STOCK_ITEM_NOT_FOUND)


def _out(item: StockItem) -> dict[str, Any]:
    return {
        "sku": item.sku,
        "name": item.name,
        "physical": item.physical,
        "reserved": item.reserved,
        "available": item.available,
        "low_stock_threshold": item.low_stock_threshold,
        "updated_at": item.updated_at,
    }


@router.get("/stock", response={200: list[StockOut], **ERRORS}, summary="List stock items")
def list_stock(
    request: HttpRequest,
    low: bool = Query(False, description="Only items whose available stock is at or below their threshold"),
    sku: str | None = Query(None, max_length=60, description="SKU contains"),
    limit: int = Query(200, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
) -> list[dict[str, Any]]:
    require(request, "stock.view_stockitem")
    qs = StockItem.objects.order_by("sku")
    if low:
        qs = qs.filter(physical__lte=F("reserved") + F("low_stock_threshold"))
    if sku:
        _check_sku(sku)
        qs = qs.filter(sku__icontains=sku)
    return [_out(i) for i in qs[offset : offset + limit]]


@router.get("/stock/{sku}", response={200: StockOut, **ERRORS}, summary="Read one SKU")
def get_stock(request: HttpRequest, sku: str) -> dict[str, Any]:
    require(request, "stock.view_stockitem")
    _check_sku(sku)
    item = StockItem.objects.filter(sku=sku).first()
    if item is None:
        raise NotFound(f"No stock item {sku!r}.", code=ApiErrorCode.STOCK_ITEM_NOT_FOUND)
    return _out(item)


@router.put("/stock/{sku}", response={200: StockOut, **BODY_ERRORS}, summary="Set the physical quantity")
def put_stock(request: HttpRequest, sku: str, payload: StockIn) -> dict[str, Any]:
    """Sets physical stock (creating the SKU if new) and records the movement with its reason.
    Orders waiting in ``out_of_stock`` for this SKU move on to ``preparing`` as far as it allows."""
    require(request, "stock.change_stockitem")
    _check_sku(sku)
    actor = actor_for(request)
    item = actions.set_physical(
        sku, payload.physical, actor=actor, reason=payload.reason, note=payload.note, name=payload.name
    )
    order_actions.resume_out_of_stock_orders([sku], actor=actor)
    item.refresh_from_db()
    return _out(item)


@router.get("/stock/{sku}/movements", response={200: list[StockMovementOut], **ERRORS}, summary="Movements")
def stock_movements(
    request: HttpRequest, sku: str, limit: int = Query(100, ge=1, le=1000)
) -> list[dict[str, Any]]:
    require(request, "stock.view_stockmovement")
    _check_sku(sku)
    moves = StockMovement.objects.filter(sku=sku).select_related("order").order_by("-id")[:limit]
    return [
        {
            "sku": m.sku,
            "reason": m.reason,
            "physical_delta": m.physical_delta,
            "reserved_delta": m.reserved_delta,
            "order_number": m.order.number if m.order else None,
            "note": m.note,
            "actor": m.actor,
            "created_at": m.created_at,
        }
        for m in moves
    ]
