"""Fake Jumpseller store, API v1 (base path ``/v1``); the tests validate its answers against the
vendor's OpenAPI file (``tests/specs.py``).

HTTP Basic ``login:authtoken``. Orders (list, after id, by status, count, read, ``PUT`` of status
and shipment fields), their documents, hooks, products and variants (stock); answers wrapped in a
root key, money as floats in reais, rate-limit headers on every answer. Every order or product
change is POSTed to the registered hooks and to the ``webhook_url`` setting, signed
``Jumpseller-Hmac-Sha256`` (base64 HMAC-SHA256 of the raw body with ``hooks_token``).

Control: ``POST /_sandbox/orders`` (a shopper checks out), ``POST /_sandbox/orders/{id}/status``
(an edit in the admin). ``GET /_sandbox`` lists the routes and the settings; settings described
as assumed switch what the vendor leaves unconfirmed. The vendor's API: docs/connectors/jumpseller.md.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar
from urllib.parse import urlsplit

from malote.fiscal import tracking_url
from malote_dev.sandbox.app import ControlError, FakeApp, Setting, control_body, days_ago
from malote_dev.sandbox.clock import BRASILIA, jumpseller_time, utc_now
from malote_dev.sandbox.faults import Fault
from malote_dev.sandbox.router import BadRequest, Request, Response
from malote_dev.sandbox.seed import (
    CUSTOMERS,
    DEMO_ORDERS,
    PRODUCTS,
    Customer,
    Product,
    customer_from_json,
    product_by_sku,
)

ORDER_STATUS_LABELS = {
    "abandoned": "Abandoned",
    "canceled": "Canceled",
    "pending_payment": "Pending Payment",
    "paid": "Paid",
}
STATUS_BY_LABEL = {label: status for status, label in ORDER_STATUS_LABELS.items()}
SHIPMENT_STATUS_LABELS = {
    "unfulfilled": "Unfulfilled",
    "requested": "Requested",
    "in_transit": "In Transit",
    "delivered": "Delivered",
    "failed": "Failed",
    "pickup_available": "Pickup Available",
}
WRITABLE_SHIPMENT_STATUSES = ("requested", "in_transit", "delivered", "failed", "pickup_available")
FULFILLED_SHIPMENT_STATUSES = frozenset({"in_transit", "delivered", "pickup_available"})
STATUS_EVENTS = {
    "paid": "order_paid",
    "canceled": "order_canceled",
    "pending_payment": "order_pending_payment",
    "abandoned": "order_abandoned",
}
HOOK_EVENTS = (
    "order_updated",
    "order_pending_payment",
    "order_paid",
    "order_shipped",
    "order_canceled",
    "order_abandoned",
    "product_created",
    "product_updated",
    "product_deleted",
    "product_stock_updated",
    "customer_created",
    "customer_updated",
    "customer_deleted",
)
PAYMENT_METHODS = {
    "pix": "Pix",
    "boleto": "Boleto Bancário",
    "credit_card": "Cartão de Crédito",
}
TRACKING_TEXT_FIELDS = ("tracking_number", "tracking_company", "tracking_url", "additional_information")
DEFAULT_SHIPPING_METHOD = "Correios SEDEX"
#: ``fields`` values of ``/products/search.json`` that the fake searches (the spec's enum, less the
#: custom-field ones, which the fake's products do not have).
SEARCH_FIELDS = ("sku", "barcode", "brand", "name", "description", "variants", "option_name")
PRODUCT_STATUSES = ("available", "not-available", "disabled")
VARIANT_WRITABLE = frozenset(
    {"price", "sku", "barcode", "stock", "stock_unlimited", "stock_threshold", "stock_notification"}
)
PRODUCT_WRITABLE = VARIANT_WRITABLE | {"name", "status"}
SEED_STOCK = 100  # ProductFields.stock default in the vendor's schema

_CENT = Decimal("0.01")


def _demo_token(label: str) -> str:
    """A stable 32-character token (the length of Jumpseller's authtoken)."""
    return hashlib.md5(label.encode(), usedforsecurity=False).hexdigest()


def money(value: Decimal) -> float:
    """Reais as the float Jumpseller writes (two decimals)."""
    return float(value.quantize(_CENT))


def _street_number(text: str) -> float | int | None:
    """The OpenAPI types ``street_number`` as a number; non-numeric ones (``S/N``) become null."""
    digits = text.strip()
    return int(digits) if digits.isdigit() else None


def hook_signature(body: bytes, hooks_token: str) -> str:
    """``Jumpseller-Hmac-Sha256``: base64 of HMAC-SHA256 over the raw body, keyed by the hooks token."""
    digest = hmac.new(hooks_token.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


class Unprocessable(Exception):
    """A well-formed request with invalid values: 422 ``{"message": …}``."""


class UnsupportedMediaType(Exception):
    """A POST/PUT body not declared as ``application/json``: 415."""


@dataclass
class JumpsellerState:
    """The store: orders, hooks, documents by order id and the product catalogue."""

    orders: dict[int, dict[str, Any]] = field(default_factory=dict)
    hooks: dict[int, dict[str, Any]] = field(default_factory=dict)
    documents: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    products: dict[int, dict[str, Any]] = field(default_factory=dict)
    next_order_id: int = 10001
    next_hook_id: int = 1
    next_variant_id: int = 5001


@dataclass(frozen=True)
class _Line:
    product: Product
    qty: int
    price: Decimal


class JumpsellerApp(FakeApp[JumpsellerState]):
    kind: ClassVar[str] = "jumpseller"
    api_prefix: ClassVar[str] = "/v1/"
    settings: ClassVar[Mapping[str, Setting]] = {
        "login": Setting("malote-demo", (str,), "store login (Basic auth user, ?login=)"),
        "authtoken": Setting(_demo_token("malote-demo authtoken"), (str,), "API token (Basic auth password)"),
        "store_code": Setting("malote-demo", (str,), "value of the Jumpseller-Store-Code hook header"),
        "hooks_token": Setting(
            _demo_token("malote-demo hooks"), (str,), "HMAC key of Jumpseller-Hmac-Sha256"
        ),
        "accept_status_enum_on_put": Setting(
            False, (bool,), "assumed: PUT also accepts status enum values (paid…)"
        ),
        "emit_order_updated": Setting(
            True, (bool,), "assumed: send order_updated after every specific event"
        ),
        "newest_first": Setting(True, (bool,), "assumed: order lists are newest first"),
        "require_json_content_type": Setting(
            True, (bool,), "assumed: POST/PUT without application/json → 415"
        ),
        "rate_limit_per_minute": Setting(800, (int,), "reported in Jumpseller-PerMinuteRateLimit-Limit"),
        "rate_limit_per_second": Setting(20, (int,), "reported in Jumpseller-PerSecondRateLimit-Limit"),
        "enforce_rate_limit": Setting(False, (bool,), "answer 429 beyond the limits (off: headers only)"),
        "product_put_requires_name_and_price": Setting(
            False, (bool,), "assumed: PUT /products/{id}.json refuses a body without name and price (422)"
        ),
    }

    def __init__(self, *, seed: bool = True, config: Mapping[str, Any] | None = None) -> None:
        self._request_times: deque[float] = deque()
        self._rate_lock = threading.Lock()
        super().__init__(seed=seed, config=config)

    # ----------------------------------------------------------------- framework hooks
    def credentials(self) -> dict[str, str]:
        return {
            "login": self.config.get_str("login"),
            "authtoken": self.config.get_str("authtoken"),
            "hooks_token": self.config.get_str("hooks_token"),
            "store_code": self.config.get_str("store_code"),
        }

    def authenticate(self, request: Request) -> Response | None:
        login, token = self._presented_credentials(request)
        expected_login, expected_token = self.config.get_str("login"), self.config.get_str("authtoken")
        if (
            login is None
            or token is None
            or not (hmac.compare_digest(login, expected_login) and hmac.compare_digest(token, expected_token))
        ):
            return Response.json(
                {"message": "Unauthorized"}, 401, [("WWW-Authenticate", 'Basic realm="Jumpseller API"')]
            )
        if self.config.get_bool("enforce_rate_limit"):
            per_minute, per_second = self._recent_counts(time.monotonic())
            if per_second >= self.config.get_int(
                "rate_limit_per_second"
            ) or per_minute >= self.config.get_int("rate_limit_per_minute"):
                return Response.json({"message": "Rate Limit Exceeded"}, 429, [("Retry-After", "1")])
        return None

    @staticmethod
    def _presented_credentials(request: Request) -> tuple[str | None, str | None]:
        header = request.headers.get("authorization", "")
        if header[:6].lower() == "basic ":
            try:
                decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return None, None
            login, _, token = decoded.partition(":")
            return login, token
        return request.arg("login"), request.arg("authtoken")

    def error_response(self, request: Request, status: int) -> Response:
        messages = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}
        return Response.json({"message": messages.get(status, "Internal Server Error")}, status)

    def rate_limited_response(self, request: Request, fault: Fault) -> Response:
        response = Response.json(
            {"message": "Rate Limit Exceeded"}, 429, [("Retry-After", str(int(fault.params["retry_after"])))]
        )
        if fault.params["banned"]:
            reset_at = utc_now() + timedelta(seconds=float(fault.params["retry_after"]))
            response.set_header("Jumpseller-BannedByRateLimit-Reset", reset_at.isoformat())
        return response

    def _recent_counts(self, now: float) -> tuple[int, int]:
        with self._rate_lock:
            while self._request_times and now - self._request_times[0] > 60:
                self._request_times.popleft()
            per_second = sum(1 for moment in self._request_times if now - moment <= 1)
            return len(self._request_times), per_second

    def decorate(self, request: Request, response: Response) -> None:
        now = time.monotonic()
        with self._rate_lock:
            self._request_times.append(now)
        per_minute, per_second = self._recent_counts(now)
        minute_limit = self.config.get_int("rate_limit_per_minute")
        second_limit = self.config.get_int("rate_limit_per_second")
        limited = response.status == 429
        response.set_header("Jumpseller-PerMinuteRateLimit-Limit", str(minute_limit))
        response.set_header(
            "Jumpseller-PerMinuteRateLimit-Remaining",
            "0" if limited else str(max(0, minute_limit - per_minute)),
        )
        response.set_header("Jumpseller-PerSecondRateLimit-Limit", str(second_limit))
        response.set_header(
            "Jumpseller-PerSecondRateLimit-Remaining",
            "0" if limited else str(max(0, second_limit - per_second)),
        )

    def webhook_targets(self, event: str) -> list[str]:
        urls = [hook["url"] for hook in self.state.hooks.values() if hook["event"] == event]
        configured = self.config.get_optional_str("webhook_url")
        if configured:
            urls.append(configured)
        return list(dict.fromkeys(urls))

    def webhook_headers(self, event: str, body: bytes) -> dict[str, str]:
        return {
            "Jumpseller-Event": event,
            "Jumpseller-Store-Code": self.config.get_str("store_code"),
            "Jumpseller-Hmac-Sha256": hook_signature(body, self.config.get_str("hooks_token")),
        }

    def state_json(self) -> Any:
        return {
            "orders": [{"order": order} for order in self.state.orders.values()],
            "hooks": [{"hook": hook} for hook in self.state.hooks.values()],
            "documents": {str(order_id): docs for order_id, docs in self.state.documents.items()},
            "products": [{"product": product} for product in self.state.products.values()],
        }

    # ----------------------------------------------------------------- routes
    def add_routes(self) -> None:
        api = self.api.add
        api("GET", "/v1/orders.json", self._list_orders)
        api("GET", "/v1/orders/count.json", self._count_orders)
        api("GET", "/v1/orders/after/{id:int}.json", self._orders_after)
        api("GET", "/v1/orders/status/{status}.json", self._orders_by_status)
        api("GET", "/v1/orders/{id:int}.json", self._get_order)
        api("PUT", "/v1/orders/{id:int}.json", self._update_order)
        api("GET", "/v1/orders/{id:int}/documents.json", self._list_documents)
        api("POST", "/v1/orders/{id:int}/documents.json", self._create_document)
        api("PUT", "/v1/orders/{id:int}/documents/{public_id}.json", self._update_document)
        api("DELETE", "/v1/orders/{id:int}/documents/{public_id}.json", self._delete_document)
        api("GET", "/v1/hooks.json", self._list_hooks)
        api("POST", "/v1/hooks.json", self._create_hook)
        api("GET", "/v1/hooks/{id:int}.json", self._get_hook)
        api("PUT", "/v1/hooks/{id:int}.json", self._update_hook)
        api("DELETE", "/v1/hooks/{id:int}.json", self._delete_hook)
        api("GET", "/v1/products.json", self._list_products)
        api("GET", "/v1/products/count.json", self._count_products)
        api("GET", "/v1/products/search.json", self._search_products)
        api("GET", "/v1/products/{id:int}.json", self._get_product)
        api("PUT", "/v1/products/{id:int}.json", self._update_product)
        api("GET", "/v1/products/{id:int}/variants.json", self._list_variants)
        api("POST", "/v1/products/{id:int}/variants.json", self._create_variant)
        api("GET", "/v1/products/{id:int}/variants/{variant_id:int}.json", self._get_variant)
        api("PUT", "/v1/products/{id:int}/variants/{variant_id:int}.json", self._update_variant)
        self.control.add("POST", "/_sandbox/orders", self._control_place_order)
        self.control.add("POST", "/_sandbox/orders/{id:int}/status", self._control_change_status)

    def call_handler(self, request: Request, handler: Callable[[Request], Response]) -> Response:
        try:
            return super().call_handler(request, handler)
        except Unprocessable as error:
            return Response.json({"message": str(error)}, 422)
        except UnsupportedMediaType:
            return Response.json({"message": "Content-Type must be application/json"}, 415)

    # ----------------------------------------------------------------- orders: reads
    def _find_order(self, request: Request) -> dict[str, Any] | None:
        return self.state.orders.get(int(request.params["id"]))

    @staticmethod
    def _order_not_found() -> Response:
        return Response.json({"message": "Order not found"}, 404)

    def _sorted_orders(self, newest_first: bool) -> list[dict[str, Any]]:
        return sorted(self.state.orders.values(), key=lambda order: int(order["id"]), reverse=newest_first)

    @staticmethod
    def _paginate(request: Request, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        page = _positive_int(request.arg("page"), 1)
        limit = min(_positive_int(request.arg("limit"), 50), 100)
        return items[(page - 1) * limit : page * limit]

    @staticmethod
    def _wrapped(request: Request, orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
        fields = [name.strip() for name in (request.arg("fields") or "").split(",") if name.strip()]
        if fields:
            return [{"order": {name: order.get(name) for name in fields}} for order in orders]
        return [{"order": order} for order in orders]

    def _filtered(self, request: Request, orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
        statuses = {
            value for value in request.args("status_filters[]") + request.args("status_filters") if value
        }
        if statuses:
            orders = [order for order in orders if order["status_enum"] in statuses]
        fulfillment = request.arg("fulfillment_filters")
        if fulfillment in ("unfulfilled", "fulfilled"):
            want_unfulfilled = fulfillment == "unfulfilled"
            orders = [
                order
                for order in orders
                if (order["fulfillment_status"] == "Unfulfilled") == want_unfulfilled
            ]
        span = _date_span(request)
        if span is not None:
            first, last = span
            orders = [order for order in orders if first <= _created_date(order) <= last]
        return orders

    def _list_orders(self, request: Request) -> Response:
        orders = self._filtered(request, self._sorted_orders(self.config.get_bool("newest_first")))
        return Response.json(self._wrapped(request, self._paginate(request, orders)))

    def _count_orders(self, request: Request) -> Response:
        return Response.json({"count": len(self._filtered(request, list(self.state.orders.values())))})

    def _orders_after(self, request: Request) -> Response:
        after = int(request.params["id"])
        orders = [order for order in self._sorted_orders(False) if int(order["id"]) > after]
        return Response.json(self._wrapped(request, self._paginate(request, orders)))

    def _orders_by_status(self, request: Request) -> Response:
        status = request.params["status"]
        if status not in ORDER_STATUS_LABELS:
            return Response.json({"message": "Status Invalid"}, 404)
        orders = [
            order
            for order in self._sorted_orders(self.config.get_bool("newest_first"))
            if order["status_enum"] == status
        ]
        return Response.json(self._wrapped(request, self._paginate(request, orders)))

    def _get_order(self, request: Request) -> Response:
        order = self._find_order(request)
        return self._order_not_found() if order is None else Response.json({"order": order})

    # ----------------------------------------------------------------- orders: update
    def _json_body(self, request: Request, root: str) -> dict[str, Any]:
        if self.config.get_bool("require_json_content_type") and request.content_type != "application/json":
            raise UnsupportedMediaType
        data = request.json()
        if not isinstance(data, dict) or not isinstance(data.get(root), dict):
            raise BadRequest(f'body must be a JSON object like {{"{root}": {{…}}}}')
        return dict(data[root])

    def _update_order(self, request: Request) -> Response:
        order = self._find_order(request)
        if order is None:
            return self._order_not_found()
        fields = self._json_body(request, "order")
        changes = self._writable_changes(fields)
        self._apply_changes(order, changes)
        return Response.json({"order": order})

    def _writable_changes(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Validate the writable fields of a PUT body; everything else is ignored."""
        changes: dict[str, Any] = {}
        if "status" in fields:
            value = fields["status"]
            if value in STATUS_BY_LABEL:
                changes["status"] = STATUS_BY_LABEL[value]
            elif self.config.get_bool("accept_status_enum_on_put") and value in ORDER_STATUS_LABELS:
                changes["status"] = value
            else:
                raise Unprocessable(
                    f"Invalid status {value!r}. Valid statuses: {', '.join(ORDER_STATUS_LABELS.values())}"
                )
        if "shipment_status" in fields:
            value = fields["shipment_status"]
            if value not in WRITABLE_SHIPMENT_STATUSES:
                valid = ", ".join(WRITABLE_SHIPMENT_STATUSES)
                raise Unprocessable(f"Invalid shipment_status {value!r}. Valid values: {valid}")
            changes["shipment_status"] = value
        for name in TRACKING_TEXT_FIELDS:
            if name in fields:
                value = fields[name]
                if value is not None and not isinstance(value, str | int | float):
                    raise Unprocessable(f"{name} must be a string")
                changes[name] = None if value is None else str(value)
        if "additional_fields" in fields:
            changes["additional_fields"] = _additional_fields(fields["additional_fields"])
        return changes

    def _apply_changes(self, order: dict[str, Any], changes: dict[str, Any]) -> list[str]:
        """Apply validated changes, send the matching hooks and return their event names."""
        specific: list[str] = []
        changed = False
        status = changes.get("status")
        if status is not None and status != order["status_enum"]:
            label = ORDER_STATUS_LABELS[status]
            order.update(status=label, status_name=label, status_enum=status)
            if status == "paid" and order["completed_at"] is None:
                order["completed_at"] = jumpseller_time(utc_now())
            specific.append(STATUS_EVENTS[status])
            changed = True
        shipment = changes.get("shipment_status")
        if shipment is not None and shipment != order["shipment_status_enum"]:
            order.update(
                shipment_status=SHIPMENT_STATUS_LABELS[shipment],
                shipment_status_enum=shipment,
                fulfillment_status="Fulfilled" if shipment in FULFILLED_SHIPMENT_STATUSES else "Unfulfilled",
            )
            if shipment == "in_transit":
                specific.append("order_shipped")
            changed = True
        for name in (*TRACKING_TEXT_FIELDS, "additional_fields"):
            if name in changes and changes[name] != order[name]:
                order[name] = changes[name]
                changed = True
        events = list(specific)
        if changed and (self.config.get_bool("emit_order_updated") or not specific):
            events.append("order_updated")
        for event in events:
            self.send_webhook(event, {"order": order})
        return events

    # ----------------------------------------------------------------- documents
    def _list_documents(self, request: Request) -> Response:
        order = self._find_order(request)
        if order is None:
            return self._order_not_found()
        docs = self.state.documents.get(int(order["id"]), [])
        return Response.json([{"document": doc} for doc in docs])

    def _document_fields(self, fields: dict[str, Any]) -> dict[str, Any]:
        clean: dict[str, Any] = {}
        if "document_type" in fields:
            if fields["document_type"] not in (0, 1) or isinstance(fields["document_type"], bool):
                raise Unprocessable("document_type must be 0 (credit note) or 1 (invoice)")
            clean["document_type"] = fields["document_type"]
        for name in ("external_id", "public_id", "url", "app_code"):
            if name in fields:
                value = fields[name]
                if value is not None and not isinstance(value, str | int):
                    raise Unprocessable(f"{name} must be a string")
                clean[name] = None if value is None else str(value)
        return clean

    def _create_document(self, request: Request) -> Response:
        order = self._find_order(request)
        if order is None:
            return self._order_not_found()
        fields = self._document_fields(self._json_body(request, "document"))
        docs = self.state.documents.setdefault(int(order["id"]), [])
        document = {
            "document_type": fields.get("document_type", 1),
            "external_id": fields.get("external_id"),
            "public_id": fields.get("public_id") or fields.get("external_id") or f"DOC-{len(docs) + 1}",
            "url": fields.get("url"),
            "order_id": int(order["id"]),
            "app_code": fields.get("app_code"),
        }
        if any(doc["public_id"] == document["public_id"] for doc in docs):
            raise Unprocessable("public_id has already been taken")
        docs.append(document)
        return Response.json({"document": document})

    def _find_document(self, request: Request) -> dict[str, Any] | None:
        docs = self.state.documents.get(int(request.params["id"]), [])
        return next((doc for doc in docs if doc["public_id"] == request.params["public_id"]), None)

    def _update_document(self, request: Request) -> Response:
        document = self._find_document(request)
        if document is None:
            return Response.json({"message": "Document not found"}, 404)
        fields = self._document_fields(self._json_body(request, "document"))
        document.update(fields)
        return Response.json({"document": document})

    def _delete_document(self, request: Request) -> Response:
        document = self._find_document(request)
        if document is None:
            return Response.json({"message": "Document not found"}, 404)
        self.state.documents[int(request.params["id"])].remove(document)
        return Response.json("Document deleted")

    # ----------------------------------------------------------------- hooks
    def _hook_fields(self, request: Request) -> dict[str, str]:
        fields = self._json_body(request, "hook")
        event, url = fields.get("event"), fields.get("url")
        if event not in HOOK_EVENTS:
            raise Unprocessable(f"Invalid event {event!r}. Valid events: {', '.join(HOOK_EVENTS)}")
        if (
            not isinstance(url, str)
            or urlsplit(url).scheme not in ("http", "https")
            or not urlsplit(url).netloc
        ):
            raise Unprocessable("url must be an http(s) URL")
        return {"event": str(event), "url": url}

    def _list_hooks(self, request: Request) -> Response:
        hooks = sorted(self.state.hooks.values(), key=lambda hook: int(hook["id"]))
        return Response.json([{"hook": hook} for hook in self._paginate(request, hooks)])

    def _create_hook(self, request: Request) -> Response:
        fields = self._hook_fields(request)
        hook_id = self.state.next_hook_id
        self.state.next_hook_id += 1
        hook = {
            "id": hook_id,
            "name": fields["event"],
            "event": fields["event"],
            "url": fields["url"],
            "created_at": jumpseller_time(utc_now()),
        }
        self.state.hooks[hook_id] = hook
        return Response.json({"hook": hook})

    def _get_hook(self, request: Request) -> Response:
        hook = self.state.hooks.get(int(request.params["id"]))
        return (
            Response.json({"message": "Hook not found"}, 404)
            if hook is None
            else Response.json({"hook": hook})
        )

    def _update_hook(self, request: Request) -> Response:
        hook = self.state.hooks.get(int(request.params["id"]))
        if hook is None:
            return Response.json({"message": "Hook not found"}, 404)
        fields = self._hook_fields(request)
        hook.update(event=fields["event"], name=fields["event"], url=fields["url"])
        return Response.json({"hook": hook})

    def _delete_hook(self, request: Request) -> Response:
        if self.state.hooks.pop(int(request.params["id"]), None) is None:
            return Response.json({"message": "Hook not found"}, 404)
        return Response.json("Hook deleted")

    # ----------------------------------------------------------------- products and stock
    def _find_product(self, request: Request) -> dict[str, Any] | None:
        return self.state.products.get(int(request.params["id"]))

    @staticmethod
    def _product_not_found() -> Response:
        return Response.json({"message": "Product not found"}, 404)

    def _list_products(self, request: Request) -> Response:
        products = sorted(self.state.products.values(), key=lambda product: int(product["id"]))
        return Response.json([{"product": product} for product in self._paginate(request, products)])

    def _count_products(self, request: Request) -> Response:
        return Response.json({"count": len(self.state.products)})

    def _search_products(self, request: Request) -> Response:
        query = (request.arg("query") or "").strip().casefold()
        if not query:
            return Response.json({"message": "Invalid query"}, 404)
        wanted = {name.strip() for name in (request.arg("fields") or "").split(",") if name.strip()}
        fields = wanted & set(SEARCH_FIELDS) or set(SEARCH_FIELDS)
        status = request.arg("status")
        found = [
            {"product": product}
            for product in sorted(self.state.products.values(), key=lambda product: int(product["id"]))
            if _matches(product, query, fields) and _has_status(product, status)
        ]
        return Response.json(found)

    def _get_product(self, request: Request) -> Response:
        product = self._find_product(request)
        return self._product_not_found() if product is None else Response.json({"product": product})

    def _update_product(self, request: Request) -> Response:
        product = self._find_product(request)
        if product is None:
            return self._product_not_found()
        fields = self._json_body(request, "product")
        if self.config.get_bool("product_put_requires_name_and_price") and not (
            "name" in fields and "price" in fields
        ):
            raise Unprocessable("name and price are required")
        changes = _product_changes(fields, PRODUCT_WRITABLE)
        self._apply_product_changes(product, product, changes)
        return Response.json({"product": product})

    def _find_variant(self, product: dict[str, Any], request: Request) -> dict[str, Any] | None:
        variant_id = int(request.params["variant_id"])
        return next((variant for variant in product["variants"] if variant["id"] == variant_id), None)

    def _list_variants(self, request: Request) -> Response:
        product = self._find_product(request)
        if product is None:
            return self._product_not_found()
        return Response.json([{"variant": variant} for variant in product["variants"]])

    def _create_variant(self, request: Request) -> Response:
        product = self._find_product(request)
        if product is None:
            return self._product_not_found()
        variant = _new_variant(self.state.next_variant_id, product, self._json_body(request, "variant"))
        self.state.next_variant_id += 1
        product["variants"].append(variant)
        product["updated_at"] = jumpseller_time(utc_now())
        self.send_webhook("product_updated", {"product": product})
        return Response.json({"variant": variant})

    def _get_variant(self, request: Request) -> Response:
        product = self._find_product(request)
        variant = None if product is None else self._find_variant(product, request)
        if variant is None:
            return self._product_not_found()
        return Response.json({"variant": variant})

    def _update_variant(self, request: Request) -> Response:
        product = self._find_product(request)
        variant = None if product is None else self._find_variant(product, request)
        if product is None or variant is None:
            return self._product_not_found()
        changes = _product_changes(self._json_body(request, "variant"), VARIANT_WRITABLE)
        self._apply_product_changes(product, variant, changes)
        return Response.json({"variant": variant})

    def _apply_product_changes(
        self, product: dict[str, Any], target: dict[str, Any], changes: dict[str, Any]
    ) -> list[str]:
        """Write ``changes`` into ``target`` (the product or one of its variants) and send the
        hook: ``product_stock_updated`` when the stock moved, else ``product_updated``."""
        changed = {name for name, value in changes.items() if target.get(name) != value}
        if not changed:
            return []
        target.update({name: changes[name] for name in changed})
        product["updated_at"] = jumpseller_time(utc_now())
        event = "product_stock_updated" if changed & {"stock", "stock_unlimited"} else "product_updated"
        self.send_webhook(event, {"product": product})
        return [event]

    # ----------------------------------------------------------------- building orders
    def new_state(self, seed: bool) -> JumpsellerState:
        state = JumpsellerState()
        if seed:
            self._seed(state)
        return state

    def _seed(self, state: JumpsellerState) -> None:
        now = utc_now()
        for product in PRODUCTS:
            state.products[product.id] = _new_product(product, now - timedelta(days=60))
        for demo in DEMO_ORDERS:
            state.next_order_id = demo.number
            order = self._new_order(
                state,
                customer=demo.customer,
                lines=[_Line(product, qty, product.price) for product, qty in demo.lines],
                payment_method=demo.payment_method,
                status=demo.status,
                created_at=now - timedelta(days=demo.days_ago, hours=3),
                shipping=demo.shipping,
            )
            if demo.shipment is not None and demo.tracking_code is not None:
                order.update(
                    shipment_status=SHIPMENT_STATUS_LABELS[demo.shipment],
                    shipment_status_enum=demo.shipment,
                    fulfillment_status="Fulfilled",
                    tracking_number=demo.tracking_code,
                    tracking_company="Correios",
                    tracking_url=tracking_url("correios", demo.tracking_code),
                )

    def _new_order(
        self,
        state: JumpsellerState,
        *,
        customer: Customer,
        lines: list[_Line],
        payment_method: str,
        status: str,
        created_at: datetime,
        shipping: Decimal = Decimal("15.00"),
        discount: Decimal = Decimal("0.00"),
        shipping_method: str = DEFAULT_SHIPPING_METHOD,
    ) -> dict[str, Any]:
        order_id = state.next_order_id
        state.next_order_id += 1
        subtotal = sum((line.price * line.qty for line in lines), Decimal("0"))
        label = ORDER_STATUS_LABELS[status]
        created = jumpseller_time(created_at)
        customer_index = next((i for i, seeded in enumerate(CUSTOMERS) if seeded == customer), 98)
        order: dict[str, Any] = {
            "id": order_id,
            "source": {
                "created_from": "checkout",
                "created_from_app_code": None,
                "source_name": None,
                "medium": None,
                "campaign": None,
                "referral_url": None,
                "referral_code": None,
                "user_agent": None,
                "first_page_visited": None,
                "first_page_visited_at": None,
                "referral_source": None,
            },
            "created_at": created,
            "completed_at": created if status == "paid" else None,
            "recovered_from": None,
            "currency": "BRL",
            "subtotal": money(subtotal),
            "tax": 0.0,
            "shipping_tax": 0.0,
            "shipping": money(shipping),
            "shipping_required": True,
            "total": money(subtotal + shipping - discount),
            "discount": money(discount),
            "shipping_discount": 0.0,
            "gift_cards_discount": 0.0,
            "status": label,
            "status_name": label,
            "status_enum": status,
            "fulfillment_status": "Unfulfilled",
            "shipment_status": SHIPMENT_STATUS_LABELS["unfulfilled"],
            "shipment_status_enum": "unfulfilled",
            "shipping_method_id": 1,
            "shipping_service_id": None,
            "shipping_method_name": shipping_method,
            "shipping_option": "delivery",
            "same_day_delivery": False,
            "tracking_url": None,
            "tracking_company": None,
            "tracking_number": None,
            "external_shipping_rate_id": None,
            "external_shipping_rate_description": None,
            "shipping_taxes": [],
            "shipping_branch": None,
            "pickup_address": None,
            "payment_method_name": PAYMENT_METHODS[payment_method],
            "payment_method_type": payment_method,
            "payment_information": None,
            "payment_notification_id": None,
            "additional_information": None,
            "additional_fields": [],
            "coupons": None,
            "promotions": [],
            "customer": {
                "id": 501 + customer_index,
                "email": customer.email,
                "phone": customer.phone,
                "phone_prefix": "+55",
                "ip": "200.160.2.3",
                "fullname": customer.full_name,
            },
            "shipping_address": {**self._address(customer), "latitude": None, "longitude": None},
            "billing_address": {**self._address(customer), "taxid": customer.document},
            "products": [
                {
                    "id": line.product.id,
                    "variant_id": None,
                    "sku": line.product.sku,
                    "name": line.product.name,
                    "image": None,
                    "qty": line.qty,
                    "price": money(line.price),
                    "discount": 0.0,
                    "weight": money(line.product.weight_kg),
                    "taxes": [],
                    "stock_locations": [],
                }
                for line in lines
            ],
            "duplicate_url": None,
            "recovery_url": None,
            "review_url": None,
            "checkout_url": None,
            "billing_information": {
                "business_activity": None,
                "company_name": customer.full_name if customer.is_company else None,
                "taxpayer_type": None,
            },
        }
        state.orders[order_id] = order
        return order

    @staticmethod
    def _address(customer: Customer) -> dict[str, Any]:
        address = customer.address
        return {
            "name": customer.name,
            "surname": customer.surname,
            "address": address.street,
            "street_number": _street_number(address.number),
            "complement": address.complement or None,
            "city": address.city,
            "municipality": address.city,
            "neighbourhood": address.district,
            "postal": address.cep,
            "region": address.state_name,
            "region_code": address.uf,
            "country": "Brazil",
            "country_code": "BR",
        }

    # ----------------------------------------------------------------- control actions
    def _control_place_order(self, request: Request) -> Response:
        body = control_body(request)
        payment_method = body.get("payment_method", "pix")
        if payment_method not in PAYMENT_METHODS:
            raise ControlError(400, "invalid", f"payment_method must be one of {', '.join(PAYMENT_METHODS)}")
        status = body.get("status", "pending_payment")
        if status not in ("pending_payment", "paid"):
            raise ControlError(400, "invalid", "status must be pending_payment or paid")
        order = self._new_order(
            self.state,
            customer=customer_from_json(body.get("customer")),
            lines=_lines(body.get("items")),
            payment_method=payment_method,
            status=status,
            created_at=utc_now() - timedelta(days=days_ago(body)),
            shipping=_decimal(body.get("shipping", "15.00"), "shipping"),
            discount=_decimal(body.get("discount", "0.00"), "discount"),
            shipping_method=str(body.get("shipping_method", DEFAULT_SHIPPING_METHOD)),
        )
        self.send_webhook(STATUS_EVENTS[status], {"order": order})
        return Response.json({"order": order}, 201)

    def _control_change_status(self, request: Request) -> Response:
        order = self.state.orders.get(int(request.params["id"]))
        if order is None:
            raise ControlError(404, "not_found", f"no order {request.params['id']}")
        body = control_body(request)
        if "status" in body:
            body["status"] = STATUS_BY_LABEL.get(str(body["status"]), body["status"])
            if body["status"] not in ORDER_STATUS_LABELS:
                raise ControlError(400, "invalid", f"status must be one of {', '.join(ORDER_STATUS_LABELS)}")
        fields = {**body}
        status = fields.pop("status", None)
        try:
            changes = self._writable_changes(fields)
        except Unprocessable as error:
            raise ControlError(400, "invalid", str(error)) from error
        if status is not None:
            changes["status"] = status
        events = self._apply_changes(order, changes)
        return Response.json({"order": order, "events": events})


def _positive_int(text: str | None, default: int) -> int:
    try:
        value = int(text) if text is not None else default
    except ValueError:
        return default
    return value if value >= 1 else default


def _created_date(order: dict[str, Any]) -> date:
    moment = datetime.strptime(str(order["created_at"]), "%Y-%m-%d %H:%M:%S UTC").replace(tzinfo=UTC)
    return moment.astimezone(BRASILIA).date()


def _date_span(request: Request) -> tuple[date, date] | None:
    """The inclusive date range of ``dateFilter`` (store time zone: Brasília)."""
    name = request.arg("dateFilter")
    if not name:
        return None
    today = utc_now().astimezone(BRASILIA).date()
    spans = {
        "today": (today, today),
        "yesterday": (today - timedelta(days=1), today - timedelta(days=1)),
        "last7days": (today - timedelta(days=6), today),
        "last30days": (today - timedelta(days=29), today),
        "last90days": (today - timedelta(days=89), today),
    }
    if name in spans:
        return spans[name]
    if name == "customDate":
        try:
            first = date.fromisoformat(request.arg("initialDate") or "")
            last = date.fromisoformat(request.arg("finalDate") or "")
        except ValueError as error:
            raise BadRequest("customDate needs initialDate and finalDate as YYYY-MM-DD") from error
        return first, last
    return None


def _additional_fields(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise Unprocessable("additional_fields must be an array of objects")
    return [
        {
            "id": item.get("id", position),
            "label": None if item.get("label") is None else str(item["label"]),
            "value": None if item.get("value") is None else str(item["value"]),
            "area": str(item.get("area", "order")),
        }
        for position, item in enumerate(value, start=1)
    ]


def _decimal(value: Any, name: str) -> Decimal:
    try:
        result = Decimal(str(value))
    except InvalidOperation as error:
        raise ControlError(400, "invalid", f"{name} must be a number, got {value!r}") from error
    if result < 0:
        raise ControlError(400, "invalid", f"{name} must not be negative")
    return result


def _lines(items: Any) -> list[_Line]:
    if items is None:
        items = [{"sku": "CHINELO-42", "qty": 1}]
    if not isinstance(items, list) or not items:
        raise ControlError(400, "invalid", "items must be a non-empty array")
    lines = []
    for item in items:
        if not isinstance(item, dict) or "sku" not in item:
            raise ControlError(400, "invalid", 'each item needs a "sku"')
        product = product_by_sku(str(item["sku"]))
        qty = item.get("qty", item.get("quantity", 1))
        if isinstance(qty, bool) or not isinstance(qty, int) or qty < 1:
            raise ControlError(400, "invalid", "qty must be a positive integer")
        price = _decimal(item["price"], "price") if "price" in item else product.price
        lines.append(_Line(product, qty, price))
    return lines


# ----------------------------------------------------------------- products
def _new_product(product: Product, created_at: datetime) -> dict[str, Any]:
    """A seed product as ``ProductFields`` (every property present, empty ones ``null``)."""
    created = jumpseller_time(created_at)
    return {
        "id": product.id,
        "name": product.name,
        "page_title": product.name,
        "description": None,
        "type": "physical",
        "days_to_expire": None,
        "price": money(product.price),
        "discount": 0.0,
        "weight": money(product.weight_kg),
        "stock": SEED_STOCK,
        "stock_unlimited": False,
        "stock_threshold": 0,
        "stock_notification": False,
        "back_in_stock_enabled": False,
        "cost_per_item": None,
        "compare_at_price": None,
        "sku": product.sku,
        "brand": None,
        "barcode": None,
        "google_product_category_text": None,
        "quotable": False,
        "featured": False,
        "reviews_enabled": True,
        "status": "available",
        "created_at": created,
        "updated_at": created,
        "package_format": "box",
        "length": None,
        "width": None,
        "height": None,
        "diameter": None,
        "permalink": product.sku.lower(),
        "categories": [],
        "images": [],
        "variants": [],
        "digital_products": [],
    }


def _variant_options(value: Any) -> list[dict[str, Any]]:
    """``options`` of a new variant as ``ProductOptionVariantEdit`` objects."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise Unprocessable("options must be an array of objects")
    options = []
    for position, item in enumerate(value, start=1):
        option_type = item.get("option_type", "option")
        if option_type not in ("option", "color"):
            raise Unprocessable("option_type must be option or color")
        options.append(
            {
                "name": None if item.get("name") is None else str(item["name"]),
                "option_type": option_type,
                "value": None if item.get("value") is None else str(item["value"]),
                "custom": None if item.get("custom") is None else str(item["custom"]),
                "product_option_position": position,
                "product_value_position": 1,
            }
        )
    return options


def _new_variant(variant_id: int, product: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    """A variant as ``VariantFields``; what the body leaves out comes from the product."""
    changes = _product_changes(fields, VARIANT_WRITABLE)
    return {
        "id": variant_id,
        "price": changes.get("price", product["price"]),
        "sku": changes.get("sku"),
        "barcode": changes.get("barcode"),
        "stock": changes.get("stock", SEED_STOCK),
        "stock_unlimited": changes.get("stock_unlimited", False),
        "stock_threshold": changes.get("stock_threshold", 0),
        "stock_notification": changes.get("stock_notification", False),
        "cost_per_item": None,
        "compare_at_price": None,
        "options": _variant_options(fields.get("options")),
        "image": None,
    }


def _non_negative_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise Unprocessable(f"{name} must be a non-negative integer")
    return value


def _product_changes(fields: dict[str, Any], writable: frozenset[str]) -> dict[str, Any]:
    """Validate the writable fields of a product or variant body; everything else is ignored."""
    changes: dict[str, Any] = {}
    for name in sorted(writable & set(fields)):
        value = fields[name]
        if name in ("stock", "stock_threshold"):
            changes[name] = _non_negative_int(name, value)
        elif name in ("stock_unlimited", "stock_notification"):
            if not isinstance(value, bool):
                raise Unprocessable(f"{name} must be true or false")
            changes[name] = value
        elif name == "price":
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise Unprocessable("price must be a non-negative number")
            changes[name] = money(Decimal(str(value)))
        elif name == "name":
            if not isinstance(value, str) or not value.strip():
                raise Unprocessable("name must not be blank")
            changes[name] = value.strip()
        elif name == "status":
            if value not in PRODUCT_STATUSES:
                raise Unprocessable(f"status must be one of {', '.join(PRODUCT_STATUSES)}")
            changes[name] = value
        else:  # sku, barcode
            if value is not None and not isinstance(value, str | int):
                raise Unprocessable(f"{name} must be a string")
            changes[name] = None if value is None else str(value)
    return changes


def _matches(product: dict[str, Any], query: str, fields: set[str]) -> bool:
    texts: list[Any] = [
        product.get(name) for name in ("sku", "barcode", "brand", "name", "description") if name in fields
    ]
    if "variants" in fields:
        texts += [variant.get(key) for variant in product["variants"] for key in ("sku", "barcode")]
    if "option_name" in fields:
        texts += [option.get("value") for variant in product["variants"] for option in variant["options"]]
    return any(isinstance(text, str) and query in text.casefold() for text in texts)


def _has_status(product: dict[str, Any], status: str | None) -> bool:
    if not status:
        return True
    if status == "featured":
        return bool(product["featured"])
    return bool(product["status"] == status)
