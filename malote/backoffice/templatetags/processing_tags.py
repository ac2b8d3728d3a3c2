"""Template tags of the order-processing parts of the order page."""

from __future__ import annotations

from django import template

from malote.backoffice.stock_missing import MissingStock, missing_stock
from malote.orders.models import Order

register = template.Library()


@register.simple_tag
def stock_missing(order: Order) -> list[MissingStock]:
    """``{% stock_missing order as missing %}``: what the out-of-stock order lacks, per SKU."""
    return missing_stock(order)
