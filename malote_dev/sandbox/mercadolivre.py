"""Fake Mercado Livre Brasil (site ``MLB``) API (root path, like ``https://api.mercadolibre.com``).

OAuth bearer tokens (``POST /oauth/token`` refreshes; an expired token is 401). Orders (search,
read), shipments (read with ``x-format-new``, billing info, ME1 tracking and seller
notifications), the NF-e upload ``POST /shipments/{id}/invoice_data`` (the signed ``nfeProc`` XML,
accepted only while the shipment waits for it; refusals are 400 with ML's ``error_code``), and
listings (``/items``, ``available_quantity`` per item or variation), packs (``GET /packs/{id}``: the
orders of a cart sharing one shipment; a cart split across warehouses is several packs sharing a
``family_pack_id``) and claims (``GET /post-purchase/v1/claims/{id}``). ``orders_v2``,
``shipments`` and ``claims`` notifications (unsigned, no order data) go to the ``webhook_url`` setting.

Control: ``POST /_sandbox/orders`` (a buyer buys), ``POST /_sandbox/packs`` (a buyer buys a cart of
2–3 orders; ``split`` makes two packs of one family), ``…/orders/{id}/pay``, ``…/{id}/cancel``,
``…/{id}/status``, ``POST /_sandbox/shipments/{id}/status`` (ML moves the shipment),
``POST /_sandbox/claims`` (the buyer opens a claim on an order), ``…/claims/{id}/dispute``,
``…/claims/{id}/close``, ``POST /_sandbox/tokens/expire``. ``GET /_sandbox`` lists the routes and
the settings; settings described as assumed switch what the vendor leaves unconfirmed. The vendor's API:
docs/connectors/mercadolivre.md.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from malote.fiscal import FiscalError
from malote.fiscal.nfe_xml import parse_nfe_xml
from malote_dev.sandbox.app import ControlError, FakeApp, Setting, control_body
from malote_dev.sandbox.clock import BRASILIA, parse_iso
from malote_dev.sandbox.faults import Fault
from malote_dev.sandbox.router import Request, Response
from malote_dev.sandbox.seed import (
    DEMO_ORDERS,
    PRODUCTS,
    Customer,
    DemoOrder,
    correios_code,
    customer_from_json,
    product_by_sku,
)

ORDER_STATUSES = (
    "confirmed",
    "payment_required",
    "payment_in_process",
    "partially_paid",
    "paid",
    "partially_refunded",
    "pending_cancel",
    "cancelled",
    "invalid",
)
SHIPMENT_STATUSES = (
    "pending",
    "handling",
    "ready_to_ship",
    "shipped",
    "delivered",
    "not_delivered",
    "cancelled",
)
LOGISTIC_MODES = ("me2", "me1", "custom")
LOGISTIC_TYPES = ("drop_off", "xd_drop_off", "cross_docking", "xd_same_day", "self_service", "fulfillment")
INVOICE_LOGISTIC_TYPES = "drop_off,xd_drop_off,cross_docking,xd_same_day"
ME1_NOTIFICATION_STATUSES = ("shipped", "not_delivered", "delivered")
PAYMENT_TYPES = {
    "pix": ("pix", "bank_transfer"),
    "boleto": ("bolbradesco", "ticket"),
    "credit_card": ("visa", "credit_card"),
}
STATUS_HISTORY_FIELDS = {
    "handling": "date_handling",
    "ready_to_ship": "date_ready_to_ship",
    "shipped": "date_shipped",
    "delivered": "date_delivered",
    "not_delivered": "date_not_delivered",
    "cancelled": "date_cancelled",
}
DEFAULT_CLIENT_ID = "5503910054141466"
DEFAULT_USER_ID = 468424240
MAX_LIMIT = 50
_CENT = Decimal("0.01")


def ml_time(moment: datetime) -> str:
    """``2026-11-20T14:03:00.000-03:00``: milliseconds and the Brasília offset, as ML writes."""
    return moment.astimezone(BRASILIA).isoformat(timespec="milliseconds")


def _now() -> datetime:
    return datetime.now(UTC)


def money(value: Decimal) -> float:
    return float(value.quantize(_CENT))


def _demo_secret(label: str) -> str:
    return hashlib.sha256(label.encode()).hexdigest()[:32]


def _error(status: int, message: str, error: str, **extra: Any) -> Response:
    return Response.json({"message": message, "error": error, "status": status, "cause": [], **extra}, status)


class InvoiceRefused(Exception):
    """An ``invoice_data`` upload ML refuses: 400 with ``error_code``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Invalid(Exception):
    """A request with an invalid value: 400 ``bad_request``."""


@dataclass
class MercadoLivreState:
    """Orders and shipments by id, billing info and invoices by shipment id, OAuth tokens."""

    orders: dict[int, dict[str, Any]] = field(default_factory=dict)
    shipments: dict[int, dict[str, Any]] = field(default_factory=dict)
    billing: dict[int, dict[str, Any]] = field(default_factory=dict)
    invoices: dict[int, dict[str, Any]] = field(default_factory=dict)
    items: dict[str, dict[str, Any]] = field(default_factory=dict)  # listings by id (MLB…)
    packs: dict[int, dict[str, Any]] = field(default_factory=dict)
    claims: dict[int, dict[str, Any]] = field(default_factory=dict)
    # access token → expiry (epoch seconds); refresh tokens still usable
    access_tokens: dict[str, float] = field(default_factory=dict)
    refresh_tokens: set[str] = field(default_factory=set)
    next_order_id: int = 2000010000001
    next_shipment_id: int = 44000000001
    next_payment_id: int = 90000000001
    next_invoice_id: int = 7000001
    next_tracking: int = 31000001
    next_item_id: int = 4200000001
    next_variation_id: int = 180000000001
    next_pack_id: int = 2000009000001
    # A family of split packs has an id of its own, never an order's or a pack's.
    next_family_pack_id: int = 2000007000001
    next_claim_id: int = 5300000001


class MercadoLivreApp(FakeApp[MercadoLivreState]):
    kind: ClassVar[str] = "mercadolivre"
    api_prefix: ClassVar[str] = "/"
    settings: ClassVar[Mapping[str, Setting]] = {
        "client_id": Setting(DEFAULT_CLIENT_ID, (str,), "the app's id (application_id in notifications)"),
        "client_secret": Setting(_demo_secret("malote-demo ml secret"), (str,), "the app's secret key"),
        "user_id": Setting(DEFAULT_USER_ID, (int,), "the seller's user id (the token's user)"),
        "access_token": Setting(
            f"APP_USR-{DEFAULT_CLIENT_ID}-112026-{_demo_secret('malote-demo ml access')}-{DEFAULT_USER_ID}",
            (str,),
            "the access token valid after a reset",
        ),
        "refresh_token": Setting(
            f"TG-{_demo_secret('malote-demo ml refresh')}-{DEFAULT_USER_ID}",
            (str,),
            "the refresh token valid after a reset",
        ),
        "token_ttl_seconds": Setting(21600.0, (float,), "assumed: lifetime of an access token"),
        "refresh_token_single_use": Setting(True, (bool,), "assumed: a refresh token works once"),
        "require_x_format_new": Setting(
            True,
            (bool,),
            "shipment reads without x-format-new: true → 400 (this fake serves only the new JSON)",
        ),
        "search_excludes_cancelled": Setting(
            True, (bool,), "seller searches leave cancelled orders out unless order.status asks for them"
        ),
        "invoice_logistic_types": Setting(
            INVOICE_LOGISTIC_TYPES, (str,), "logistic types whose paid ME2 shipment waits for the NF-e"
        ),
        "check_invoice_value": Setting(True, (bool,), "refuse an NF-e whose vNF does not match the order"),
    }

    def __init__(self, *, seed: bool = True, config: Mapping[str, Any] | None = None) -> None:
        self._notified: list[str] = []
        super().__init__(seed=seed, config=config)

    # ----------------------------------------------------------------- framework hooks
    def credentials(self) -> dict[str, str]:
        return {
            "client_id": self.config.get_str("client_id"),
            "client_secret": self.config.get_str("client_secret"),
            "access_token": self.config.get_str("access_token"),
            "refresh_token": self.config.get_str("refresh_token"),
            "user_id": str(self.config.get_int("user_id")),
        }

    def authenticate(self, request: Request) -> Response | None:
        if request.path == "/oauth/token":
            return None
        header = request.headers.get("authorization", "")
        token = header[7:].strip() if header[:7].lower() == "bearer " else ""
        expires = self.state.access_tokens.get(token) if token else None
        if expires is None or expires <= time.time():
            return _error(401, "invalid access token", "not_found")
        return None

    def error_response(self, request: Request, status: int) -> Response:
        errors = {500: "internal_error", 502: "bad_gateway", 503: "service_unavailable"}
        return _error(status, "Internal server error", errors.get(status, "internal_error"))

    def rate_limited_response(self, request: Request, fault: Fault) -> Response:
        response = _error(429, "Too many requests", "too_many_requests")
        response.set_header("Retry-After", str(int(fault.params["retry_after"])))
        return response

    def not_found_response(self, request: Request) -> Response:
        return _error(404, f"Resource {request.path} not found", "not_found")

    def method_not_allowed_response(self, request: Request, allowed: tuple[str, ...]) -> Response:
        response = _error(405, f"Method {request.method} not allowed", "method_not_allowed")
        response.set_header("Allow", ", ".join(allowed))
        return response

    def bad_request_response(self, request: Request, detail: str) -> Response:
        return _error(400, detail, "bad_request")

    def call_handler(self, request: Request, handler: Callable[[Request], Response]) -> Response:
        try:
            return super().call_handler(request, handler)
        except InvoiceRefused as refused:
            return _error(400, refused.message, "bad_request", error_code=refused.code)
        except Invalid as invalid:
            return _error(400, str(invalid), "bad_request")

    def state_json(self) -> Any:
        return {
            "orders": list(self.state.orders.values()),
            "shipments": list(self.state.shipments.values()),
            "invoices": {
                str(shipment_id): {k: v for k, v in invoice.items() if k != "_xml"}
                for shipment_id, invoice in self.state.invoices.items()
            },
            "items": list(self.state.items.values()),
            "packs": list(self.state.packs.values()),
            "claims": list(self.state.claims.values()),
        }

    # ----------------------------------------------------------------- routes
    def add_routes(self) -> None:
        api = self.api.add
        api("POST", "/oauth/token", self._token)
        api("GET", "/orders/search", self._search)
        api("GET", "/orders/{id:int}", self._get_order)
        api("GET", "/orders/{id:int}/shipments", self._order_shipments)
        api("GET", "/shipments/{id:int}", self._get_shipment)
        api("PUT", "/shipments/{id:int}", self._update_shipment)
        api("GET", "/shipments/{id:int}/billing_info", self._billing_info)
        api("POST", "/shipments/{id:int}/seller_notifications", self._seller_notification)
        api("GET", "/shipments/{id:int}/invoice_data", self._get_invoice)
        api("GET", "/shipments/{id:int}/invoice_data/", self._get_invoice)
        api("POST", "/shipments/{id:int}/invoice_data", self._upload_invoice)
        api("POST", "/shipments/{id:int}/invoice_data/", self._upload_invoice)
        api("POST", "/items", self._create_item)
        api("GET", "/items/{id}", self._get_item)
        api("PUT", "/items/{id}", self._update_item)
        api("GET", "/users/{user_id:int}/items/search", self._search_items)
        api("GET", "/packs/{id:int}", self._get_pack)
        api("GET", "/post-purchase/v1/claims/{id:int}", self._get_claim)
        control = self.control.add
        control("POST", "/_sandbox/orders", self._control_buy)
        control("POST", "/_sandbox/orders/{id:int}/pay", self._control_pay)
        control("POST", "/_sandbox/orders/{id:int}/cancel", self._control_cancel)
        control("POST", "/_sandbox/orders/{id:int}/status", self._control_set_status)
        control("POST", "/_sandbox/shipments/{id:int}/status", self._control_move_shipment)
        control("POST", "/_sandbox/tokens/expire", self._control_expire_tokens)
        control("POST", "/_sandbox/packs", self._control_buy_pack)
        control("POST", "/_sandbox/claims", self._control_open_claim)
        control("POST", "/_sandbox/claims/{id:int}/dispute", self._control_dispute_claim)
        control("POST", "/_sandbox/claims/{id:int}/close", self._control_close_claim)

    # ----------------------------------------------------------------- OAuth
    def _issue_tokens(self) -> dict[str, Any]:
        user_id = self.config.get_int("user_id")
        client_id = self.config.get_str("client_id")
        access = f"APP_USR-{client_id}-{secrets.token_hex(4)}-{secrets.token_hex(16)}-{user_id}"
        refresh = f"TG-{secrets.token_hex(12)}-{user_id}"
        ttl = float(self.config["token_ttl_seconds"])
        self.state.access_tokens[access] = time.time() + ttl
        self.state.refresh_tokens.add(refresh)
        return {
            "access_token": access,
            "token_type": "bearer",
            "expires_in": int(ttl),
            "scope": "offline_access read write",
            "user_id": user_id,
            "refresh_token": refresh,
        }

    def _token(self, request: Request) -> Response:
        if request.content_type == "application/json":
            data = request.json()
            fields = {k: str(v) for k, v in data.items()} if isinstance(data, dict) else {}
        else:
            fields = request.form()
        if fields.get("grant_type") != "refresh_token":
            return Response.json(
                {"error": "unsupported_grant_type", "error_description": "only refresh_token here",
                 "status": 400, "cause": []},
                400,
            )  # fmt: skip
        client_ok = hmac.compare_digest(fields.get("client_id", ""), self.config.get_str("client_id")) and (
            hmac.compare_digest(fields.get("client_secret", ""), self.config.get_str("client_secret"))
        )
        refresh = fields.get("refresh_token", "")
        if not client_ok or refresh not in self.state.refresh_tokens:
            return Response.json(
                {
                    "error": "invalid_grant",
                    "error_description": "Error validating grant. Your authorization code or refresh token "
                    "may be expired or it was already used",
                    "status": 400,
                    "cause": [],
                },
                400,
            )
        if self.config.get_bool("refresh_token_single_use"):
            self.state.refresh_tokens.discard(refresh)
        return Response.json(self._issue_tokens())

    # ----------------------------------------------------------------- orders: reads
    def _seller_ok(self, order: Mapping[str, Any]) -> bool:
        return int(order["seller"]["id"]) == self.config.get_int("user_id")

    def _get_order(self, request: Request) -> Response:
        order = self.state.orders.get(int(request.params["id"]))
        if order is None:
            return _error(404, f"Order {request.params['id']} not found", "not_found")
        if not self._seller_ok(order):
            return _error(403, "The caller is not authorized to access this resource", "forbidden")
        return Response.json(order)

    def _order_shipments(self, request: Request) -> Response:
        order = self.state.orders.get(int(request.params["id"]))
        if order is None:
            return _error(404, f"Order {request.params['id']} not found", "not_found")
        shipment_id = order["shipping"]["id"]
        if shipment_id is None:
            return Response(204)
        return Response.json([{"id": shipment_id, "type": "forward"}])

    def _search(self, request: Request) -> Response:
        seller = request.arg("seller")
        if seller is None or not seller.isdigit():
            raise Invalid("seller is required")
        if int(seller) != self.config.get_int("user_id"):
            return _error(403, "caller.id does not match the seller", "forbidden")
        orders = [order for order in self.state.orders.values() if self._seller_ok(order)]
        statuses = {s for s in (request.arg("order.status") or "").split(",") if s}
        if statuses:
            orders = [order for order in orders if order["status"] in statuses]
        elif self.config.get_bool("search_excludes_cancelled"):
            orders = [order for order in orders if order["status"] != "cancelled"]
        for field_name, attribute in (
            ("date_created", "date_created"),
            ("date_last_updated", "last_updated"),
        ):
            lower, upper = request.arg(f"order.{field_name}.from"), request.arg(f"order.{field_name}.to")
            try:
                if lower:
                    first = parse_iso(lower)
                    orders = [order for order in orders if parse_iso(order[attribute]) >= first]
                if upper:
                    last = parse_iso(upper)
                    orders = [order for order in orders if parse_iso(order[attribute]) <= last]
            except ValueError as error:
                raise Invalid(f"order.{field_name}: not an ISO 8601 date ({error})") from None
        sort = request.arg("sort") or "date_asc"
        if sort not in ("date_asc", "date_desc"):
            raise Invalid(f"invalid sort {sort!r}")
        orders.sort(
            key=lambda order: (parse_iso(order["date_created"]), order["id"]), reverse=sort == "date_desc"
        )
        offset = _non_negative(request.arg("offset"), 0, "offset")
        limit = min(_non_negative(request.arg("limit"), MAX_LIMIT, "limit"), MAX_LIMIT)
        names = {"date_asc": "Date ascending", "date_desc": "Date descending"}
        return Response.json(
            {
                "query": request.arg("q"),
                "results": orders[offset : offset + limit],
                "sort": {"id": sort, "name": names[sort]},
                "available_sorts": [{"id": key, "name": name} for key, name in names.items() if key != sort],
                "filters": [],
                "paging": {"total": len(orders), "offset": offset, "limit": limit},
                "display": "complete",
            }
        )

    # ----------------------------------------------------------------- shipments
    def _shipment(self, request: Request) -> dict[str, Any] | None:
        return self.state.shipments.get(int(request.params["id"]))

    @staticmethod
    def _shipment_not_found(request: Request) -> Response:
        return _error(404, f"Shipment {request.params['id']} not found", "not_found")

    def _get_shipment(self, request: Request) -> Response:
        shipment = self._shipment(request)
        if shipment is None:
            return self._shipment_not_found(request)
        if self.config.get_bool("require_x_format_new") and request.headers.get("x-format-new") != "true":
            raise Invalid("this sandbox serves only the new shipment format: send x-format-new: true")
        return Response.json(shipment)

    def _billing_info(self, request: Request) -> Response:
        billing = self.state.billing.get(int(request.params["id"]))
        if billing is None:
            return self._shipment_not_found(request)
        return Response.json(billing)

    def _me1_shipment(self, request: Request) -> dict[str, Any]:
        shipment = self._shipment(request)
        if shipment is None:
            raise Invalid(f"Shipment {request.params['id']} not found")
        if shipment["logistic"]["mode"] != "me1":
            raise Invalid(
                f"Shipment {shipment['id']} is {shipment['logistic']['mode']}: only ME1 shipments take this"
            )
        return shipment

    def _update_shipment(self, request: Request) -> Response:
        shipment = self._me1_shipment(request)
        body = request.json()
        if not isinstance(body, dict) or not str(body.get("tracking_number") or "").strip():
            raise Invalid("tracking_number is required")
        shipment["tracking_number"] = str(body["tracking_number"]).strip()
        if body.get("service_id") is not None:
            shipment["service_id"] = body["service_id"]
        self._touch_shipment(shipment)
        return Response.json(shipment)

    def _seller_notification(self, request: Request) -> Response:
        shipment = self._me1_shipment(request)
        body = request.json()
        if not isinstance(body, dict) or body.get("status") not in ME1_NOTIFICATION_STATUSES:
            raise Invalid(f"status must be one of {', '.join(ME1_NOTIFICATION_STATUSES)}")
        substatus = body.get("substatus")
        if substatus in ("null", ""):
            substatus = None
        if body.get("tracking_number"):
            shipment["tracking_number"] = str(body["tracking_number"])
        if body.get("tracking_url"):
            shipment["tracking_url"] = str(body["tracking_url"])
        self._move_shipment(shipment, str(body["status"]), substatus)
        return Response.json({"status": "OK"})

    # ----------------------------------------------------------------- invoices
    def _get_invoice(self, request: Request) -> Response:
        if (request.arg("siteId") or "MLB") != "MLB":
            raise InvoiceRefused("invalid_operation_for_site_id", "invoice_data is only for site MLB")
        invoice = self.state.invoices.get(int(request.params["id"]))
        if invoice is None:
            return _error(404, f"Invoice for shipment {request.params['id']} not found", "not_found")
        return Response.json({k: v for k, v in invoice.items() if k != "_xml"})

    def _upload_invoice(self, request: Request) -> Response:
        shipment = self._shipment(request)
        if shipment is None:
            return self._shipment_not_found(request)
        if request.arg("siteId") != "MLB":
            raise InvoiceRefused("invalid_operation_for_site_id", "siteId must be MLB")
        if request.content_type not in ("application/xml", "text/xml"):
            raise InvoiceRefused("invalid_content_type", "the body must be the NF-e XML (application/xml)")
        if shipment["id"] in self.state.invoices:
            raise InvoiceRefused("shipment_invoice_already_saved", "the shipment already has an invoice")
        if (shipment["status"], shipment["substatus"]) != ("ready_to_ship", "invoice_pending"):
            raise InvoiceRefused(
                "invalid_shipment_status",
                f"the shipment is {shipment['status']}/{shipment['substatus']}, not waiting for an invoice",
            )
        if request.body.count(b"<NFe") + request.body.count(b":NFe") > 1:
            raise InvoiceRefused("batch_nfe_not_supported", "one NF-e per upload")
        try:
            document = parse_nfe_xml(request.body)
        except FiscalError as error:
            raise InvoiceRefused("invalid_nfe_xml", f"unreadable NF-e: {error}") from None
        if document.authorization is None:
            raise InvoiceRefused("invalid_nfe_xml", "send the nfeProc (NF-e with its authorization protocol)")
        if not document.authorization.is_authorized:
            raise InvoiceRefused(
                "invalid_nfe_cstat", f"cStat {document.authorization.status_code} is not authorized"
            )
        if document.model != "55" or document.environment != "1":
            raise InvoiceRefused("invalid_nfe_xml", "only production NF-e of model 55")
        for other_id, other in self.state.invoices.items():
            if other["fiscal_key"] == document.key and other_id != shipment["id"]:
                raise InvoiceRefused("duplicated_fiscal_key", f"the key is already on shipment {other_id}")
        order = self.state.orders[shipment["order_id"]]
        buyer_document = self.state.billing[shipment["id"]]["receiver"]["document"]["value"]
        if document.recipient_document != buyer_document:
            raise InvoiceRefused("wrong_receiver_cpf", "the NF-e recipient is not the buyer")
        if self.config.get_bool("check_invoice_value"):
            carried = self._live_orders(shipment)  # one NF-e for every order the shipment carries
            allowed = {
                sum((Decimal(str(o[name])) for o in carried), Decimal("0"))
                for name in ("total_amount", "paid_amount")
            }
            if document.total.quantize(_CENT) not in {value.quantize(_CENT) for value in allowed}:
                raise InvoiceRefused(
                    "nfe_order_value_divergence", f"vNF {document.total} ≠ the order's total"
                )
        if (
            document.issued_at.astimezone(BRASILIA).date()
            < parse_iso(order["date_created"]).astimezone(BRASILIA).date()
        ):
            raise InvoiceRefused("wrong_invoice_date", "the NF-e was issued before the sale")
        invoice = {
            "id": self.state.next_invoice_id,
            "sender_id": self.config.get_int("user_id"),
            "shipment_id": shipment["id"],
            "site_id": "MLB",
            "fiscal_key": document.key,
            "invoice_serie": document.series,
            "invoice_number": document.number,
            "invoice_amount": money(document.total),
            "status": "approved",
            "invoice_date": ml_time(document.issued_at),
            "date_created": self._stamp(),
            "_xml": request.body.decode("utf-8", "replace"),
        }
        self.state.next_invoice_id += 1
        self.state.invoices[shipment["id"]] = invoice
        self._move_shipment(shipment, "ready_to_ship", "ready_to_print")
        return Response.json({k: v for k, v in invoice.items() if k != "_xml"}, 201)

    # ----------------------------------------------------------------- items (listings) and stock
    @staticmethod
    def item_skus(listing: Mapping[str, Any]) -> set[str]:
        """The seller SKUs of a listing or variation: ``seller_custom_field`` and ``SELLER_SKU``."""
        skus = {str(listing.get("seller_custom_field") or "")}
        skus |= {
            str(a.get("value_name") or "")
            for a in listing.get("attributes") or []
            if isinstance(a, dict) and a.get("id") == "SELLER_SKU"
        }
        return skus - {""}

    @staticmethod
    def _quantity(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise Invalid(f"available_quantity must be a non-negative integer, not {value!r}")
        return value

    def _apply_quantity(self, item: dict[str, Any]) -> None:
        """0 available pauses the listing (``out_of_stock``); stock again reactivates it."""
        if item["available_quantity"] == 0 and item["status"] == "active":
            item.update(status="paused", sub_status=["out_of_stock"])
        elif item["available_quantity"] > 0 and item["sub_status"] == ["out_of_stock"]:
            item.update(status="active", sub_status=[])
        item["last_updated"] = self._stamp()

    def create_item(self, body: Mapping[str, Any], item_id: str | None = None) -> dict[str, Any]:
        """A listing from ``POST /items``'s body (also the seed's path)."""
        title = str(body.get("title") or "").strip()
        if not title or body.get("price") is None:
            raise Invalid("title and price are required")
        variations = body.get("variations") or []
        if not isinstance(variations, list) or not all(isinstance(v, dict) for v in variations):
            raise Invalid("variations must be a list of objects")
        if item_id is None:
            item_id = f"MLB{self.state.next_item_id}"
            self.state.next_item_id += 1
        item: dict[str, Any] = {
            "id": item_id,
            "site_id": "MLB",
            "seller_id": self.config.get_int("user_id"),
            "title": title,
            "category_id": str(body.get("category_id") or "MLB1234"),
            "price": body["price"],
            "currency_id": "BRL",
            "available_quantity": 0,
            "buying_mode": str(body.get("buying_mode") or "buy_it_now"),
            "listing_type_id": str(body.get("listing_type_id") or "gold_special"),
            "condition": str(body.get("condition") or "new"),
            "status": "active",
            "sub_status": [],
            "seller_custom_field": body.get("seller_custom_field"),
            "attributes": list(body.get("attributes") or []),
            "variations": [],
        }
        for variation in variations:
            item["variations"].append(
                {
                    "id": self.state.next_variation_id,
                    "available_quantity": self._quantity(variation.get("available_quantity", 0)),
                    "price": variation.get("price", body["price"]),
                    "seller_custom_field": variation.get("seller_custom_field"),
                    "attributes": list(variation.get("attributes") or []),
                    "attribute_combinations": list(variation.get("attribute_combinations") or []),
                }
            )
            self.state.next_variation_id += 1
        item["available_quantity"] = (
            sum(v["available_quantity"] for v in item["variations"])
            if item["variations"]
            else self._quantity(body.get("available_quantity", 0))
        )
        self._apply_quantity(item)
        self.state.items[item_id] = item
        return item

    def _item(self, request: Request) -> dict[str, Any] | None:
        item = self.state.items.get(request.params["id"])
        return item if item is not None and item["seller_id"] == self.config.get_int("user_id") else None

    def _item_not_found(self, request: Request) -> Response:
        return _error(404, f"Item with id {request.params['id']} not found", "not_found")

    def _create_item(self, request: Request) -> Response:
        body = request.json()
        if not isinstance(body, dict):
            return _error(400, "body must be a JSON object", "bad_request")
        try:
            item = self.create_item(body)
        except Invalid as error:
            return _error(400, str(error), "validation_error")
        return Response.json(item, 201)

    def _get_item(self, request: Request) -> Response:
        item = self._item(request)
        return self._item_not_found(request) if item is None else Response.json(item)

    def _update_item(self, request: Request) -> Response:
        item = self._item(request)
        if item is None:
            return self._item_not_found(request)
        body = request.json()
        if not isinstance(body, dict):
            return _error(400, "body must be a JSON object", "bad_request")
        try:
            if "variations" in body:
                self._update_variations(item, body["variations"])
            elif "available_quantity" in body:
                if item["variations"]:
                    raise Invalid("the item has variations: set available_quantity on each variation")
                item["available_quantity"] = self._quantity(body["available_quantity"])
        except Invalid as error:
            return _error(400, str(error), "validation_error")
        for name in ("title", "price"):
            if name in body:
                item[name] = body[name]
        self._apply_quantity(item)
        return Response.json(item)

    def _update_variations(self, item: dict[str, Any], changes: Any) -> None:
        """ML's rule: the variations listed stay (updated), the ones left out are deleted."""
        if not isinstance(changes, list) or not all(isinstance(c, dict) for c in changes):
            raise Invalid("variations must be a list of objects")
        by_id = {v["id"]: v for v in item["variations"]}
        kept = []
        for change in changes:
            variation = by_id.get(change.get("id"))
            if variation is None:
                raise Invalid(f"variation {change.get('id')!r} is not in item {item['id']}")
            if "available_quantity" in change:
                variation["available_quantity"] = self._quantity(change["available_quantity"])
            kept.append(variation)
        item["variations"] = kept
        item["available_quantity"] = sum(v["available_quantity"] for v in kept)

    def _search_items(self, request: Request) -> Response:
        user_id = int(request.params["user_id"])
        if user_id != self.config.get_int("user_id"):
            return _error(403, "caller.id does not match user_id", "forbidden")
        sku = request.arg("seller_sku") or ""
        found = [
            item["id"]
            for item in self.state.items.values()
            if item["seller_id"] == user_id
            and (
                not sku
                or sku in self.item_skus(item)
                or any(sku in self.item_skus(v) for v in item["variations"])
            )
        ]
        offset = _non_negative(request.arg("offset"), 0, "offset")
        limit = min(_non_negative(request.arg("limit"), 50, "limit") or 50, 100)
        return Response.json(
            {
                "seller_id": str(user_id),
                "query": sku or None,
                "paging": {"limit": limit, "offset": offset, "total": len(found)},
                "results": found[offset : offset + limit],
            }
        )

    # ----------------------------------------------------------------- time
    # While seeding, the story's time (days ago) instead of now, so the history looks old.
    _story_time: datetime | None = None

    def _stamp(self) -> str:
        return ml_time(self._story_time or _now())

    # ----------------------------------------------------------------- notifications
    def _notify(self, topic: str, resource: str) -> None:
        if self._seeding:
            return  # the seed is history: nothing of it is announced
        self._notified.append(f"{topic} {resource}")
        now = _now().strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        self.send_webhook(
            topic,
            {
                "_id": str(uuid.uuid4()),
                "resource": resource,
                "user_id": self.config.get_int("user_id"),
                "topic": topic,
                "application_id": int(self.config.get_str("client_id")),
                "attempts": 1,
                "sent": now,
                "received": now,
            },
        )

    def _touch_order(self, order: dict[str, Any]) -> None:
        stamp = self._stamp()
        order["last_updated"] = order["date_last_updated"] = stamp
        pack = self.state.packs.get(order["pack_id"]) if order["pack_id"] else None
        if pack is not None:
            pack["last_updated"] = stamp
        self._notify("orders_v2", f"/orders/{order['id']}")

    def _touch_shipment(self, shipment: dict[str, Any]) -> None:
        shipment["last_updated"] = self._stamp()
        self._notify("shipments", f"/shipments/{shipment['id']}")
        for order in self._shipment_orders(shipment):
            stamp = self._stamp()
            order["last_updated"] = order["date_last_updated"] = stamp

    def _shipment_orders(self, shipment: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The orders a shipment carries: one, or every order of its pack."""
        return [o for o in self.state.orders.values() if o["shipping"]["id"] == shipment["id"]]

    # ----------------------------------------------------------------- live paths
    def _new_order(
        self,
        *,
        customer: Customer,
        lines: list[tuple[str, int, Decimal | None]],
        payment_method: str,
        mode: str,
        logistic_type: str,
        shipping_cost: Decimal,
        created_at: datetime,
        pack_id: int | None = None,
        shared_shipment: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        if payment_method not in PAYMENT_TYPES:
            raise Invalid(f"payment_method must be one of {', '.join(PAYMENT_TYPES)}")
        if mode not in LOGISTIC_MODES:
            raise Invalid(f"mode must be one of {', '.join(LOGISTIC_MODES)}")
        if logistic_type not in LOGISTIC_TYPES:
            raise Invalid(f"logistic_type must be one of {', '.join(LOGISTIC_TYPES)}")
        if not customer.document_digits:
            raise Invalid("the buyer needs a CPF or CNPJ")
        if not lines or any(qty <= 0 for _sku, qty, _price in lines):
            raise Invalid("every item needs a positive qty")
        products = [product_by_sku(sku) for sku, _qty, _price in lines]
        state = self.state
        order_id = state.next_order_id
        state.next_order_id += 1
        if shared_shipment is not None:
            shipment_id = shared_shipment["id"]
        else:
            shipment_id = state.next_shipment_id
            state.next_shipment_id += 1
        items = []
        total = Decimal("0")
        for product, (_sku, qty, price) in zip(products, lines, strict=True):
            unit = (price if price is not None else product.price).quantize(_CENT)
            total += unit * qty
            items.append(
                {
                    "item": {
                        "id": f"MLB{4100000000 + product.id}",
                        "title": product.name,
                        "category_id": "MLB1234",
                        "seller_sku": product.sku,
                        "variation_id": None,
                        "variation_attributes": [],
                    },
                    "quantity": qty,
                    "unit_price": money(unit),
                    "full_unit_price": money(unit),
                    "sale_fee": money(unit * Decimal("0.13")),
                    "currency_id": "BRL",
                }
            )
        buyer_id = 100000000 + sum(ord(char) for char in customer.key) * 1000 + len(customer.email)
        payment_id = state.next_payment_id
        state.next_payment_id += 1
        method_id, payment_type = PAYMENT_TYPES[payment_method]
        stamp = ml_time(created_at)
        order = {
            "id": order_id,
            "pack_id": pack_id,
            "date_created": stamp,
            "date_closed": stamp,
            "last_updated": stamp,
            "date_last_updated": stamp,
            "status": "payment_required",
            "status_detail": None,
            "tags": ["not_delivered", *(["pack_order"] if pack_id else [])],
            "order_items": items,
            "total_amount": money(total),
            "paid_amount": 0.0,
            "currency_id": "BRL",
            "buyer": {
                "id": buyer_id,
                "nickname": (customer.name.split()[0] + customer.surname[:4]).upper() + str(buyer_id % 1000),
                "first_name": customer.name,
                "last_name": customer.surname,
            },
            "seller": {"id": self.config.get_int("user_id")},
            "payments": [
                {
                    "id": payment_id,
                    "order_id": order_id,
                    "status": "pending",
                    "status_detail": "pending_waiting_payment",
                    "transaction_amount": money(total),
                    "total_paid_amount": money(total + shipping_cost),
                    "shipping_cost": money(shipping_cost),
                    "payment_method_id": method_id,
                    "payment_type": payment_type,
                    "installments": 1,
                    "date_created": stamp,
                    "date_approved": None,
                    "currency_id": "BRL",
                }
            ],
            "shipping": {"id": shipment_id},
        }
        address = customer.address
        shipment = {
            "id": shipment_id,
            "order_id": order_id,
            "status": "pending",
            "substatus": None,
            "logistic": {"mode": mode, "type": logistic_type, "direction": "forward"},
            "tracking_number": None,
            "tracking_method": None,
            "origin": {"type": "selling_address", "sender_id": self.config.get_int("user_id")},
            "destination": {
                "type": "buying_address",
                "receiver_id": buyer_id,
                "receiver_name": customer.full_name,
                "receiver_phone": customer.phone,
                "shipping_address": {
                    "address_line": f"{address.street} {address.number}",
                    "street_name": address.street,
                    "street_number": address.number,
                    "comment": address.complement or None,
                    "zip_code": address.cep_digits,
                    "city": {"id": None, "name": address.city},
                    "state": {"id": f"BR-{address.uf}", "name": address.state_name},
                    "country": {"id": "BR", "name": "Brasil"},
                    "neighborhood": {"id": None, "name": address.district},
                },
            },
            "lead_time": {
                "cost": money(shipping_cost),
                "cost_type": "charged" if shipping_cost else "free",
                "shipping_method": {"id": 100009, "name": "Normal", "type": "standard"},
            },
            "dimensions": {"height": 10, "width": 20, "length": 30, "weight": 500},
            "declared_value": money(total),
            "status_history": dict.fromkeys(STATUS_HISTORY_FIELDS.values()),
            "date_created": stamp,
            "last_updated": stamp,
        }
        kind = "CNPJ" if customer.is_company else "CPF"
        state.orders[order_id] = order
        if shared_shipment is not None:  # one more order in the pack's box
            shared_shipment["declared_value"] = money(Decimal(str(shared_shipment["declared_value"])) + total)
            self._notify("orders_v2", f"/orders/{order_id}")
            return order
        state.shipments[shipment_id] = shipment
        state.billing[shipment_id] = {
            "receiver": {
                "id": buyer_id,
                "document": {"id": kind, "value": customer.document_digits},
                "additional_documents": [],
            },
            "senders": [{"id": self.config.get_int("user_id")}],
            "carrier": {},
        }
        self._notify("orders_v2", f"/orders/{order_id}")
        return order

    def _pay(self, order: dict[str, Any]) -> None:
        if order["status"] == "paid":
            return
        if order["status"] in ("cancelled", "invalid"):
            raise Invalid(f"order {order['id']} is {order['status']}")
        payment = order["payments"][0]
        payment.update(status="approved", status_detail="accredited", date_approved=self._stamp())
        tags = ["paid", "not_delivered", *(["pack_order"] if order["pack_id"] else [])]
        order.update(status="paid", paid_amount=payment["total_paid_amount"], tags=tags)
        self._touch_order(order)
        shipment = self.state.shipments[order["shipping"]["id"]]
        if any(other["status"] != "paid" for other in self._live_orders(shipment)):
            return  # the pack's shipment waits for every order of it
        mode, logistic_type = shipment["logistic"]["mode"], shipment["logistic"]["type"]
        waits = {t.strip() for t in self.config.get_str("invoice_logistic_types").split(",")}
        if mode != "me2":
            self._move_shipment(shipment, "handling", None)
        elif logistic_type in waits:
            self._move_shipment(shipment, "ready_to_ship", "invoice_pending")
        else:
            self._move_shipment(shipment, "ready_to_ship", "ready_to_print")

    def _cancel(self, order: dict[str, Any]) -> None:
        if order["status"] == "cancelled":
            return
        shipment = self.state.shipments[order["shipping"]["id"]]
        if shipment["status"] in ("shipped", "delivered"):
            raise Invalid(f"shipment {shipment['id']} is {shipment['status']}: too late to cancel")
        for payment in order["payments"]:
            payment.update(
                status="refunded" if payment["status"] == "approved" else "cancelled",
                status_detail="by_collector",
            )
        order.update(status="cancelled", status_detail={"code": "cancelled_by_buyer", "description": "Buyer"})
        order["tags"] = [tag for tag in order["tags"] if tag != "paid"]
        self._touch_order(order)
        if not self._live_orders(shipment):
            self._move_shipment(shipment, "cancelled", None)

    def _live_orders(self, shipment: Mapping[str, Any]) -> list[dict[str, Any]]:
        return [o for o in self._shipment_orders(shipment) if o["status"] not in ("cancelled", "invalid")]

    def _move_shipment(self, shipment: dict[str, Any], status: str, substatus: str | None) -> None:
        if status not in SHIPMENT_STATUSES:
            raise Invalid(f"status must be one of {', '.join(SHIPMENT_STATUSES)}")
        if (shipment["status"], shipment["substatus"]) == (status, substatus):
            return
        if status in ("ready_to_ship", "shipped") and shipment["tracking_number"] is None:
            shipment["tracking_number"] = correios_code(self.state.next_tracking, "ML")
            shipment["tracking_method"] = "Correios"
            self.state.next_tracking += 1
        history_field = STATUS_HISTORY_FIELDS.get(status)
        if history_field is not None and status != shipment["status"]:
            shipment["status_history"][history_field] = self._stamp()
        shipment.update(status=status, substatus=substatus)
        order = self.state.orders.get(shipment["order_id"])
        if order is not None and status in ("delivered", "not_delivered"):
            order["tags"] = [tag for tag in order["tags"] if tag not in ("delivered", "not_delivered")] + [
                status
            ]
        self._touch_shipment(shipment)

    # ----------------------------------------------------------------- seed
    def new_state(self, seed: bool) -> MercadoLivreState:
        state = MercadoLivreState()
        state.access_tokens[self.config.get_str("access_token")] = time.time() + float(
            self.config["token_ttl_seconds"]
        )
        state.refresh_tokens.add(self.config.get_str("refresh_token"))
        return self.seed_through_live_paths(state, self._seed) if seed else state

    def _seed(self) -> None:
        """The demo story as ML sales: abandoned carts never reached ML; the in-transit order is ME1
        (the seller ships and reports), the others ME2 drop-off."""
        now = _now()
        for product in PRODUCTS:
            self.create_item(
                {"title": product.name, "price": money(product.price), "available_quantity": 10,
                 "seller_custom_field": product.sku},
                item_id=f"MLB{4100000000 + product.id}",
            )  # fmt: skip
        try:
            for demo in DEMO_ORDERS:
                if demo.status != "abandoned":
                    self._seed_order(demo, now - timedelta(days=demo.days_ago, hours=3))
        finally:
            self._story_time = None

    def _seed_order(self, demo: DemoOrder, created: datetime) -> None:
        self._story_time = created
        order = self._new_order(
            customer=demo.customer,
            lines=[(sku, qty, None) for sku, qty in demo.items],
            payment_method=demo.payment_method,
            mode="me1" if demo.shipment == "in_transit" else "me2",
            logistic_type="drop_off",
            shipping_cost=demo.shipping,
            created_at=created,
        )
        shipment = self.state.shipments[order["shipping"]["id"]]
        self._story_time = created + timedelta(minutes=5)
        if demo.status == "paid":
            self._pay(order)
        elif demo.status == "canceled":
            self._cancel(order)
        if demo.tracking_code is not None:
            shipment.update(tracking_number=demo.tracking_code, tracking_method="Correios")
        if demo.shipment is not None:
            self._story_time = created + timedelta(days=1)
            self._move_shipment(shipment, "shipped", None)
        if demo.shipment == "delivered":
            self._story_time = created + timedelta(days=4)
            self._move_shipment(shipment, "delivered", None)

    # ----------------------------------------------------------------- control
    def _control_order(self, request: Request) -> dict[str, Any]:
        order = self.state.orders.get(int(request.params["id"]))
        if order is None:
            raise ControlError(404, "not_found", f"no order {request.params['id']}")
        return order

    def _control_answer(self, order: dict[str, Any], status: int = 200) -> Response:
        notified, self._notified = self._notified, []
        shipment = self.state.shipments.get(order["shipping"]["id"])
        return Response.json({"order": order, "shipment": shipment, "notifications": notified}, status)

    def _control_run(self, action: Callable[[], None]) -> None:
        self._notified = []
        try:
            action()
        except Invalid as error:
            raise ControlError(409, "conflict", str(error)) from error

    def _control_buy(self, request: Request) -> Response:
        body = control_body(request)
        raw_items = body.get("items") or [{"sku": "CHINELO-42", "qty": 2}]
        if not isinstance(raw_items, list) or not all(isinstance(i, dict) and "sku" in i for i in raw_items):
            raise ControlError(400, "invalid", "items must be [{sku, qty?, price?}]")
        try:
            lines = [
                (
                    str(i["sku"]),
                    int(i.get("qty", 1)),
                    None if i.get("price") is None else Decimal(str(i["price"])),
                )
                for i in raw_items
            ]
            shipping_cost = Decimal(str(body.get("shipping_cost", "15.00"))).quantize(_CENT)
        except (ValueError, InvalidOperation) as error:
            raise ControlError(400, "invalid", f"bad number: {error}") from error
        self._notified = []
        try:
            order = self._new_order(
                customer=customer_from_json(body.get("customer")),
                lines=lines,
                payment_method=str(body.get("payment_method", "pix")),
                mode=str(body.get("mode", "me2")),
                logistic_type=str(body.get("logistic_type", "drop_off")),
                shipping_cost=shipping_cost,
                created_at=_now(),
            )
            if body.get("paid", True):
                self._pay(order)
        except Invalid as error:
            raise ControlError(400, "invalid", str(error)) from error
        return self._control_answer(order, 201)

    def _control_pay(self, request: Request) -> Response:
        order = self._control_order(request)
        self._control_run(lambda: self._pay(order))
        return self._control_answer(order)

    def _control_cancel(self, request: Request) -> Response:
        order = self._control_order(request)
        self._control_run(lambda: self._cancel(order))
        return self._control_answer(order)

    def _control_set_status(self, request: Request) -> Response:
        order = self._control_order(request)
        status = control_body(request).get("status")
        if status not in ORDER_STATUSES:
            raise ControlError(400, "invalid", f"status must be one of {', '.join(ORDER_STATUSES)}")
        self._notified = []
        if status != order["status"]:
            order["status"] = status
            self._touch_order(order)
        return self._control_answer(order)

    def _control_move_shipment(self, request: Request) -> Response:
        shipment = self.state.shipments.get(int(request.params["id"]))
        if shipment is None:
            raise ControlError(404, "not_found", f"no shipment {request.params['id']}")
        body = control_body(request)
        status = body.get("status")
        if not isinstance(status, str):
            raise ControlError(400, "invalid", "status is required")
        if body.get("tracking_number"):
            shipment["tracking_number"] = str(body["tracking_number"])
            shipment["tracking_method"] = str(
                body.get("tracking_method") or shipment["tracking_method"] or "Correios"
            )
        self._control_run(lambda: self._move_shipment(shipment, status, body.get("substatus")))
        return self._control_answer(self.state.orders[shipment["order_id"]])

    def _control_buy_pack(self, request: Request) -> Response:
        """A buyer buys a cart: ``orders`` (2–3, each ``{items}``) become orders of one pack sharing
        one shipment; with ``split`` the cart left two warehouses: the first order is a pack of its
        own, the others another, each with its shipment, both of one ``family_pack_id``."""
        body = control_body(request)
        carts = body.get("orders") or [
            {"items": [{"sku": "CHINELO-42", "qty": 1}]},
            {"items": [{"sku": "CAMISETA-BRANCA-M", "qty": 2}]},
            {"items": [{"sku": "BONE-AZUL", "qty": 1}]},
        ]
        if not isinstance(carts, list) or not 2 <= len(carts) <= 3:
            raise ControlError(400, "invalid", "orders must list 2 or 3 orders [{items}]")
        try:
            lines: list[list[tuple[str, int, Decimal | None]]] = [
                [(str(i["sku"]), int(i.get("qty", 1)), None) for i in cart["items"]] for cart in carts
            ]
            shipping_cost = Decimal(str(body.get("shipping_cost", "15.00"))).quantize(_CENT)
        except (ValueError, InvalidOperation, KeyError, TypeError) as error:
            raise ControlError(400, "invalid", f"bad order: {error}") from error
        groups = [lines[:1], lines[1:]] if body.get("split") else [lines]
        family = None
        if len(groups) > 1:
            family = self.state.next_family_pack_id
            self.state.next_family_pack_id += 1
        customer = customer_from_json(body.get("customer"))
        self._notified = []
        packs, orders = [], []
        try:
            for group in groups:
                pack = self._new_pack(customer, group, body, shipping_cost, family)
                packs.append(pack)
                orders += [self.state.orders[entry["id"]] for entry in pack["orders"]]
            if body.get("paid", True):
                for order in orders:
                    self._pay(order)
        except Invalid as error:
            raise ControlError(400, "invalid", str(error)) from error
        notified, self._notified = self._notified, []
        shipments = [self.state.shipments[pack["shipment"]["id"]] for pack in packs]
        return Response.json(
            {"packs": packs, "orders": orders, "shipments": shipments, "notifications": notified}, 201
        )

    def _new_pack(
        self,
        customer: Customer,
        group: list[list[tuple[str, int, Decimal | None]]],
        body: Mapping[str, Any],
        shipping_cost: Decimal,
        family: int | None,
    ) -> dict[str, Any]:
        pack_id = self.state.next_pack_id
        self.state.next_pack_id += 1
        now = _now()
        shared: dict[str, Any] | None = None
        pack: dict[str, Any] = {
            "id": pack_id,
            "status": "released",  # assumed word; Malote reads the orders' statuses
            "family_pack_id": family,
            "orders": [],
            "shipment": {"id": None},
            "buyer": {"id": None},
            "date_created": ml_time(now),
            "last_updated": ml_time(now),
        }
        self.state.packs[pack_id] = pack
        for lines in group:
            order = self._new_order(
                customer=customer,
                lines=lines,
                payment_method=str(body.get("payment_method", "pix")),
                mode=str(body.get("mode", "me2")),
                logistic_type=str(body.get("logistic_type", "drop_off")),
                shipping_cost=shipping_cost if shared is None else Decimal("0.00"),
                created_at=now,
                pack_id=pack_id,
                shared_shipment=shared,
            )
            shared = self.state.shipments[order["shipping"]["id"]]
            pack["orders"].append({"id": order["id"]})
            pack["shipment"]["id"] = shared["id"]
            pack["buyer"]["id"] = order["buyer"]["id"]
        return pack

    def _get_pack(self, request: Request) -> Response:
        pack = self.state.packs.get(int(request.params["id"]))
        if pack is None:
            return _error(404, f"Pack {request.params['id']} not found", "not_found")
        return Response.json(pack)

    # ----------------------------------------------------------------- claims (post-purchase)
    def _get_claim(self, request: Request) -> Response:
        claim = self.state.claims.get(int(request.params["id"]))
        if claim is None:
            return _error(404, f"Claim {request.params['id']} not found", "not_found")
        return Response.json(claim)

    def _control_open_claim(self, request: Request) -> Response:
        """The buyer opens a claim on an order: ``{order_id, reason_id?, due_hours?}``; the seller
        must answer within ``due_hours`` (72)."""
        body = control_body(request)
        order = self.state.orders.get(int(body.get("order_id") or 0))
        if order is None:
            raise ControlError(404, "not_found", f"no order {body.get('order_id')}")
        claim_id = self.state.next_claim_id
        self.state.next_claim_id += 1
        now = _now()
        due = now + timedelta(hours=float(body.get("due_hours", 72)))
        claim = {
            "id": claim_id,
            "resource_id": order["id"],
            "resource": "order",
            "status": "opened",
            "type": "mediations",
            "stage": "claim",
            "reason_id": str(body.get("reason_id") or "PDD9939"),
            "players": [
                {
                    "role": "complainant",
                    "type": "buyer",
                    "user_id": order["buyer"]["id"],
                    "available_actions": [],
                },
                {
                    "role": "respondent",
                    "type": "seller",
                    "user_id": self.config.get_int("user_id"),
                    "available_actions": [
                        {
                            "action": "send_message_to_complainant",
                            "due_date": ml_time(due),
                            "mandatory": True,
                        },
                        {
                            "action": "refund",
                            "due_date": ml_time(due + timedelta(days=2)),
                            "mandatory": False,
                        },
                    ],
                },
            ],
            "resolution": None,
            "date_created": ml_time(now),
            "last_updated": ml_time(now),
        }
        self.state.claims[claim_id] = claim
        self._notified = []
        self._notify("claims", f"/post-purchase/v1/claims/{claim_id}")
        return self._claim_answer(claim, 201)

    def _control_claim(self, request: Request) -> dict[str, Any]:
        claim = self.state.claims.get(int(request.params["id"]))
        if claim is None:
            raise ControlError(404, "not_found", f"no claim {request.params['id']}")
        if claim["status"] == "closed":
            raise ControlError(409, "conflict", f"claim {claim['id']} is closed")
        return claim

    def _claim_answer(self, claim: dict[str, Any], status: int = 200) -> Response:
        notified, self._notified = self._notified, []
        return Response.json({"claim": claim, "notifications": notified}, status)

    def _control_dispute_claim(self, request: Request) -> Response:
        """ML steps in (mediação): a new due date ``due_hours`` (48) from now."""
        claim = self._control_claim(request)
        due = _now() + timedelta(hours=float(control_body(request).get("due_hours", 48)))
        claim["stage"] = "dispute"
        for player in claim["players"]:
            if player["role"] == "respondent":
                player["available_actions"] = [
                    {"action": "send_message_to_mediator", "due_date": ml_time(due), "mandatory": True}
                ]
        claim["last_updated"] = ml_time(_now())
        self._notified = []
        self._notify("claims", f"/post-purchase/v1/claims/{claim['id']}")
        return self._claim_answer(claim)

    def _control_close_claim(self, request: Request) -> Response:
        claim = self._control_claim(request)
        reason = str(control_body(request).get("reason") or "item_returned")
        claim.update(status="closed", resolution={"reason": reason, "date_created": ml_time(_now())})
        for player in claim["players"]:
            player["available_actions"] = []
        claim["last_updated"] = ml_time(_now())
        self._notified = []
        self._notify("claims", f"/post-purchase/v1/claims/{claim['id']}")
        return self._claim_answer(claim)

    def _control_expire_tokens(self, request: Request) -> Response:
        for token in self.state.access_tokens:
            self.state.access_tokens[token] = 0.0
        return Response.json({"expired": len(self.state.access_tokens)})


def _non_negative(value: str | None, default: int, name: str) -> int:
    if value is None or value == "":
        return default
    if not value.isdigit():
        raise Invalid(f"{name} must be a non-negative integer")
    return int(value)
