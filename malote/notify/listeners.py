"""Queue the customer's e-mails for an order change, inside the change's own transaction.

Only rows are written here (one outbox message per e-mail); ``delivery`` sends them after the
commit, so an e-mail is never sent for a change that rolled back.
"""

from __future__ import annotations

from malote.notify import selectors
from malote.notify.statuses import DESTINATION, MESSAGE_KIND, statuses_for
from malote.orders.changes import OrderChange
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
