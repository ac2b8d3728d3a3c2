"""The return lifecycle as one declarative table (docs/returns.md), like the order's.

Each ``ReturnTransition`` names its sources, target, input schema and the permission the edge
must check. ``malote.returns.actions.run_return_transition`` enforces the table; the API and the
back office read it to show what a caller may do now. Permissions are never checked here.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from pydantic import BaseModel

from malote.returns import schemas
from malote.returns.statuses import ReturnStatus

# Whoever may process orders may process their returns.
RUN = "orders.change_order_status"

S = ReturnStatus


@dataclass(frozen=True)
class ReturnTransition:
    name: str
    label: str | Promise
    sources: frozenset[str]
    target: str
    input: type[BaseModel] = schemas.NoInput
    permission: str = RUN

    def allowed_from(self, status: str) -> bool:
        return status in self.sources


RETURN_TRANSITIONS: dict[str, ReturnTransition] = {
    t.name: t
    for t in (
        ReturnTransition("authorize", _("Autorizar devolução"), frozenset({S.REQUESTED}), S.AUTHORIZED),
        ReturnTransition(
            "refuse", _("Recusar devolução"), frozenset({S.REQUESTED}), S.REFUSED, schemas.RefuseIn
        ),
        ReturnTransition(
            "receive", _("Registrar recebimento"), frozenset({S.AUTHORIZED}), S.RECEIVED, schemas.ReceiveIn
        ),
        # Queues the refund for the order's payment gateway (through the outbox).
        ReturnTransition(
            "request_refund",
            _("Reembolsar"),
            frozenset({S.RECEIVED}),
            S.REFUND_PENDING,
            schemas.RequestRefundIn,
        ),
        # Run by the gateway's confirmation, or by a person when the refund was made outside.
        ReturnTransition(
            "confirm_refund",
            _("Confirmar reembolso"),
            frozenset({S.REFUND_PENDING}),
            S.REFUNDED,
            schemas.ConfirmRefundIn,
        ),
        ReturnTransition("close", _("Encerrar devolução"), frozenset({S.RECEIVED, S.REFUNDED}), S.CLOSED),
        ReturnTransition(
            "cancel",
            _("Cancelar devolução"),
            frozenset({S.REQUESTED, S.AUTHORIZED}),
            S.CANCELED,
            schemas.CancelReturnIn,
        ),
    )
}
