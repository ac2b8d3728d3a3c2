"""HMAC signatures with a timestamp and a replay window (Malote's generic webhook protocol)."""

from __future__ import annotations

import hashlib
import hmac
import time

from malote.connectors.base import WebhookRejected
from malote.connectors.errors import ConnectorErrorCode

HEADER = "Malote-Signature"
TOLERANCE_SECONDS = 300


def sign(secret: str, body: bytes, *, timestamp: int | None = None) -> str:
    """``t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>``."""
    stamp = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={mac}"


def verify(secret: str, header: str | None, body: bytes, *, tolerance: int = TOLERANCE_SECONDS) -> None:
    """Raise ``WebhookRejected`` unless ``header`` signs ``body`` with ``secret`` within the window."""
    if not header:
        raise WebhookRejected(f"Missing {HEADER} header.", code=ConnectorErrorCode.WEBHOOK_SIGNATURE_MISSING)
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    try:
        stamp = int(parts.get("t", ""))
    except ValueError:
        raise WebhookRejected(
            "Malformed signature timestamp.", code=ConnectorErrorCode.WEBHOOK_SIGNATURE_INVALID
        ) from None
    if abs(time.time() - stamp) > tolerance:
        raise WebhookRejected(
            "Signature timestamp outside the replay window.", code=ConnectorErrorCode.WEBHOOK_REPLAY_WINDOW
        )
    expected = sign(secret, body, timestamp=stamp).split("v1=", 1)[1]
    if not hmac.compare_digest(expected, parts.get("v1", "")):
        raise WebhookRejected("Signature does not match.", code=ConnectorErrorCode.WEBHOOK_SIGNATURE_INVALID)
