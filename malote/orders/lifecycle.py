"""The order lifecycle as one declarative table: the single source of truth (docs/lifecycle.md).

Each ``Transition`` names its sources, target, the Django permission the edge must check, the
input schema, and guards. A guard returns a blocking reason (a readable sentence) or ``None``.
The commands in ``actions.py`` enforce the table; the API and back office read it to show what a
caller may do now. Permissions are never checked here: schedules and connectors run transitions
with no user.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from pydantic import BaseModel

from malote.orders import schemas
from malote.orders.statuses import NON_TERMINAL, TERMINAL, UNPAID, OrderStatus, StockState

if TYPE_CHECKING:
    from malote.orders.models import Order

Guard = Callable[["Order"], str | None]

RUN = "orders.change_order_status"
REOPEN = "orders.reopen_order"


def stock_reservable(order: Order) -> str | None:
    """Leaving ``out_of_stock`` needs every line reservable now."""
    if order.stock_state == StockState.RESERVED:
        return None
    from malote.orders.selectors import stock_shortages

    short = stock_shortages(order)
    return str(_("Sem estoque para: %(skus)s") % {"skus": ", ".join(short)}) if short else None


@dataclass(frozen=True)
class Transition:
    name: str
    label: str | Promise
    sources: frozenset[str]
    # None: the target is decided at run time (reopen returns to the status before the terminal one).
    target: str | None
    input: type[BaseModel] = schemas.NoInput
    permission: str = RUN
    guards: tuple[Guard, ...] = field(default=())

    def blocking_reason(self, order: Order) -> str | None:
        if order.status not in self.sources:
            return str(_("Não permitido no status %(status)s") % {"status": OrderStatus(order.status).label})
        for guard in self.guards:
            reason = guard(order)
            if reason:
                return reason
        return None


S = OrderStatus

TRANSITIONS: dict[str, Transition] = {
    t.name: t
    for t in (
        Transition(
            "start_review",
            _("Iniciar análise do pagamento"),
            frozenset({S.PENDING_PAYMENT}),
            S.PAYMENT_REVIEW,
        ),
        Transition(
            "mark_overdue", _("Marcar pagamento vencido"), frozenset({S.PENDING_PAYMENT}), S.PAYMENT_OVERDUE
        ),
        Transition("approve_payment", _("Aprovar pagamento"), UNPAID, S.PAID, schemas.ApprovePaymentIn),
        Transition(
            "flag_out_of_stock", _("Marcar sem estoque"), frozenset({S.PAID, S.PREPARING}), S.OUT_OF_STOCK
        ),
        Transition(
            "start_preparing",
            _("Iniciar separação"),
            frozenset({S.PAID, S.OUT_OF_STOCK}),
            S.PREPARING,
            guards=(stock_reservable,),
        ),
        Transition("invoice", _("Faturar"), frozenset({S.PAID, S.PREPARING}), S.INVOICED, schemas.InvoiceIn),
        Transition(
            "ready_to_ship",
            _("Pronto para envio"),
            frozenset({S.INVOICED}),
            S.READY_TO_SHIP,
            schemas.ReadyToShipIn,
        ),
        Transition("ship", _("Enviar"), frozenset({S.INVOICED, S.READY_TO_SHIP}), S.SHIPPED, schemas.ShipIn),
        Transition("mark_in_transit", _("Marcar em trânsito"), frozenset({S.SHIPPED}), S.IN_TRANSIT),
        Transition(
            "report_delivery_problem",
            _("Registrar problema na entrega"),
            frozenset({S.SHIPPED, S.IN_TRANSIT}),
            S.DELIVERY_FAILED,
            schemas.ReportDeliveryProblemIn,
        ),
        Transition(
            "deliver",
            _("Confirmar entrega"),
            frozenset({S.SHIPPED, S.IN_TRANSIT, S.DELIVERY_FAILED}),
            S.DELIVERED,
            schemas.DeliverIn,
        ),
        Transition(
            "cancel", _("Marcar como cancelado"), frozenset(NON_TERMINAL), S.CANCELED, schemas.CancelIn
        ),
        Transition(
            "reopen", _("Reabrir pedido"), frozenset(TERMINAL), None, schemas.ReopenIn, permission=REOPEN
        ),
    )
}
