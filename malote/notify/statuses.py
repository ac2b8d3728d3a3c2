"""Which order and return changes the customer hears about, and what each e-mail is called.

An order e-mail is keyed by a ``CustomerStatus``: the order status it announces, plus ``received``
for the order's creation. Each is queued at most once per order because each order status is
entered at most once (``reopen`` re-enters one, and is ignored here).

A return e-mail is keyed by a ``ReturnEmail`` (the return step it announces) and the return: an
order may have several returns, each mailed at each step once.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from malote.orders.changes import OrderChange
from malote.orders.statuses import OrderStatus
from malote.returns.changes import ReturnChange
from malote.returns.statuses import ReturnStatus

DESTINATION = "email:customer"
MESSAGE_KIND = "email.status"
RETURN_MESSAGE_KIND = "email.return"


class CustomerStatus(models.TextChoices):
    RECEIVED = "received", _("Pedido recebido")
    PAID = "paid", _("Pagamento aprovado")
    INVOICED = "invoiced", _("Nota fiscal emitida")
    SHIPPED = "shipped", _("Pedido enviado")
    DELIVERED = "delivered", _("Pedido entregue")
    CANCELED = "canceled", _("Pedido cancelado")
    PAYMENT_OVERDUE = "payment_overdue", _("Pagamento vencido")


# The order status that must still be in ``Order.status_path`` when the e-mail goes out; None:
# the order merely has to exist. A status that is gone (reopened) or never entered is not mailed.
REQUIRED_ORDER_STATUS: dict[str, str | None] = {
    CustomerStatus.RECEIVED: None,
    CustomerStatus.PAID: OrderStatus.PAID,
    CustomerStatus.INVOICED: OrderStatus.INVOICED,
    CustomerStatus.SHIPPED: OrderStatus.SHIPPED,
    CustomerStatus.DELIVERED: OrderStatus.DELIVERED,
    CustomerStatus.CANCELED: OrderStatus.CANCELED,
    CustomerStatus.PAYMENT_OVERDUE: OrderStatus.PAYMENT_OVERDUE,
}

_BY_ORDER_STATUS: dict[str, str] = {
    order_status: status for status, order_status in REQUIRED_ORDER_STATUS.items() if order_status
}


def statuses_for(change: OrderChange) -> list[str]:
    """The e-mails a change calls for, in sending order.

    Creation sends ``received``; an order created already paid (an import) also gets ``paid``,
    as the customer would have after a separate approval. ``reopen`` sends nothing: it returns
    to a status the customer was already told about.
    """
    if change.transition == "reopen" or change.is_fact:
        return []
    found = [CustomerStatus.RECEIVED.value] if change.transition == "created" else []
    status = _BY_ORDER_STATUS.get(change.to_status)
    if status is not None:
        found.append(status)
    return found


class ReturnEmail(models.TextChoices):
    """The return steps the customer is told about (the key of their templates and sent log)."""

    REQUESTED = "return_requested", _("Devolução solicitada")
    AUTHORIZED = "return_authorized", _("Devolução autorizada")
    REFUSED = "return_refused", _("Devolução recusada")
    REFUNDED = "return_refunded", _("Devolução reembolsada")


# The return status each e-mail announces; entered once per return (the table never goes back).
RETURN_STATUS: dict[str, str] = {
    ReturnEmail.REQUESTED: ReturnStatus.REQUESTED,
    ReturnEmail.AUTHORIZED: ReturnStatus.AUTHORIZED,
    ReturnEmail.REFUSED: ReturnStatus.REFUSED,
    ReturnEmail.REFUNDED: ReturnStatus.REFUNDED,
}

_BY_RETURN_STATUS: dict[str, str] = {return_status: email for email, return_status in RETURN_STATUS.items()}

# Every template an operator may edit: the order statuses', then the returns'.
TEMPLATE_CHOICES = [*CustomerStatus.choices, *ReturnEmail.choices]


def label_for(key: str) -> str:
    """The name of an e-mail (order status or return step), in the active language."""
    if key in ReturnEmail.values:
        return str(ReturnEmail(key).label)
    return str(CustomerStatus(key).label)


def return_emails_for(change: ReturnChange) -> list[str]:
    """The e-mail a return change calls for: opened (``requested``), authorized, refused, refunded.

    Receipt, the refund request, closing and canceling send nothing.
    """
    if change.from_status == change.to_status:
        return []
    email = _BY_RETURN_STATUS.get(change.to_status)
    return [email] if email is not None else []
