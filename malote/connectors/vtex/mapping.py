"""VTEX values: money in cents, order states, the canonical order and the facts of an order."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone

from malote import fiscal
from malote.connectors.values import CENT, ZERO, balance_totals, iso_or_none, parse_iso, text_of
from malote.fiscal.tracking import carrier_key

DEFAULT_ENVIRONMENT = "vtexcommercestable"
SAO_PAULO = ZoneInfo("America/Sao_Paulo")
PING = {"hookConfig": "ping"}

# Statuses in which start-handling was already done (a repeated push changes nothing).
HANDLING_OR_LATER = frozenset({"start-handling", "handling", "ready-for-invoicing", "invoice", "invoiced"})
# Statuses after the payment was approved (the order is imported as paid).
PAID_STATES = frozenset({"payment-approved", "window-to-cancel", "ready-for-handling", *HANDLING_OR_LATER})
PAYMENT_GROUPS = {"instantPayment": "pix", "bankInvoice": "boleto", "creditCard": "credit_card"}
COUNTRIES = {"BRA": "BR"}
# Carrier key → how VTEX's courier field spells it (others are sent as Malote has them).
COURIER_NAMES = {
    "correios": "Correios",
    "jadlog": "Jadlog",
    "totalexpress": "Total Express",
    "loggi": "Loggi",
}


# --- money and times -----------------------------------------------------------------------------


def from_cents(value: Any) -> Decimal:
    """VTEX's integer cents as reais (``11480`` → ``Decimal("114.80")``); null is zero."""
    if value is None or value == "":
        return ZERO
    try:
        return (Decimal(str(value)) / 100).quantize(CENT, rounding=ROUND_HALF_UP)
    except InvalidOperation:
        raise ValueError(f"not an amount in cents: {value!r}") from None


def to_cents(value: Any) -> int:
    """A decimal amount (``"114.80"``) as VTEX's integer cents (``11480``)."""
    return int((Decimal(str(value)) * 100).quantize(Decimal("1"), rounding=ROUND_HALF_UP))


def parse_time(value: Any, *, naive: tzinfo = UTC) -> datetime | None:
    """VTEX's ISO 8601 times (7 fraction digits, ``Z`` or an offset); a naive one is in ``naive``."""
    return parse_iso(value, naive=naive)


def iso_time(value: Any) -> str:
    return iso_or_none(value, naive=UTC) or ""


def event_key(order_id: str, state: str, when: Any) -> str:
    """The inbox key of one workflow change, alike for a feed item and a hook."""
    moment = parse_time(when)
    stamp = moment.astimezone(UTC).isoformat() if moment else text_of(when)
    return f"{order_id}:{state}:{stamp}"


# --- reading the order JSON --------------------------------------------------------------------


def totals_of(order: Mapping[str, Any]) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = {}
    for total in order.get("totals") or []:
        if isinstance(total, Mapping):
            totals[text_of(total.get("id"))] = from_cents(total.get("value"))
    return totals


def address(data: Any) -> dict[str, str] | None:
    if not isinstance(data, Mapping) or not text_of(data.get("street")):
        return None
    country = text_of(data.get("country")) or "BRA"
    return {
        "street": text_of(data.get("street")),
        "number": text_of(data.get("number")),
        "complement": text_of(data.get("complement")),
        "district": text_of(data.get("neighborhood")),
        "city": text_of(data.get("city")),
        "state": text_of(data.get("state")),
        "postal_code": text_of(data.get("postalCode")),
        "country": COUNTRIES.get(country, country[:2]),
    }


def payment_of(order: Mapping[str, Any]) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    """The first active transaction and its first payment (empty mappings when none)."""
    transactions = [
        t for t in (order.get("paymentData") or {}).get("transactions") or [] if isinstance(t, Mapping)
    ]
    transaction = next(
        (t for t in transactions if t.get("isActive", True)), transactions[0] if transactions else {}
    )
    payments = [p for p in transaction.get("payments") or [] if isinstance(p, Mapping)]
    return transaction, payments[0] if payments else {}


def payment_method(payment: Mapping[str, Any]) -> str:
    """``pix``, ``boleto``, ``credit_card`` or ``other`` from the payment's ``group`` (or name)."""
    method = PAYMENT_GROUPS.get(text_of(payment.get("group")))
    if method:
        return method
    name = text_of(payment.get("paymentSystemName")).casefold()
    if "pix" in name:
        return "pix"
    if "boleto" in name:
        return "boleto"
    return "other"


def shipping_method(order: Mapping[str, Any]) -> str:
    for info in (order.get("shippingData") or {}).get("logisticsInfo") or []:
        if isinstance(info, Mapping) and text_of(info.get("selectedSla")):
            return text_of(info.get("selectedSla"))[:100]
    return ""


def delivery_company(order: Mapping[str, Any]) -> str:
    for info in (order.get("shippingData") or {}).get("logisticsInfo") or []:
        if isinstance(info, Mapping) and text_of(info.get("deliveryCompany")):
            return text_of(info.get("deliveryCompany"))
    return ""


def is_paid(order: Mapping[str, Any], remote: str = "") -> bool:
    return bool(order.get("authorizedDate")) or (remote or text_of(order.get("status"))) in PAID_STATES


def canonical_order(
    order: Mapping[str, Any], channel_code: str, affiliates: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The canonical order JSON of a VTEX order; ``OrderIn`` judges it."""
    items: list[dict[str, Any]] = []
    lines_net = ZERO
    line_discounts = ZERO
    for item in order.get("items") or []:
        qty = int(item.get("quantity") or 0)
        price = from_cents(item.get("price"))
        selling = from_cents(item.get("sellingPrice")) if item.get("sellingPrice") is not None else price
        gross = price * qty
        discount = min(max(price - selling, ZERO) * qty, gross)
        line_discounts += discount
        lines_net += gross - discount
        sku = (
            text_of(item.get("refId")) or text_of(item.get("sellerSku")) or f"vtex-{text_of(item.get('id'))}"
        )
        items.append(
            {
                "sku": sku[:60],
                "name": (text_of(item.get("name")) or sku)[:200],
                "quantity": qty,
                "unit_price": str(price),
                "discount": str(discount),
            }
        )
    totals = totals_of(order)
    shipping = totals.get("Shipping", ZERO)
    tax = totals.get("Tax", ZERO)
    discount = max(-totals.get("Discounts", ZERO) - line_discounts, ZERO)
    total = from_cents(order.get("value"))
    tax, discount = balance_totals(lines_net, shipping, tax, discount, total)

    client = order.get("clientProfileData") or {}
    corporate = bool(client.get("isCorporate"))
    person = f"{text_of(client.get('firstName'))} {text_of(client.get('lastName'))}".strip()
    shipping_data = order.get("shippingData") or {}
    shipping_address = address(shipping_data.get("address"))
    billing = address((order.get("invoiceData") or {}).get("address")) or shipping_address
    transaction, payment = payment_of(order)
    affiliate = text_of(order.get("affiliateId"))
    placed_at = parse_time(order.get("creationDate"))
    return {
        "channel": channel_code,
        "external_id": text_of(order.get("orderId")),
        "placed_at": placed_at.isoformat() if placed_at else "",
        "currency": text_of((order.get("storePreferencesData") or {}).get("currencyCode")) or "BRL",
        "status": "paid" if is_paid(order) else "pending_payment",
        "customer": {
            "name": (text_of(client.get("corporateName")) if corporate else "") or person,
            "email": text_of(client.get("email")),
            "phone": text_of(client.get("phone"))[:30],
            "document": (text_of(client.get("corporateDocument")) if corporate else "")
            or text_of(client.get("document")),
        },
        "billing_address": billing,
        "shipping_address": shipping_address,
        "items": items,
        "shipping": {"method": shipping_method(order), "price": str(shipping)},
        "discount": str(discount),
        "tax": str(tax),
        "total": str(total),
        "payment": {
            "method": payment_method(payment),
            "gateway": "",
            "transaction_id": text_of(transaction.get("transactionId"))[:100],
            "installments": min(max(int(payment.get("installments") or 1), 1), 48),
        },
        "marketplace": (dict(affiliates or {}).get(affiliate, affiliate) if affiliate else "")[:100],
    }


def unit_cents(item: Mapping[str, Any]) -> int:
    """An item's unit price as sold (``sellingPrice``, else ``price``), in cents."""
    value = item.get("sellingPrice")
    if value is None:
        value = item.get("price")
    return int(value or 0)


def carrier_of(courier: str) -> str:
    key = carrier_key(courier)
    if "correios" in key or key in ("sedex", "pac"):
        return "correios"
    return key


def invoice_fact(package: Mapping[str, Any]) -> dict[str, Any] | None:
    try:
        key = fiscal.parse_nfe_key(text_of(package.get("invoiceKey")))
    except fiscal.FiscalError:
        return None  # no NF-e key (a CF-e, a foreign invoice…): nothing Malote can record
    number = text_of(package.get("invoiceNumber"))
    if not (number.isdigit() and 0 < int(number) < 10**9):
        number = str(key.number)
    issued = parse_time(package.get("issuanceDate"))
    return {
        "key": key.key,
        "number": str(int(number)),
        "series": str(key.series),
        "issued_at": issued.isoformat() if issued else timezone.now().isoformat(),
        "xml": text_of(package.get("embeddedInvoice")) or None,
    }


def facts_of(order: Mapping[str, Any], remote: str) -> dict[str, Any]:
    """What the lifecycle's transitions need, from the order as VTEX has it now."""
    facts: dict[str, Any] = {}
    transaction, payment = payment_of(order)
    if is_paid(order, remote):
        facts["payment"] = {
            "method": payment_method(payment),
            "transaction_id": text_of(transaction.get("transactionId"))[:100],
            "amount": str(from_cents(order.get("value"))),
            "paid_at": iso_time(order.get("authorizedDate")) or None,
        }
    outputs = [
        p
        for p in (order.get("packageAttachment") or {}).get("packages") or []
        if isinstance(p, Mapping) and text_of(p.get("type") or "Output") == "Output"
    ]
    for package in reversed(outputs):
        invoice = invoice_fact(package)
        if invoice is not None:
            facts["invoice"] = invoice
            break
    for package in reversed(outputs):
        code = text_of(package.get("trackingNumber"))
        courier = text_of(package.get("courier")) or delivery_company(order)
        if not (code and courier):
            continue
        carrier = carrier_of(courier)
        url = text_of(package.get("trackingUrl"))
        if not url.startswith(("http://", "https://")):
            url = fiscal.tracking_url(carrier, code) or ""
        shipment: dict[str, Any] = {
            "carrier": carrier,
            "method": (courier or shipping_method(order))[:100],
            "tracking_code": code,
            "tracking_url": url or None,
        }
        dispatched = parse_time(package.get("dispatchedDate"))
        status = package.get("courierStatus") or {}
        if isinstance(status, Mapping) and status.get("finished"):
            # Naive when written as push_delivery does (``yyyy-mm-dd hh:mm``, São Paulo time).
            delivered = parse_time(status.get("deliveredDate"), naive=SAO_PAULO) or timezone.now()
            facts["delivered_at"] = delivered.isoformat()
            # Left at Malote's "now", the shipment would leave after VTEX's delivery time.
            dispatched = min(dispatched, delivered) if dispatched else delivered
        if dispatched is not None:
            shipment["shipped_at"] = dispatched.isoformat()
        facts["shipment"] = shipment
        break
    if remote == "canceled":
        facts["cancel_reason"] = "channel"
        facts["note"] = text_of(order.get("cancelReason"))[:2000]
    return facts


# --- the connector -----------------------------------------------------------------------------
