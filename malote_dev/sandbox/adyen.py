"""Fake Adyen: the Checkout API's payment modifications (base path ``/v71``) and the standard
webhooks; the tests validate the webhooks against Adyen's Webhooks OpenAPI (``tests/specs.py``).

Header ``X-API-Key``; amounts in minor units; writes honour ``Idempotency-Key``. Cancels,
reversals, refunds and captures answer ``"status": "received"``: the outcome arrives only as a
webhook (``notificationItems``, one item per request, to the ``webhook_url`` setting), signed with
``hmacSignature`` = base64 HMAC-SHA256 (hex-decoded ``hmac_key``) over the eight fields
``pspReference:originalReference:merchantAccountCode:merchantReference:value:currency:eventCode:success``.

Control: ``POST /_sandbox/payments`` (a shopper pays: ``AUTHORISATION``), ``…/{psp}/capture``,
``…/cancel``, ``…/refund``, ``…/chargeback``. ``GET /_sandbox`` lists the routes and the settings;
settings described as assumed switch what the vendor leaves unconfirmed. The vendor's API:
docs/connectors/adyen.md.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from malote_dev.sandbox.app import ControlError, FakeApp, Setting, control_body
from malote_dev.sandbox.clock import BRASILIA, utc_now
from malote_dev.sandbox.faults import Fault
from malote_dev.sandbox.router import BadRequest, Request, Response
from malote_dev.sandbox.seed import DEMO_ORDERS

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SIGNATURE_MODES = ("hmac", "none")
# The eight fields of the HMAC signing string, in order.
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
DEFAULT_HMAC_KEY = hashlib.sha256(b"malote-demo adyen").hexdigest().upper()
_PSP_ALPHABET = string.ascii_uppercase + string.digits
_CARD_BRANDS = ("visa", "mc", "elo", "amex", "hipercard")


def sign_item(item: Mapping[str, Any], hex_key: str) -> str:
    """Adyen's payments-webhook HMAC of one NotificationRequestItem (base64)."""
    amount = item.get("amount") or {}
    values = {name: item.get(name) for name in HMAC_FIELDS}
    values.update(value=amount.get("value"), currency=amount.get("currency"))
    text = ":".join("" if values[name] is None else str(values[name]) for name in HMAC_FIELDS)
    digest = hmac.new(bytes.fromhex(hex_key), text.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


@dataclass
class AdyenState:
    """Payments by pspReference, modifications by their own pspReference, remembered answers."""

    payments: dict[str, dict[str, Any]] = field(default_factory=dict)
    modifications: dict[str, dict[str, Any]] = field(default_factory=dict)
    idempotent_answers: dict[str, tuple[tuple[str, str, bytes], Response]] = field(default_factory=dict)
    rng: random.Random = field(default_factory=lambda: random.Random("malote-sandbox-adyen"))

    def new_psp(self) -> str:
        return "".join(self.rng.choice(_PSP_ALPHABET) for _ in range(16))


class AdyenError(Exception):
    """An Adyen service error: ``{"status", "errorCode", "message", "errorType"}``."""

    def __init__(self, status: int, code: str, message: str, error_type: str = "validation") -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.error_type = status, code, message, error_type


def _event_date() -> str:
    """``2026-11-22T10:00:00-03:00`` (ISO 8601 with offset, as Adyen's examples)."""
    return utc_now().astimezone(BRASILIA).isoformat()


def _minor(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ControlError(400, "invalid", f"{name} must be a positive integer of minor units")
    return value


class AdyenApp(FakeApp[AdyenState]):
    kind: ClassVar[str] = "adyen"
    api_prefix: ClassVar[str] = "/v71/"
    settings: ClassVar[Mapping[str, Setting]] = {
        "api_key": Setting(
            "AQEsandbox" + hashlib.sha256(b"malote-demo adyen api").hexdigest()[:32],
            (str,),
            "X-API-Key of the Checkout API",
        ),
        "merchant_account": Setting("MaloteDemoECOM", (str,), "merchantAccount / merchantAccountCode"),
        "hmac_key": Setting(DEFAULT_HMAC_KEY, (str,), "hex HMAC key signing the webhooks"),
        "live": Setting("false", (str,), "the envelope's live flag", ("false", "true")),
        "webhook_signature": Setting("hmac", (str,), "hmac | none", SIGNATURE_MODES),
        "webhook_username": Setting(None, (str, type(None)), "assumed: basic auth user on webhook POSTs"),
        "webhook_password": Setting(None, (str, type(None)), "assumed: basic auth password on webhook POSTs"),
        "manual_capture": Setting(False, (bool,), "authorised payments wait for a capture"),
    }

    def __init__(self, *, seed: bool = True, config: Mapping[str, Any] | None = None) -> None:
        self._emitted: list[str] = []
        super().__init__(seed=seed, config=config)

    # ----------------------------------------------------------------- framework hooks
    def credentials(self) -> dict[str, str]:
        return {
            "api_key": self.config.get_str("api_key"),
            "hmac_key": self.config.get_str("hmac_key"),
            "merchant_account": self.config.get_str("merchant_account"),
        }

    def authenticate(self, request: Request) -> Response | None:
        given = request.headers.get("x-api-key", "")
        if given and hmac.compare_digest(given, self.config.get_str("api_key")):
            return None
        return self._error_json(AdyenError(401, "000", "HTTP Status Response - Unauthorized", "security"))

    @staticmethod
    def _error_json(error: AdyenError) -> Response:
        body = {
            "status": error.status,
            "errorCode": error.code,
            "message": error.message,
            "errorType": error.error_type,
        }
        return Response.json(body, error.status)

    def error_response(self, request: Request, status: int) -> Response:
        return self._error_json(AdyenError(status, "905", "Internal error", "internal"))

    def rate_limited_response(self, request: Request, fault: Fault) -> Response:
        response = self._error_json(AdyenError(429, "429", "Too Many Requests", "validation"))
        response.headers.append(("Retry-After", str(int(fault.params["retry_after"]))))
        return response

    def not_found_response(self, request: Request) -> Response:
        return self._error_json(AdyenError(404, "000", "HTTP Status Response - Not Found", "security"))

    def bad_request_response(self, request: Request, detail: str) -> Response:
        return self._error_json(AdyenError(400, "702", f"Structure error: {detail}"))

    def call_handler(self, request: Request, handler: Callable[[Request], Response]) -> Response:
        key = request.headers.get("idempotency-key", "").strip()
        fingerprint = (request.method, request.path, request.body)
        if key and request.method in WRITE_METHODS and key in self.state.idempotent_answers:
            first_request, first = self.state.idempotent_answers[key]
            if first_request != fingerprint:
                return self._error_json(AdyenError(422, "704", "request already processed or in progress"))
            return Response(first.status, first.body, list(first.headers))
        try:
            response = handler(request)
        except AdyenError as error:
            response = self._error_json(error)
        if key and request.method in WRITE_METHODS and response.status < 500:
            self.state.idempotent_answers[key] = (
                fingerprint,
                Response(response.status, response.body, list(response.headers)),
            )
        return response

    def webhook_headers(self, event: str, body: bytes) -> dict[str, str]:
        username = self.config.get_optional_str("webhook_username")
        if not username:
            return {}
        password = self.config.get_optional_str("webhook_password") or ""
        token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        return {"Authorization": f"Basic {token}"}

    def state_json(self) -> Any:
        return {
            "payments": [self._public(payment) for payment in self.state.payments.values()],
            "modifications": list(self.state.modifications.values()),
        }

    @staticmethod
    def _public(payment: dict[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in payment.items() if not key.startswith("_")}

    # ----------------------------------------------------------------- routes
    def add_routes(self) -> None:
        for action in ("cancels", "reversals", "refunds", "captures"):
            self.api.add("POST", f"/v71/payments/{{psp}}/{action}", self._modification_handler(action))
        control = self.control.add
        control("POST", "/_sandbox/payments", self._control_pay)
        control("POST", "/_sandbox/payments/{psp}/capture", self._control_capture)
        control("POST", "/_sandbox/payments/{psp}/cancel", self._control_cancel)
        control("POST", "/_sandbox/payments/{psp}/refund", self._control_refund)
        control("POST", "/_sandbox/payments/{psp}/chargeback", self._control_chargeback)

    # ----------------------------------------------------------------- webhooks
    def _notify(
        self,
        payment: dict[str, Any],
        event_code: str,
        *,
        success: bool = True,
        modification: str | None = None,
        amount: int | None = None,
        reason: str = "",
        additional: Mapping[str, str] | None = None,
    ) -> None:
        """Send one signed standard webhook about ``payment`` (or its ``modification``)."""
        if self._seeding:
            return  # the seed is history: nothing of it is announced
        self._emitted.append(event_code if success else f"{event_code}:false")
        item: dict[str, Any] = {
            "additionalData": dict(additional or {}),
            "amount": {
                "value": payment["amount"] if amount is None else amount,
                "currency": payment["currency"],
            },
            "eventCode": event_code,
            "eventDate": _event_date(),
            "merchantAccountCode": self.config.get_str("merchant_account"),
            "merchantReference": payment["merchantReference"],
            "paymentMethod": payment["paymentMethod"],
            "pspReference": modification or payment["pspReference"],
            "reason": reason,
            "success": "true" if success else "false",
        }
        if modification is not None:
            item["originalReference"] = payment["pspReference"]
        if event_code == "AUTHORISATION" and success:
            item["operations"] = ["CANCEL", "CAPTURE", "REFUND"]
        if self.config.get_str("webhook_signature") == "hmac":
            item["additionalData"]["hmacSignature"] = sign_item(item, self.config.get_str("hmac_key"))
        payload = {
            "live": self.config.get_str("live"),
            "notificationItems": [{"NotificationRequestItem": item}],
        }
        self.send_webhook(event_code, payload)

    def _collect_events(self) -> list[str]:
        events, self._emitted = self._emitted, []
        return events

    # ----------------------------------------------------------------- payments
    def _authorise(
        self, reference: str, amount: int, currency: str, method: str, *, refused: bool = False
    ) -> dict[str, Any]:
        psp = self.state.new_psp()
        payment: dict[str, Any] = {
            "pspReference": psp,
            "merchantReference": reference,
            "amount": amount,
            "currency": currency,
            "paymentMethod": method,
            "status": "Refused" if refused else "Authorised",
            "refunded": 0,
            "createdAt": _event_date(),
        }
        self.state.payments[psp] = payment
        if refused:
            self._notify(
                payment,
                "AUTHORISATION",
                success=False,
                reason="Refused",
                additional={"refusalReasonRaw": "05 : Do not honor"},
            )
            return payment
        additional = {"authCode": str(self.state.rng.randrange(10**5, 10**6))}
        if method in _CARD_BRANDS:
            additional.update(cardSummary="0010", expiryDate="03/2030")
        reason = f"{additional['authCode']}:0010:03/2030" if method in _CARD_BRANDS else ""
        self._notify(payment, "AUTHORISATION", reason=reason, additional=additional)
        if not self.config.get_bool("manual_capture"):
            payment["status"] = "Captured"  # immediate capture, Adyen's default: no CAPTURE webhook
        return payment

    def _modification(self, payment: dict[str, Any], action: str, reference: str | None) -> dict[str, Any]:
        record: dict[str, Any] = {
            "pspReference": self.state.new_psp(),
            "paymentPspReference": payment["pspReference"],
            "action": action,
            "status": "received",
        }
        if reference:
            record["reference"] = reference
        self.state.modifications[record["pspReference"]] = record
        return record

    def _capture(self, payment: dict[str, Any], reference: str | None = None) -> dict[str, Any]:
        record = self._modification(payment, "capture", reference)
        ok = payment["status"] == "Authorised"
        if ok:
            payment["status"] = "Captured"
        self._notify(
            payment,
            "CAPTURE",
            success=ok,
            modification=record["pspReference"],
            reason="" if ok else f"Payment is {payment['status']}",
        )
        return record

    def _cancel(self, payment: dict[str, Any], reference: str | None = None) -> dict[str, Any]:
        record = self._modification(payment, "cancel", reference)
        ok = payment["status"] == "Authorised"
        reason = "" if ok else f"Transaction is {payment['status']}, cancel not possible"
        if ok:
            payment["status"] = "Cancelled"
        self._notify(payment, "CANCELLATION", success=ok, modification=record["pspReference"], reason=reason)
        return record

    def _reverse(self, payment: dict[str, Any], reference: str | None = None) -> dict[str, Any]:
        record = self._modification(payment, "reversal", reference)
        before = payment["status"]
        action = {"Authorised": "cancel", "Captured": "refund"}.get(before)
        if action == "cancel":
            payment["status"] = "Cancelled"
        elif action == "refund":
            payment.update(status="Refunded", refunded=payment["amount"])
        self._notify(
            payment,
            "CANCEL_OR_REFUND",
            success=action is not None,
            modification=record["pspReference"],
            reason="" if action else f"Transaction is {before}, cancel or refund not possible",
            additional={"modification.action": action} if action else None,
        )
        return record

    def _refund(
        self, payment: dict[str, Any], amount: int | None, reference: str | None = None
    ) -> dict[str, Any]:
        record = self._modification(payment, "refund", reference)
        left = payment["amount"] - payment["refunded"]
        value = left if amount is None else amount
        ok = payment["status"] in ("Captured", "Refunded") and 0 < value <= left
        if ok:
            payment["refunded"] += value
            if payment["refunded"] >= payment["amount"]:
                payment["status"] = "Refunded"
        reason = "" if ok else "Transaction hasn't been captured, refund not possible"
        self._notify(
            payment, "REFUND", success=ok, modification=record["pspReference"], amount=value, reason=reason
        )
        record["amount"] = {"value": value, "currency": payment["currency"]}
        return record

    def _chargeback(self, payment: dict[str, Any]) -> dict[str, Any]:
        if payment["status"] not in ("Captured", "Refunded"):
            raise ControlError(
                409, "conflict", f"only a captured payment is charged back ({payment['status']})"
            )
        record = self._modification(payment, "chargeback", None)
        payment["status"] = "Chargeback"
        self._notify(
            payment,
            "CHARGEBACK",
            modification=record["pspReference"],
            reason="Fraudulent transaction",
            additional={"chargebackReasonCode": "10.4", "defendable": "true", "disputeStatus": "Undefended"},
        )
        return record

    # ----------------------------------------------------------------- API handlers
    def _modification_handler(self, action: str) -> Callable[[Request], Response]:
        def handle(request: Request) -> Response:
            body = request.json()
            if not isinstance(body, dict):
                raise BadRequest("the body must be a JSON object")
            account = body.get("merchantAccount")
            if not isinstance(account, str) or not account:
                raise AdyenError(422, "702", "Required field 'merchantAccount' is not provided.")
            if account != self.config.get_str("merchant_account"):
                raise AdyenError(403, "901", "Invalid Merchant Account", "security")
            payment = self.state.payments.get(request.params["psp"])
            if payment is None:
                raise AdyenError(422, "167", "Original pspReference required for this operation")
            reference = body.get("reference") if isinstance(body.get("reference"), str) else None
            amount: int | None = None
            if action in ("refunds", "captures"):
                value = (
                    (body.get("amount") or {}).get("value") if isinstance(body.get("amount"), dict) else None
                )
                if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                    raise AdyenError(422, "137", "Invalid amount specified")
                amount = value
            if action == "cancels":
                record = self._cancel(payment, reference)
            elif action == "reversals":
                record = self._reverse(payment, reference)
            elif action == "refunds":
                record = self._refund(payment, amount, reference)
            else:
                record = self._capture(payment, reference)
            answer = {
                "merchantAccount": account,
                "paymentPspReference": payment["pspReference"],
                "pspReference": record["pspReference"],
                "status": "received",
            }
            if reference:
                answer["reference"] = reference
            if amount is not None:
                answer["amount"] = {"value": amount, "currency": payment["currency"]}
            return Response.json(answer, 201)

        return handle

    # ----------------------------------------------------------------- seed
    def new_state(self, seed: bool) -> AdyenState:
        state = AdyenState()
        return self.seed_through_live_paths(state, self._seed) if seed else state

    def _seed(self) -> None:
        """The demo orders paid by card went through Adyen (the others through Pagar.me)."""
        for demo in DEMO_ORDERS:
            if demo.payment_method != "credit_card" or demo.status == "abandoned":
                continue
            payment = self._authorise(str(demo.number), int(demo.total * 100), "BRL", "visa")
            if demo.status == "canceled":
                self._reverse(payment)

    # ----------------------------------------------------------------- control
    def _control_payment(self, request: Request) -> dict[str, Any]:
        payment = self.state.payments.get(request.params["psp"])
        if payment is None:
            raise ControlError(404, "not_found", f"no payment {request.params['psp']}")
        return payment

    def _answer(self, payment: dict[str, Any], status: int = 200, **extra: Any) -> Response:
        return Response.json(
            {"payment": self._public(payment), **extra, "events": self._collect_events()}, status
        )

    def _control_pay(self, request: Request) -> Response:
        body = control_body(request)
        reference = body.get("merchantReference")
        if not isinstance(reference, str) or not reference:
            raise ControlError(400, "invalid", "merchantReference is required")
        amount = _minor(body.get("amount", 11480), "amount")
        currency = body.get("currency", "BRL")
        method = body.get("paymentMethod", "visa")
        outcome = body.get("outcome", "authorised")
        if not isinstance(currency, str) or len(currency) != 3 or not isinstance(method, str):
            raise ControlError(400, "invalid", "currency must be a 3-letter code, paymentMethod a string")
        if outcome not in ("authorised", "refused"):
            raise ControlError(400, "invalid", "outcome must be authorised or refused")
        self._emitted.clear()
        payment = self._authorise(reference, amount, currency.upper(), method, refused=outcome == "refused")
        return self._answer(payment, 201)

    def _control_capture(self, request: Request) -> Response:
        payment = self._control_payment(request)
        if payment["status"] != "Authorised":
            raise ControlError(
                409, "conflict", f"only an authorised payment is captured ({payment['status']})"
            )
        self._emitted.clear()
        record = self._capture(payment)
        return self._answer(payment, modification=record)

    def _control_cancel(self, request: Request) -> Response:
        payment = self._control_payment(request)
        if payment["status"] != "Authorised":
            raise ControlError(
                409, "conflict", f"only an authorised payment is canceled ({payment['status']})"
            )
        self._emitted.clear()
        record = self._cancel(payment)
        return self._answer(payment, modification=record)

    def _control_refund(self, request: Request) -> Response:
        payment = self._control_payment(request)
        amount = control_body(request).get("amount")
        if payment["status"] not in ("Captured", "Refunded") or payment["refunded"] >= payment["amount"]:
            raise ControlError(409, "conflict", f"only a captured payment is refunded ({payment['status']})")
        self._emitted.clear()
        record = self._refund(payment, None if amount is None else _minor(amount, "amount"))
        return self._answer(payment, modification=record)

    def _control_chargeback(self, request: Request) -> Response:
        payment = self._control_payment(request)
        self._emitted.clear()
        record = self._chargeback(payment)
        return self._answer(payment, modification=record)
