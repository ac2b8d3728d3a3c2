"""Adyen values: the notification items, their HMAC signing string, event codes and methods."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from malote.connectors.payload import load_json

# The eight fields of the payments-webhook HMAC, in order.
HMAC_FIELDS = (
    "pspReference",
    "originalReference",
    "merchantAccountCode",
    "merchantReference",
    "value",
    "currency",
    "eventCode",
    "success",
)

DEFAULT_STATUS_IN: dict[str, str] = {
    "AUTHORISATION": "paid",
    "AUTHORISATION:false": "canceled",
    "CANCELLATION": "canceled",
    "REFUND": "canceled",
    "CHARGEBACK": "canceled",
    # Named so the table documents them; any other word maps to "" as well.
    "CANCEL_OR_REFUND": "",
    "CAPTURE": "",
    "CANCELLATION:false": "",
    "REFUND:false": "",
}
CANCEL_REASONS: dict[str, str] = {
    "AUTHORISATION:false": "payment_refused",
    "CANCELLATION": "channel",
    "REFUND": "channel",
    "CHARGEBACK": "fraud",
}
CANCEL_ENDPOINTS = ("reversals", "cancels")

# Adyen's paymentMethod values → Malote's payment methods (card brands are credit cards).
_PIX = frozenset({"pix"})
_BOLETO_PREFIX = "boleto"


def signing_string(item: Mapping[str, Any]) -> str:
    """The text Adyen signs for one notification item (missing values are empty)."""
    raw_amount = item.get("amount")
    amount: Mapping[str, Any] = raw_amount if isinstance(raw_amount, Mapping) else {}
    values = {name: item.get(name) for name in HMAC_FIELDS}
    values.update(value=amount.get("value"), currency=amount.get("currency"))
    return ":".join("" if values[name] is None else str(values[name]) for name in HMAC_FIELDS)


def hmac_signature(item: Mapping[str, Any], hex_key: str) -> str:
    """``base64(HMAC-SHA256(bytes.fromhex(hex_key), signing_string(item)))``; ValueError on a bad key."""
    key = binascii.unhexlify(hex_key.strip())
    digest = hmac.new(key, signing_string(item).encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def payment_method(adyen_method: str) -> str | None:
    method = adyen_method.strip().lower()
    if not method:
        return None
    if method in _PIX:
        return "pix"
    if method.startswith(_BOLETO_PREFIX):
        return "boleto"
    return "credit_card"


def notification_items(body: bytes) -> list[dict[str, Any]]:
    """The NotificationRequestItems of a webhook body; ValueError when it is not one
    (``UnreadableBody`` when it is not even JSON that can be read safely)."""
    envelope = load_json(body)
    wrappers = envelope.get("notificationItems") if isinstance(envelope, dict) else None
    if not isinstance(wrappers, list) or not wrappers:
        raise ValueError("an Adyen webhook needs notificationItems")
    items = []
    for wrapper in wrappers:
        item = wrapper.get("NotificationRequestItem") if isinstance(wrapper, dict) else None
        if not isinstance(item, dict) or not item.get("pspReference") or not item.get("eventCode"):
            raise ValueError("every notification item needs pspReference and eventCode")
        items.append(item)
    return items
