"""``adyen``: Adyen — the payment gateway's standard webhooks (authorisations, cancellations, refunds,
chargebacks) move Malote's orders; cancelling an order in Malote cancels (or refunds) its payment
through the Checkout API.

Channel
-------
``base_url`` = the Checkout API with its version, ``https://checkout-test.adyen.com/v71`` (live:
``https://{prefix}-checkout-live.adyenpayments.com/checkout/v71``; a fake's ``api_url`` in tests);
``credentials = {"hmac_key": "<hex HMAC key from the Customer Area>", "api_key": "AQE…",
"webhook_username"?, "webhook_password"?}``; ``options``: ``merchant_account`` (required to
cancel), ``cancel_with`` (``reversals`` default | ``cancels``), ``webhook_signature`` (``hmac``
default | ``none``, sandbox only), ``cancel_reasons`` (word → cancel reason, overriding
``CANCEL_REASONS``), ``timeout_seconds``.

Inbound
-------
* ``verify_webhook`` (before anything is stored): when the channel has ``webhook_username`` the
  request must carry that HTTP Basic user and ``webhook_password`` (Adyen's optional basic auth
  on the webhook URL; ❓). Then **every** item's ``additionalData.hmacSignature`` must equal
  ``base64(HMAC-SHA256(hex-decoded hmac_key, "pspReference:originalReference:merchantAccountCode:
  merchantReference:value:currency:eventCode:success"))`` (missing fields are empty strings,
  values used raw). Decision: **one bad item rejects the whole batch** (401, nothing stored): a
  request carrying a forged item did not come from Adyen, so nothing in it can be trusted, and
  Adyen retries the whole request anyway (its delivery is acknowledged per request, not per item).
* ``parse_webhook`` (``{"live", "notificationItems": [{"NotificationRequestItem": {…}}]}``): one
  ``InboundChange`` per item. ``remote_status`` is the event code, suffixed ``:false`` when
  ``success`` is ``"false"`` (``AUTHORISATION:false``), mapped by ``DEFAULT_STATUS_IN`` (the
  channel's ``status_map.in`` overrides it). ``reference`` = ``merchantReference`` (the shop's
  order code); ``transaction_id`` = ``external_id`` = the payment's pspReference
  (``originalReference`` for modifications, whose own ``pspReference`` names the modification);
  ``event_id`` = ``pspReference:originalReference:eventCode:success`` — Adyen has no notification
  id and resends the same item until it gets a 2xx, so a resend is a duplicate in the inbox.
  Gateways never import orders (``order`` is always ``None``).
* ``acknowledge`` answers ``[accepted]`` (text/plain): only "any 2xx" is confirmed, the legacy
  body is harmless (❓ §9).

Decisions (status map and cancel reasons)
-----------------------------------------
* ``AUTHORISATION`` (success) → ``paid`` with ``facts.payment = {gateway: "adyen",
  transaction_id: pspReference, amount (minor units → "114.80"), paid_at: eventDate, method}``.
* ``AUTHORISATION:false`` → ``canceled``, reason ``payment_refused`` (a shop whose shoppers retry
  with the same merchantReference sets ``status_map.in`` ``{"AUTHORISATION:false": ""}``).
* ``CANCELLATION`` → ``canceled``, reason ``channel``: someone voided the payment in Adyen.
* ``REFUND`` → ``canceled``, reason ``channel``: a refund made in the Customer Area means the sale
  is undone; nothing says the payment was refused. (A partial refund cancels too: Malote has no
  partial cancellation; a shop that refunds partially sets ``{"REFUND": ""}``.)
* ``CHARGEBACK`` → ``canceled``, reason ``fraud`` (as Pagar.me's ``charge.chargedback``).
* ``CANCEL_OR_REFUND``, ``CAPTURE``, every ``…:false`` modification (the cancel/refund *failed*)
  and every other code → ``""``: recorded, no transition. ``CANCEL_OR_REFUND`` is the answer to
  Malote's own reversal, so the order is already canceled.

Reads: Adyen has no payment-status read API in the reference (only webhooks), so ``fetch_order``
and ``list_orders`` raise ``Unsupported``: the reconciliation must rely on the last webhook seen,
i.e. the order link's ``remote_status`` (and on the inbox, which keeps every notification).

Stale refusals: with no read API, a refusal cannot be re-checked as Pagar.me's is. A shopper whose
first attempt (pspReference A) is refused and whose retry (B) is authorised, both with the same
merchantReference, gets ``AUTHORISATION:false`` for A, possibly after B's authorisation. The intake
guards it: a ``payment_refused`` cancel for another transaction than the one that paid the order is
only recorded (inbox result ``stale_refusal``).

Outbound
--------
``push_cancellation`` targets the order's payment (``snapshot["payment"]["transaction_id"]``,
else the link's external id = the payment pspReference): ``POST {base_url}/payments/{psp}/reversals``
(cancels an authorisation, refunds a captured payment: with Adyen's default immediate capture a
plain cancel would fail) or ``…/cancels`` when ``cancel_with`` is ``cancels``, with body
``{"merchantAccount", "reference": <Malote number>}``, headers ``X-API-Key`` and
``Idempotency-Key`` = the outbox message's key. Adyen answers ``201 {"status": "received", …}``;
the outcome arrives later as a ``CANCEL_OR_REFUND``/``CANCELLATION`` webhook, which finds the
order already canceled. No payment reference → nothing to do. HTTP errors are classified by
``Connector.request`` (5xx/429/timeouts retryable; 401/403/422 permanent).

Confirmed vs assumed: ``channel-apis.md`` §5b — envelope, item fields, event codes, the HMAC
scheme and its test vector are ✅; the ``[accepted]`` body and basic auth on the webhook URL are
❓. The Checkout API (paths, ``X-API-Key``, ``Idempotency-Key``, the ``received`` answer) is not in
the reference: taken from Adyen's public Checkout v71 models (🟡), hence the ``cancel_with`` switch.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from django.http import HttpResponse

from malote.connectors.base import Connector, InboundChange, Unsupported, WebhookRejected
from malote.connectors.registry import register
from malote.connectors.values import header_value, minor_to_decimal
from malote.sync.errors import DeliveryError

# The eight fields of the payments-webhook HMAC, in order (channel-apis.md §5b, Adyen/util.py).
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


def _payment_method(adyen_method: str) -> str | None:
    method = adyen_method.strip().lower()
    if not method:
        return None
    if method in _PIX:
        return "pix"
    if method.startswith(_BOLETO_PREFIX):
        return "boleto"
    return "credit_card"


def _items(body: bytes) -> list[dict[str, Any]]:
    """The NotificationRequestItems of a webhook body; ValueError when it is not one."""
    envelope = json.loads(body)
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


@register
class AdyenConnector(Connector):
    kind = "adyen"
    default_status_in = DEFAULT_STATUS_IN

    # --- inbound -------------------------------------------------------------------------------

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, query: Mapping[str, str]) -> None:
        self._verify_basic_auth(headers)
        mode = str(self.option("webhook_signature", "hmac")).strip().lower()
        if mode == "none":
            return
        if mode != "hmac":
            raise WebhookRejected(
                f"Unknown webhook_signature mode {mode!r}.", code="webhook_signature_config"
            )
        hex_key = str((self.channel.credentials or {}).get("hmac_key") or "")
        if not hex_key:
            raise WebhookRejected("The channel has no hmac_key.", code="webhook_signature_config")
        for item in _items(body):
            additional = item.get("additionalData")
            given = str(additional.get("hmacSignature") or "") if isinstance(additional, dict) else ""
            if not given:
                raise WebhookRejected("An item has no hmacSignature.", code="webhook_signature_missing")
            try:
                expected = hmac_signature(item, hex_key)
            except (ValueError, binascii.Error):
                raise WebhookRejected(
                    "The channel's hmac_key is not a hex string.", code="webhook_signature_config"
                ) from None
            if not hmac.compare_digest(given.encode(), expected.encode()):
                raise WebhookRejected(
                    f"Signature of item {str(item['pspReference'])[:40]} does not match.",
                    code="webhook_signature_invalid",
                )

    def _verify_basic_auth(self, headers: Mapping[str, str]) -> None:
        credentials = self.channel.credentials or {}
        username = str(credentials.get("webhook_username") or "")
        if not username:
            return
        expected = f"{username}:{credentials.get('webhook_password') or ''}"
        header = header_value(headers, "Authorization")
        given = ""
        if header[:6].lower() == "basic ":
            try:
                given = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                given = ""
        if not given or not hmac.compare_digest(given.encode(), expected.encode()):
            raise WebhookRejected("Webhook basic auth does not match.", code="webhook_auth_invalid")

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[InboundChange]:
        return [self._change(item) for item in _items(body)]

    def _change(self, item: Mapping[str, Any]) -> InboundChange:
        event_code = str(item["eventCode"]).strip().upper()
        success = str(item.get("success", "")).strip().lower()
        word = event_code if success == "true" else f"{event_code}:false"
        status = self.status_in(word)
        psp = str(item["pspReference"]).strip()
        original = str(item.get("originalReference") or "").strip()
        payment_psp = original or psp
        occurred_at = str(item.get("eventDate") or "")
        raw_amount = item.get("amount")
        amount: Mapping[str, Any] = raw_amount if isinstance(raw_amount, Mapping) else {}
        facts: dict[str, Any] = {}
        if status == "paid":
            payment = {
                "gateway": self.kind,
                "transaction_id": payment_psp,
                "amount": minor_to_decimal(amount.get("value"), str(amount.get("currency") or "")),
                "paid_at": occurred_at or None,
                "method": _payment_method(str(item.get("paymentMethod") or "")),
            }
            facts["payment"] = {name: value for name, value in payment.items() if value}
        elif status == "canceled":
            reasons = {**CANCEL_REASONS, **self.option("cancel_reasons", {})}
            facts["cancel_reason"] = reasons.get(word, "channel")
            reason = str(item.get("reason") or "").strip()
            facts["note"] = f"Adyen: {word} ({payment_psp})" + (f": {reason[:200]}" if reason else "")
        return InboundChange(
            event_id=f"{psp}:{original}:{event_code}:{success}",
            external_id=payment_psp,
            remote_status=word,
            status=status,
            facts=facts,
            occurred_at=occurred_at,
            transaction_id=payment_psp,
            reference=str(item.get("merchantReference") or ""),
        )

    def acknowledge(self, results: list[str]) -> HttpResponse:
        return HttpResponse("[accepted]", content_type="text/plain")

    def fetch_order(self, external_id: str) -> InboundChange:
        """Unsupported: Adyen offers no payment-status read in the reference, only webhooks.

        The reconciliation must rely on the last webhook seen (``OrderLink.remote_status`` and the
        inbox) for Adyen payments.
        """
        raise Unsupported

    # ``list_orders`` is the base's (Unsupported): the reference has no payment listing either, so the
    # reconciliation schedules no listing check for Adyen channels.

    # --- outbound ------------------------------------------------------------------------------

    def push_cancellation(self, external_id: str, snapshot: dict[str, Any], *, idempotency_key: str) -> None:
        payment = snapshot.get("payment") or {}
        psp = str(payment.get("transaction_id") or "").strip() or external_id.strip()
        if not psp:
            return  # no payment was ever made: nothing to cancel
        endpoint = str(self.option("cancel_with", "reversals")).strip().lower()
        if endpoint not in CANCEL_ENDPOINTS:
            raise DeliveryError(f"Unknown cancel_with {endpoint!r}.", retryable=False)
        merchant_account = str(self.option("merchant_account", "") or "")
        if not merchant_account:
            raise DeliveryError(
                f"Channel {self.channel.code} has no merchant_account option.", retryable=False
            )
        body: dict[str, Any] = {"merchantAccount": merchant_account}
        if snapshot.get("number"):
            body["reference"] = str(snapshot["number"])
        path = f"/payments/{psp}/{endpoint}"
        response = self.request(
            "POST",
            f"{self.base_url}{path}",
            what=f"adyen POST {path}",
            json=body,
            headers={
                "X-API-Key": self.credential("api_key"),
                "Idempotency-Key": idempotency_key,
                "Accept": "application/json",
            },
        )
        try:
            answer = response.json()
        except ValueError:
            raise DeliveryError(f"adyen POST {path}: answer is not JSON", retryable=True) from None
        if not isinstance(answer, dict) or answer.get("status") != "received":
            raise DeliveryError(f"adyen POST {path}: unexpected answer {str(answer)[:200]}", retryable=True)
