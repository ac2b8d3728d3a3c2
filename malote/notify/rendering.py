"""Render a customer e-mail: the template context (an order's, or a return's), and the operator's
template made safe to run.

Templates run on a standalone Django ``Engine`` with no loaders and no ``{% load %}``able
libraries beyond the built-ins (plus ``brl``), without HTML auto-escaping (the e-mails are plain
text). Any error compiling or rendering an operator's template becomes ``TemplateBroken``, which
the sender turns into a dead letter: a broken template is fixed, not retried.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import parseaddr
from functools import cache
from typing import Any

from django.conf import settings
from django.template import Context, Engine, Template
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy

from malote.fiscal import format_nfe_key
from malote.notify.defaults import EmailText
from malote.notify.formatting import format_money, order_reference, store_number
from malote.notify.statuses import label_for
from malote.orders.models import Invoice, Order, Shipment
from malote.returns.models import Return, ReturnEvent

# Shown to operators next to the template fields (admin); keep in step with build_context().
CONTEXT_HELP = gettext_lazy(
    "Variáveis: order_reference (o número da loja com o do Malote: 10016 (M0000070)), store_number "
    "(o número do pedido na loja, com o marketplace quando houver), number (o do Malote), "
    "marketplace, customer_name, first_name, customer_email, status, status_label, placed_at, "
    "store_name, lines (sku, name, quantity, unit_price, discount, total), subtotal, shipping_price, "
    "discount, has_discount, tax, total (valores já formatados como R$ 1.234,56), shipping_method, "
    "payment (method_label, amount, due_date) e payment_method_label, invoice (number, series, key, "
    "key_formatted, issued_at), shipment (carrier, carrier_label, method, tracking_code, tracking_url, "
    "shipped_at, delivered_at), tracking_code, tracking_url, cancel_reason, cancel_reason_label, e o "
    'próprio pedido (order). Filtros: os do Django (ex.: date:"d/m/Y H:i", na hora local) e brl '
    "para outros valores."
)

# The variables a return's e-mail adds to the order's; keep in step with build_return_context().
RETURN_CONTEXT_HELP = gettext_lazy(
    "Nos e-mails de devolução, também: return_number (MLT0000042-D1), return_status_label, "
    "return_reason_label, return_requested_at, return_lines (sku, name, quantity, received_quantity), "
    "refusal_reason (a nota da recusa, que o cliente lê), refund_amount e refunded_amount (já "
    "formatados como R$ 1.234,56), refund_reference, refunded_at, e a própria devolução (ret)."
)

# Shown next to the body of every template in the admin: the order's variables, then the return's.
TEMPLATE_HELP = format_lazy("{} {}", CONTEXT_HELP, RETURN_CONTEXT_HELP)


class TemplateBroken(Exception):
    """An operator's template does not compile or render; ``str()`` says which and why."""


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    body: str


@cache
def _engine() -> Engine:
    return Engine(autoescape=False, builtins=["malote.notify.formatting"])


def compile_template(source: str, *, status: str, part: str) -> Template:
    try:
        return _engine().from_string(source)
    except Exception as exc:  # TemplateSyntaxError and anything a tag's parser raises
        raise TemplateBroken(_describe(exc, status=status, part=part)) from exc


def render(text: EmailText, context: dict[str, Any], *, status: str) -> RenderedEmail:
    """Subject (collapsed to one line: a header cannot hold a newline) and body of one e-mail."""
    parts: dict[str, str] = {}
    for part, source in (("subject", text.subject), ("body", text.body)):
        template = compile_template(source, status=status, part=part)
        try:
            parts[part] = template.render(Context(context, autoescape=False))
        except Exception as exc:  # a tag or filter failing at render time is the template's fault too
            raise TemplateBroken(_describe(exc, status=status, part=part)) from exc
    return RenderedEmail(subject=" ".join(parts["subject"].split()), body=parts["body"])


def _describe(exc: Exception, *, status: str, part: str) -> str:
    return (
        f"The e-mail template for {status!r} is broken ({part}): {type(exc).__name__}: {exc}. "
        "Fix it under Customer e-mails > E-mail templates, then replay this message."
    )


# --- context -----------------------------------------------------------------------------------


def store_name() -> str:
    """The display name of ``DEFAULT_FROM_EMAIL`` (``Loja Malote <…>`` → ``Loja Malote``)."""
    name, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    return name or address


def _carrier_label(carrier: str) -> str:
    # Carriers are stored as typed by connectors ("correios"); a bare lower-case name is shown
    # capitalized, anything else (JadLog, "Loggi Express") as given.
    return carrier.capitalize() if carrier.islower() else carrier


def _invoice(order: Order) -> dict[str, Any] | None:
    invoice = Invoice.objects.filter(order=order).order_by("-id").first()
    if invoice is None:
        return None
    return {
        "number": invoice.number,
        "series": invoice.series,
        "key": invoice.key,
        "key_formatted": format_nfe_key(invoice.key),
        "issued_at": invoice.issued_at,
    }


def _shipment(order: Order) -> dict[str, Any] | None:
    # The latest shipment that left; else the latest one (e.g. only a collection order so far).
    shipments = Shipment.objects.filter(order=order).order_by("-id")
    shipment = shipments.exclude(shipped_at=None).first() or shipments.first()
    if shipment is None:
        return None
    return {
        "carrier": shipment.carrier,
        "carrier_label": _carrier_label(shipment.carrier),
        "method": shipment.method,
        "tracking_code": shipment.tracking_code,
        "tracking_url": shipment.tracking_url,
        "shipped_at": shipment.shipped_at,
        "delivered_at": shipment.delivered_at,
    }


def build_context(order: Order, status: str) -> dict[str, Any]:
    """Everything a status e-mail may show, read now (the order as it is at send time)."""

    def money(value: Any) -> str:
        return format_money(value, order.currency)

    payment = order.payments.order_by("-id").first()
    shipment = _shipment(order)
    lines = [
        {
            "sku": line.sku,
            "name": line.name,
            "quantity": line.quantity,
            "unit_price": money(line.unit_price),
            "discount": money(line.discount),
            "total": money(line.total),
        }
        for line in order.lines.all()
    ]
    return {
        "order": order,
        "number": order.number,
        "store_number": store_number(order),
        "order_reference": order_reference(order),
        "marketplace": order.marketplace,
        "customer_name": order.customer_name,
        "first_name": order.customer_name.split()[0] if order.customer_name.split() else "",
        "customer_email": order.customer_email,
        "status": status,
        "status_label": label_for(status),
        "placed_at": order.placed_at,
        "store_name": store_name(),
        "lines": lines,
        "subtotal": money(order.subtotal),
        "shipping_price": money(order.shipping_price),
        "discount": money(order.discount),
        "has_discount": order.discount > 0,
        "tax": money(order.tax),
        "total": money(order.total),
        "shipping_method": order.shipping_method,
        "payment_method_label": order.get_payment_method_display(),
        "payment": None
        if payment is None
        else {
            "method_label": payment.get_method_display(),
            "amount": money(payment.amount),
            "due_date": payment.due_date,
        },
        "invoice": _invoice(order),
        "shipment": shipment,
        "carrier": shipment["carrier_label"] if shipment else "",
        "tracking_code": shipment["tracking_code"] if shipment else "",
        "tracking_url": shipment["tracking_url"] if shipment else "",
        "cancel_reason": order.cancel_reason,
        "cancel_reason_label": order.get_cancel_reason_display() if order.cancel_reason else "",
    }


def _refusal_reason(ret: Return) -> str:
    """The note given when the return was refused (the refuse transition's required input)."""
    event = ReturnEvent.objects.filter(ret=ret, transition="refuse").order_by("-id").values("data").first()
    if event is None:
        return ""
    given = event["data"].get("input") or {}
    return str(given.get("note") or "").strip()


def build_return_context(ret: Return, status: str) -> dict[str, Any]:
    """Everything a return's e-mail may show: the order's context, plus the return as it is now."""
    order = ret.order

    def money(value: Any) -> str:
        return format_money(value, order.currency) if value is not None else ""

    context = build_context(order, status)
    context.update(
        {
            "ret": ret,
            "return_number": ret.number,
            "return_status_label": ret.status_label,
            "return_reason_label": ret.get_reason_display(),
            "return_requested_at": ret.created_at,
            "return_lines": [
                {
                    "sku": line.order_line.sku,
                    "name": line.order_line.name,
                    "quantity": line.quantity,
                    "received_quantity": line.received_quantity,
                }
                for line in ret.lines.select_related("order_line")
            ],
            "refusal_reason": _refusal_reason(ret),
            "refund_amount": money(ret.refund_amount),
            "refunded_amount": money(ret.refunded_amount),
            "refund_reference": ret.refund_reference,
            "refunded_at": ret.refunded_at,
        }
    )
    return context
