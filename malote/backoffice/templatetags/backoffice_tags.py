"""Template helpers of the order page: timeline labels and what the order waits for or has wrong."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.translation import gettext_lazy as _

from malote.orders.lifecycle import TRANSITIONS
from malote.orders.models import Order
from malote.orders.selectors import awaiting_invoice_xml, channels_needing_invoice_xml
from malote.reconcile import selectors as issue_selectors

register = template.Library()

EVENT_LABELS: dict[str, Any] = {
    "created": _("Pedido criado"),
    "invoice_xml_pending": _("Aguardando XML da NF-e"),
    "invoice_xml_attached": _("XML da NF-e anexado"),
    "divergence_detected": _("Divergência detectada"),
    "divergence_resolved": _("Divergência resolvida"),
    "integration_issue": _("Problema de integração"),
}


@register.filter
def event_label(event: Any) -> str:
    """The transition's label for transitions, else a label for the event type (its code if unknown)."""
    name = getattr(event, "transition", "")
    if name:
        transition = TRANSITIONS.get(name)
        return str(transition.label) if transition is not None else str(name)
    return str(EVENT_LABELS.get(event.type, event.type))


@register.simple_tag
def order_attention(order: Order) -> dict[str, Any]:
    """What the order waits for (the NF-e XML, and for which channels) and its active integration issues."""
    waiting = awaiting_invoice_xml(order)
    return {
        "awaiting_xml": waiting,
        "xml_channels": channels_needing_invoice_xml(order) if waiting else [],
        "issues": list(issue_selectors.filtered(order_id=order.pk)),
    }
