"""Every connector that takes webhooks, as a channel with known secrets, and a way to POST any body
to its ``/hooks/<code>`` signed as its vendor would sign it (for the tests of hostile input).

The channels' APIs point at a closed port: a body that gets as far as reading its system back
fails fast with a retryable ``DeliveryError`` (503), never by waiting.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.test import Client

from malote.channels.models import Channel, ChannelRole
from malote.connectors import signing
from malote.connectors.adyen.mapping import hmac_signature

CLOSED_PORT_URL = "http://127.0.0.1:9"
SECRET = "s3cret-hook-key"
ADYEN_HEX_KEY = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056"
ML_APP, ML_SELLER = "5503910054141466", "202593498"


@dataclass(frozen=True)
class Signed:
    """A request as its vendor sends it: the body (possibly rewritten to carry a signature or the
    fields the scheme checks), its headers and its query string."""

    body: bytes
    headers: dict[str, str]
    query: str = ""


def _hex_hmac(body: bytes) -> str:
    return "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def _sign_webhook(body: bytes) -> Signed:
    return Signed(body, {signing.HEADER: signing.sign(SECRET, body)})


def _sign_jumpseller(body: bytes) -> Signed:
    mac = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    return Signed(body, {"Jumpseller-Hmac-Sha256": mac, "Jumpseller-Event": "order_updated"})


def _sign_vtex(body: bytes) -> Signed:
    return Signed(body, {"X-Malote-Hook-Secret": SECRET})


def _sign_tiny(body: bytes) -> Signed:
    return Signed(body, {}, query=f"token={SECRET}")


def _sign_bling(body: bytes) -> Signed:
    return Signed(body, {"X-Bling-Signature-256": _hex_hmac(body)})


def _sign_pagarme(body: bytes) -> Signed:
    return Signed(body, {"X-Hub-Signature": _hex_hmac(body)})


def _sign_adyen(body: bytes) -> Signed:
    """Adyen signs each notification item inside the body: where the body is an envelope of items,
    each item gets its signature (the body is re-serialized); any other body goes as it is."""
    envelope = _json_object(body)
    wrappers = envelope.get("notificationItems") if envelope else None
    if not isinstance(envelope, dict) or not isinstance(wrappers, list):
        return Signed(body, {})
    for wrapper in wrappers:
        item = wrapper.get("NotificationRequestItem") if isinstance(wrapper, dict) else None
        if not isinstance(item, dict):
            continue
        additional = item.get("additionalData")
        if not isinstance(additional, dict):
            additional = item["additionalData"] = {}
        additional["hmacSignature"] = hmac_signature(item, ADYEN_HEX_KEY)
    return Signed(json.dumps(envelope).encode(), {})


def _sign_mercadolivre(body: bytes) -> Signed:
    """Mercado Livre signs nothing: a notification counts as ours when it names our app and seller."""
    data = _json_object(body)
    if data is None:
        return Signed(body, {})
    data.update(application_id=int(ML_APP), user_id=int(ML_SELLER))
    return Signed(json.dumps(data).encode(), {})


# code → (kind, role, credentials, options, signer)
CHANNELS: dict[str, tuple[str, str, dict[str, Any], dict[str, Any], Callable[[bytes], Signed]]] = {
    "webhook": ("webhook", ChannelRole.STOREFRONT, {"secret": SECRET}, {}, _sign_webhook),
    "jumpseller": ("jumpseller", ChannelRole.STOREFRONT, {"hooks_token": SECRET}, {}, _sign_jumpseller),
    "vtex": ("vtex", ChannelRole.STOREFRONT, {"hook_secret": SECRET}, {}, _sign_vtex),
    "tiny": ("tiny", ChannelRole.ERP, {"webhook_token": SECRET, "token": "t"}, {}, _sign_tiny),
    "bling": ("bling", ChannelRole.ERP, {"webhook_secret": SECRET}, {}, _sign_bling),
    "pagarme": (
        "pagarme",
        ChannelRole.GATEWAY,
        {"webhook_hmac_secret": SECRET, "secret_key": "sk_test"},
        {"webhook_signature": "hmac-sha256"},
        _sign_pagarme,
    ),
    "adyen": ("adyen", ChannelRole.GATEWAY, {"hmac_key": ADYEN_HEX_KEY}, {}, _sign_adyen),
    "mercadolivre": (
        "mercadolivre",
        ChannelRole.MARKETPLACE,
        {"client_id": ML_APP, "user_id": ML_SELLER},
        {},
        _sign_mercadolivre,
    ),
}
CODES = tuple(CHANNELS)


def make_channels() -> dict[str, Channel]:
    """One enabled channel per connector that takes webhooks (its code is its kind)."""
    return {
        code: Channel.objects.create(
            code=code,
            name=code,
            role=role,
            kind=kind,
            base_url=CLOSED_PORT_URL,
            credentials=credentials,
            options=options,
        )
        for code, (kind, role, credentials, options, _) in CHANNELS.items()
    }


def signed(code: str, body: bytes) -> Signed:
    return CHANNELS[code][4](body)


def post_signed(code: str, body: bytes, *, content_type: str = "application/json") -> Any:
    """POST ``body`` to ``/hooks/<code>`` signed for the channel's vendor."""
    request = signed(code, body)
    path = f"/hooks/{code}" + (f"?{request.query}" if request.query else "")
    return Client(raise_request_exception=False).post(
        path, data=request.body, content_type=content_type, headers=request.headers
    )
