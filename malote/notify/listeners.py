"""Queue the customer's e-mails for an order or return change, inside the change's own transaction.

Only rows are written here (one outbox message per e-mail); ``delivery`` sends them after the
commit, so an e-mail is never sent for a change that rolled back.
"""

from __future__ import annotations

from malote.notify import selectors
from malote.notify.statuses import (
    DESTINATION,
    MESSAGE_KIND,
    RETURN_MESSAGE_KIND,
    return_emails_for,
    statuses_for,
)
from malote.orders.changes import OrderChange
from malote.returns.changes import ReturnChange
from malote.sync import outbox


def queue_status_emails(change: OrderChange) -> None:
    """Enqueue ``email.status`` for each customer-visible status the change enters.

    Nothing is queued when the order has no customer e-mail or the status's template is
    disabled. The outbox key is the order, so an order's e-mails go out in the order of its
    changes.
    """
    order = change.order
    if not order.customer_email.strip():
        return
    for status in statuses_for(change):
        if selectors.is_enabled(status):
            outbox.enqueue(DESTINATION, MESSAGE_KIND, {"status": status}, order_id=order.pk)


def queue_return_emails(change: ReturnChange) -> None:
    """Enqueue ``email.return`` when a return is opened, authorized, refused or refunded.

    Same rules as the order's e-mails: nothing without a customer e-mail or with the step's
    template disabled; keyed by the order (the return commands hold the order row locked), so a
    return's e-mails follow the order's and each other in the order they happened.
    """
    ret = change.ret
    order = ret.order
    if not order.customer_email.strip():
        return
    for status in return_emails_for(change):
        if selectors.is_enabled(status):
            payload = {"status": status, "return_id": ret.pk}
            outbox.enqueue(DESTINATION, RETURN_MESSAGE_KIND, payload, order_id=order.pk)
