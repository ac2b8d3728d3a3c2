"""The Pagar.me provider (core API v5), the payment gateway that confirms, refuses and refunds
payments: signed webhooks in, payments looked up by charge or order, charges voided on cancel.
See docs/connectors/pagarme.md.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from malote.connectors.base import (
    Capability,
    Connector,
    InboundChange,
    ListedOrder,
    OrderListing,
    RefundAnswer,
    WebhookRejected,
)
from malote.connectors.errors import ConnectorErrorCode
from malote.connectors.pagarme.client import PagarmeClient, b64url_decode, signing_key
from malote.connectors.pagarme.mapping import (
    CANCEL_REASONS,
    DEFAULT_STATUS_IN,
    PAID_LIKE,
    PAYMENT_METHODS,
    REFUND_WORDS,
    SETTLED,
)
from malote.connectors.payload import load_json
from malote.connectors.registry import register
from malote.connectors.values import header_value, minor_to_decimal
from malote.sync.errors import DeliveryError

DEFAULT_JWKS_URL = "https://hubapi.pagar.me/.well-known/jwks.json"
SIGNATURE_HEADER = "X-Webhook-Asymmetric-Signature"
HMAC_HEADER = "X-Hub-Signature"
LIST_PAGE_SIZE = 100  # the API's maximum page size


@register
class PagarmeConnector(Connector):
    kind = "pagarme"
    capabilities = frozenset(
        {
            Capability.RECEIVE_WEBHOOKS,
            Capability.FETCH_ORDER,
            Capability.LIST_ORDERS,
            Capability.PUSH_CANCELLATION,
            Capability.PUSH_REFUND,
        }
    )
    default_status_in = DEFAULT_STATUS_IN

    @property
    def api(self) -> PagarmeClient:
        return PagarmeClient(self.http, self.base_url, secret_key=self.credential("secret_key"))

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
                f"Unknown webhook_signature mode {mode!r}.", code=ConnectorErrorCode.WEBHOOK_SIGNATURE_CONFIG
            )

    def _verify_hmac(self, headers: Mapping[str, str], body: bytes) -> None:
        given = header_value(headers, HMAC_HEADER)
        if not given:
            raise WebhookRejected(
                f"Missing {HMAC_HEADER} header.",
                code=ConnectorErrorCode.WEBHOOK_SIGNATURE_MISSING,
            )
        credentials = self.channel.credentials or {}
        secret = str(credentials.get("webhook_hmac_secret") or self.credential("secret_key"))
        expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(given.lower().encode(), expected.encode()):
            raise WebhookRejected(
                "Signature does not match.",
                code=ConnectorErrorCode.WEBHOOK_SIGNATURE_INVALID,
            )

    def _verify_rs256(self, headers: Mapping[str, str], body: bytes) -> None:
        header = header_value(headers, SIGNATURE_HEADER)
        if not header:
            raise WebhookRejected(
                f"Missing {SIGNATURE_HEADER} header.",
                code=ConnectorErrorCode.WEBHOOK_SIGNATURE_MISSING,
            )
        parts: dict[str, str] = {}
        for item in header.split(";"):
            name, sep, value = item.strip().partition("=")
            if sep:
                parts[name.strip().lower()] = value.strip()
        if parts.get("alg", "").upper() != "RS256" or not parts.get("kid") or not parts.get("signature"):
            raise WebhookRejected(
                "Malformed signature header.",
                code=ConnectorErrorCode.WEBHOOK_SIGNATURE_INVALID,
            )
        try:
            signature = b64url_decode(parts["signature"])
        except (binascii.Error, ValueError):
            raise WebhookRejected(
                "Signature is not base64url.",
                code=ConnectorErrorCode.WEBHOOK_SIGNATURE_INVALID,
            ) from None
        key = signing_key(self.http, str(self.option("jwks_url", DEFAULT_JWKS_URL)), parts["kid"])
        if key is None:
            raise WebhookRejected(
                f"Unknown signing key {parts['kid'][:80]!r}.",
                code=ConnectorErrorCode.WEBHOOK_SIGNATURE_INVALID,
            )
        try:
            key.verify(signature, body, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            raise WebhookRejected(
                "Signature does not match.",
                code=ConnectorErrorCode.WEBHOOK_SIGNATURE_INVALID,
            ) from None

    # --- inbound: events -----------------------------------------------------------------------

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[InboundChange]:
        event = load_json(body)
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
            word = str(self.api.charge(str(charge["id"])).get("status") or "")
        elif order.get("id"):
            word = str(self.api.order(str(order["id"])).get("status") or "")
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
        if word in REFUND_WORDS:
            # Part or all of a paid charge went back (a return's refund, or one made in the
            # dashboard): the intake decides whether it cancels the order. ``total`` is cumulative.
            facts["refund"] = {
                "total": minor_to_decimal(charge.get("canceled_amount")),
                "reference": charge_id,
            }
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
            order = self.api.order(external_id)
            word = str(order.get("status") or "")
            charge = self._charge_of(order, {"failed": "payment_failed"}.get(word, word))
            current: Mapping[str, Any] = order
        else:
            charge = self.api.charge(external_id)
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
        body = self.api.call("GET", f"/orders?{query}")
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
            for charge in self.api.order(target).get("charges") or []:
                if isinstance(charge, dict) and charge.get("id"):
                    self._void(str(charge["id"]), f"{idempotency_key}:{charge['id']}")
            return
        self._void(target, idempotency_key)

    def _void(self, charge_id: str, idempotency_key: str) -> None:
        status = str(self.api.charge(charge_id).get("status") or "")
        if status in SETTLED:
            return  # already canceled/refunded, failed or charged back: no money to give back
        if status in PAID_LIKE and not self.option("refund_paid", True):
            return
        try:
            self.api.call("DELETE", f"/charges/{charge_id}", idempotency_key=idempotency_key)
        except DeliveryError as exc:
            # Someone voided it between the read and the delete: that is the outcome we wanted.
            if exc.status == 422 and str(self.api.charge(charge_id).get("status") or "") in SETTLED:
                return
            raise

    def push_refund(
        self, external_id: str, snapshot: dict[str, Any], *, amount: str, reference: str, idempotency_key: str
    ) -> RefundAnswer:
        """``DELETE /charges/{id}`` with ``{"amount": cents}``: part of a paid charge goes back.
        Pagar.me answers with the charge as it is now; a refunded last transaction (or the charge
        canceled, for the whole amount) confirms the refund at once."""
        payment = snapshot.get("payment") or {}
        charge_id = str(payment.get("transaction_id") or "").strip()
        if not charge_id and external_id.startswith("ch_"):
            charge_id = external_id
        if not charge_id:
            raise DeliveryError("The order has no Pagar.me charge to refund.", retryable=False)
        cents = int(Decimal(amount).scaleb(2))
        charge = self.api.call(
            "DELETE", f"/charges/{charge_id}", idempotency_key=idempotency_key, body={"amount": cents}
        )
        last = charge.get("last_transaction") if isinstance(charge.get("last_transaction"), dict) else {}
        confirmed = charge.get("status") == "canceled" or (last or {}).get("status") == "refunded"
        return RefundAnswer(confirmed=confirmed, reference=charge_id)
