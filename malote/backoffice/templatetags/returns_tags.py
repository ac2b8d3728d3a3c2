"""The order page's "Devoluções" section: the order's returns and what this user may do now."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse

from malote.fiscal import format_nfe_key
from malote.orders.models import Order
from malote.returns import selectors
from malote.returns.lifecycle import RUN
from malote.returns.models import Return
from malote.returns.statuses import LineCondition, RequestedBy, ReturnReason

register = template.Library()

DANGER = frozenset({"refuse", "cancel"})


def _return_row(ret: Return, can_run: bool) -> dict[str, Any]:
    actions = []
    if can_run:
        actions = [
            {
                "name": t.name,
                "label": t.label,
                "url": reverse("backoffice:return-action", args=[ret.pk, t.name]),
                "danger": t.name in DANGER,
            }
            for t in selectors.transitions_now(ret)
        ]
    return {
        "ret": ret,
        "reason": ReturnReason(ret.reason).label,
        "requested_by": RequestedBy(ret.requested_by).label,
        "lines": [
            {
                "line": line,
                "condition": LineCondition(line.condition).label if line.condition else "",
            }
            for line in ret.lines.select_related("order_line")
        ],
        "nfe_key": format_nfe_key(ret.nfe_key) if ret.nfe_key else "",
        "actions": actions,
        "nfe_url": reverse("backoffice:return-nfe", args=[ret.pk]) if can_run else "",
    }


@register.simple_tag(takes_context=True)
def returns_panel(context: template.Context, order: Order) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    can_run = bool(user is not None and user.has_perm(RUN))
    returns = [_return_row(ret, can_run) for ret in Return.objects.filter(order=order).order_by("id")]
    can_open = (
        can_run
        and order.status in selectors.SHIPPED_OR_LATER
        and any(left > 0 for left in selectors.returnable_quantities(order).values())
    )
    return {
        "returns": returns,
        "open_url": reverse("backoffice:return-open", args=[order.pk]) if can_open else "",
    }
