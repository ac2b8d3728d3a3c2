"""What an out-of-stock order lacks, per SKU: "faltam 12 un. de BONE-AZUL".

Shown on the order page and on its processing forms while the order is ``out_of_stock``: for each
SKU, the units the order wants, the units available now (physical − reserved, never below zero)
and the difference. The order's own reservation is not counted as available: an out-of-stock order
holds none.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import ngettext

from malote.orders.models import Order, OrderLine
from malote.orders.statuses import OrderStatus, StockState
from malote.stock.models import StockItem


@dataclass(frozen=True)
class MissingStock:
    sku: str
    wanted: int
    available: int

    @property
    def missing(self) -> int:
        return self.wanted - self.available

    @property
    def text(self) -> str:
        return ngettext("falta %(count)s un. de %(sku)s", "faltam %(count)s un. de %(sku)s", self.missing) % {
            "count": self.missing,
            "sku": self.sku,
        }


def missing_stock(order: Order) -> list[MissingStock]:
    """The SKUs an out-of-stock order cannot reserve now, by SKU; empty for any other order."""
    if order.status != OrderStatus.OUT_OF_STOCK or order.stock_state == StockState.RESERVED:
        return []
    wanted: dict[str, int] = {}
    for sku, quantity in OrderLine.objects.filter(order=order).values_list("sku", "quantity"):
        wanted[sku] = wanted.get(sku, 0) + quantity
    available = {
        sku: max(physical - reserved, 0)
        for sku, physical, reserved in StockItem.objects.filter(sku__in=wanted).values_list(
            "sku", "physical", "reserved"
        )
    }
    found = [MissingStock(sku, qty, available.get(sku, 0)) for sku, qty in sorted(wanted.items())]
    return [item for item in found if item.missing > 0]
