"""Return statuses, reasons and the other fixed lists of a return (docs/returns.md)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class ReturnStatus(models.TextChoices):
    REQUESTED = "requested", _("Solicitada")
    AUTHORIZED = "authorized", _("Autorizada")
    REFUSED = "refused", _("Recusada")
    RECEIVED = "received", _("Recebida")
    REFUND_PENDING = "refund_pending", _("Reembolso solicitado")
    REFUNDED = "refunded", _("Reembolsada")
    CLOSED = "closed", _("Encerrada")
    CANCELED = "canceled", _("Cancelada")


TERMINAL = frozenset({ReturnStatus.REFUSED, ReturnStatus.CLOSED, ReturnStatus.CANCELED})
# Returns whose lines no longer hold any of the order's quantities.
RELEASED = frozenset({ReturnStatus.REFUSED, ReturnStatus.CANCELED})
# Returns whose refund is asked of the gateway or already made: their amount counts as refunded.
REFUND_OWED_OR_MADE = frozenset({ReturnStatus.REFUND_PENDING, ReturnStatus.REFUNDED, ReturnStatus.CLOSED})


class ReturnReason(models.TextChoices):
    REGRET = "regret", _("Arrependimento")
    DEFECTIVE = "defective", _("Produto com defeito")
    WRONG_ITEM = "wrong_item", _("Produto errado")
    DAMAGED_IN_TRANSIT = "damaged_in_transit", _("Avariado no transporte")
    NOT_AS_DESCRIBED = "not_as_described", _("Diferente do anunciado")
    OTHER = "other", _("Outro motivo")


class RequestedBy(models.TextChoices):
    OPERATOR = "operator", _("Operador")
    CUSTOMER = "customer", _("Cliente, pelo canal")


class LineCondition(models.TextChoices):
    RESTOCK = "restock", _("Volta ao estoque")
    DAMAGED = "damaged", _("Avariado")
