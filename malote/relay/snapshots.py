"""An order as connectors see it: a plain, JSON-ready dict built at delivery time.

Messages carry only what changed (``op``, ``status``); the handler builds the snapshot when it
delivers, so a retried message always sends the order's facts as they are now.
"""

from __future__ import annotations

from typing import Any

from malote import fiscal
from malote.orders.models import Order


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _money(value: Any) -> str:
    return f"{value:.2f}"


def order_snapshot(order: Order) -> dict[str, Any]:
    payment = order.payments.order_by("-id").first()
    invoice = order.invoices.order_by("-id").first()
    shipment = order.shipments.order_by("-id").first()
    document = order.customer_document
    return {
        "id": order.pk,
        "number": order.number,
        "channel": order.channel.code,
        "external_id": order.external_id,
        "placed_at": _iso(order.placed_at),
        "status": order.status,
        "status_path": list(order.status_path),
        "currency": order.currency,
        "subtotal": _money(order.subtotal),
        "shipping_price": _money(order.shipping_price),
        "discount": _money(order.discount),
        "tax": _money(order.tax),
        "total": _money(order.total),
        "customer": {
            "name": order.customer_name,
            "email": order.customer_email,
            "phone": order.customer_phone,
            "document": document,
            "document_kind": "cnpj" if len(document) == 14 else "cpf",
        },
        "billing_address": dict(order.billing_address),
        "shipping_address": dict(order.shipping_address),
        "shipping_method": order.shipping_method,
        "marketplace": order.marketplace,
        "cancel_reason": order.cancel_reason,
        "items": [
            {
                "sku": line.sku,
                "name": line.name,
                "quantity": line.quantity,
                "unit_price": _money(line.unit_price),
                "discount": _money(line.discount),
            }
            for line in order.lines.all()
        ],
        "payment": None
        if payment is None
        else {
            "method": payment.method,
            "gateway": payment.gateway,
            "transaction_id": payment.transaction_id,
            "installments": payment.installments,
            "amount": _money(payment.amount),
            "status": payment.status,
            "due_date": _iso(payment.due_date),
            "paid_at": _iso(payment.paid_at),
        },
        "invoice": None
        if invoice is None
        else {
            "key": invoice.key,
            "key_formatted": fiscal.format_nfe_key(invoice.key),
            "number": invoice.number,
            "series": invoice.series,
            "issued_at": _iso(invoice.issued_at),
            "xml": invoice.xml,
        },
        "shipment": None
        if shipment is None
        else {
            "carrier": shipment.carrier,
            "method": shipment.method,
            "tracking_code": shipment.tracking_code,
            "tracking_url": shipment.tracking_url,
            "collection_code": shipment.collection_code,
            "shipped_at": _iso(shipment.shipped_at),
            "delivered_at": _iso(shipment.delivered_at),
        },
    }
