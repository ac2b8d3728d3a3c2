"""Mercado Livre values: order and shipment states, the canonical order, facts and stock bodies."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from malote import fiscal
from malote.connectors.values import ZERO, iso_or_none, money, parse_iso, text_of
from malote.fiscal.tracking import carrier_key

MARKETPLACE = "Mercado Livre"
GATEWAY = "mercadopago"
SITE_ID = "MLB"
HISTORY_MARGIN = timedelta(minutes=15)
ORDER_TOPICS = frozenset({"orders_v2", "orders"})
SHIPMENT_TOPIC = "shipments"
# Assumed: names of ML's shipping services as Malote shows them ("<mode>:<logistic type>", then "<mode>").
SHIPPING_METHOD_NAMES: dict[str, str] = {
    "me2:cross_docking": "Mercado Envios Coleta",
    "me2:self_service": "Mercado Envios Flex",
    "me2:fulfillment": "Mercado Envios Full",
    "me2": "Mercado Envios 2",
    "me1": "Mercado Envios 1",
    "custom": "Envio próprio",
}
# Shipment progress words of a paid order (remote_status) by ML shipment status.
SHIPMENT_WORDS = {
    "ready_to_ship": "ready_to_ship",
    "shipped": "shipped",
    "delivered": "delivered",
    "not_delivered": "not_delivered",
    "cancelled": "shipment_cancelled",
}
DEFAULT_STATUS_IN: dict[str, str] = {
    # order statuses ("invalid" is assumed)
    "confirmed": "pending_payment",
    "payment_required": "pending_payment",
    "payment_in_process": "payment_review",
    "partially_paid": "payment_review",
    "paid": "paid",
    "partially_refunded": "",  # still a sale; the refund is the operator's to look at
    "pending_cancel": "",  # wait for "cancelled"
    "cancelled": "canceled",
    "invalid": "canceled",
    # a paid order's shipment progress
    "invoice_pending": "paid",
    "ready_to_ship": "ready_to_ship",
    "shipped": "shipped",
    "delivered": "delivered",
    "not_delivered": "delivery_failed",
    "shipment_cancelled": "",  # the order's own status says whether the sale is cancelled
}
# Canonical → the word ML shows for it (for comparisons; ML takes no status writes).
DEFAULT_STATUS_OUT: dict[str, str] = {
    "pending_payment": "payment_required",
    "payment_review": "payment_in_process",
    "paid": "paid",
    "ready_to_ship": "ready_to_ship",
    "shipped": "shipped",
    "delivered": "delivered",
    "delivery_failed": "not_delivered",
    "canceled": "cancelled",
}
PAYMENT_METHODS = {"pix": "pix", "bank_transfer": "pix", "ticket": "boleto", "credit_card": "credit_card"}
# Shipment states where the NF-e cannot be taken yet but will be (the shipment is being prepared).
SHIPMENT_NOT_YET = frozenset({"pending", "handling"})
RETRYABLE_INVOICE_ERRORS = frozenset({"shipment_already_being_processed"})
ME1_DEFAULT_SERVICE_ID = 11


def parse_time(value: Any) -> datetime | None:
    """ML's ISO 8601 times (``2024-05-02T10:31:00.000-04:00``); naive values are UTC."""
    return parse_iso(value, naive=UTC)


def iso_time(value: Any) -> str | None:
    return iso_or_none(value, naive=UTC)


def last_updated(order: Mapping[str, Any]) -> str:
    return text_of(order.get("last_updated")) or text_of(order.get("date_last_updated"))


def latest(*stamps: str) -> str:
    """The latest of ML's own times (ISO 8601), for ``occurred_at``; now when there is none."""
    moments = [moment for moment in map(parse_time, stamps) if moment is not None]
    return max(moments).isoformat() if moments else timezone.now().isoformat()


def remote_status(order: Mapping[str, Any], shipment: Mapping[str, Any] | None) -> str:
    """The order's status, or for a paid order its shipment's progress."""
    status = text_of(order.get("status"))
    if status != "paid" or not shipment:
        return status
    shipment_status = text_of(shipment.get("status"))
    if shipment_status == "ready_to_ship" and text_of(shipment.get("substatus")) == "invoice_pending":
        return "invoice_pending"
    return SHIPMENT_WORDS.get(shipment_status, status)


def shipping_method(shipment: Mapping[str, Any] | None, overrides: Mapping[str, str] | None = None) -> str:
    if not shipment:
        return ""
    logistic = shipment.get("logistic") or {}
    mode, kind = text_of(logistic.get("mode")), text_of(logistic.get("type"))
    names = {**SHIPPING_METHOD_NAMES, **(overrides or {})}
    return names.get(f"{mode}:{kind}") or names.get(mode) or MARKETPLACE


def _approved_payment(order: Mapping[str, Any]) -> Mapping[str, Any]:
    payments = [p for p in order.get("payments") or [] if isinstance(p, Mapping)]
    return next((p for p in payments if p.get("status") == "approved"), payments[0] if payments else {})


def payment_method(payment: Mapping[str, Any]) -> str:
    if text_of(payment.get("payment_method_id")) == "pix":
        return "pix"
    return PAYMENT_METHODS.get(text_of(payment.get("payment_type")), "other")


def address(shipment: Mapping[str, Any] | None) -> dict[str, str] | None:
    """The shipment's destination as Malote's address; ``None`` when ML shows none (unpaid)."""
    destination = (shipment or {}).get("destination") or {}
    data = destination.get("shipping_address") or {}
    street = text_of(data.get("street_name")) or text_of(data.get("address_line"))
    city = text_of((data.get("city") or {}).get("name"))
    if not street or not city:
        return None
    state = data.get("state") or {}
    uf = text_of(state.get("id")).upper().removeprefix("BR-") or text_of(state.get("name"))
    country = data.get("country") or {}
    return {
        "street": street,
        "number": text_of(data.get("street_number")),
        "complement": text_of(data.get("comment"))[:100],
        "district": text_of((data.get("neighborhood") or {}).get("name")),
        "city": city,
        "state": uf,
        "postal_code": text_of(data.get("zip_code")),
        "country": text_of(country.get("id") if isinstance(country, Mapping) else country) or "BR",
    }


def shipping_price(order: Mapping[str, Any], shipment: Mapping[str, Any] | None) -> Decimal:
    lead_time = (shipment or {}).get("lead_time") or {}
    if lead_time.get("cost") is not None:
        return money(lead_time.get("cost"))
    return max(money(order.get("paid_amount")) - money(order.get("total_amount")), ZERO)


def canonical_order(
    order: Mapping[str, Any],
    shipment: Mapping[str, Any] | None,
    billing: Mapping[str, Any] | None,
    channel_code: str,
    *,
    method_names: Mapping[str, str] | None = None,
) -> dict[str, Any] | None:
    """The canonical order JSON; ``None`` when ML does not show an address yet."""
    destination = address(shipment)
    if destination is None:
        return None
    items: list[dict[str, Any]] = []
    subtotal = ZERO
    for line in order.get("order_items") or []:
        item = line.get("item") or {}
        quantity = int(line.get("quantity") or 0)
        price = money(line.get("unit_price"))
        subtotal += price * quantity
        sku = text_of(item.get("seller_sku")) or text_of(item.get("id"))
        items.append(
            {
                "sku": sku[:60],
                "name": (text_of(item.get("title")) or sku)[:200],
                "quantity": quantity,
                "unit_price": str(price),
                "discount": "0.00",
            }
        )
    freight = shipping_price(order, shipment)
    buyer = order.get("buyer") or {}
    receiver = (shipment or {}).get("destination") or {}
    name = f"{text_of(buyer.get('first_name'))} {text_of(buyer.get('last_name'))}".strip()
    document = ((billing or {}).get("receiver") or {}).get("document") or {}
    payment = _approved_payment(order)
    placed_at = parse_time(order.get("date_created"))
    return {
        "channel": channel_code,
        "external_id": str(order["id"]),
        "placed_at": placed_at.isoformat() if placed_at else "",
        "currency": text_of(order.get("currency_id")) or "BRL",
        "status": "paid" if text_of(order.get("status")) == "paid" else "pending_payment",
        "customer": {
            "name": (name or text_of(receiver.get("receiver_name")) or text_of(buyer.get("nickname")))[:200],
            "email": "",  # ML does not give the buyer's e-mail
            "phone": text_of(receiver.get("receiver_phone"))[:30],
            "document": text_of(document.get("value")),
        },
        "billing_address": destination,
        "shipping_address": destination,
        "items": items,
        "shipping": {"method": shipping_method(shipment, method_names)[:100], "price": str(freight)},
        "discount": "0.00",
        "tax": "0.00",
        "total": str(subtotal + freight),
        "payment": {
            "method": payment_method(payment),
            "gateway": GATEWAY,
            "transaction_id": text_of(payment.get("id"))[:100],
            "installments": max(int(payment.get("installments") or 1), 1),
        },
        "marketplace": MARKETPLACE,
    }


def facts_of(
    order: Mapping[str, Any],
    shipment: Mapping[str, Any] | None,
    remote: str,
    *,
    method_names: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """What the lifecycle's transitions need, from the order and shipment as ML has them now."""
    facts: dict[str, Any] = {}
    status = text_of(order.get("status"))
    if status == "paid":
        payment = _approved_payment(order)
        facts["payment"] = {
            "method": payment_method(payment),
            "gateway": GATEWAY,
            "transaction_id": text_of(payment.get("id"))[:100],
            "amount": str(money(order.get("paid_amount")) or money(order.get("total_amount"))),
            "paid_at": iso_time(payment.get("date_approved")),
        }
    if status in ("cancelled", "invalid"):
        detail = order.get("status_detail")
        why = text_of(detail.get("code") if isinstance(detail, Mapping) else detail)
        facts["cancel_reason"] = "channel"
        facts["note"] = f"Mercado Livre: order {status}{f' ({why})' if why else ''}"
    shipment = shipment or {}
    history = shipment.get("status_history") or {}
    code = text_of(shipment.get("tracking_number"))
    if code and text_of(shipment.get("status")) in ("shipped", "delivered", "not_delivered"):
        tracking_method = text_of(shipment.get("tracking_method"))
        carrier = "correios" if "correios" in carrier_key(tracking_method) else "mercadoenvios"
        url = text_of(shipment.get("tracking_url"))
        if not url.startswith(("http://", "https://")):
            url = fiscal.tracking_url(carrier, code) or ""
        facts["shipment"] = {
            "carrier": carrier,
            "method": shipping_method(shipment, method_names)[:100],
            "tracking_code": code,
            "tracking_url": url or None,
            "shipped_at": iso_time(history.get("date_shipped")),
        }
    if remote == "delivered":
        facts["delivered_at"] = iso_time(history.get("date_delivered")) or timezone.now().isoformat()
    if remote == "not_delivered":
        detail = text_of(shipment.get("substatus")) or "no detail"
        facts["problem"] = f"Mercado Livre: not delivered ({detail})"
    return facts


def seller_skus(listing: Mapping[str, Any]) -> set[str]:
    """Seller SKUs of a listing or variation: ``seller_custom_field`` and the ``SELLER_SKU`` attribute."""
    skus = {text_of(listing.get("seller_custom_field"))}
    skus |= {
        text_of(a.get("value_name"))
        for a in listing.get("attributes") or []
        if isinstance(a, Mapping) and a.get("id") == "SELLER_SKU"
    }
    return skus - {""}


def stock_change(item: Mapping[str, Any], sku: str, available: int) -> dict[str, Any] | None:
    """The ``PUT /items/{id}`` body that sets ``sku``'s quantity, or None when nothing differs."""
    variations = [v for v in item.get("variations") or [] if isinstance(v, Mapping)]
    if not variations:
        if sku not in seller_skus(item) or item.get("available_quantity") == available:
            return None
        return {"available_quantity": available}
    matching = [v for v in variations if sku in seller_skus(v)] or (
        variations if sku in seller_skus(item) else []
    )
    if all(v.get("available_quantity") == available for v in matching):
        return None
    targets = {id(v) for v in matching}
    return {
        "variations": [
            {"id": v.get("id"), "available_quantity": available} if id(v) in targets else {"id": v.get("id")}
            for v in variations
        ]
    }


# --- packs (carts) ----------------------------------------------------------------------------------
# ML puts every order of a cart in a pack (``pack_id``; ``null`` for a single order); the orders of
# a pack share one shipment, and Malote keeps ONE order per pack, known by the pack id (ML's panel
# shows it as the sale's number; pack and order ids are one id space, a lone order's "pack" being
# the order itself).
DEAD_ORDER_STATUSES = frozenset({"cancelled", "invalid"})
# How far an order's own status is along, to give the pack the status of its least advanced order.
ORDER_PROGRESS = {
    "confirmed": 0,
    "payment_required": 1,
    "payment_in_process": 2,
    "partially_paid": 3,
    "pending_cancel": 4,
    "paid": 5,
    "partially_refunded": 6,
}


def pack_id_of(order: Mapping[str, Any]) -> str:
    """The order's pack id, ``""`` for a single order."""
    return text_of(order.get("pack_id"))


def pack_status(orders: Sequence[Mapping[str, Any]]) -> str:
    """The pack's order status: ``cancelled`` when every order is; otherwise the least advanced
    status of its live orders — ``paid`` only when every live order is paid. An order cancelled
    inside a pack whose others live is a partial change (``cancelled_in_pack``), not the pack's."""
    statuses = [text_of(order.get("status")) for order in orders]
    live = [status for status in statuses if status not in DEAD_ORDER_STATUSES]
    if not live:
        return "cancelled" if "cancelled" in statuses else (statuses[0] if statuses else "")
    return min(live, key=lambda status: ORDER_PROGRESS.get(status, -1))


def cancelled_in_pack(orders: Sequence[Mapping[str, Any]]) -> list[str]:
    """Ids of the pack's cancelled orders while others still live (a partial cancel); ``[]`` else."""
    dead = [text_of(o.get("id")) for o in orders if text_of(o.get("status")) in DEAD_ORDER_STATUSES]
    return dead if len(dead) < len(orders) else []


def pack_order(pack: Mapping[str, Any], orders: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The pack as one ML order, so the single-order readers (``canonical_order``, ``facts_of``,
    ``remote_status``) read it unchanged: id = the pack id, the lines and money of its live orders
    (of all of them when all are cancelled), the buyer and times of the pack, every payment."""
    status = pack_status(orders)
    counted = [o for o in orders if text_of(o.get("status")) not in DEAD_ORDER_STATUSES] or orders
    first = orders[0] if orders else {}
    total = sum((money(o.get("total_amount")) for o in counted), ZERO)
    paid = sum((money(o.get("paid_amount")) for o in counted), ZERO)
    times = [last_updated(o) for o in orders] + [text_of(pack.get("last_updated"))]
    stamps = [(parse_time(t), t) for t in times if parse_time(t) is not None]
    created = [parse_time(o.get("date_created")) for o in orders]
    placed = min((c for c in created if c is not None), default=None)
    return {
        "id": text_of(pack.get("id")),
        "pack_id": text_of(pack.get("id")),
        "status": status,
        "status_detail": next(
            (o.get("status_detail") for o in orders if text_of(o.get("status")) == status), None
        ),
        "date_created": text_of(pack.get("date_created")) or (placed.isoformat() if placed else ""),
        "last_updated": max(stamps)[1] if stamps else "",
        "currency_id": text_of(first.get("currency_id")) or "BRL",
        "buyer": first.get("buyer") or pack.get("buyer") or {},
        "order_items": [line for o in counted for line in (o.get("order_items") or [])],
        "payments": [p for o in counted for p in (o.get("payments") or [])],
        "total_amount": str(total),
        "paid_amount": str(paid),
        "shipping": {"id": text_of((pack.get("shipment") or {}).get("id")) or _shared_shipment(orders)},
    }


def _shared_shipment(orders: Sequence[Mapping[str, Any]]) -> str:
    return next((text_of((o.get("shipping") or {}).get("id")) for o in orders if o.get("shipping")), "")


def pack_data(pack: Mapping[str, Any], orders: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """What Malote keeps of the pack on the order's link (``channel_data``): its id, the family
    of packs a cart split across warehouses became, and each order's id and status."""
    return {
        "pack_id": text_of(pack.get("id")),
        "family_pack_id": text_of(pack.get("family_pack_id")),
        "shipment_id": text_of((pack.get("shipment") or {}).get("id")) or _shared_shipment(orders),
        "orders": [{"id": text_of(o.get("id")), "status": text_of(o.get("status"))} for o in orders],
    }


# --- claims (post-purchase) -------------------------------------------------------------------------
CLAIMS_TOPIC = "claims"
MESSAGES_TOPIC = "messages"
CLAIM_CLOSED = "closed"


def claim_report(claim: Mapping[str, Any], order_ref: str) -> dict[str, Any]:
    """A claim as a report on the Malote order (``facts["reports"]``): open or closed, its stage
    (``claim``: buyer and seller talk; ``dispute``: ML mediates), the reason, and the seller's
    earliest due date among the actions ML lists for the seller (``players[role=respondent]``)."""
    due: list[tuple[datetime, str]] = []
    for player in claim.get("players") or []:
        if not isinstance(player, Mapping) or text_of(player.get("role")) != "respondent":
            continue
        for available in player.get("available_actions") or []:
            if not isinstance(available, Mapping):
                continue
            moment = parse_time(available.get("due_date"))
            if moment is not None:
                due.append((moment, text_of(available.get("action"))))
    due.sort()
    status = text_of(claim.get("status"))
    resolution = claim.get("resolution")
    return {
        "kind": "claim",
        "id": text_of(claim.get("id")),
        "open": status != CLAIM_CLOSED,
        "order_ref": order_ref,
        "ml_order_id": text_of(claim.get("resource_id")),
        "status": status,
        "stage": text_of(claim.get("stage")),
        "reason_id": text_of(claim.get("reason_id")),
        "due_date": due[0][0].isoformat() if due else "",
        "due_action": due[0][1] if due else "",
        "resolution": text_of(resolution.get("reason")) if isinstance(resolution, Mapping) else "",
        "date_created": iso_time(claim.get("date_created")) or "",
        "last_updated": iso_time(claim.get("last_updated")) or "",
    }


def partial_cancel_report(pack: Mapping[str, Any], orders: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """An order cancelled inside a pack whose others live: for a person (the Malote order keeps
    every line); ``open`` while the pack is so, closed once all its orders are cancelled."""
    dead = cancelled_in_pack(orders)
    return {
        "kind": "pack_partial_cancel",
        "id": f"{text_of(pack.get('id'))}:{','.join(sorted(dead))}",
        "open": bool(dead),
        "pack_id": text_of(pack.get("id")),
        "cancelled_orders": dead,
        "lines": [
            {
                "order_id": text_of(o.get("id")),
                "sku": text_of((line.get("item") or {}).get("seller_sku")),
                "quantity": int(line.get("quantity") or 0),
            }
            for o in orders
            if text_of(o.get("id")) in dead
            for line in o.get("order_items") or []
        ],
    }
