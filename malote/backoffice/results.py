"""What a transition run from the back office did, shown once on the order page.

After a successful transition the operator sees the order's new status, the e-mail that will go to
the customer (its subject, rendered from the operator-editable template) and, when stock was
released or put back, each SKU with the quantity and what is available now.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone, translation

from malote.notify import rendering
from malote.notify.selectors import template_for
from malote.notify.statuses import DESTINATION, REQUIRED_ORDER_STATUS
from malote.orders.models import Order
from malote.orders.statuses import OrderStatus
from malote.stock.models import MovementReason, StockItem, StockMovement
from malote.sync.models import OutboxMessage

SESSION_KEY = "backoffice_result"
RETURNED = (MovementReason.ORDER_RELEASE, MovementReason.ORDER_RESTOCK)
logger = logging.getLogger("malote.backoffice")

_CUSTOMER_STATUS = {
    order_status: status for status, order_status in REQUIRED_ORDER_STATUS.items() if order_status
}


def snapshot_before(order: Order) -> dict[str, Any]:
    """What to compare with after the transition: the time and the last outbox id of the order."""
    last = OutboxMessage.objects.filter(order=order).order_by("-id").values_list("id", flat=True).first()
    return {"at": timezone.now(), "last_outbox_id": last or 0}


def _email(order: Order, before: dict[str, Any]) -> dict[str, str] | None:
    status = _CUSTOMER_STATUS.get(order.status)
    if status is None:
        return None
    queued = OutboxMessage.objects.filter(
        order=order, destination=DESTINATION, id__gt=before["last_outbox_id"], payload__status=status
    ).exists()
    if not queued:
        return None
    try:
        # In the customer's language (as ``notify.delivery`` sends it), whatever the operator reads.
        with translation.override(settings.LANGUAGE_CODE):
            subject = rendering.render(
                template_for(status), rendering.build_context(order, status), status=status
            )
    except rendering.TemplateBroken as exc:  # shown, never fatal: the e-mail handler reports it too
        logger.warning("e-mail preview failed: %s", exc)
        return {"to": order.customer_email, "subject": "", "error": str(exc)}
    return {"to": order.customer_email, "subject": subject.subject, "error": ""}


def _stock_returned(order: Order, before: dict[str, Any]) -> list[dict[str, Any]]:
    moves = StockMovement.objects.filter(order=order, reason__in=RETURNED, created_at__gte=before["at"])
    released: dict[str, int] = {}
    for sku, reserved_delta, physical_delta in moves.values_list("sku", "reserved_delta", "physical_delta"):
        released[sku] = released.get(sku, 0) + max(-reserved_delta, 0) + max(physical_delta, 0)
    items = {i.sku: i for i in StockItem.objects.filter(sku__in=released)}
    return [
        {
            "sku": sku,
            "quantity": quantity,
            "available": items[sku].physical - items[sku].reserved if sku in items else None,
        }
        for sku, quantity in sorted(released.items())
    ]


def remember(
    request: HttpRequest, order: Order, transition: Any, before: dict[str, Any], *, applied: bool
) -> None:
    order.refresh_from_db()
    request.session[SESSION_KEY] = {
        "order_id": order.pk,
        "transition": str(transition.label),
        "applied": applied,
        "status": order.status,
        "status_label": str(OrderStatus(order.status).label),
        "email": _email(order, before) if applied else None,
        "stock": _stock_returned(order, before) if applied else [],
    }


def pop(request: HttpRequest, order_id: int) -> dict[str, Any] | None:
    """The result for this order, once (it is removed from the session)."""
    found = request.session.get(SESSION_KEY)
    if not found or found.get("order_id") != order_id:
        return None
    del request.session[SESSION_KEY]
    return dict(found)
