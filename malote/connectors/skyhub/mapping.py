"""SkyHub values: status codes and types, payment words, addresses and times."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from malote.connectors.values import iso_or_none, parse_iso, text_of

BRASILIA = ZoneInfo("America/Sao_Paulo")
DEFAULT_PER_PAGE = 30  # the PHP SDK's default
MAX_TRACK_URL = 200
# Stock resources (path segment → body root) tried by push_stock, in this order.
STOCK_RESOURCES: dict[str, str] = {"variations": "variation", "products": "product"}
# Status types past "invoiced": an invoice sent to such an order keeps the order's status code.
AFTER_INVOICED_TYPES = frozenset({"SHIPPED", "DELIVERED", "SHIPMENT_EXCEPTION"})

DEFAULT_STATUS_OUT: dict[str, str] = {
    "invoiced": "order_invoiced",
    "shipped": "order_shipped",
    "delivered": "complete",
    "delivery_failed": "shipment_exception",
    "canceled": "order_canceled",
}
# Status types (upper case) and the standard codes (lower case) never collide, so one map holds both.
TYPE_STATUS_IN: dict[str, str] = {
    "NEW": "pending_payment",
    "OVERDUE": "payment_overdue",
    "APPROVED": "paid",
    "INVOICED": "invoiced",
    "SHIPPED": "shipped",
    "DELIVERED": "delivered",
    "SHIPMENT_EXCEPTION": "delivery_failed",
    "CANCELED": "canceled",
}
DEFAULT_STATUS_IN: dict[str, str] = {
    "book_product": "pending_payment",
    "waiting_payment": "pending_payment",
    "payment_overdue": "payment_overdue",
    "payment_received": "paid",
    "order_invoiced": "invoiced",
    "order_shipped": "shipped",
    "complete": "delivered",
    "shipment_exception": "delivery_failed",
    "order_canceled": "canceled",
    **TYPE_STATUS_IN,
}
# Types past payment: an order first seen in one of them is imported as paid.
PAID_TYPES = frozenset({"APPROVED", "INVOICED", "SHIPPED", "DELIVERED", "SHIPMENT_EXCEPTION"})
PAYMENT_METHODS = {"CREDIT_CARD": "credit_card", "BOLETO": "boleto", "PIX": "pix"}
CARRIER_NAMES = {
    "correios": "Correios",
    "jadlog": "Jadlog",
    "totalexpress": "Total Express",
    "loggi": "Loggi",
}
XML_INVOICE_METHODS = ("B2W Entregas Direct",)
MARKETPLACE_DELIVERY_METHODS = ("B2W Entregas", "B2W Entregas Direct", "Magalu Entregas", "Mercado Envios 2")
DEFAULT_OBSERVATION = "Problema na entrega do pedido {number} informado pelo vendedor."


# --- reading SkyHub's JSON ---------------------------------------------------------------------


def fold(text: Any) -> str:
    decomposed = unicodedata.normalize("NFKD", text_of(text))
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).casefold().split())


def parse_time(value: Any) -> datetime | None:
    """ISO 8601 (``2019-10-16T17:45:38-03:00``); naive values are Brasília time."""
    return parse_iso(value, naive=BRASILIA)


def iso_time(value: Any) -> str | None:
    return iso_or_none(value, naive=BRASILIA)


def status_type(order: Mapping[str, Any]) -> str:
    """The order status's type, upper case, ``CANCELLED`` (the PHP SDK's spelling) read as ``CANCELED``."""
    status = order.get("status")
    kind = text_of(status.get("type") if isinstance(status, Mapping) else "").upper()
    return "CANCELED" if kind == "CANCELLED" else kind


def status_code(order: Mapping[str, Any]) -> str:
    status = order.get("status")
    if isinstance(status, Mapping):
        return text_of(status.get("code"))
    return text_of(status)  # a bare code, in case an answer ever carries one


def payments_of(order: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    payments = order.get("payments")
    if isinstance(payments, Mapping):  # the S3 example shows one object
        return [payments]
    return [item for item in payments or [] if isinstance(item, Mapping)]


def address(data: Any) -> dict[str, str] | None:
    if not isinstance(data, Mapping) or not text_of(data.get("street")):
        return None
    return {
        "street": text_of(data.get("street")),
        "number": text_of(data.get("number"))[:20],
        "complement": (text_of(data.get("complement")) or text_of(data.get("detail")))[:100],
        "district": text_of(data.get("neighborhood"))[:100],
        "city": text_of(data.get("city")),
        "state": text_of(data.get("region")),
        "postal_code": text_of(data.get("postcode")),
        "country": text_of(data.get("country")) or "BR",
    }


# --- the connector -----------------------------------------------------------------------------


def brasilia_date(value: str) -> str:
    """An ISO time from a snapshot as SkyHub writes it: ``2019-01-27T12:30:00-03:00``."""
    moment = parse_time(value)
    if moment is None:
        return value
    return moment.astimezone(BRASILIA).replace(microsecond=0).isoformat()
