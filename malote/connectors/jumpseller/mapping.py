"""Jumpseller values: status words, the canonical order and the facts read from a store order."""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from django.utils import timezone

from malote import fiscal
from malote.connectors.values import ZERO, balance_totals, money, parse_iso, text_of
from malote.fiscal.tracking import carrier_key

PULL_LIMIT = 50  # the API's default page size (max 100)
LIST_LIMIT = 100  # the API's maximum page size
DEFAULT_INVOICE_URL = "https://malote.invalid/nfe/{key}"
# Clock skew between the store and Malote, and the store's whole-second times, fit in this.
HISTORY_MARGIN = timedelta(minutes=15)

STATUS_LABELS = {  # status_enum → the label PUT takes
    "abandoned": "Abandoned",
    "canceled": "Canceled",
    "pending_payment": "Pending Payment",
    "paid": "Paid",
}
STATUS_ENUMS = {label: enum for enum, label in STATUS_LABELS.items()}
# Shipment words that, on a paid order, say more than "paid".
SHIPMENT_PROGRESS = frozenset({"in_transit", "delivered", "failed"})
# Carrier key → how the store spells it in tracking_company (others are sent as Malote has them).
CARRIER_NAMES = {
    "correios": "Correios",
    "jadlog": "Jadlog",
    "totalexpress": "Total Express",
    "loggi": "Loggi",
}
CARD_WORDS = ("credit", "credito", "cartao", "card", "tarjeta")


# --- reading the store's JSON ------------------------------------------------------------------


def _fold(text: Any) -> str:
    """Lower case without accents, for matching words in free text."""
    decomposed = unicodedata.normalize("NFKD", str(text or ""))
    return "".join(char for char in decomposed.casefold() if not unicodedata.combining(char))


def parse_time(value: Any) -> datetime | None:
    """``2023-02-10 13:56:35 UTC`` (the hook example's form) or ISO 8601; naive means UTC."""
    text = text_of(value)
    if not text:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%d %H:%M:%S UTC").replace(tzinfo=UTC)
    except ValueError:
        pass
    return parse_iso(text, naive=UTC)


def remote_status(order: Mapping[str, Any]) -> str:
    """The order's status in one word: the shipment's when a paid order is on its way or done,
    else the payment status (``status_enum``, or the label when the enum is missing)."""
    status = text_of(order.get("status_enum")) or STATUS_ENUMS.get(text_of(order.get("status")), "")
    shipment = text_of(order.get("shipment_status_enum"))
    if status == "paid" and shipment in SHIPMENT_PROGRESS:
        return shipment
    return status


def payment_method(order: Mapping[str, Any]) -> str:
    """``pix``, ``boleto``, ``credit_card`` or ``other`` from the payment method's type and name."""
    words = f"{_fold(order.get('payment_method_type'))} {_fold(order.get('payment_method_name'))}"
    if "pix" in words:
        return "pix"
    if "boleto" in words:
        return "boleto"
    if any(word in words for word in CARD_WORDS):
        return "credit_card"
    return "other"


def _gateway(order: Mapping[str, Any]) -> str:
    kind = text_of(order.get("payment_method_type"))
    folded = _fold(kind).replace("_", " ")
    if not kind or any(word in folded for word in ("pix", "boleto", "manual", *CARD_WORDS)):
        return ""
    return kind[:40]


def _phone(customer: Mapping[str, Any]) -> str:
    phone = "".join(text_of(customer.get("phone")).split())
    prefix = text_of(customer.get("phone_prefix"))
    if phone and prefix and not phone.startswith("+"):
        phone = prefix + phone
    return phone[:30]


def _street_number(value: Any) -> str:
    # The OpenAPI types it as a number: 100.0 is "100"; null (S/N) stays empty.
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return text_of(value)


def address(data: Any) -> dict[str, str] | None:
    """A Jumpseller address as Malote's; ``None`` when it has no street (e.g. store pickup)."""
    if not isinstance(data, Mapping) or not text_of(data.get("address")):
        return None
    return {
        "street": text_of(data.get("address")),
        "number": _street_number(data.get("street_number")),
        "complement": text_of(data.get("complement")),
        "district": text_of(data.get("neighbourhood")),
        "city": text_of(data.get("city")) or text_of(data.get("municipality")),
        "state": text_of(data.get("region_code")),
        "postal_code": text_of(data.get("postal")),
        "country": text_of(data.get("country_code")) or "BR",
    }


def _full_name(*candidates: Any) -> str:
    for candidate in candidates:
        if isinstance(candidate, Mapping):
            name = f"{text_of(candidate.get('name'))} {text_of(candidate.get('surname'))}".strip()
        else:
            name = text_of(candidate)
        if name:
            return name
    return ""


def canonical_order(order: Mapping[str, Any], channel_code: str) -> dict[str, Any]:
    """The canonical order JSON of a Jumpseller order; validation is Malote's
    (``OrderIn``): this maps, it does not judge."""
    items: list[dict[str, Any]] = []
    lines_net = ZERO
    for product in order.get("products") or []:
        qty = int(product.get("qty") or 0)
        price = money(product.get("price"))
        gross = price * qty
        line_discount = min(money(product.get("discount")) * qty, gross)
        lines_net += gross - line_discount
        # A product without SKU still needs one in Malote: the store's ids keep it traceable.
        sku = text_of(product.get("sku")) or f"jumpseller-{product.get('variant_id') or product.get('id')}"
        items.append(
            {
                "sku": sku,
                "name": text_of(product.get("name")) or sku,
                "quantity": qty,
                "unit_price": str(price),
                "discount": str(line_discount),
            }
        )
    shipping = money(order.get("shipping"))
    total = money(order.get("total"))
    tax = money(order.get("tax")) + money(order.get("shipping_tax"))
    discount = (
        money(order.get("discount"))
        + money(order.get("shipping_discount"))
        + money(order.get("gift_cards_discount"))
    )
    tax, discount = balance_totals(lines_net, shipping, tax, discount, total)

    customer = order.get("customer") or {}
    billing_raw = order.get("billing_address") or {}
    shipping_address = address(order.get("shipping_address"))
    billing = address(billing_raw) or shipping_address
    placed_at = parse_time(order.get("created_at"))
    return {
        "channel": channel_code,
        "external_id": str(order["id"]),
        "placed_at": placed_at.isoformat() if placed_at else "",
        "currency": text_of(order.get("currency")) or "BRL",
        "status": "paid" if text_of(order.get("status_enum")) == "paid" else "pending_payment",
        "customer": {
            "name": _full_name(customer.get("fullname"), billing_raw, order.get("shipping_address")),
            "email": text_of(customer.get("email")),
            "phone": _phone(customer),
            "document": text_of(billing_raw.get("taxid")),
        },
        "billing_address": billing,
        "shipping_address": shipping_address,
        "items": items,
        "shipping": {"method": text_of(order.get("shipping_method_name"))[:100], "price": str(shipping)},
        "discount": str(discount),
        "tax": str(tax),
        "total": str(total),
        "payment": {
            "method": payment_method(order),
            "gateway": _gateway(order),
            "transaction_id": text_of(order.get("payment_notification_id"))[:100],
            "installments": 1,
        },
    }


def _carrier(order: Mapping[str, Any]) -> str:
    company = text_of(order.get("tracking_company"))
    if company:
        return carrier_key(company)
    words = text_of(order.get("shipping_method_name")).split()
    return carrier_key(words[0]) if words else ""


def facts_of(order: Mapping[str, Any], remote: str) -> dict[str, Any]:
    """What the lifecycle's transitions need, from the order as the store has it now."""
    facts: dict[str, Any] = {}
    if text_of(order.get("status_enum")) == "paid":
        paid_at = parse_time(order.get("completed_at"))
        facts["payment"] = {
            "method": payment_method(order),
            "gateway": _gateway(order),
            "transaction_id": text_of(order.get("payment_notification_id"))[:100],
            "amount": str(money(order.get("total"))),
            "paid_at": paid_at.isoformat() if paid_at else None,
        }
    code = text_of(order.get("tracking_number"))
    carrier = _carrier(order)
    if code and carrier:
        url = text_of(order.get("tracking_url"))
        method = text_of(order.get("shipping_method_name")) or text_of(order.get("tracking_company"))
        # ShipIn takes only http(s) links; the carrier's own page is the fallback.
        if not url.startswith(("http://", "https://")):
            url = fiscal.tracking_url(carrier, code) or ""
        facts["shipment"] = {
            "carrier": carrier,
            "method": method[:100],
            "tracking_code": code,
            "tracking_url": url or None,
        }
    if remote == "delivered":
        facts["delivered_at"] = timezone.now().isoformat()
    return facts


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def placed_before(order: Mapping[str, Any], history_ends: datetime | None) -> bool:
    """Whether the order was placed before ``history_ends`` (never, when that is ``None``)."""
    placed = parse_time(order.get("created_at"))
    return history_ends is not None and placed is not None and placed < history_ends
