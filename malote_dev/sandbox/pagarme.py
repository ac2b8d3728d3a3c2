"""Fake Pagar.me core API v5 (base path ``/core/v5``).

HTTP Basic with the secret key; amounts in integer cents; writes honour ``idempotency-key`` (same
method and path: the first answer replayed). Orders and charges (list, read, create, close,
capture, cancel or refund). Webhooks (``charge.*`` before the ``order.*`` they cause) go to the
``webhook_url`` setting, signed per ``webhook_signature``: ``rs256`` (default,
``X-Webhook-Asymmetric-Signature``, key published at ``GET /.well-known/jwks.json``),
``hmac-sha256`` (``X-Hub-Signature``) or ``none``.

Control: ``POST /_sandbox/orders`` (a shopper pays at checkout), ``/_sandbox/charges/{id}/pay``,
``…/fail``, ``…/refund``, ``…/chargeback``, ``/_sandbox/orders/{id}/cancel``. ``GET /_sandbox``
lists the routes and the settings; settings described as assumed switch what the vendor leaves unconfirmed.
The vendor's API: docs/connectors/pagarme.md.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import random
import string
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from malote.fiscal import FiscalError, parse_tax_document
from malote_dev.sandbox.app import ControlError, FakeApp, Setting, control_body, days_ago
from malote_dev.sandbox.clock import iso_utc, parse_iso, utc_now
from malote_dev.sandbox.faults import Fault
from malote_dev.sandbox.router import BadRequest, Request, Response
from malote_dev.sandbox.seed import DEMO_ORDERS, Customer, customer_from_json, product_by_sku

PAYMENT_METHODS = ("credit_card", "boleto", "pix")
ORDER_STATUSES = ("pending", "paid", "canceled", "failed")
CHARGE_STATUSES = (
    "pending",
    "processing",
    "paid",
    "underpaid",
    "overpaid",
    "failed",
    "canceled",
    "chargedback",
)
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SIGNATURE_MODES = ("rs256", "hmac-sha256", "none")
DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 100

_ID_ALPHABET = string.ascii_letters + string.digits
_PAID_LIKE = frozenset({"paid", "overpaid", "chargedback"})
_OPEN_CHARGE = frozenset({"pending", "processing"})


# --------------------------------------------------------------------------- signing key
@dataclass(frozen=True)
class SigningKey:
    private_key: rsa.RSAPrivateKey
    kid: str

    def sign(self, body: bytes) -> str:
        """Unpadded base64url RSA-SHA256 (PKCS#1 v1.5) signature of ``body``."""
        signature = self.private_key.sign(body, padding.PKCS1v15(), hashes.SHA256())
        return _b64url(signature)

    def jwks(self) -> dict[str, Any]:
        numbers = self.private_key.public_key().public_numbers()
        return {
            "keys": [
                {
                    "kty": "RSA",
                    "use": "sig",
                    "alg": "RS256",
                    "kid": self.kid,
                    "n": _b64url(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
                    "e": _b64url(numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")),
                }
            ]
        }


_key_lock = threading.Lock()
_process_keys: list[SigningKey] = []


def signing_key() -> SigningKey:
    """The process-wide webhook signing key, generated on first use (2048-bit RSA)."""
    with _key_lock:
        if not _process_keys:
            private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            public_der = private_key.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            kid = "sandbox-" + hashlib.sha256(public_der).hexdigest()[:16]
            _process_keys.append(SigningKey(private_key, kid))
        return _process_keys[0]


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


# --------------------------------------------------------------------------- state
@dataclass
class PagarmeState:
    """Orders, charges and customers by id, plus the answers remembered per idempotency key."""

    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    charges: dict[str, dict[str, Any]] = field(default_factory=dict)
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    idempotent_answers: dict[tuple[str, str, str], Response] = field(default_factory=dict)
    rng: random.Random = field(default_factory=lambda: random.Random("malote-sandbox-pagarme"))

    def new_id(self, prefix: str) -> str:
        return prefix + "".join(self.rng.choice(_ID_ALPHABET) for _ in range(16))


class Invalid(Exception):
    """422 ``{"message": "The request is invalid.", "errors": {field: [message]}}``."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{name}: {message}" for name, message in errors.items()))
        self.errors = errors


class Refused(Exception):
    """A state conflict (capture a paid charge…): 422 with a plain message."""


def _amount(value: Any, name: str, *, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid({name: f"must be an integer number of cents, got {value!r}"})
    if value < minimum:
        raise Invalid({name: f"must be at least {minimum}"})
    return value


class PagarmeApp(FakeApp[PagarmeState]):
    kind: ClassVar[str] = "pagarme"
    api_prefix: ClassVar[str] = "/core/v5/"
    settings: ClassVar[Mapping[str, Setting]] = {
        "secret_key": Setting(
            "sk_test_" + hashlib.sha256(b"malote-demo pagarme").hexdigest()[:24],
            (str,),
            "secret key (Basic auth user name)",
        ),
        "account_id": Setting("acc_M4l0t3Sandb0x01", (str,), "account.id in webhooks"),
        "account_name": Setting("Malote Demo", (str,), "account.name in webhooks"),
        "webhook_signature": Setting("rs256", (str,), "assumed: rs256 | hmac-sha256 | none", SIGNATURE_MODES),
        "webhook_hmac_secret": Setting(
            None, (str, type(None)), "HMAC key in hmac-sha256 mode (null: secret key)"
        ),
        "emit_created_events": Setting(True, (bool,), "send order.created and charge.created on creation"),
    }

    def __init__(self, *, seed: bool = True, config: Mapping[str, Any] | None = None) -> None:
        self.signing_key = signing_key()
        self._emitted: list[str] = []
        super().__init__(seed=seed, config=config)

    # ----------------------------------------------------------------- framework hooks
    def credentials(self) -> dict[str, str]:
        return {
            "secret_key": self.config.get_str("secret_key"),
            "jwks_url": self.base_url + "/.well-known/jwks.json",
        }

    def authenticate(self, request: Request) -> Response | None:
        header = request.headers.get("authorization", "")
        user = None
        if header[:6].lower() == "basic ":
            try:
                user = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8").partition(":")[0]
            except (binascii.Error, UnicodeDecodeError):
                user = None
        if user is not None and hmac.compare_digest(user, self.config.get_str("secret_key")):
            return None
        return Response.json({"message": "Authorization has been denied for this request."}, 401)

    def error_response(self, request: Request, status: int) -> Response:
        return Response.json({"message": "An error has occurred."}, status)

    def rate_limited_response(self, request: Request, fault: Fault) -> Response:
        retry_after = str(int(fault.params["retry_after"]))
        return Response.json({"message": "API rate limit exceeded."}, 429, [("Retry-After", retry_after)])

    def not_found_response(self, request: Request) -> Response:
        uri = self.base_url + request.path
        return Response.json(
            {"message": f"No HTTP resource was found that matches the request URI '{uri}'."}, 404
        )

    def method_not_allowed_response(self, request: Request, allowed: tuple[str, ...]) -> Response:
        message = f"The requested resource does not support http method '{request.method}'."
        return Response.json({"message": message}, 405, [("Allow", ", ".join(allowed))])

    def bad_request_response(self, request: Request, detail: str) -> Response:
        return Response.json({"message": "The request is invalid.", "errors": {"request": [detail]}}, 400)

    def call_handler(self, request: Request, handler: Callable[[Request], Response]) -> Response:
        key = request.headers.get("idempotency-key", "").strip()
        remembered_as = (
            (request.method, request.path, key) if key and request.method in WRITE_METHODS else None
        )
        if remembered_as is not None and remembered_as in self.state.idempotent_answers:
            first = self.state.idempotent_answers[remembered_as]
            return Response(first.status, first.body, list(first.headers))
        try:
            response = handler(request)
        except Invalid as error:
            errors = {name: [message] for name, message in error.errors.items()}
            response = Response.json({"message": "The request is invalid.", "errors": errors}, 422)
        except Refused as error:
            response = Response.json({"message": str(error)}, 422)
        if remembered_as is not None and response.status < 500:
            self.state.idempotent_answers[remembered_as] = Response(
                response.status, response.body, list(response.headers)
            )
        return response

    def webhook_headers(self, event: str, body: bytes) -> dict[str, str]:
        mode = self.config.get_str("webhook_signature")
        if mode == "rs256":
            signature = self.signing_key.sign(body)
            return {
                "X-Webhook-Asymmetric-Signature": (
                    f"alg=RS256; kid={self.signing_key.kid}; signature={signature}"
                )
            }
        if mode == "hmac-sha256":
            secret = self.config.get_optional_str("webhook_hmac_secret") or self.config.get_str("secret_key")
            digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
            return {"X-Hub-Signature": f"sha256={digest}"}
        return {}

    def state_json(self) -> Any:
        return {
            "orders": [self._order_out(order) for order in self.state.orders.values()],
            "charges": [self._charge_out(charge) for charge in self.state.charges.values()],
        }

    # ----------------------------------------------------------------- routes
    def add_routes(self) -> None:
        api = self.api.add
        api("GET", "/core/v5/orders", self._list_orders)
        api("POST", "/core/v5/orders", self._create_order)
        api("GET", "/core/v5/orders/{id}", self._get_order)
        api("PATCH", "/core/v5/orders/{id}/closed", self._close_order)
        api("GET", "/core/v5/charges", self._list_charges)
        api("GET", "/core/v5/charges/{id}", self._get_charge)
        api("POST", "/core/v5/charges/{id}/capture", self._capture_charge)
        api("DELETE", "/core/v5/charges/{id}", self._cancel_charge)
        self.public.add("GET", "/.well-known/jwks.json", self._jwks)
        control = self.control.add
        control("POST", "/_sandbox/orders", self._control_checkout)
        control("POST", "/_sandbox/charges/{id}/pay", self._control_pay)
        control("POST", "/_sandbox/charges/{id}/fail", self._control_fail)
        control("POST", "/_sandbox/charges/{id}/refund", self._control_refund)
        control("POST", "/_sandbox/charges/{id}/chargeback", self._control_chargeback)
        control("POST", "/_sandbox/orders/{id}/cancel", self._control_cancel_order)

    def _jwks(self, request: Request) -> Response:
        return Response.json(self.signing_key.jwks())

    # ----------------------------------------------------------------- rendering
    def _charge_out(self, charge: dict[str, Any], *, with_order: bool = True) -> dict[str, Any]:
        out = {key: value for key, value in charge.items() if not key.startswith("_")}
        if with_order:
            order = self.state.orders[charge["_order_id"]]
            out["order"] = {
                name: order[name]
                for name in (
                    "id",
                    "code",
                    "amount",
                    "currency",
                    "closed",
                    "status",
                    "created_at",
                    "updated_at",
                )
            } | {"customer_id": order["customer"]["id"], "metadata": order["metadata"]}
        return out

    def _order_out(self, order: dict[str, Any]) -> dict[str, Any]:
        out = {key: value for key, value in order.items() if not key.startswith("_")}
        out["charges"] = [
            self._charge_out(self.state.charges[cid], with_order=False) for cid in order["_charge_ids"]
        ]
        return out

    # ----------------------------------------------------------------- webhooks
    def _emit(self, event: str, data: dict[str, Any]) -> None:
        if self._seeding:
            return  # the seed is history: nothing of it is announced
        self._emitted.append(event)
        payload = {
            "id": self.state.new_id("hook_"),
            "account": {"id": self.config.get_str("account_id"), "name": self.config.get_str("account_name")},
            "type": event,
            "created_at": iso_utc(utc_now()),
            "data": data,
        }
        self.send_webhook(event, payload)

    def _collect_events(self) -> list[str]:
        events, self._emitted = self._emitted, []
        return events

    # ----------------------------------------------------------------- reads
    @staticmethod
    def _page_args(request: Request) -> tuple[int, int]:
        def number(name: str, default: int) -> int:
            text = request.arg(name)
            return int(text) if text and text.isdigit() and int(text) > 0 else default

        return number("page", 1), min(number("size", DEFAULT_PAGE_SIZE), MAX_PAGE_SIZE)

    def _paged(self, request: Request, items: list[dict[str, Any]]) -> Response:
        page, size = self._page_args(request)
        chunk = items[(page - 1) * size : page * size]

        def link(target: int) -> str:
            query = {name: values[0] for name, values in request.query.items() if values}
            query.update(page=str(target), size=str(size))
            return f"{self.base_url}{request.path}?" + "&".join(f"{k}={v}" for k, v in query.items())

        paging = {
            "total": len(items),
            "previous": link(page - 1) if page > 1 else None,
            "next": link(page + 1) if page * size < len(items) else None,
        }
        return Response.json({"data": chunk, "paging": paging})

    def _list_orders(self, request: Request) -> Response:
        orders = sorted(self.state.orders.values(), key=lambda order: order["_seq"], reverse=True)
        try:
            since = parse_iso(request.arg("created_since") or "") if request.arg("created_since") else None
            until = parse_iso(request.arg("created_until") or "") if request.arg("created_until") else None
        except ValueError as error:
            raise BadRequest(f"created_since/created_until must be ISO 8601 dates: {error}") from error
        selected = [
            order
            for order in orders
            if (request.arg("code") is None or order["code"] == request.arg("code"))
            and (request.arg("status") is None or order["status"] == request.arg("status"))
            and (request.arg("customer_id") is None or order["customer"]["id"] == request.arg("customer_id"))
            and (since is None or order["_created"] >= since)
            and (until is None or order["_created"] <= until)
        ]
        return self._paged(request, [self._order_out(order) for order in selected])

    def _get_order(self, request: Request) -> Response:
        order = self.state.orders.get(request.params["id"])
        if order is None:
            return Response.json({"message": "Order not found."}, 404)
        return Response.json(self._order_out(order))

    def _list_charges(self, request: Request) -> Response:
        charges = sorted(self.state.charges.values(), key=lambda charge: charge["_seq"], reverse=True)
        selected = [
            charge
            for charge in charges
            if (request.arg("status") is None or charge["status"] == request.arg("status"))
            and (
                request.arg("payment_method") is None
                or charge["payment_method"] == request.arg("payment_method")
            )
            and (request.arg("order_id") is None or charge["_order_id"] == request.arg("order_id"))
            and (request.arg("code") is None or charge["code"] == request.arg("code"))
        ]
        return self._paged(request, [self._charge_out(charge) for charge in selected])

    def _get_charge(self, request: Request) -> Response:
        charge = self.state.charges.get(request.params["id"])
        if charge is None:
            return Response.json({"message": "Charge not found."}, 404)
        return Response.json(self._charge_out(charge))

    # ----------------------------------------------------------------- writes (API)
    def _body(self, request: Request) -> dict[str, Any]:
        data = request.json()
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise BadRequest("the body must be a JSON object")
        return data

    def _create_order(self, request: Request) -> Response:
        order = self._new_order(self._body(request))
        return Response.json(self._order_out(order))

    def _close_order(self, request: Request) -> Response:
        order = self.state.orders.get(request.params["id"])
        if order is None:
            return Response.json({"message": "Order not found."}, 404)
        status = self._body(request).get("status")
        if status not in ("paid", "canceled", "failed"):
            raise Invalid({"status": "must be paid, canceled or failed"})
        now = iso_utc(utc_now())
        order.update(closed=True, closed_at=order["closed_at"] or now, updated_at=now)
        self._set_order_status(order, str(status))
        return Response.json(self._order_out(order))

    def _capture_charge(self, request: Request) -> Response:
        charge = self.state.charges.get(request.params["id"])
        if charge is None:
            return Response.json({"message": "Charge not found."}, 404)
        if charge["payment_method"] != "credit_card" or charge["status"] not in _OPEN_CHARGE:
            raise Refused(
                f"Charge can't be captured: it is a {charge['payment_method']} charge in {charge['status']}."
            )
        amount = self._body(request).get("amount")
        self._pay(charge, None if amount is None else _amount(amount, "amount"))
        return Response.json(self._charge_out(charge))

    def _cancel_charge(self, request: Request) -> Response:
        charge = self.state.charges.get(request.params["id"])
        if charge is None:
            return Response.json({"message": "Charge not found."}, 404)
        amount = self._body(request).get("amount")
        self._cancel(charge, None if amount is None else _amount(amount, "amount"))
        return Response.json(self._charge_out(charge))

    # ----------------------------------------------------------------- domain
    def _new_order(self, body: dict[str, Any], *, created_at: datetime | None = None) -> dict[str, Any]:
        """Validate a create-order body, store order + customer + pending charges, announce them."""
        items = self._items(body.get("items"))
        shipping = body.get("shipping")
        if shipping is not None and not isinstance(shipping, dict):
            raise Invalid({"shipping": "must be an object"})
        shipping_amount = _amount(shipping.get("amount", 0), "shipping.amount", minimum=0) if shipping else 0
        total = sum(item["amount"] * item["quantity"] for item in items) + shipping_amount
        payments = self._payments(body.get("payments"), total)
        code = body.get("code")
        if code is not None and not isinstance(code, str | int):
            raise Invalid({"code": "must be a string"})
        metadata = body.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise Invalid({"metadata": "must be an object"})
        closed = body.get("closed", True)
        if not isinstance(closed, bool):
            raise Invalid({"closed": "must be true or false"})
        customer = self._customer(body)
        state = self.state
        moment = created_at or utc_now()
        now = iso_utc(moment)
        order_id = state.new_id("or_")
        order_code = str(code) if code is not None else order_id[3:13].upper()
        for item in items:
            item.update(
                id=state.new_id("oi_"), type="product", status="active", created_at=now, updated_at=now
            )
        order: dict[str, Any] = {
            "id": order_id,
            "code": order_code,
            "amount": total,
            "currency": "BRL",
            "closed": closed,
            "items": items,
            "customer": customer,
            "status": "pending",
            "created_at": now,
            "updated_at": now,
            "closed_at": now if closed else None,
            "metadata": {str(key): value for key, value in metadata.items()},
            "_charge_ids": [],
            "_seq": len(state.orders) + 1,
            "_created": moment,
        }
        if shipping:
            order["shipping"] = {**shipping, "amount": shipping_amount}
        state.orders[order_id] = order
        for payment in payments:
            charge = self._new_charge(order, payment, moment)
            order["_charge_ids"].append(charge["id"])
        if self.config.get_bool("emit_created_events"):
            self._emit("order.created", self._order_out(order))
            for charge_id in order["_charge_ids"]:
                self._emit("charge.created", self._charge_out(state.charges[charge_id]))
        return order

    @staticmethod
    def _items(raw: Any) -> list[dict[str, Any]]:
        if not isinstance(raw, list) or not raw:
            raise Invalid({"items": "The items field is required."})
        items = []
        for position, item in enumerate(raw):
            if not isinstance(item, dict):
                raise Invalid({f"items[{position}]": "must be an object"})
            description = item.get("description")
            if not isinstance(description, str) or not description.strip():
                raise Invalid({f"items[{position}].description": "The description field is required."})
            entry = {
                "description": description,
                "amount": _amount(item.get("amount"), f"items[{position}].amount", minimum=0),
                "quantity": _amount(item.get("quantity", 1), f"items[{position}].quantity"),
                "code": None if item.get("code") is None else str(item["code"]),
                "category": item.get("category"),
            }
            items.append(entry)
        return items

    @staticmethod
    def _payments(raw: Any, total: int) -> list[dict[str, Any]]:
        if not isinstance(raw, list) or not raw:
            raise Invalid({"payments": "The payments field is required."})
        payments = []
        for position, payment in enumerate(raw):
            if not isinstance(payment, dict) or payment.get("payment_method") not in PAYMENT_METHODS:
                raise Invalid(
                    {f"payments[{position}].payment_method": f"must be one of {', '.join(PAYMENT_METHODS)}"}
                )
            if "amount" in payment:
                amount = _amount(payment["amount"], f"payments[{position}].amount")
            elif len(raw) == 1:
                amount = total
            else:
                raise Invalid({f"payments[{position}].amount": "is required when there are several payments"})
            payments.append({**payment, "amount": amount})
        if sum(payment["amount"] for payment in payments) != total:
            raise Invalid(
                {"payments": f"the payments add up to {sum(p['amount'] for p in payments)}, not {total}"}
            )
        return payments

    def _customer(self, body: dict[str, Any]) -> dict[str, Any]:
        customer_id = body.get("customer_id")
        if customer_id is not None:
            known = self.state.customers.get(str(customer_id))
            if known is None:
                raise Invalid({"customer_id": "Customer not found."})
            return known
        raw = body.get("customer")
        if not isinstance(raw, dict):
            raise Invalid({"customer": "The customer or customer_id field is required."})
        name, email = raw.get("name"), raw.get("email")
        if not isinstance(name, str) or not name.strip():
            raise Invalid({"customer.name": "The name field is required."})
        if not isinstance(email, str) or "@" not in email:
            raise Invalid({"customer.email": "The email field is not a valid e-mail address."})
        document = raw.get("document")
        document_type = raw.get("document_type")
        if document is not None:
            try:
                parsed = parse_tax_document(str(document))
            except FiscalError as error:
                raise Invalid({"customer.document": f"invalid CPF/CNPJ: {error.detail}"}) from error
            document, document_type = parsed.number, document_type or parsed.kind
        now = iso_utc(utc_now())
        customer: dict[str, Any] = {
            "id": self.state.new_id("cus_"),
            "name": name,
            "email": email,
            "code": raw.get("code"),
            "document": document,
            "document_type": document_type,
            "type": raw.get("type") or ("company" if document_type == "cnpj" else "individual"),
            "gender": raw.get("gender"),
            "delinquent": False,
            "address": raw.get("address"),
            "phones": raw.get("phones") or {},
            "metadata": raw.get("metadata") or {},
            "created_at": now,
            "updated_at": now,
        }
        self.state.customers[customer["id"]] = customer
        return customer

    def _new_charge(self, order: dict[str, Any], payment: dict[str, Any], moment: datetime) -> dict[str, Any]:
        state = self.state
        now = iso_utc(moment)
        method = str(payment["payment_method"])
        amount = int(payment["amount"])
        charge_id = state.new_id("ch_")
        transaction: dict[str, Any] = {
            "id": state.new_id("tran_"),
            "transaction_type": method,
            "gateway_id": str(state.rng.randrange(10**9, 10**10)),
            "amount": amount,
            "status": "pending",
            "success": True,
            "created_at": now,
            "updated_at": now,
            "gateway_response": {"code": "200", "errors": []},
            "antifraud_response": {},
            "metadata": {},
        }
        due_at = None
        if method == "boleto":
            options = payment.get("boleto") or {}
            due = moment + timedelta(days=3)
            due_at = iso_utc(due)
            digits = "".join(str(state.rng.randrange(10)) for _ in range(47))
            transaction.update(
                status="generated",
                url=f"{self.api_url}/transactions/{transaction['id']}/pdf",
                pdf=f"{self.api_url}/transactions/{transaction['id']}/pdf",
                line=digits,
                barcode=f"{self.api_url}/transactions/{transaction['id']}/barcode",
                nosso_numero=str(state.rng.randrange(10**7, 10**8)),
                bank="001",
                document_number=order["code"],
                instructions=options.get("instructions", "Não receber após o vencimento."),
                due_at=due_at,
            )
        elif method == "pix":
            options = payment.get("pix") or {}
            expires_in = options.get("expires_in", 3600)
            expires_in = (
                expires_in if isinstance(expires_in, int) and not isinstance(expires_in, bool) else 3600
            )
            transaction.update(
                status="waiting_payment",
                qr_code="00020101021226820014br.gov.bcb.pix2560" + transaction["id"],
                qr_code_url=f"{self.api_url}/transactions/{transaction['id']}/qrcode",
                expires_at=iso_utc(moment + timedelta(seconds=expires_in)),
            )
        else:
            options = payment.get("credit_card") or {}
            card: dict[str, Any] = options["card"] if isinstance(options.get("card"), dict) else {}
            number = "".join(char for char in str(card.get("number", "4000000000000010")) if char.isdigit())
            transaction.update(
                status="authorized_pending_capture",
                operation_type="auth_only",
                installments=options.get("installments", 1),
                statement_descriptor=options.get("statement_descriptor", "MALOTE DEMO"),
                acquirer_name="simulator",
                acquirer_tid=str(state.rng.randrange(10**11, 10**12)),
                acquirer_nsu=str(state.rng.randrange(10**5, 10**6)),
                acquirer_auth_code=str(state.rng.randrange(10**5, 10**6)),
                acquirer_message="Transação aprovada com sucesso",
                acquirer_return_code="00",
                card={
                    "id": state.new_id("card_"),
                    "first_six_digits": number[:6],
                    "last_four_digits": number[-4:],
                    "brand": "Visa" if number.startswith("4") else "Mastercard",
                    "holder_name": card.get("holder_name", order["customer"]["name"].upper()),
                    "exp_month": card.get("exp_month", 12),
                    "exp_year": card.get("exp_year", 2030),
                    "status": "active",
                    "type": "credit",
                },
            )
        charge: dict[str, Any] = {
            "id": charge_id,
            "code": order["code"],
            "gateway_id": transaction["gateway_id"],
            "amount": amount,
            "status": "pending",
            "currency": "BRL",
            "payment_method": method,
            "due_at": due_at,
            "created_at": now,
            "updated_at": now,
            "customer": order["customer"],
            "last_transaction": transaction,
            "metadata": {},
            "_order_id": order["id"],
            "_seq": len(state.charges) + 1,
        }
        state.charges[charge_id] = charge
        return charge

    def _touch(self, charge: dict[str, Any], transaction_status: str) -> str:
        now = iso_utc(utc_now())
        charge["updated_at"] = now
        charge["last_transaction"].update(status=transaction_status, updated_at=now)
        return now

    def _pay(self, charge: dict[str, Any], amount: int | None = None) -> None:
        if charge["status"] not in _OPEN_CHARGE and charge["status"] != "failed":
            raise Refused(f"Charge can't be paid: it is {charge['status']}.")
        now = self._touch(charge, "captured" if charge["payment_method"] == "credit_card" else "paid")
        charge.update(status="paid", paid_amount=amount or charge["amount"], paid_at=now)
        self._emit("charge.paid", self._charge_out(charge))
        self._sync_order(charge)

    def _fail(self, charge: dict[str, Any]) -> None:
        if charge["status"] not in _OPEN_CHARGE:
            raise Refused(f"Charge can't fail: it is {charge['status']}.")
        self._touch(charge, "not_authorized" if charge["payment_method"] == "credit_card" else "failed")
        charge["last_transaction"]["success"] = False
        charge["status"] = "failed"
        self._emit("charge.payment_failed", self._charge_out(charge))
        self._sync_order(charge)

    def _cancel(self, charge: dict[str, Any], amount: int | None = None) -> None:
        """Cancel a pending charge or refund a paid one (partially when ``amount`` is less)."""
        status = charge["status"]
        if status in _PAID_LIKE - {"chargedback"}:
            already = int(charge.get("canceled_amount") or 0)
            left = int(charge.get("paid_amount") or charge["amount"]) - already
            if amount is not None and amount > left:
                raise Invalid({"amount": f"can't refund more than the {left} cents left"})
            now = self._touch(charge, "refunded")
            if amount is not None and amount < left:
                charge.update(canceled_amount=already + amount)
                self._emit("charge.partial_canceled", self._charge_out(charge))
                return
            charge.update(status="canceled", canceled_amount=already + left, canceled_at=now)
            self._emit("charge.refunded", self._charge_out(charge))
        elif status in _OPEN_CHARGE:
            now = self._touch(charge, "canceled")
            charge.update(status="canceled", canceled_amount=charge["amount"], canceled_at=now)
            self._emit("charge.canceled", self._charge_out(charge))
        else:
            raise Refused(f"Charge can't be canceled: it is {status}.")
        self._sync_order(charge)

    def _chargeback(self, charge: dict[str, Any]) -> None:
        if charge["status"] not in ("paid", "overpaid"):
            raise Refused(f"Only a paid charge can be charged back (it is {charge['status']}).")
        self._touch(charge, "chargedback")
        charge["status"] = "chargedback"
        self._emit("charge.chargedback", self._charge_out(charge))
        self._sync_order(charge)

    def _sync_order(self, charge: dict[str, Any]) -> None:
        """Derive the order status from its charges and announce a change."""
        order = self.state.orders[charge["_order_id"]]
        statuses = [self.state.charges[cid]["status"] for cid in order["_charge_ids"]]
        if all(status in _PAID_LIKE for status in statuses):
            new_status = "paid"
        elif all(status == "canceled" for status in statuses):
            new_status = "canceled"
        elif "failed" in statuses and not any(s in _OPEN_CHARGE or s in _PAID_LIKE for s in statuses):
            new_status = "failed"
        else:
            new_status = order["status"]
        self._set_order_status(order, new_status)

    def _set_order_status(self, order: dict[str, Any], status: str) -> None:
        if order["status"] == status:
            return
        order.update(status=status, updated_at=iso_utc(utc_now()))
        event = {"paid": "order.paid", "canceled": "order.canceled", "failed": "order.payment_failed"}.get(
            status
        )
        if event is not None:
            self._emit(event, self._order_out(order))

    # ----------------------------------------------------------------- seed
    def new_state(self, seed: bool) -> PagarmeState:
        state = PagarmeState()
        return self.seed_through_live_paths(state, self._seed) if seed else state

    def _seed(self) -> None:
        """The demo orders that reached the gateway (abandoned carts never did)."""
        now = utc_now()
        for demo in DEMO_ORDERS:
            if demo.status == "abandoned":
                continue
            body = _checkout_body(demo.customer, list(demo.items), demo.payment_method)
            body["code"] = str(demo.number)
            order = self._new_order(body, created_at=now - timedelta(days=demo.days_ago, hours=3))
            charge = self.state.charges[order["_charge_ids"][0]]
            if demo.status == "paid":
                self._pay(charge)
            elif demo.status == "canceled":
                self._cancel(charge)

    # ----------------------------------------------------------------- control actions
    def _control_charge(self, request: Request) -> dict[str, Any]:
        charge = self.state.charges.get(request.params["id"])
        if charge is None:
            raise ControlError(404, "not_found", f"no charge {request.params['id']}")
        return charge

    def _control_run(self, action: Callable[[], None], result: Callable[[], dict[str, Any]]) -> Response:
        self._emitted.clear()
        try:
            action()
        except (Invalid, Refused) as error:
            self._emitted.clear()
            raise ControlError(409, "conflict", str(error)) from error
        return Response.json({**result(), "events": self._collect_events()})

    def _control_checkout(self, request: Request) -> Response:
        body = control_body(request)
        method = body.get("payment_method", "pix")
        items = body.get("items") or [{"sku": "CHINELO-42", "qty": 1}]
        if not isinstance(items, list):
            raise ControlError(400, "invalid", "items must be an array")
        if all(isinstance(item, dict) and "sku" in item for item in items):
            lines = [(str(item["sku"]), item.get("qty", 1)) for item in items]
            checkout = _checkout_body(customer_from_json(body.get("customer")), lines, str(method))
        else:
            checkout = _checkout_body(customer_from_json(body.get("customer")), [], str(method))
            checkout["items"] = items
        if "shipping_amount" in body:
            checkout["shipping"]["amount"] = body["shipping_amount"]
        if "code" in body:
            checkout["code"] = str(body["code"])
        self._emitted.clear()
        days = days_ago(body)
        try:
            order = self._new_order(checkout, created_at=utc_now() - timedelta(days=days) if days else None)
        except Invalid as error:
            raise ControlError(400, "invalid", str(error)) from error
        return Response.json(
            {
                "order_id": order["id"],
                "charge_id": order["_charge_ids"][0],
                "order": self._order_out(order),
                "events": self._collect_events(),
            },
            201,
        )

    def _control_pay(self, request: Request) -> Response:
        charge = self._control_charge(request)
        amount = control_body(request).get("amount")
        return self._control_run(
            lambda: self._pay(charge, None if amount is None else _amount(amount, "amount")),
            lambda: {"charge": self._charge_out(charge)},
        )

    def _control_fail(self, request: Request) -> Response:
        charge = self._control_charge(request)
        return self._control_run(lambda: self._fail(charge), lambda: {"charge": self._charge_out(charge)})

    def _control_refund(self, request: Request) -> Response:
        charge = self._control_charge(request)
        amount = control_body(request).get("amount")
        if charge["status"] not in _PAID_LIKE:
            raise ControlError(
                409, "conflict", f"only a paid charge can be refunded (it is {charge['status']})"
            )
        return self._control_run(
            lambda: self._cancel(charge, None if amount is None else _amount(amount, "amount")),
            lambda: {"charge": self._charge_out(charge)},
        )

    def _control_chargeback(self, request: Request) -> Response:
        charge = self._control_charge(request)
        return self._control_run(
            lambda: self._chargeback(charge), lambda: {"charge": self._charge_out(charge)}
        )

    def _control_cancel_order(self, request: Request) -> Response:
        order = self.state.orders.get(request.params["id"])
        if order is None:
            raise ControlError(404, "not_found", f"no order {request.params['id']}")

        def cancel_everything() -> None:
            for charge_id in order["_charge_ids"]:
                charge = self.state.charges[charge_id]
                if charge["status"] in _OPEN_CHARGE or charge["status"] in ("paid", "overpaid"):
                    self._cancel(charge)
            self._set_order_status(order, "canceled")

        return self._control_run(cancel_everything, lambda: {"order": self._order_out(order)})


def _checkout_body(customer: Customer, lines: list[tuple[str, Any]], payment_method: str) -> dict[str, Any]:
    """A create-order body as a storefront's checkout would send it (amounts in cents)."""
    items = []
    for sku, qty in lines:
        product = product_by_sku(sku)
        items.append(
            {
                "amount": int(product.price * 100),
                "description": product.name,
                "quantity": qty,
                "code": product.sku,
            }
        )
    address = customer.address
    payment: dict[str, Any] = {"payment_method": payment_method}
    if payment_method == "credit_card":
        payment["credit_card"] = {
            "installments": 1,
            "card": {"number": "4000000000000010", "holder_name": customer.full_name.upper()},
        }
    elif payment_method == "boleto":
        payment["boleto"] = {"instructions": "Pagar até o vencimento"}
    elif payment_method == "pix":
        payment["pix"] = {"expires_in": 3600}
    return {
        "items": items,
        "customer": {
            "name": customer.full_name,
            "email": customer.email,
            "document": customer.document_digits,
            "type": "company" if customer.is_company else "individual",
            "phones": {
                "mobile_phone": {
                    "country_code": "55",
                    "area_code": customer.phone[:2],
                    "number": customer.phone[2:],
                }
            },
            "address": {
                "line_1": f"{address.number}, {address.street}, {address.district}",
                "line_2": address.complement,
                "zip_code": address.cep_digits,
                "city": address.city,
                "state": address.uf,
                "country": "BR",
            },
        },
        "shipping": {
            "amount": 1500,
            "description": "Correios SEDEX",
            "recipient_name": customer.full_name,
            "address": {
                "line_1": f"{address.number}, {address.street}, {address.district}",
                "zip_code": address.cep_digits,
                "city": address.city,
                "state": address.uf,
                "country": "BR",
            },
        },
        "payments": [payment],
    }
