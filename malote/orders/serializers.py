"""Orders and their facts as JSON-ready dicts, for the API and the back office."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractUser, AnonymousUser

from malote import fiscal
from malote.channels.models import OrderLink
from malote.fiscal.nfe_event import NfeEventType
from malote.orders import parts
from malote.orders.effects import reopen_target
from malote.orders.lifecycle import TRANSITIONS
from malote.orders.models import Invoice, InvoiceEventType, Order, OrderEvent, OrderLine, Payment, Shipment
from malote.orders.selectors import awaiting_invoice_xml
from malote.orders.statuses import ShipmentStatus


def format_document(number: str) -> str:
    if not number:
        return ""
    try:
        return fiscal.parse_tax_document(number).formatted
    except fiscal.FiscalError:
        return number


def order_summary(order: Order) -> dict[str, Any]:
    return {
        "id": order.pk,
        "number": order.number or "",
        "channel": order.channel.code,
        "external_id": order.external_id,
        "placed_at": order.placed_at,
        "status": order.status,
        "status_label": order.status_label,
        "customer_name": order.customer_name,
        "total": order.total,
        "currency": order.currency,
        "payment_method": order.payment_method,
    }


def payment_dict(p: Payment) -> dict[str, Any]:
    return {
        "method": p.method,
        "gateway": p.gateway,
        "transaction_id": p.transaction_id,
        "installments": p.installments,
        "amount": p.amount,
        "status": p.status,
        "due_date": p.due_date,
        "expires_at": p.expires_at,
        "paid_at": p.paid_at,
    }


def invoice_dict(i: Invoice) -> dict[str, Any]:
    return {
        "key": i.key,
        "key_formatted": " ".join(i.key[n : n + 4] for n in range(0, 44, 4)),
        "number": i.number,
        "series": i.series,
        "issued_at": i.issued_at,
        "has_xml": bool(i.xml),
        "authorization_protocol": i.authorization_protocol,
        "authorization_status": i.authorization_status,
        "purpose": i.purpose,
        "direction": i.direction,
        "referenced_key": i.referenced_key,
        "ibs_cbs_base": i.ibs_cbs_base,
        "ibs_state_total": i.ibs_state_total,
        "ibs_municipal_total": i.ibs_municipal_total,
        "ibs_total": i.ibs_total,
        "cbs_total": i.cbs_total,
        "tax_reform_items": i.tax_reform_items,
        **invoice_events_dict(i),
    }


def invoice_events_dict(i: Invoice) -> dict[str, Any]:
    """The SEFAZ events of the NF-e (cancellation, CC-e) in the order registered, and whether it
    is canceled; reads ``i.events.all()`` (prefetch ``invoices__events``)."""
    recorded = list(i.events.all())
    return {
        "canceled": any(e.type == InvoiceEventType.CANCELLATION for e in recorded),
        "events": [
            {
                "type": e.type,
                "code": NfeEventType(e.type).code,
                "sequence": e.sequence,
                "protocol": e.protocol,
                "registered_at": e.registered_at,
                "text": e.text,
                "has_xml": bool(e.xml),
            }
            for e in recorded
        ],
    }


def shipment_dict(s: Shipment, number: int = 1, order_lines: list[OrderLine] | None = None) -> dict[str, Any]:
    """A part of the order's shipment; ``lines``: the units it carries (a shipment without lines of
    its own carries every unit of ``order_lines``, the whole order; one still ready for collection,
    none). Reads ``s.lines.all()`` (prefetch ``shipments__lines__line``)."""
    if s.part:
        own = sorted(s.lines.all(), key=lambda item: item.line.position)
        lines = [{"line": i.line.position, "sku": i.line.sku, "quantity": i.quantity} for i in own]
    elif s.status != ShipmentStatus.READY and order_lines is not None:
        lines = [{"line": line.position, "sku": line.sku, "quantity": line.quantity} for line in order_lines]
    else:
        lines = []
    return {
        "number": s.part or number,
        "lines": lines,
        "status": s.status,
        "carrier": s.carrier,
        "method": s.method,
        "tracking_code": s.tracking_code,
        "tracking_url": s.tracking_url,
        "collection_code": s.collection_code,
        "shipped_at": s.shipped_at,
        "delivered_at": s.delivered_at,
        "problem": s.problem,
    }


def link_dict(link: OrderLink) -> dict[str, Any]:
    """The order's copy in one channel; ``divergence`` is filled while ``state`` is divergent."""
    return {
        "id": link.pk,
        "channel": link.channel.code,
        "external_id": link.external_id,
        "state": link.state,
        "remote_status": link.remote_status,
        "remote_canonical_status": link.remote_canonical_status,
        "remote_status_at": link.remote_status_at,
        "expected_status": link.expected_status,
        "last_synced_at": link.last_synced_at,
        "last_error": link.last_error,
        "divergence": link.divergence or None,
        "divergent_since": link.divergent_since,
    }


def transitions_for(order: Order, user: AbstractUser | AnonymousUser | None) -> list[dict[str, Any]]:
    """Every transition with ``allowed`` for this caller and, if not, the blocking reason."""
    result = []
    for t in TRANSITIONS.values():
        reason = None
        if user is not None and not user.has_perm(t.permission):
            reason = f"Your role does not allow this ({t.permission})."
        else:
            reason = t.blocking_reason(order)
        target = t.target or reopen_target(order)
        result.append(
            {
                "name": t.name,
                "label": str(t.label),
                "target": target,
                "allowed": reason is None,
                "reason": reason,
            }
        )
    return result


def order_detail(order: Order, user: AbstractUser | AnonymousUser | None) -> dict[str, Any]:
    payments = [payment_dict(p) for p in order.payments.all()]
    invoices = [invoice_dict(i) for i in order.invoices.all()]
    shipments = list(order.shipments.all())
    order_lines = list(order.lines.all())
    return {
        **order_summary(order),
        "created_at": order.created_at,
        "updated_at": order.updated_at,
        "status_path": list(order.status_path),
        "stock_state": order.stock_state,
        "cancel_reason": order.cancel_reason,
        "subtotal": order.subtotal,
        "shipping_price": order.shipping_price,
        "discount": order.discount,
        "tax": order.tax,
        "shipping_method": order.shipping_method,
        "marketplace": order.marketplace,
        "customer": {
            "name": order.customer_name,
            "email": order.customer_email,
            "phone": order.customer_phone,
            "document": order.customer_document,
            "document_formatted": format_document(order.customer_document),
        },
        "billing_address": order.billing_address,
        "shipping_address": order.shipping_address,
        "lines": [
            {
                "position": line.position,
                "sku": line.sku,
                "name": line.name,
                "quantity": line.quantity,
                "unit_price": line.unit_price,
                "discount": line.discount,
                "total": line.total,
            }
            for line in order.lines.all()
        ],
        "payment": payments[-1] if payments else None,
        "payments": payments,
        "invoice": invoices[-1] if invoices else None,
        "invoices": invoices,
        "invoice_xml_pending": awaiting_invoice_xml(order),
        "links": [link_dict(link) for link in order.links.all()],
        "shipments": [shipment_dict(s, n, order_lines) for n, s in enumerate(shipments, start=1)],
        "unshipped": parts.unshipped(order, [s for s in shipments if s.status != ShipmentStatus.READY]),
        "available_transitions": [t["name"] for t in transitions_for(order, user) if t["allowed"]],
    }


def event_dict(e: OrderEvent) -> dict[str, Any]:
    return {
        "id": e.pk,
        "type": e.type,
        "transition": e.transition,
        "from_status": e.from_status,
        "to_status": e.to_status,
        "actor_kind": e.actor_kind,
        "actor_label": e.actor_label,
        "data": e.data,
        "created_at": e.created_at,
    }
