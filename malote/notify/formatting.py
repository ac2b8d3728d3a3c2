"""Brazilian money formatting, also offered to operators' templates as the ``brl`` filter."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django import template

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
