"""Fake VTEX account, OMS Orders API; the tests validate its answers against the vendor's OpenAPI
file (``tests/specs.py``).

One fake is one account; paths start with ``/api/`` as on ``{account}.vtexcommercestable.com.br``.
Headers ``X-VTEX-API-AppKey``/``AppToken`` (else 401). Orders (read, list, ``start-handling``,
invoice, tracking, cancel; money in cents) walk VTEX's workflow. A status change enters the Feed
v3 (read with ``maxlot``, hidden for the visibility timeout, removed by committing its handle) and
is POSTed to the order hook, each when its filter takes it; the hook carries the hook config's
custom headers (VTEX signs nothing).

Control: ``POST /_sandbox/orders`` (a checkout), ``…/{orderId}/status`` (an admin action),
``…/{orderId}/hook``, ``POST /_sandbox/hook/ping``, ``POST /_sandbox/clock``, ``GET
/_sandbox/feed``. ``GET /_sandbox`` lists the routes and the settings; settings described as assumed switch
what the vendor leaves unconfirmed. The vendor's API: docs/connectors/vtex.md.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import statistics
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, ClassVar

from malote.fiscal import tracking_url
from malote_dev.sandbox import clock
from malote_dev.sandbox.app import ControlError, FakeApp, Setting, control_body
from malote_dev.sandbox.router import BadRequest, Request, Response
from malote_dev.sandbox.seed import DEMO_ORDERS, Customer, Product, customer_from_json, product_by_sku

# Workflow statuses the fake walks, in order, and the Admin's pt-BR label (statusDescription).
CHECKOUT_PATH = (
    "order-created",
    "payment-pending",
    "payment-approved",
    "window-to-cancel",
    "ready-for-handling",
)
STATUS_DESCRIPTIONS = {
    "order-created": "Processando",
    "on-order-completed": "Processando",
    "payment-pending": "Pagamento Pendente",
    "payment-approved": "Pagamento Aprovado",
    "window-to-cancel": "Carência para Cancelamento",
    "ready-for-handling": "Pronto para o manuseio",
    "start-handling": "Iniciar Manuseio",
    "handling": "Preparando Entrega",
    "invoice": "Verificando Envio",
    "invoiced": "Faturado",
    "request-cancel": "Cancelamento Solicitado",
    "cancel": "Cancelando",
    "canceled": "Cancelado",
}
WORKFLOW_STATUSES = tuple(STATUS_DESCRIPTIONS)
HANDLING_OR_LATER = frozenset({"handling", "invoice", "invoiced"})
NOT_CANCELABLE = frozenset({"invoice", "invoiced"})
DEFAULT_FEED_STATUSES = [
    "payment-pending",
    "payment-approved",
    "ready-for-handling",
    "handling",
    "invoiced",
    "canceled",
]
PAYMENTS = {  # method → (group, paymentSystem, paymentSystemName)
    "pix": ("instantPayment", "125", "Pix"),
    "boleto": ("bankInvoice", "6", "Boleto Bancário"),
    "credit_card": ("creditCard", "2", "Visa"),
}
MAX_LOT = 10
ORDER_GROUP_BASE = 1_500_000_000_000
_CENT = Decimal("0.01")
_RANGE = re.compile(r"^\s*\w+:\[(?P<start>\S+)\s+TO\s+(?P<end>\S+)\]\s*$")


def cents(value: Decimal) -> int:
    """Reais as VTEX's integer cents."""
    return int((value * 100).quantize(Decimal("1"), rounding=ROUND_HALF_UP))


def vtex_time(moment: datetime) -> str:
    """``2024-02-04T20:09:43.0000000+00:00`` (the order JSON's form, 7 fraction digits)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000+00:00")


def feed_time(moment: datetime) -> str:
    """``2019-08-12T20:54:23.0000000Z`` (the feed's and the hook's form)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


def parse_vtex_time(text: str) -> datetime:
    """Any of VTEX's ISO 8601 forms (7 fraction digits, ``Z``); raises ``ValueError``."""
    return clock.parse_iso(text)


def _error(status: int, code: str, message: str) -> Response:
    return Response.json({"error": {"code": code, "message": message, "exception": None}}, status)


def _demo_token(label: str) -> str:
    return hashlib.sha256(label.encode()).hexdigest()[:40].upper()


class OmsError(Exception):
    """A refusal in the OMS envelope: ``status`` and ``{"error": {code, message}}``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class FeedMessage:
    """One feed item in the queue; ``handle`` is the one given at its last reading."""

    item: dict[str, Any]
    enqueued_at: datetime
    visible_at: datetime
    handle: str | None = None
    receive_count: int = 0


@dataclass
class VtexState:
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    feed: list[FeedMessage] = field(default_factory=list)
    feed_config: dict[str, Any] | None = None
    hook_config: dict[str, Any] | None = None
    next_number: int = 20001


@dataclass(frozen=True)
class _Line:
    product: Product
    qty: int
    price: Decimal


class VtexApp(FakeApp[VtexState]):
    kind: ClassVar[str] = "vtex"
    api_prefix: ClassVar[str] = "/api/"
    settings: ClassVar[Mapping[str, Setting]] = {
        "account_name": Setting("malotedemo", (str,), "the account ({account}.vtexcommercestable.com.br)"),
        "app_key": Setting("vtexappkey-malotedemo-MALOTE", (str,), "X-VTEX-API-AppKey"),
        "app_token": Setting(_demo_token("malote-demo vtex app token"), (str,), "X-VTEX-API-AppToken"),
        "domain": Setting("Fulfillment", (str,), "assumed: Domain of feed items and hooks"),
        "feed_configured": Setting(True, (bool,), "a fresh store has a feed config (else GET feed is 404)"),
        "feed_statuses": Setting(
            DEFAULT_FEED_STATUSES, (list,), "FromWorkflow statuses of the seeded feed config"
        ),
        "feed_visibility_timeout": Setting(
            250, (int,), "queue.visibilityTimeoutInSeconds of the seeded feed config"
        ),
        "feed_retention_seconds": Setting(
            345600, (int,), "queue.MessageRetentionPeriodInSeconds of the seeded feed config"
        ),
        "hook_secret_header": Setting(
            "X-Malote-Hook-Secret", (str,), "custom hook header sent when no hook config names one"
        ),
        "hook_secret": Setting(_demo_token("malote-demo vtex hook"), (str,), "value of that header"),
        "invoice_requires_handling": Setting(
            True, (bool,), "assumed: an Output invoice needs handling (off: ready-for-handling too)"
        ),
        "list_index_delay_seconds": Setting(
            0, (int,), "assumed: orders changed this recently are not in GET /api/oms/pvt/orders yet"
        ),
    }

    def __init__(self, *, seed: bool = True, config: Mapping[str, Any] | None = None) -> None:
        self.clock_offset = timedelta()
        super().__init__(seed=seed, config=config)

    # ----------------------------------------------------------------- framework hooks
    @property
    def api_url(self) -> str:
        """VTEX paths start with ``/api/`` under the account's host: the root stands for it."""
        return self.base_url

    def now(self) -> datetime:
        return clock.utc_now() + self.clock_offset

    def credentials(self) -> dict[str, str]:
        return {
            "account": self.config.get_str("account_name"),
            "app_key": self.config.get_str("app_key"),
            "app_token": self.config.get_str("app_token"),
            "hook_secret_header": self.config.get_str("hook_secret_header"),
            "hook_secret": self.config.get_str("hook_secret"),
        }

    def authenticate(self, request: Request) -> Response | None:
        key = request.headers.get("x-vtex-api-appkey", "")
        token = request.headers.get("x-vtex-api-apptoken", "")
        account = request.arg("an")
        good = hmac.compare_digest(key, self.config.get_str("app_key")) and hmac.compare_digest(
            token, self.config.get_str("app_token")
        )
        if not good or (account is not None and account != self.config.get_str("account_name")):
            return _error(401, "1", "Unauthorized access")
        return None

    def bad_request_response(self, request: Request, detail: str) -> Response:
        return _error(400, "1", detail)

    def call_handler(self, request: Request, handler: Callable[[Request], Response]) -> Response:
        try:
            return super().call_handler(request, handler)
        except OmsError as error:
            return _error(error.status, error.code, error.message)

    def webhook_targets(self, event: str) -> list[str]:
        hook = (self.state.hook_config or {}).get("hook") or {}
        url = hook.get("url") or self.config.get_optional_str("webhook_url")
        return [str(url)] if url else []

    def webhook_headers(self, event: str, body: bytes) -> dict[str, str]:
        hook = (self.state.hook_config or {}).get("hook") or {}
        custom = hook.get("headers")
        if isinstance(custom, dict) and custom:
            return {str(name): str(value) for name, value in custom.items()}
        return {self.config.get_str("hook_secret_header"): self.config.get_str("hook_secret")}

    def state_json(self) -> Any:
        return {
            "orders": list(self.state.orders.values()),
            "feed": [self._feed_json(message) for message in self.state.feed],
            "feed_config": self.state.feed_config,
            "hook_config": self.state.hook_config,
        }

    def _feed_json(self, message: FeedMessage) -> dict[str, Any]:
        return {
            "item": message.item,
            "handle": message.handle,
            "visible": message.visible_at <= self.now(),
            "receive_count": message.receive_count,
        }

    # ----------------------------------------------------------------- routes
    def add_routes(self) -> None:
        api = self.api.add
        oms = "/api/oms/pvt/orders"
        api("GET", oms, self._list_orders)
        api("GET", f"{oms}/{{orderId}}", self._get_order)
        api("POST", f"{oms}/{{orderId}}/start-handling", self._start_handling)
        api("POST", f"{oms}/{{orderId}}/invoice", self._invoice)
        api("PATCH", f"{oms}/{{orderId}}/invoice/{{number}}", self._invoice_tracking)
        api("PUT", f"{oms}/{{orderId}}/invoice/{{number}}/tracking", self._tracking_events)
        api("POST", f"{oms}/{{orderId}}/cancel", self._cancel)
        api("GET", "/api/orders/feed", self._read_feed)
        api("POST", "/api/orders/feed", self._commit_feed)
        api("GET", "/api/orders/feed/config", self._get_feed_config)
        api("POST", "/api/orders/feed/config", self._set_feed_config)
        api("DELETE", "/api/orders/feed/config", self._delete_feed_config)
        api("GET", "/api/orders/hook/config", self._get_hook_config)
        api("POST", "/api/orders/hook/config", self._set_hook_config)
        api("DELETE", "/api/orders/hook/config", self._delete_hook_config)
        control = self.control.add
        control("POST", "/_sandbox/orders", self._control_place_order)
        control("POST", "/_sandbox/orders/{orderId}/status", self._control_change_status)
        control("POST", "/_sandbox/orders/{orderId}/hook", self._control_resend_hook)
        control("POST", "/_sandbox/hook/ping", self._control_ping)
        control("POST", "/_sandbox/clock", self._control_clock)
        control("GET", "/_sandbox/feed", self._control_feed)

    # ----------------------------------------------------------------- orders: reads
    def _order(self, request: Request) -> dict[str, Any]:
        order = self.state.orders.get(request.params["orderId"])
        if order is None:
            raise OmsError(404, "404", f"Order {request.params['orderId']} not found")
        return order

    def _get_order(self, request: Request) -> Response:
        return Response.json(self._order(request))

    def _list_orders(self, request: Request) -> Response:
        orders = list(self.state.orders.values())
        delay = self.config.get_int("list_index_delay_seconds")
        if delay > 0:
            indexed_until = self.now() - timedelta(seconds=delay)
            orders = [order for order in orders if parse_vtex_time(order["lastChange"]) <= indexed_until]
        span = _date_range(request.arg("f_creationDate"))
        if span is not None:
            start, end = span
            orders = [order for order in orders if start <= parse_vtex_time(order["creationDate"]) <= end]
        statuses = {value.strip() for value in (request.arg("f_status") or "").split(",") if value.strip()}
        if statuses:
            orders = [order for order in orders if order["status"] in statuses]
        field_name, _, direction = (request.arg("orderBy") or "creationDate,desc").partition(",")
        sort_keys: dict[str, Callable[[dict[str, Any]], Any]] = {
            "creationDate": lambda order: parse_vtex_time(order["creationDate"]),
            "orderId": lambda order: order["orderId"],
            "totalValue": lambda order: order["value"],
            "origin": lambda order: order["origin"],
        }
        if field_name not in sort_keys or direction not in ("asc", "desc", ""):
            raise OmsError(400, "1", f"Invalid orderBy {request.arg('orderBy')!r}")
        orders.sort(key=sort_keys[field_name], reverse=direction != "asc")
        per_page = min(_positive_int(request.arg("per_page"), 15), 100)
        page = _positive_int(request.arg("page"), 1)
        chosen = orders[(page - 1) * per_page : page * per_page]
        return Response.json(
            {
                "list": [self._summary(order) for order in chosen],
                "facets": [],
                "paging": {
                    "total": len(orders),
                    "pages": max(1, -(-len(orders) // per_page)),
                    "currentPage": page,
                    "perPage": per_page,
                },
                "stats": {"stats": _stats(orders)},
            }
        )

    @staticmethod
    def _summary(order: dict[str, Any]) -> dict[str, Any]:
        client = order["clientProfileData"]
        payments = [
            payment["paymentSystemName"]
            for transaction in order["paymentData"]["transactions"]
            for payment in transaction["payments"]
        ]
        return {
            "orderId": order["orderId"],
            "creationDate": order["creationDate"],
            "clientName": f"{client['firstName']} {client['lastName']}".strip(),
            "items": None,
            "totalValue": order["value"],
            "paymentNames": ", ".join(payments),
            "status": order["status"],
            "statusDescription": order["statusDescription"],
            "marketPlaceOrderId": order["marketplaceOrderId"] or None,
            "sequence": order["sequence"],
            "salesChannel": order["salesChannel"],
            "affiliateId": order["affiliateId"],
            "origin": order["origin"],
            "workflowInErrorState": False,
            "workflowInRetry": False,
            "lastMessageUnread": None,
            "ShippingEstimatedDate": None,
            "ShippingEstimatedDateMax": None,
            "ShippingEstimatedDateMin": None,
            "orderIsComplete": True,
            "listId": None,
            "listType": None,
            "authorizedDate": order["authorizedDate"],
            "callCenterOperatorName": None,
            "totalItems": sum(item["quantity"] for item in order["items"]),
            "currencyCode": "BRL",
        }

    # ----------------------------------------------------------------- orders: writes
    def _receipt(self, order: dict[str, Any]) -> Response:
        return Response.json(
            {"date": vtex_time(self.now()), "orderId": order["orderId"], "receipt": uuid.uuid4().hex}
        )

    def _start_handling(self, request: Request) -> Response:
        order = self._order(request)
        if order["status"] != "ready-for-handling":
            raise OmsError(409, "OMS003", "Order status should be ready-for-handling to perform this action")
        self._walk(order, ["start-handling", "handling"])
        return Response(204)

    def _body(self, request: Request) -> dict[str, Any]:
        data = request.json()
        if not isinstance(data, dict):
            raise BadRequest("the body must be a JSON object")
        return data

    def _invoice(self, request: Request) -> Response:
        order = self._order(request)
        body = self._body(request)
        missing = [
            name
            for name in ("type", "issuanceDate", "invoiceNumber", "invoiceValue", "items")
            if body.get(name) in (None, "")
        ]
        if missing:
            raise OmsError(400, "1", f"Missing required fields: {', '.join(missing)}")
        kind = body["type"]
        if kind not in ("Output", "Input"):
            raise OmsError(400, "1", "type must be Output or Input")
        value = _integer(body["invoiceValue"], "invoiceValue")
        number = str(body["invoiceNumber"])
        allowed = HANDLING_OR_LATER | (
            frozenset() if self.config.get_bool("invoice_requires_handling") else {"ready-for-handling"}
        )
        if kind == "Output" and order["status"] not in allowed:
            raise OmsError(
                409, "1", f"Order status should be handling to be invoiced (it is {order['status']})"
            )
        items = body["items"]
        if not isinstance(items, list) or not items:
            raise OmsError(400, "1", "items must be a non-empty array")
        package_items = []
        for entry in items:
            if not isinstance(entry, dict) or "id" not in entry:
                raise OmsError(400, "1", "each item needs id, price and quantity")
            index = next((i for i, item in enumerate(order["items"]) if item["id"] == str(entry["id"])), None)
            if index is None:
                raise OmsError(400, "1", f"Item {entry['id']} is not in the order")
            package_items.append(
                {
                    "itemIndex": index,
                    "quantity": _integer(entry.get("quantity"), "quantity"),
                    "price": _integer(entry.get("price"), "price"),
                    "description": str(entry.get("description") or order["items"][index]["name"]),
                    "unitMultiplier": 1.0,
                }
            )
        packages: list[dict[str, Any]] = order["packageAttachment"]["packages"]
        package = next((p for p in packages if p["invoiceNumber"] == number and p["type"] == kind), None)
        fields = {
            "items": package_items,
            "courier": _text_or_none(body.get("courier")),
            "invoiceNumber": number,
            "invoiceValue": value,
            "invoiceUrl": _text_or_none(body.get("invoiceUrl")),
            "issuanceDate": str(body["issuanceDate"]),
            "trackingNumber": _text_or_none(body.get("trackingNumber")),
            "invoiceKey": _text_or_none(body.get("invoiceKey")),
            "trackingUrl": _text_or_none(body.get("trackingUrl")),
            "embeddedInvoice": str(body.get("embeddedInvoice") or ""),
            "type": kind,
        }
        if package is None:  # the same number again only updates it (and gives a new receipt)
            package = {**fields, "courierStatus": None, "cfop": None, "volumes": 1, "EnableInferItems": False}
            packages.append(package)
        else:
            package.update(fields)
        if body.get("dispatchedDate"):
            package["dispatchedDate"] = str(body["dispatchedDate"])
        invoiced = sum(p["invoiceValue"] for p in packages if p["type"] == "Output")
        if kind == "Output" and order["status"] != "invoiced" and invoiced >= order["value"]:
            order["invoicedDate"] = vtex_time(self.now())
            self._walk(order, ["invoice", "invoiced"])
        else:
            order["lastChange"] = vtex_time(self.now())
        return self._receipt(order)

    def _package(self, order: dict[str, Any], number: str) -> dict[str, Any]:
        for package in order["packageAttachment"]["packages"]:
            if package["invoiceNumber"] == number:
                return package
        raise OmsError(404, "404", f"Invoice {number} not found in order {order['orderId']}")

    def _invoice_tracking(self, request: Request) -> Response:
        order = self._order(request)
        package = self._package(order, request.params["number"])
        body = self._body(request)
        if not body.get("trackingNumber"):
            raise OmsError(400, "1", "trackingNumber is required")
        package["trackingNumber"] = str(body["trackingNumber"])
        for name in ("trackingUrl", "courier", "dispatchedDate"):
            if name in body:
                package[name] = _text_or_none(body[name])
        order["lastChange"] = vtex_time(self.now())
        return self._receipt(order)

    def _tracking_events(self, request: Request) -> Response:
        order = self._order(request)
        package = self._package(order, request.params["number"])
        body = self._body(request)
        delivered = body.get("isDelivered")
        events = body.get("events", [])
        if not isinstance(delivered, bool) or not isinstance(events, list):
            raise OmsError(400, "1", "isDelivered (boolean) and events (array) are required")
        now = vtex_time(self.now())
        package["courierStatus"] = {
            "status": "delivered" if delivered else "in-transit",
            "finished": delivered,
            "deliveredDate": str(body.get("deliveredDate") or now) if delivered else "",
            "data": [
                {
                    "lastChange": now,
                    "city": str(event.get("city", "")),
                    "state": str(event.get("state", "")),
                    "description": str(event.get("description", "")),
                    "createDate": str(event.get("date", "")),
                }
                for event in events
                if isinstance(event, dict)
            ],
        }
        order["lastChange"] = now
        return self._receipt(order)

    def _cancel(self, request: Request) -> Response:
        order = self._order(request)
        body = self._body(request) if request.body.strip() else {}
        if order["status"] == "canceled":
            return self._receipt(order)
        invoiced = any(p["type"] == "Output" for p in order["packageAttachment"]["packages"])
        if order["status"] in NOT_CANCELABLE or invoiced:
            raise OmsError(400, "1", f"Order {order['orderId']} is invoiced and cannot be canceled")
        reason = str(body.get("reason") or "")
        order.update(cancelReason=reason or None, allowCancellation=False)
        order["cancellationData"] = {
            "RequestedByUser": False,
            "RequestedBySystem": False,
            "RequestedBySellerNotification": True,
            "RequestedByPaymentNotification": False,
            "Reason": reason or None,
            "CancellationDate": feed_time(self.now()),
        }
        self._walk(order, ["cancel", "canceled"])
        return self._receipt(order)

    # ----------------------------------------------------------------- workflow events
    def _walk(self, order: dict[str, Any], statuses: list[str], at: datetime | None = None) -> list[str]:
        """Move the order through ``statuses`` (at ``at``, by default now); each step is a
        workflow event (feed and hook)."""
        for status in statuses:
            previous, last_change = order["status"], order["lastChange"]
            now = at or self.now()
            order.update(
                status=status,
                statusDescription=STATUS_DESCRIPTIONS.get(status, status),
                lastChange=vtex_time(now),
            )
            if status == "payment-approved" and order["authorizedDate"] is None:
                order["authorizedDate"] = vtex_time(now)
            if not self._seeding:
                self._announce(order, previous, last_change, now)
        return statuses

    def _announce(self, order: dict[str, Any], previous: str, last_change: str, now: datetime) -> None:
        state, domain = order["status"], self.config.get_str("domain")
        last = feed_time(parse_vtex_time(last_change))
        if _takes(self.state.feed_config, state):
            item = {
                "eventId": uuid.uuid4().hex.upper(),
                "handle": "",
                "domain": domain,
                "state": state,
                "lastState": previous,
                "orderId": order["orderId"],
                "lastChange": last,
                "currentChange": feed_time(now),
            }
            self.state.feed.append(FeedMessage(item=item, enqueued_at=now, visible_at=now))
        hook_filter = self.state.hook_config or {
            "filter": {"type": "FromWorkflow", "status": self._feed_statuses()}
        }
        if self.webhook_targets("order") and _takes(hook_filter, state):
            self._send_hook(order, previous, last, feed_time(now))

    def _send_hook(self, order: dict[str, Any], previous: str, last: str, current: str) -> None:
        self.send_webhook(
            "order",
            {
                "Domain": self.config.get_str("domain"),
                "OrderId": order["orderId"],
                "State": order["status"],
                "LastState": previous,
                "LastChange": last,
                "CurrentChange": current,
                "Origin": {
                    "Account": self.config.get_str("account_name"),
                    "Key": self.config.get_str("app_key"),
                },
            },
        )

    def _feed_statuses(self) -> list[str]:
        return [str(status) for status in self.config["feed_statuses"]]

    # ----------------------------------------------------------------- feed v3
    def _queue(self) -> dict[str, Any]:
        config = self.state.feed_config
        if config is None:
            raise OmsError(404, "404", "Feed configuration not found for this appKey")
        queue: dict[str, Any] = config["queue"]
        return queue

    def _read_feed(self, request: Request) -> Response:
        queue = self._queue()
        raw = request.arg("maxlot")
        if raw is None or not raw.isdigit() or not 1 <= int(raw) <= MAX_LOT:
            raise OmsError(400, "1", "maxlot must be a number from 1 to 10")
        now = self.now()
        retention = timedelta(seconds=int(queue["MessageRetentionPeriodInSeconds"]))
        self.state.feed = [m for m in self.state.feed if now - m.enqueued_at < retention]
        visible = [m for m in self.state.feed if m.visible_at <= now][: int(raw)]
        timeout = timedelta(seconds=int(queue["visibilityTimeoutInSeconds"]))
        items = []
        for message in visible:
            message.handle = secrets.token_urlsafe(48)
            message.visible_at = now + timeout
            message.receive_count += 1
            items.append({**message.item, "handle": message.handle})
        return Response.json(items)

    def _commit_feed(self, request: Request) -> Response:
        self._queue()
        body = self._body(request)
        handles = body.get("handles")
        if not isinstance(handles, list) or not all(isinstance(handle, str) for handle in handles):
            raise OmsError(400, "1", "handles must be an array of strings")
        wanted = set(handles)
        self.state.feed = [m for m in self.state.feed if m.handle is None or m.handle not in wanted]
        return Response(200)

    def _get_feed_config(self, request: Request) -> Response:
        if self.state.feed_config is None:
            raise OmsError(404, "404", "Feed configuration not found for this appKey")
        now = self.now()
        oldest = min((message.enqueued_at for message in self.state.feed), default=now)
        return Response.json(
            {
                **self.state.feed_config,
                "quantity": len(self.state.feed),
                "approximateAgeOfOldestMessageInSeconds": (now - oldest).total_seconds(),
            }
        )

    def _set_feed_config(self, request: Request) -> Response:
        body = self._body(request)
        queue = body.get("queue") or {}
        if not isinstance(queue, dict):
            raise OmsError(400, "1", "queue must be an object")
        self.state.feed_config = {
            "filter": _filter(body.get("filter")),
            "queue": {
                "visibilityTimeoutInSeconds": _integer(
                    queue.get("visibilityTimeoutInSeconds", 240), "visibilityTimeoutInSeconds"
                ),
                "MessageRetentionPeriodInSeconds": _integer(
                    queue.get("MessageRetentionPeriodInSeconds", 345600), "MessageRetentionPeriodInSeconds"
                ),
            },
        }
        return Response(200)

    def _delete_feed_config(self, request: Request) -> Response:
        self.state.feed_config = None
        self.state.feed.clear()
        return Response(200)

    def _get_hook_config(self, request: Request) -> Response:
        if self.state.hook_config is None:
            raise OmsError(404, "404", "Hook configuration not found for this appKey")
        return Response.json(self.state.hook_config)

    def _set_hook_config(self, request: Request) -> Response:
        body = self._body(request)
        hook = body.get("hook")
        if not isinstance(hook, dict) or not isinstance(hook.get("url"), str) or not hook["url"]:
            raise OmsError(400, "1", "hook.url is required")
        headers = hook.get("headers") or {}
        if not isinstance(headers, dict):
            raise OmsError(400, "1", "hook.headers must be an object")
        self.state.hook_config = {
            "filter": _filter(body.get("filter")),
            "hook": {"url": hook["url"], "headers": {str(k): str(v) for k, v in headers.items()}},
        }
        self.send_webhook("ping", {"hookConfig": "ping"})
        origin = {"Account": self.config.get_str("account_name"), "Key": self.config.get_str("app_key")}
        now = feed_time(self.now())
        return Response.json(
            {
                "Domain": self.config.get_str("domain"),
                "OrderId": "",
                "State": "",
                "LastState": "",
                "LastChange": now,
                "CurrentChange": now,
                "Origin": origin,
            }
        )

    def _delete_hook_config(self, request: Request) -> Response:
        self.state.hook_config = None
        return Response(200)

    # ----------------------------------------------------------------- building orders
    def new_state(self, seed: bool) -> VtexState:
        state = VtexState()
        if self.config.get_bool("feed_configured"):
            state.feed_config = {
                "filter": {"type": "FromWorkflow", "status": self._feed_statuses()},
                "queue": {
                    "visibilityTimeoutInSeconds": self.config.get_int("feed_visibility_timeout"),
                    "MessageRetentionPeriodInSeconds": self.config.get_int("feed_retention_seconds"),
                },
            }
        return self.seed_through_live_paths(state, self._seed) if seed else state

    def _seed(self) -> None:
        """The demo story (``seed.DEMO_ORDERS``) as the VTEX store holds it; the abandoned cart is
        no VTEX order. Numbers keep the story's: order ``10003`` is ``1500000010003-01``."""
        now = self.now()
        for demo in DEMO_ORDERS:
            if demo.status == "abandoned":
                continue
            self.state.next_number = demo.number
            target = "ready-for-handling" if demo.status == "paid" else "payment-pending"
            placed = now - timedelta(days=demo.days_ago, hours=3)
            order = self._new_order(
                customer=demo.customer,
                lines=[_Line(product, qty, product.price) for product, qty in demo.lines],
                payment_method=demo.payment_method,
                created_at=placed,
                shipping=demo.shipping,
            )
            self._walk(order, _path_to(target), at=placed + timedelta(minutes=1))
            if demo.status == "canceled":
                self._walk(order, ["cancel", "canceled"], at=placed + timedelta(days=1))
            if demo.shipment is not None and demo.tracking_code is not None:
                self._walk(
                    order,
                    ["start-handling", "handling", "invoice", "invoiced"],
                    at=placed + timedelta(days=1),
                )
                order["invoicedDate"] = order["lastChange"]
                code = demo.tracking_code
                order["packageAttachment"]["packages"].append(
                    {
                        "items": [
                            {
                                "itemIndex": index,
                                "quantity": item["quantity"],
                                "price": item["sellingPrice"],
                                "description": item["name"],
                                "unitMultiplier": 1.0,
                            }
                            for index, item in enumerate(order["items"])
                        ],
                        "courier": "Correios",
                        "invoiceNumber": str(demo.number),
                        "invoiceValue": order["value"],
                        "invoiceUrl": None,
                        "issuanceDate": order["lastChange"],
                        "trackingNumber": code,
                        "invoiceKey": None,
                        "trackingUrl": tracking_url("correios", code),
                        "embeddedInvoice": "",
                        "type": "Output",
                        "courierStatus": {
                            "status": "delivered" if demo.shipment == "delivered" else "in-transit",
                            "finished": demo.shipment == "delivered",
                            "deliveredDate": order["lastChange"] if demo.shipment == "delivered" else "",
                            "data": [],
                        },
                        "cfop": "5102",
                        "volumes": 1,
                        "EnableInferItems": False,
                    }
                )

    def _new_order(
        self,
        *,
        customer: Customer,
        lines: list[_Line],
        payment_method: str,
        created_at: datetime,
        shipping: Decimal = Decimal("15.00"),
        discount: Decimal = Decimal("0.00"),
        affiliate_id: str = "",
        sla: str = "Normal",
    ) -> dict[str, Any]:
        number = self.state.next_number
        self.state.next_number += 1
        group = str(ORDER_GROUP_BASE + number)
        order_id = f"{group}-01"
        account = self.config.get_str("account_name")
        items_total = sum((cents(line.price) * line.qty for line in lines), 0)
        shipping_cents, discount_cents = cents(shipping), cents(discount)
        value = items_total + shipping_cents - discount_cents
        group_name, system, system_name = PAYMENTS[payment_method]
        created = vtex_time(created_at)
        address = customer.address
        corporate = customer.is_company
        postal = address.cep if "-" in address.cep else f"{address.cep[:5]}-{address.cep[5:]}"
        shipping_address: dict[str, Any] = {
            "addressType": "residential",
            "receiverName": customer.full_name,
            "addressId": f"addr-{number}",
            "versionId": None,
            "entityId": None,
            "postalCode": postal,
            "city": address.city,
            "state": address.uf,
            "country": "BRA",
            "street": address.street,
            "number": address.number,
            "neighborhood": address.district,
            "complement": address.complement,
            "reference": None,
            "geoCoordinates": [],
        }
        items: list[dict[str, Any]] = [
            {
                "uniqueId": uuid.uuid5(uuid.NAMESPACE_URL, f"{order_id}/{index}").hex.upper(),
                "id": str(line.product.id),
                "productId": str(line.product.id),
                "ean": None,
                "lockId": f"00-{order_id}",
                "itemAttachment": {"content": {}, "name": None},
                "attachments": [],
                "quantity": line.qty,
                "seller": "1",
                "name": line.product.name,
                "refId": line.product.sku,
                "price": cents(line.price),
                "listPrice": cents(line.price),
                "manualPrice": None,
                "priceTags": [],
                "imageUrl": "",
                "detailUrl": f"/{line.product.sku.lower()}/p",
                "components": [],
                "bundleItems": [],
                "params": [],
                "offerings": [],
                "attachmentOfferings": [],
                "sellerSku": str(line.product.id),
                "priceValidUntil": None,
                "commission": 0,
                "tax": 0,
                "preSaleDate": None,
                "additionalInfo": {
                    "brandName": "Malote Demo",
                    "brandId": "2000000",
                    "categoriesIds": "/1/",
                    "categories": [],
                    "productClusterId": "",
                    "commercialConditionId": "1",
                    "dimension": {"cubicweight": 1.0, "height": 10, "length": 10, "weight": 10, "width": 10},
                    "offeringInfo": None,
                    "offeringType": None,
                    "offeringTypeId": None,
                },
                "measurementUnit": "un",
                "unitMultiplier": 1,
                "sellingPrice": cents(line.price),
                "isGift": False,
                "shippingPrice": None,
                "rewardValue": 0,
                "freightCommission": 0,
                "taxCode": None,
                "parentItemIndex": None,
                "parentAssemblyBinding": None,
                "callCenterOperator": None,
                "serialNumbers": None,
                "assemblies": [],
                "costPrice": 0,
            }
            for index, line in enumerate(lines)
        ]
        logistics = [
            {
                "itemIndex": index,
                "selectedSla": sla,
                "lockTTL": "10d",
                "price": shipping_cents if index == 0 else 0,
                "listPrice": shipping_cents if index == 0 else 0,
                "sellingPrice": shipping_cents if index == 0 else 0,
                "deliveryWindow": None,
                "deliveryCompany": "Correios",
                "shippingEstimate": "5bd",
                "shippingEstimateDate": vtex_time(created_at + timedelta(days=7)),
                "slas": [
                    {
                        "id": sla,
                        "name": sla,
                        "shippingEstimate": "5bd",
                        "deliveryWindow": None,
                        "price": shipping_cents if index == 0 else 0,
                        "deliveryChannel": "delivery",
                        "pickupStoreInfo": {
                            "additionalInfo": None,
                            "address": None,
                            "dockId": None,
                            "friendlyName": None,
                            "isPickupStore": False,
                        },
                        "polygonName": None,
                        "lockTTL": "10d",
                        "pickupPointId": "",
                        "transitTime": "5d",
                        "pickupDistance": 0.0,
                    }
                ],
                "shipsTo": ["BRA"],
                "deliveryIds": [
                    {
                        "courierId": "correios",
                        "courierName": "Correios",
                        "dockId": "1",
                        "quantity": lines[index].qty,
                        "warehouseId": "1_1",
                        "accountCarrierName": account,
                        "kitItemDetails": [],
                    }
                ],
                "deliveryChannels": [{"id": "delivery", "stockBalance": 0}],
                "deliveryChannel": "delivery",
                "pickupStoreInfo": {
                    "additionalInfo": None,
                    "address": None,
                    "dockId": None,
                    "friendlyName": None,
                    "isPickupStore": False,
                },
                "addressId": f"addr-{number}",
                "versionId": None,
                "entityId": None,
                "polygonName": None,
                "pickupPointId": None,
                "transitTime": "5d",
            }
            for index in range(len(lines))
        ]
        order: dict[str, Any] = {
            "orderId": order_id,
            "sequence": str(500000 + number),
            "marketplaceOrderId": "",
            "marketplaceServicesEndpoint": f"http://oms.vtexinternal.com.br/api/oms?an={account}",
            "sellerOrderId": f"00-{order_id}",
            "origin": "Marketplace",
            "affiliateId": affiliate_id,
            "salesChannel": "1",
            "merchantName": None,
            "status": "order-created",
            "workflowIsInError": False,
            "statusDescription": STATUS_DESCRIPTIONS["order-created"],
            "value": value,
            "creationDate": created,
            "lastChange": created,
            "orderGroup": group,
            "followUpEmail": f"followup@{account}.example.com",
            "lastMessage": None,
            "hostname": account,
            "isCompleted": True,
            "roundingError": 0,
            "orderFormId": uuid.uuid5(uuid.NAMESPACE_URL, order_id).hex,
            "allowCancellation": True,
            "allowEdition": False,
            "isCheckedIn": False,
            "authorizedDate": None,
            "invoicedDate": None,
            "cancelReason": None,
            "checkedInPickupPointId": None,
            "totals": [
                {"id": "Items", "name": "Total dos Itens", "value": items_total},
                {"id": "Discounts", "name": "Total dos Descontos", "value": -discount_cents},
                {"id": "Shipping", "name": "Total do Frete", "value": shipping_cents},
                {"id": "Tax", "name": "Total da Taxa", "value": 0},
            ],
            "sellers": [
                {
                    "id": "1",
                    "name": "Malote Demo",
                    "logo": None,
                    "fulfillmentEndpoint": f"http://fulfillment.vtexcommerce.com.br/api/fulfillment?an={account}",
                }
            ],
            "clientPreferencesData": {"locale": "pt-BR", "optinNewsLetter": False},
            "cancellationData": None,
            "taxData": None,
            "subscriptionData": None,
            "itemMetadata": {
                "Items": [
                    {
                        "Id": item["id"],
                        "Seller": "1",
                        "Name": item["name"],
                        "SkuName": item["name"],
                        "ProductId": item["productId"],
                        "RefId": item["refId"],
                        "Ean": "",
                        "ImageUrl": "",
                        "DetailUrl": item["detailUrl"],
                        "AssemblyOptions": [],
                    }
                    for item in items
                ]
            },
            "marketplace": {
                "baseURL": f"http://oms.vtexinternal.com.br/api/oms?an={account}",
                "isCertified": None,
                "name": account,
            },
            "storePreferencesData": {
                "countryCode": "BRA",
                "currencyCode": "BRL",
                "currencyFormatInfo": {
                    "CurrencyDecimalDigits": 2,
                    "CurrencyDecimalSeparator": ",",
                    "CurrencyGroupSeparator": ".",
                    "CurrencyGroupSize": 3,
                    "StartsWithCurrencySymbol": True,
                },
                "currencyLocale": 1046,
                "currencySymbol": "R$",
                "timeZone": "E. South America Standard Time",
            },
            "customData": None,
            "commercialConditionData": None,
            "openTextField": None,
            "invoiceData": None,
            "changesAttachment": None,
            "callCenterOperatorData": None,
            "packageAttachment": {"packages": []},
            "paymentData": {
                "giftCards": [],
                "transactions": [
                    {
                        "isActive": True,
                        "transactionId": uuid.uuid5(uuid.NAMESPACE_URL, f"{order_id}/tx").hex.upper(),
                        "merchantName": account,
                        "payments": [
                            {
                                "id": uuid.uuid5(uuid.NAMESPACE_URL, f"{order_id}/pay").hex.upper(),
                                "paymentSystem": system,
                                "paymentSystemName": system_name,
                                "value": value,
                                "installments": 1,
                                "referenceValue": value,
                                "cardHolder": None,
                                "cardNumber": None,
                                "firstDigits": None,
                                "lastDigits": "1111" if payment_method == "credit_card" else None,
                                "cvv2": None,
                                "expireMonth": None,
                                "expireYear": None,
                                "url": None,
                                "giftCardId": None,
                                "giftCardName": None,
                                "giftCardCaption": None,
                                "redemptionCode": None,
                                "group": group_name,
                                "tid": f"tid-{number}",
                                "dueDate": None,
                                "connectorResponses": {},
                                "giftCardProvider": None,
                                "giftCardAsDiscount": None,
                                "koinUrl": None,
                                "accountId": None,
                                "parentAccountId": None,
                                "bankIssuedInvoiceIdentificationNumber": None,
                                "bankIssuedInvoiceIdentificationNumberFormatted": None,
                                "bankIssuedInvoiceBarCodeNumber": None,
                                "bankIssuedInvoiceBarCodeType": None,
                                "billingAddress": None,
                            }
                        ],
                    }
                ],
            },
            "shippingData": {
                "id": "shippingData",
                "address": shipping_address,
                "logisticsInfo": logistics,
                "trackingHints": None,
                "selectedAddresses": [dict(shipping_address)],
            },
            "ratesAndBenefitsData": {"id": "ratesAndBenefitsData", "rateAndBenefitsIdentifiers": []},
            "marketingData": None,
            "giftRegistryData": None,
            "clientProfileData": {
                "id": "clientProfileData",
                "email": customer.email,
                "firstName": customer.name,
                "lastName": customer.surname,
                "documentType": "cnpj" if corporate else "cpf",
                "document": customer.document,
                "phone": f"+55{customer.phone}",
                "corporateName": customer.full_name if corporate else None,
                "tradeName": None,
                "corporateDocument": customer.document if corporate else None,
                "stateInscription": None,
                "corporatePhone": None,
                "isCorporate": corporate,
                "userProfileId": uuid.uuid5(uuid.NAMESPACE_URL, customer.email).hex,
                "userProfileVersion": None,
                "customerClass": None,
                "customerCode": None,
            },
            "items": items,
            "marketplaceItems": [],
            "authorizationPolicyData": [],
        }
        self.state.orders[order_id] = order
        return order

    # ----------------------------------------------------------------- control actions
    def _control_order(self, request: Request) -> dict[str, Any]:
        order = self.state.orders.get(request.params["orderId"])
        if order is None:
            raise ControlError(404, "not_found", f"no order {request.params['orderId']}")
        return order

    def _control_place_order(self, request: Request) -> Response:
        body = control_body(request)
        payment_method = body.get("payment_method", "pix")
        if payment_method not in PAYMENTS:
            raise ControlError(400, "invalid", f"payment_method must be one of {', '.join(PAYMENTS)}")
        status = body.get("status", "ready-for-handling")
        if status not in CHECKOUT_PATH:
            raise ControlError(400, "invalid", f"status must be one of {', '.join(CHECKOUT_PATH)}")
        order = self._new_order(
            customer=customer_from_json(body.get("customer")),
            lines=_lines(body.get("items")),
            payment_method=payment_method,
            created_at=self.now(),
            shipping=_decimal(body.get("shipping", "15.00"), "shipping"),
            discount=_decimal(body.get("discount", "0.00"), "discount"),
            affiliate_id=str(body.get("affiliate_id", "")),
            sla=str(body.get("sla", "Normal")),
        )
        events = self._walk(order, _path_to(str(status)))
        return Response.json({"order": order, "events": events}, 201)

    def _control_change_status(self, request: Request) -> Response:
        order = self._control_order(request)
        status = control_body(request).get("status")
        if status not in WORKFLOW_STATUSES:
            raise ControlError(400, "invalid", f"status must be one of {', '.join(WORKFLOW_STATUSES)}")
        events = self._walk(order, [str(status)])
        return Response.json({"order": order, "events": events})

    def _control_resend_hook(self, request: Request) -> Response:
        order = self._control_order(request)
        change = feed_time(parse_vtex_time(order["lastChange"]))
        self._send_hook(order, order["status"], change, change)
        return Response.json({"sent": True})

    def _control_ping(self, request: Request) -> Response:
        self.send_webhook("ping", {"hookConfig": "ping"})
        return Response.json({"sent": True})

    def _control_clock(self, request: Request) -> Response:
        seconds = control_body(request).get("advance_seconds", 0)
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            raise ControlError(400, "invalid", "advance_seconds must be a non-negative number")
        self.clock_offset += timedelta(seconds=float(seconds))
        return Response.json({"now": feed_time(self.now())})

    def _control_feed(self, request: Request) -> Response:
        return Response.json({"feed": [self._feed_json(message) for message in self.state.feed]})


# ----------------------------------------------------------------- helpers
def _path_to(status: str) -> list[str]:
    """The checkout statuses after ``order-created`` up to ``status``."""
    index = CHECKOUT_PATH.index(status)
    return list(CHECKOUT_PATH[1 : index + 1])


def _takes(config: dict[str, Any] | None, state: str) -> bool:
    """Whether a feed/hook configuration lets a change to ``state`` through."""
    if config is None:
        return False
    filter_ = config.get("filter") or {}
    if filter_.get("type") == "FromWorkflow":
        return state in (filter_.get("status") or [])
    return True  # FromOrders: the JSONata expression is not evaluated


def _filter(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict) or data.get("type") not in ("FromWorkflow", "FromOrders"):
        raise OmsError(400, "1", "filter.type must be FromWorkflow or FromOrders")
    if data["type"] == "FromWorkflow":
        statuses = data.get("status")
        if not isinstance(statuses, list) or not statuses:
            raise OmsError(400, "1", "a FromWorkflow filter needs at least one status")
        return {"type": "FromWorkflow", "status": [str(status) for status in statuses]}
    expression = data.get("expression")
    if not isinstance(expression, str) or not expression:
        raise OmsError(400, "1", "a FromOrders filter needs an expression")
    return {
        "type": "FromOrders",
        "expression": expression,
        "disableSingleFire": bool(data.get("disableSingleFire", False)),
    }


def _date_range(text: str | None) -> tuple[datetime, datetime] | None:
    """``creationDate:[2022-01-01T02:00:00.000Z TO 2022-01-02T01:59:59.999Z]`` as two times."""
    if not text:
        return None
    match = _RANGE.match(text)
    if match is None:
        raise OmsError(400, "1", f"Invalid date range {text!r}")
    try:
        return parse_vtex_time(match["start"]), parse_vtex_time(match["end"])
    except ValueError as error:
        raise OmsError(400, "1", f"Invalid date range {text!r}") from error


def _positive_int(text: str | None, default: int) -> int:
    try:
        value = int(text) if text is not None else default
    except ValueError:
        return default
    return value if value >= 1 else default


def _integer(value: Any, name: str) -> int:
    """An integer given as a number or a string of digits (``invoiceValue`` is a string)."""
    if isinstance(value, bool):
        raise OmsError(400, "1", f"{name} must be an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    raise OmsError(400, "1", f"{name} must be an integer")


def _text_or_none(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def _stat(values: list[int]) -> dict[str, Any]:
    return {
        "Count": len(values),
        "Max": max(values, default=0),
        "Mean": float(statistics.fmean(values)) if values else 0.0,
        "Min": min(values, default=0),
        "Missing": 0,
        "StdDev": float(statistics.pstdev(values)) if values else 0.0,
        "Sum": sum(values),
        "SumOfSquares": sum(value * value for value in values),
    }


def _stats(orders: list[dict[str, Any]]) -> dict[str, Any]:
    """The list's ``stats`` (schema ``Stats1``): totals by origin and currency."""

    def block(measure: Callable[[dict[str, Any]], int]) -> dict[str, Any]:
        by_origin = {
            origin: {**_stat([measure(o) for o in orders if o["origin"] == origin]), "Facets": None}
            for origin in ("Fulfillment", "Marketplace")
        }
        return {
            **_stat([measure(o) for o in orders]),
            "Facets": {
                "origin": by_origin,
                "currencyCode": {"BRL": {**_stat([measure(o) for o in orders]), "Facets": None}},
            },
        }

    return {
        "totalValue": block(lambda order: int(order["value"])),
        "totalItems": block(lambda order: sum(int(item["quantity"]) for item in order["items"])),
    }


def _decimal(value: Any, name: str) -> Decimal:
    try:
        result = Decimal(str(value)).quantize(_CENT)
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
