"""Reads about returns: what of an order may still be returned or refunded."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

from django.db.models import Sum

from malote.orders.models import Order, OrderEvent, Payment
from malote.orders.statuses import OrderStatus, PaymentStatus
from malote.returns.lifecycle import RETURN_TRANSITIONS, ReturnTransition
from malote.returns.models import Return, ReturnLine
from malote.returns.statuses import REFUND_OWED_OR_MADE, RELEASED

# An order may have returns once its goods left: before that, it is a cancellation.
SHIPPED_OR_LATER = frozenset(
    {OrderStatus.SHIPPED, OrderStatus.IN_TRANSIT, OrderStatus.DELIVERY_FAILED, OrderStatus.DELIVERED}
)
# A gateway refund for part of the payment with no return to pin it on (``OrderEvent.type``).
PARTIAL_REFUND_EVENT = "partial_refund"
ZERO = Decimal("0.00")


def returned_quantities(order: Order, *, excluding: int | None = None) -> Counter[int]:
    """Units per order line id held by the order's returns that are neither refused nor canceled."""
    lines = ReturnLine.objects.filter(ret__order=order).exclude(ret__status__in=RELEASED)
    if excluding is not None:
        lines = lines.exclude(ret_id=excluding)
    held: Counter[int] = Counter()
    for line_id, quantity in lines.values_list("order_line_id", "quantity"):
        held[line_id] += quantity
    return held


def returnable_quantities(order: Order) -> dict[int, int]:
    """Per order line id, the units that may still be returned."""
    held = returned_quantities(order)
    return {line.pk: line.quantity - held[line.pk] for line in order.lines.all()}


def paid_amount(order: Order) -> Decimal:
    total = Payment.objects.filter(order=order, status=PaymentStatus.APPROVED).aggregate(s=Sum("amount"))["s"]
    return (total or ZERO).quantize(ZERO)


def refunded_amount(order: Order, *, excluding: int | None = None) -> Decimal:
    """What was refunded or is being refunded: by returns, and partial refunds seen without one."""
    returns = Return.objects.filter(order=order, status__in=REFUND_OWED_OR_MADE)
    if excluding is not None:
        returns = returns.exclude(pk=excluding)
    total = ZERO
    for asked, made in returns.values_list("refund_amount", "refunded_amount"):
        total += made if made is not None else (asked or ZERO)
    for data in OrderEvent.objects.filter(order=order, type=PARTIAL_REFUND_EVENT).values_list(
        "data", flat=True
    ):
        total += Decimal(str(data.get("amount") or "0"))
    return total.quantize(ZERO)


def refundable_amount(order: Order, *, excluding: int | None = None) -> Decimal:
    return max(paid_amount(order) - refunded_amount(order, excluding=excluding), ZERO).quantize(ZERO)


def suggested_refund(ret: Return) -> Decimal:
    """The value of the units received (each line's price after its discount), capped by what is
    left of the payment."""
    value = sum(
        (line.unit_value * (line.received_quantity or 0) for line in ret.lines.select_related("order_line")),
        ZERO,
    )
    return min(value, refundable_amount(ret.order, excluding=ret.pk))


def transitions_now(ret: Return) -> list[ReturnTransition]:
    """The transitions the table allows from the return's status, in table order."""
    return [t for t in RETURN_TRANSITIONS.values() if t.allowed_from(ret.status)]
