"""Pagar.me values: event types and status words, cancel reasons and payment methods."""

from __future__ import annotations

# Event types (webhooks) and status words (reads) in one table: the types contain a dot, the
# words do not, so a channel's status map can override either.
DEFAULT_STATUS_IN: dict[str, str] = {
    "charge.paid": "paid",
    "order.paid": "paid",
    "charge.overpaid": "paid",
    "charge.underpaid": "payment_review",
    "charge.antifraud_manual": "payment_review",
    "charge.payment_failed": "canceled",
    "order.payment_failed": "canceled",
    "charge.canceled": "canceled",
    "order.canceled": "canceled",
    "charge.refunded": "canceled",
    "charge.chargedback": "canceled",
    "charge.created": "",
    "order.created": "",
    "charge.pending": "",
    "charge.processing": "",
    "charge.partial_canceled": "",
    # status words of charges and orders (fetch_order and the re-check before a cancel)
    "paid": "paid",
    "overpaid": "paid",
    "underpaid": "payment_review",
    "pending": "",
    "processing": "",
    "failed": "canceled",
    "canceled": "canceled",
    "chargedback": "canceled",
}
CANCEL_REASONS: dict[str, str] = {
    "charge.payment_failed": "payment_refused",
    "order.payment_failed": "payment_refused",
    "failed": "payment_refused",
    "charge.canceled": "channel",
    "order.canceled": "channel",
    "charge.refunded": "channel",
    "canceled": "channel",
    "charge.chargedback": "fraud",
    "chargedback": "fraud",
}
# Events that say money of a paid charge went back, all of it or part.
REFUND_WORDS = frozenset({"charge.refunded", "charge.partial_canceled"})
# Charge statuses with nothing left to void.
SETTLED = frozenset({"canceled", "failed", "chargedback"})
PAID_LIKE = frozenset({"paid", "overpaid", "underpaid"})
PAYMENT_METHODS = frozenset({"credit_card", "boleto", "pix"})
