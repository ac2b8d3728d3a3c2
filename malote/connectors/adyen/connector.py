"""The Adyen provider: the payment gateway's standard webhooks (authorisations, cancellations,
refunds, chargebacks) in, reversals or cancels out. See docs/connectors/adyen.md.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from malote.connectors.adyen.client import AdyenClient
from malote.connectors.adyen.mapping import (
    CANCEL_ENDPOINTS,
    CANCEL_REASONS,
    DEFAULT_STATUS_IN,
    hmac_signature,
    notification_items,
    payment_method,
)
from malote.connectors.base import (
    Capability,
    Connector,
    InboundChange,
    RefundAnswer,
    WebhookAnswer,
    WebhookRejected,
)
from malote.connectors.errors import ConnectorErrorCode
from malote.connectors.registry import register
from malote.connectors.values import header_value, minor_to_decimal
from malote.sync.errors import DeliveryError


@register
class AdyenConnector(Connector):
    kind = "adyen"
    # No FETCH_ORDER nor LIST_ORDERS: Adyen has no payment read nor listing; webhooks are the record.
    capabilities = frozenset(
        {Capability.RECEIVE_WEBHOOKS, Capability.PUSH_CANCELLATION, Capability.PUSH_REFUND}
    )
    default_status_in = DEFAULT_STATUS_IN

    @property
    def api(self) -> AdyenClient:
        return AdyenClient(self.http, self.base_url, api_key=self.credential("api_key"))

    # --- inbound -------------------------------------------------------------------------------

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, query: Mapping[str, str]) -> None:
        self._verify_basic_auth(headers)
        mode = str(self.option("webhook_signature", "hmac")).strip().lower()
        if mode == "none":
            return
        if mode != "hmac":
            raise WebhookRejected(
                f"Unknown webhook_signature mode {mode!r}.", code=ConnectorErrorCode.WEBHOOK_SIGNATURE_CONFIG
            )
        hex_key = str((self.channel.credentials or {}).get("hmac_key") or "")
        if not hex_key:
            raise WebhookRejected(
                "The channel has no hmac_key.",
                code=ConnectorErrorCode.WEBHOOK_SIGNATURE_CONFIG,
            )
        for item in notification_items(body):
            additional = item.get("additionalData")
            given = str(additional.get("hmacSignature") or "") if isinstance(additional, dict) else ""
            if not given:
                raise WebhookRejected(
                    "An item has no hmacSignature.",
                    code=ConnectorErrorCode.WEBHOOK_SIGNATURE_MISSING,
                )
            try:
                expected = hmac_signature(item, hex_key)
            except (ValueError, binascii.Error):
                raise WebhookRejected(
                    "The channel's hmac_key is not a hex string.",
                    code=ConnectorErrorCode.WEBHOOK_SIGNATURE_CONFIG,
                ) from None
            if not hmac.compare_digest(given.encode(), expected.encode()):
                raise WebhookRejected(
                    f"Signature of item {str(item['pspReference'])[:40]} does not match.",
                    code=ConnectorErrorCode.WEBHOOK_SIGNATURE_INVALID,
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
            raise WebhookRejected(
                "Webhook basic auth does not match.",
                code=ConnectorErrorCode.WEBHOOK_AUTH_INVALID,
            )

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[InboundChange]:
        return [self._change(item) for item in notification_items(body)]

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
                "method": payment_method(str(item.get("paymentMethod") or "")),
            }
            facts["payment"] = {name: value for name, value in payment.items() if value}
        elif status == "canceled":
            reasons = {**CANCEL_REASONS, **self.option("cancel_reasons", {})}
            facts["cancel_reason"] = reasons.get(word, "channel")
            reason = str(item.get("reason") or "").strip()
            facts["note"] = f"Adyen: {word} ({payment_psp})" + (f": {reason[:200]}" if reason else "")
        if word == "REFUND":
            # Maybe part of the payment (a return): the intake decides whether it cancels the order.
            facts["refund"] = {
                "amount": minor_to_decimal(amount.get("value"), str(amount.get("currency") or "")),
                "reference": psp,
            }
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

    def acknowledge(self, results: list[str]) -> WebhookAnswer:
        return WebhookAnswer("[accepted]", content_type="text/plain")

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
        self.api.modify_payment(psp, endpoint, body, idempotency_key=idempotency_key)

    def push_refund(
        self, external_id: str, snapshot: dict[str, Any], *, amount: str, reference: str, idempotency_key: str
    ) -> RefundAnswer:
        """``POST /payments/{psp}/refunds`` for ``amount`` (part of a captured payment). Adyen
        answers ``received``; the ``REFUND`` webhook confirms it later."""
        payment = snapshot.get("payment") or {}
        psp = str(payment.get("transaction_id") or "").strip() or external_id.strip()
        if not psp:
            raise DeliveryError("The order has no Adyen payment to refund.", retryable=False)
        merchant_account = str(self.option("merchant_account", "") or "")
        if not merchant_account:
            raise DeliveryError(
                f"Channel {self.channel.code} has no merchant_account option.", retryable=False
            )
        currency = str(snapshot.get("currency") or "BRL")
        body: dict[str, Any] = {
            "merchantAccount": merchant_account,
            "amount": {"value": int(Decimal(amount).scaleb(2)), "currency": currency},
            "reference": reference,
        }
        answer = self.api.modify_payment(psp, "refunds", body, idempotency_key=idempotency_key)
        return RefundAnswer(confirmed=False, reference=str(answer.get("pspReference") or ""))
