"""Brazilian formats shared by e-mails, tickets and their PDF: money (also the ``brl`` filter of
operators' templates), local date and time, and the store's order number.

Customers and the finance team know a sale by the store's number (the sale's id in its sales
channel, e.g. ``10016``, with the marketplace in front when the sale came through one: ``Magalu
123456``), not by Malote's ``M0000070``; ``store_number`` and ``order_reference`` give both.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django import template
from django.utils import timezone

register = template.Library()

_CENT = Decimal("0.01")


def format_money(value: Decimal | int | str, currency: str = "BRL") -> str:
    """``R$ 1.234,56`` (dot for thousands, comma for decimals); other currencies by their code."""
    amount = Decimal(value).quantize(_CENT, rounding=ROUND_HALF_UP)
    grouped = f"{abs(amount):,.2f}".translate(str.maketrans(",.", ".,"))
    symbol = "R$" if currency.upper() == "BRL" else currency.upper()
    return f"{'-' if amount < 0 else ''}{symbol} {grouped}"


@register.filter(name="brl")
def brl(value: Any) -> str:
    """``{{ order.subtotal|brl }}``; a value that is not a number renders unchanged."""
    try:
        return format_money(value)
    except (InvalidOperation, TypeError, ValueError):
        return str(value)


def format_datetime(moment: datetime | None) -> str:
    """``29/11/2026 23:21`` in the local zone (America/Sao_Paulo); ``—`` for no time."""
    if moment is None:
        return "—"
    return f"{timezone.localtime(moment):%d/%m/%Y %H:%M}"


def store_number(order: Any) -> str:
    """The sale's number as the store knows it: its id in its sales channel, after the marketplace
    (sub-channel) when there is one (``Magalu 123456``); empty when the order has neither."""
    external = str(getattr(order, "external_id", "") or "").strip()
    marketplace = str(getattr(order, "marketplace", "") or "").strip()
    return " ".join(part for part in (marketplace, external) if part)


def order_reference(order: Any) -> str:
    """``10016 (M0000070)``: the store's number, then Malote's; Malote's alone when the store's is
    missing or the same."""
    store = store_number(order)
    if not store or store == order.number:
        return str(order.number)
    return f"{store} ({order.number})"
