"""``pagarme``: Pagar.me core API v5 — the payment gateway that confirms, refuses and refunds the
payment of an order, and voids it when Malote cancels the order.

Channel
-------
``base_url`` = ``https://api.pagar.me/core/v5`` (a fake's ``api_url`` in tests);
``credentials = {"secret_key": "sk_…", "webhook_hmac_secret"?: only for the HMAC mode}``;
``options``: ``jwks_url`` (default ``https://hubapi.pagar.me/.well-known/jwks.json``),
``webhook_signature`` (``rs256`` default | ``hmac-sha256`` | ``none``), ``refund_paid`` (default
true: cancelling an order refunds a paid charge; false leaves paid charges to the operator),
``cancel_reasons`` (event type or status word → cancel reason, overriding ``CANCEL_REASONS``),
``timeout_seconds``.

Every call uses HTTP Basic with the secret key as user name and an empty password; every write
carries ``idempotency-key`` = the outbox message's idempotency key. HTTP errors are classified by
``Connector.request`` (5xx/429/timeouts retryable; 401/404/422 permanent).

Inbound
-------
* ``verify_webhook`` (before anything is stored): ``X-Webhook-Asymmetric-Signature: alg=RS256;
  kid=…; signature=<base64url>`` is an RSA-SHA256 (PKCS#1 v1.5) signature of the raw body, checked
  with the key of that ``kid`` in the JWKS. The JWKS is fetched with the call timeout and cached
  per process and URL for ``JWKS_TTL_SECONDS``; an unknown ``kid`` refetches once (key rotation),
  at most every ``JWKS_REFETCH_SECONDS`` so forged kids cannot make Malote hammer the JWKS host.
  ``hmac-sha256`` expects ``X-Hub-Signature: sha256=<hex HMAC(body)>`` (the fake's switch); ``none``
  accepts anything (sandbox only). Missing or invalid → ``WebhookRejected`` (401). A JWKS that
  cannot be fetched raises ``DeliveryError`` (503: the sender retries; this is not a forgery).
* ``parse_webhook`` (``{"id": "hook_…", "type", "created_at", "data": charge | order}``):
  ``event_id`` = the hook id; ``transaction_id`` = the charge id (``ch_…``; for order events the
  charge the event is about), ``reference`` = the order ``code``; ``external_id`` = the charge id.
  ``remote_status`` = the event type, mapped by ``DEFAULT_STATUS_IN`` (the channel's
  ``status_map.in`` overrides it). Gateways never import orders (``order`` is always ``None``).
* ``fetch_order(id)``: the charge (``ch_…``) or the order (``or_…``) as it is now, as an
  ``InboundChange`` whose ``remote_status`` is the status word (``paid``…), mapped through the same
  table. For the reconciliation's re-checks: a charge Pagar.me does not know raises a permanent
  ``DeliveryError`` with ``status`` 404; an unreachable gateway a retryable one — never a guess.

Decisions (status map and cancel reasons)
-----------------------------------------
* ``charge.paid``/``order.paid``/``charge.overpaid`` → ``paid`` with
  ``facts.payment = {gateway: "pagarme", transaction_id, amount (cents → "114.80"), paid_at, method}``.
* ``charge.payment_failed``/``order.payment_failed`` → ``canceled``, reason ``payment_refused``
  (the issuer or the antifraud refused, or the boleto/Pix was never paid).
* ``charge.canceled``/``order.canceled``/``charge.refunded`` → ``canceled``, reason ``channel``:
  someone voided or refunded the charge *in the gateway*; nothing says the payment was refused,
  and ``payment_refused`` would pollute refusal reports. (When Malote itself cancelled, the order
  is already canceled and the event changes nothing.)
* ``charge.chargedback`` → ``canceled``, reason ``fraud``: the money was taken back by the
  cardholder's bank, so the sale has no payment; cancelling stops goods that have not left yet
  (an order already delivered stays delivered: terminal). A shop that prefers to handle
  chargebacks by hand sets ``status_map.in`` ``{"charge.chargedback": ""}``.
* ``charge.underpaid`` and ``charge.antifraud_manual`` → ``payment_review`` (a person must look).
* ``*.created``, ``charge.pending``/``processing``, ``charge.partial_canceled``, the other
  antifraud events → ``""``: recorded, no transition.
* Webhooks are hints, the API is the truth: before a webhook cancels an order, the charge (or
  order) is read again; unless Pagar.me *still* says it is failed/canceled/charged back, the event
  is only recorded. So a ``payment_failed`` delivered after the retry that was paid never cancels
  a paid order. A late ``charge.pending`` maps to nothing, and the inbox and the lifecycle never
  move an order back.

Outbound
--------
``push_cancellation`` voids the order's charge (``snapshot["payment"]["transaction_id"]``; the
link's external id when the payment has none): ``GET /charges/{id}`` first — already
canceled/failed/charged back, or no charge at all, is a success with nothing to do — then
``DELETE /charges/{id}`` (pending → canceled; paid → refunded). A 422 because someone else got
there first is a success once a re-read shows the charge canceled. An ``or_…`` id voids every open
or paid charge of that order, each with ``<key>:<charge id>`` as its idempotency key.

Confirmed vs assumed: ``channel-apis.md`` §5 — paths, status values, webhook envelope and the RS256
header are 🟢/✅; Basic with the key as user is 🟢 (verbatim text ❓); the HMAC mode, whether
dashboard webhooks are signed at all, event names marked 🟡 (``order.payment_failed``,
``charge.canceled``) and the idempotency key's scope are ❓.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from malote.connectors.base import Connector, InboundChange, ListedOrder, OrderListing, WebhookRejected
from malote.connectors.registry import register
from malote.connectors.values import header_value, minor_to_decimal
from malote.sync.errors import DeliveryError

DEFAULT_JWKS_URL = "https://hubapi.pagar.me/.well-known/jwks.json"
SIGNATURE_HEADER = "X-Webhook-Asymmetric-Signature"
HMAC_HEADER = "X-Hub-Signature"
JWKS_TTL_SECONDS = 3600.0
JWKS_REFETCH_SECONDS = 5.0

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
# Charge statuses with nothing left to void.
SETTLED = frozenset({"canceled", "failed", "chargedback"})
PAID_LIKE = frozenset({"paid", "overpaid", "underpaid"})
PAYMENT_METHODS = frozenset({"credit_card", "boleto", "pix"})
LIST_PAGE_SIZE = 100  # the API's maximum page size


# --- the JWKS cache (per process, per URL) -----------------------------------------------------


@dataclass
class _Jwks:
    fetched_at: float
    keys: dict[str, rsa.RSAPublicKey] = field(default_factory=dict)


_jwks_lock = threading.Lock()
_jwks_cache: dict[str, _Jwks] = {}


def clear_jwks_cache() -> None:
    """Forget every fetched JWKS (tests; a rotated key is otherwise picked up on its own)."""
    with _jwks_lock:
        _jwks_cache.clear()


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _rsa_keys(document: Any) -> dict[str, rsa.RSAPublicKey]:
    """The RSA signing keys of a JWKS document by kid; malformed entries are skipped."""
    keys: dict[str, rsa.RSAPublicKey] = {}
    entries = document.get("keys") if isinstance(document, dict) else None
    for jwk in entries if isinstance(entries, list) else []:
        if not isinstance(jwk, dict) or jwk.get("kty") != "RSA" or jwk.get("use", "sig") != "sig":
            continue
        try:
            n = int.from_bytes(_b64url_decode(str(jwk["n"])), "big")
            e = int.from_bytes(_b64url_decode(str(jwk["e"])), "big")
            keys[str(jwk["kid"])] = rsa.RSAPublicNumbers(e, n).public_key()
        except (KeyError, ValueError, binascii.Error):
            continue
    return keys


@register
class PagarmeConnector(Connector):
    kind = "pagarme"
    default_status_in = DEFAULT_STATUS_IN

    # --- the API -------------------------------------------------------------------------------

    def _api(self, method: str, path: str, *, idempotency_key: str | None = None) -> dict[str, Any]:
        headers = {"Accept": "application/json"}
        if idempotency_key is not None:
            headers["idempotency-key"] = idempotency_key
        response = self.request(
            method,
            f"{self.base_url}{path}",
            what=f"pagarme {method} {path}",
            auth=httpx.BasicAuth(self.credential("secret_key"), ""),
            headers=headers,
        )
        try:
            body = response.json()
        except ValueError:
            raise DeliveryError(f"pagarme {method} {path}: answer is not JSON", retryable=True) from None
        if not isinstance(body, dict):
            raise DeliveryError(f"pagarme {method} {path}: answer is not an object", retryable=True)
        return body

    def _charge(self, charge_id: str) -> dict[str, Any]:
        return self._api("GET", f"/charges/{charge_id}")

    def _order(self, order_id: str) -> dict[str, Any]:
        return self._api("GET", f"/orders/{order_id}")

    # --- inbound: signatures -------------------------------------------------------------------

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, query: Mapping[str, str]) -> None:
        mode = str(self.option("webhook_signature", "rs256")).strip().lower()
        if mode == "none":
            return
        if mode == "hmac-sha256":
            self._verify_hmac(headers, body)
        elif mode == "rs256":
            self._verify_rs256(headers, body)
        else:
            raise WebhookRejected(
                f"Unknown webhook_signature mode {mode!r}.", code="webhook_signature_config"
            )

    def _verify_hmac(self, headers: Mapping[str, str], body: bytes) -> None:
        given = header_value(headers, HMAC_HEADER)
        if not given:
            raise WebhookRejected(f"Missing {HMAC_HEADER} header.", code="webhook_signature_missing")
        credentials = self.channel.credentials or {}
        secret = str(credentials.get("webhook_hmac_secret") or self.credential("secret_key"))
        expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(given.lower().encode(), expected.encode()):
            raise WebhookRejected("Signature does not match.", code="webhook_signature_invalid")

    def _verify_rs256(self, headers: Mapping[str, str], body: bytes) -> None:
        header = header_value(headers, SIGNATURE_HEADER)
        if not header:
            raise WebhookRejected(f"Missing {SIGNATURE_HEADER} header.", code="webhook_signature_missing")
        parts: dict[str, str] = {}
        for item in header.split(";"):
            name, sep, value = item.strip().partition("=")
            if sep:
                parts[name.strip().lower()] = value.strip()
        if parts.get("alg", "").upper() != "RS256" or not parts.get("kid") or not parts.get("signature"):
            raise WebhookRejected("Malformed signature header.", code="webhook_signature_invalid")
        try:
            signature = _b64url_decode(parts["signature"])
        except (binascii.Error, ValueError):
            raise WebhookRejected("Signature is not base64url.", code="webhook_signature_invalid") from None
        key = self._signing_key(parts["kid"])
        if key is None:
            raise WebhookRejected(
                f"Unknown signing key {parts['kid'][:80]!r}.", code="webhook_signature_invalid"
            )
        try:
            key.verify(signature, body, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            raise WebhookRejected("Signature does not match.", code="webhook_signature_invalid") from None

    def _signing_key(self, kid: str) -> rsa.RSAPublicKey | None:
        url = str(self.option("jwks_url", DEFAULT_JWKS_URL))
        now = time.monotonic()
        with _jwks_lock:
            cached = _jwks_cache.get(url)
        if cached is not None and now - cached.fetched_at < JWKS_TTL_SECONDS:
            if kid in cached.keys:
                return cached.keys[kid]
            if now - cached.fetched_at < JWKS_REFETCH_SECONDS:
                return None  # just fetched: an unknown kid now is not a rotation
        response = self.request("GET", url, what="pagarme jwks")  # public: never send the key there
        try:
            keys = _rsa_keys(response.json())
        except ValueError:
            raise DeliveryError("pagarme jwks: answer is not JSON", retryable=True) from None
        with _jwks_lock:
            _jwks_cache[url] = _Jwks(time.monotonic(), keys)
        return keys.get(kid)

    # --- inbound: events -----------------------------------------------------------------------

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[InboundChange]:
        event = json.loads(body)
        if not isinstance(event, dict) or not event.get("id") or not event.get("type"):
            raise ValueError("a Pagar.me webhook needs id and type")
        data = event.get("data")
        if not isinstance(data, dict):
            raise ValueError("a Pagar.me webhook needs a data object")
        event_type = str(event["type"]).strip().lower()
        charge: dict[str, Any]
        order: dict[str, Any]
        if event_type.startswith("order."):
            order, charge = data, self._charge_of(data, event_type.split(".", 1)[1])
        else:
            nested = data.get("order")
            charge, order = data, (nested if isinstance(nested, dict) else {})
        status = self.status_in(event_type)
        if status == "canceled" and not self._still_canceled(charge, order, event_type):
            status = ""  # the gateway no longer says so (a retry was paid, the event is stale)
        return [
            self._change(
                event_id=str(event["id"]),
                word=event_type,
                status=status,
                charge=charge,
                order=order,
                occurred_at=str(event.get("created_at") or ""),
            )
        ]

    @staticmethod
    def _charge_of(order: Mapping[str, Any], what: str) -> dict[str, Any]:
        """The charge an order event is about: one in the matching status, else the first."""
        charges = [c for c in order.get("charges") or [] if isinstance(c, dict)]
        wanted = {"paid": PAID_LIKE, "canceled": {"canceled"}, "payment_failed": {"failed"}}.get(what, set())
        return next((c for c in charges if c.get("status") in wanted), charges[0] if charges else {})

    def _still_canceled(self, charge: Mapping[str, Any], order: Mapping[str, Any], event_type: str) -> bool:
        if charge.get("id"):
            word = str(self._charge(str(charge["id"])).get("status") or "")
        elif order.get("id"):
            word = str(self._order(str(order["id"])).get("status") or "")
        else:
            return True  # nothing to re-read: trust the signed event
        return self.status_in(word) == "canceled"

    def _change(
        self,
        *,
        event_id: str,
        word: str,
        status: str,
        charge: Mapping[str, Any],
        order: Mapping[str, Any],
        occurred_at: str,
    ) -> InboundChange:
        charge_id = str(charge.get("id") or "")
        facts: dict[str, Any] = {}
        if status == "paid":
            method = charge.get("payment_method")
            payment = {
                "gateway": self.kind,
                "transaction_id": charge_id or None,
                "amount": minor_to_decimal(
                    charge.get("paid_amount") or charge.get("amount") or order.get("amount")
                ),
                "paid_at": charge.get("paid_at") or occurred_at or None,
                "method": method if method in PAYMENT_METHODS else None,
            }
            facts["payment"] = {name: value for name, value in payment.items() if value}
        elif status == "canceled":
            reasons = {**CANCEL_REASONS, **self.option("cancel_reasons", {})}
            facts["cancel_reason"] = reasons.get(word, "channel")
            facts["note"] = f"Pagar.me: {word} ({charge_id or order.get('id') or '?'})"
        return InboundChange(
            event_id=event_id,
            external_id=charge_id or str(order.get("id") or ""),
            remote_status=word,
            status=status,
            facts=facts,
            occurred_at=occurred_at,
            transaction_id=charge_id,
            reference=str(order.get("code") or charge.get("code") or ""),
        )

    def fetch_order(self, external_id: str) -> InboundChange:
        """The charge (``ch_…``) or order (``or_…``) as Pagar.me has it now."""
        if external_id.startswith("or_"):
            order = self._order(external_id)
            word = str(order.get("status") or "")
            charge = self._charge_of(order, {"failed": "payment_failed"}.get(word, word))
            current: Mapping[str, Any] = order
        else:
            charge = self._charge(external_id)
            nested = charge.get("order")
            order = nested if isinstance(nested, dict) else {}
            word = str(charge.get("status") or "")
            current = charge
        updated = str(current.get("updated_at") or "")
        return self._change(
            event_id=f"{external_id}:{word}:{updated}",
            word=word,
            status=self.status_in(word),
            charge=charge,
            order=order,
            occurred_at=updated,
        )

    def list_orders(self, since: str, cursor: str | None = None) -> OrderListing:
        """Orders created since ``since`` (``GET /orders?created_since=…``, 100 per page; ``cursor``
        is the page number). Each is listed under its first charge's id (Malote's payment
        ``transaction_id``; the order id when it has no charge), with its ``code`` as ``reference``
        and the order's status word. Pagar.me lists newest first: pages are not oldest first. The
        option ``list_page_size`` (default 100, the API's maximum) sets the page size."""
        page = int(cursor or 1)
        size = int(self.option("list_page_size", LIST_PAGE_SIZE))
        query = urlencode({"created_since": since, "page": page, "size": size})
        body = self._api("GET", f"/orders?{query}")
        words: dict[str, str] = {}
        listed = []
        for order in body.get("data") or []:
            if not isinstance(order, dict) or not order.get("id"):
                continue
            charges = order.get("charges") or ()
            first = charges[0] if charges and isinstance(charges[0], dict) and charges[0].get("id") else None
            word = str(order.get("status") or "")
            if word not in words:
                words[word] = self.status_in(word)
            amount = order.get("amount")
            listed.append(
                ListedOrder(
                    external_id=str(first["id"] if first else order["id"]),
                    reference=str(order.get("code") or ""),
                    remote_status=word,
                    status=words[word],
                    placed_at=str(order.get("created_at") or ""),
                    updated_at=str(order.get("updated_at") or ""),
                    total=f"{amount // 100}.{amount % 100:02d}"
                    if type(amount) is int
                    else (minor_to_decimal(amount) or ""),
                )
            )
        paging = body.get("paging") if isinstance(body.get("paging"), dict) else {}
        more = bool((paging or {}).get("next"))
        return OrderListing(listed, str(page + 1) if more else None, more=more)

    # --- outbound ------------------------------------------------------------------------------

    def push_cancellation(self, external_id: str, snapshot: dict[str, Any], *, idempotency_key: str) -> None:
        payment = snapshot.get("payment") or {}
        target = str(payment.get("transaction_id") or "").strip()
        if not target and external_id.startswith(("ch_", "or_")):
            target = external_id
        if not target:
            return  # no charge was ever made: nothing to void
        if target.startswith("or_"):
            for charge in self._order(target).get("charges") or []:
                if isinstance(charge, dict) and charge.get("id"):
                    self._void(str(charge["id"]), f"{idempotency_key}:{charge['id']}")
            return
        self._void(target, idempotency_key)

    def _void(self, charge_id: str, idempotency_key: str) -> None:
        status = str(self._charge(charge_id).get("status") or "")
        if status in SETTLED:
            return  # already canceled/refunded, failed or charged back: no money to give back
        if status in PAID_LIKE and not self.option("refund_paid", True):
            return
        try:
            self._api("DELETE", f"/charges/{charge_id}", idempotency_key=idempotency_key)
        except DeliveryError as exc:
            # Someone voided it between the read and the delete: that is the outcome we wanted.
            if exc.status == 422 and str(self._charge(charge_id).get("status") or "") in SETTLED:
                return
            raise
