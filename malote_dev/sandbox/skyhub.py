"""Fake SkyHub / B2W (Americanas Marketplace) API (root path, like ``https://api.skyhub.com.br``).

Every call needs ``X-User-Email``, ``X-Api-Key`` and ``X-Accountmanager-Key`` (else 401); errors
are ``{"error": …}``. The order queue (``GET /queues/orders`` serves one order as it is now and
hides it for ``visibility_timeout`` seconds; ``DELETE /queues/orders/{code}`` acknowledges it),
``/orders`` (list, read, approval, invoice by key or NF-e XML, shipments, delivery, cancel,
shipment exception), the account's status list (a write's ``status`` must be one of its codes, else
422), products and variations (``qty``). Order codes are ``"<sub-channel>-<number>"``.

Control: ``POST /_sandbox/orders`` (a buyer orders; queued), ``…/{code}/status`` (a change in the
marketplace panel, not queued unless asked: a divergence), ``…/{code}/approve``, ``…/{code}/deliver``,
``GET /_sandbox/queue`` and ``/_sandbox/clock`` (advance or freeze the queue's clock). ``GET
/_sandbox`` lists the routes and the settings; settings described as assumed switch what the vendor leaves
unconfirmed. The vendor's API: docs/connectors/skyhub.md.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any, ClassVar

from malote.fiscal import FiscalError, parse_nfe_xml
from malote_dev.sandbox.app import ControlError, FakeApp, Setting, control_body
from malote_dev.sandbox.clock import BRASILIA, parse_iso, utc_now
from malote_dev.sandbox.faults import Fault
from malote_dev.sandbox.router import BadRequest, Request, Response
from malote_dev.sandbox.seed import CUSTOMERS, PRODUCTS, Customer, customer_from_json, product_by_sku

STATUS_TYPES = (
    "NEW",
    "APPROVED",
    "INVOICED",
    "SHIPPED",
    "DELIVERED",
    "SHIPMENT_EXCEPTION",
    "CANCELED",
    "OVERDUE",
)
# The account's status list when it is created (labels as SkyHub's queue guide shows them).
DEFAULT_STATUSES: tuple[tuple[str, str, str], ...] = (
    ("book_product", "Pagamento Pendente (SkyHub)", "NEW"),
    ("waiting_payment", "Pagamento Pendente (waiting_payment)", "NEW"),
    ("payment_overdue", "Boleto Vencido", "OVERDUE"),
    ("payment_received", "Aprovado (SkyHub)", "APPROVED"),
    ("order_invoiced", "Faturado (SkyHub)", "INVOICED"),
    ("order_shipped", "Pedido Enviado (SkyHub)", "SHIPPED"),
    ("complete", "Completo (entregue) (SkyHub)", "DELIVERED"),
    ("shipment_exception", "Exceção de Entrega (SkyHub)", "SHIPMENT_EXCEPTION"),
    ("order_canceled", "Cancelado (SkyHub)", "CANCELED"),
)
SUB_CHANNELS = (
    "Lojas Americanas",
    "Shoptime",
    "Submarino",
    "Magazine Luiza",
    "Carrefour",
    "Amazon",
    "Zoom",
    "Mercado Livre",
)
# Shipping method → (shipping_carrier, calculation_type) as the hub reports them.
SHIPPING_METHODS: dict[str, tuple[str, str]] = {
    "B2W Entregas": ("B2W Entregas", "b2wentrega"),
    "B2W Entregas Direct": ("Direct Express Logistica Integrada S/A", "b2wentregadirect"),
    "Magalu Entregas": ("Magalu Entregas", "magaluentregas"),
    "Correios SEDEX": ("Correios", "b2wentregacorreios"),
    "Correios PAC": ("Correios", "b2wentregacorreios"),
    "Mercado Envios 2": ("Mercado Envios", "me2"),
}
PAYMENT_DESCRIPTIONS = {"CREDIT_CARD": "Cartão de Crédito", "BOLETO": "Boleto Bancário", "PIX": "Pix"}
WRITE_ENDPOINTS = ("approval", "invoice", "shipments", "delivery", "cancel", "shipment_exception")
MAX_TRACK_URL = 200

_CENT = Decimal("0.01")


def _demo_token(label: str) -> str:
    return hashlib.sha256(label.encode()).hexdigest()[:20]


def skyhub_time(moment: datetime) -> str:
    """``2019-10-16T17:45:38-03:00``: Brasília time with offset, whole seconds."""
    return moment.astimezone(BRASILIA).replace(microsecond=0).isoformat()


def _money(value: Decimal) -> float:
    return float(value.quantize(_CENT))


def _decimal(value: Any, name: str) -> Decimal:
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        raise ControlError(400, "invalid", f"{name} must be a number, got {value!r}") from None
    if not result.is_finite() or result < 0:
        raise ControlError(400, "invalid", f"{name} must be a non-negative number")
    return result


class Unprocessable(Exception):
    """A write the API refuses with 422 ``{"error": …}``."""


@dataclass
class QueueEntry:
    code: str
    visible_at: datetime
    deliveries: int = 0


@dataclass
class SkyHubState:
    """The account: orders by code, its status list, the integration queue, the clock offset."""

    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    statuses: dict[str, dict[str, str]] = field(
        default_factory=lambda: {
            code: {"code": code, "label": label, "type": kind} for code, label, kind in DEFAULT_STATUSES
        }
    )
    queue: list[QueueEntry] = field(default_factory=list)
    products: dict[str, dict[str, Any]] = field(default_factory=dict)  # by SKU, variations inside
    clock_offset: float = 0.0
    frozen_at: datetime | None = None
    next_number: int = 201036063223000
    rng: random.Random = field(default_factory=lambda: random.Random("malote-sandbox-skyhub"))


class SkyHubApp(FakeApp[SkyHubState]):
    kind: ClassVar[str] = "skyhub"
    api_prefix: ClassVar[str] = "/"
    settings: ClassVar[Mapping[str, Setting]] = {
        "user_email": Setting("integracao@malote-demo.example.com", (str,), "X-User-Email"),
        "api_key": Setting(_demo_token("malote-demo skyhub api key"), (str,), "X-Api-Key"),
        "accountmanager_key": Setting(
            _demo_token("malote-demo skyhub account manager"), (str,), "X-Accountmanager-Key"
        ),
        "visibility_timeout": Setting(
            300.0, (float,), "seconds before a served, unacknowledged order comes back (5 min)"
        ),
        "empty_queue": Setting(
            "204",
            (str,),
            "assumed: answer of an empty queue: 204, empty (200, no body) or object (200 {})",
            choices=("204", "empty", "object"),
        ),
        "write_response": Setting(
            "no_content",
            (str,),
            "assumed: answer of the write calls: no_content (204), ok_empty (200) or ok_order (200 + order)",
            choices=("no_content", "ok_empty", "ok_order"),
        ),
        "queue_seller_updates": Setting(
            False, (bool,), "assumed: the seller's own writes re-queue the order"
        ),
        "canceled_type": Setting(
            "CANCELED",
            (str,),
            "assumed: spelling of the canceled status type",
            choices=("CANCELED", "CANCELLED"),
        ),
        "max_per_page": Setting(100, (int,), "assumed: GET /orders caps per_page at this"),
        "new_code_channels": Setting(
            ["Lojas Americanas"], (list,), "sub-channels using the 2025 code pattern <channel>-<13>-<2>"
        ),
    }

    # ----------------------------------------------------------------- framework hooks
    def credentials(self) -> dict[str, str]:
        return {
            "user_email": self.config.get_str("user_email"),
            "api_key": self.config.get_str("api_key"),
            "accountmanager_key": self.config.get_str("accountmanager_key"),
        }

    def authenticate(self, request: Request) -> Response | None:
        expected = {
            "x-user-email": self.config.get_str("user_email"),
            "x-api-key": self.config.get_str("api_key"),
            "x-accountmanager-key": self.config.get_str("accountmanager_key"),
        }
        for header, value in expected.items():
            given = request.headers.get(header, "").strip()
            if not given:
                return Response.json({"error": f"Header {_title(header)} não informado"}, 401)
            if given != value:
                return Response.json({"error": "Usuário ou token inválido"}, 401)
        if request.body:
            try:
                request.body.decode("utf-8")
            except UnicodeDecodeError:
                return Response.json({"error": "Unsupported data type"}, 415)
        return None

    def error_response(self, request: Request, status: int) -> Response:
        return Response.json({"error": "Internal Server Error"}, status)

    def rate_limited_response(self, request: Request, fault: Fault) -> Response:
        retry_after = str(int(fault.params["retry_after"]))
        return Response.json({"error": "Too Many Requests"}, 429, [("Retry-After", retry_after)])

    def not_found_response(self, request: Request) -> Response:
        return Response.json({"error": "Not Found"}, 404)

    def method_not_allowed_response(self, request: Request, allowed: tuple[str, ...]) -> Response:
        return Response.json({"error": "Method Not Allowed"}, 405, [("Allow", ", ".join(allowed))])

    def bad_request_response(self, request: Request, detail: str) -> Response:
        return Response.json({"error": detail}, 400)

    def state_json(self) -> Any:
        return {
            "now": skyhub_time(self.now()),
            "orders": [self._render(order) for order in self.state.orders.values()],
            "statuses": list(self.state.statuses.values()),
            "queue": self._queue_json(),
            "products": list(self.state.products.values()),
        }

    # ----------------------------------------------------------------- clock and queue
    def now(self) -> datetime:
        """The fake's clock: real time (or the frozen instant) plus what the control API advanced."""
        base = self.state.frozen_at or utc_now()
        return (base + timedelta(seconds=self.state.clock_offset)).astimezone(BRASILIA)

    def enqueue(self, code: str) -> None:
        """Put the order in the queue unless it is there already (it is served as it is then)."""
        if any(entry.code == code for entry in self.state.queue):
            return
        self.state.queue.append(QueueEntry(code, self.now()))

    def _queue_json(self) -> list[dict[str, Any]]:
        return [
            {"code": entry.code, "visible_at": skyhub_time(entry.visible_at), "deliveries": entry.deliveries}
            for entry in self.state.queue
        ]

    # ----------------------------------------------------------------- routes
    def add_routes(self) -> None:
        api = self.api.add
        api("GET", "/queues/orders", self._queue_head)
        api("DELETE", "/queues/orders/{code}", self._queue_ack)
        api("GET", "/orders", self._list_orders)
        api("GET", "/orders/{code}", self._get_order)
        for endpoint in WRITE_ENDPOINTS:
            api("POST", f"/orders/{{code}}/{endpoint}", self._write(endpoint))
        api("GET", "/statuses", self._list_statuses)
        api("POST", "/statuses", self._create_status)
        api("PUT", "/statuses/{code}", self._update_status)
        api("GET", "/status_types", self._list_status_types)
        api("POST", "/products", self._create_product)
        api("GET", "/products/{sku}", self._get_product)
        api("PUT", "/products/{sku}", self._update_product)
        api("GET", "/variations/{sku}", self._get_variation)
        api("PUT", "/variations/{sku}", self._update_variation)
        control = self.control.add
        control("POST", "/_sandbox/orders", self._control_place_order)
        control("POST", "/_sandbox/orders/{code}/status", self._control_status)
        control("POST", "/_sandbox/orders/{code}/approve", self._control_approve)
        control("POST", "/_sandbox/orders/{code}/deliver", self._control_deliver)
        control("GET", "/_sandbox/queue", self._control_queue)
        control("GET", "/_sandbox/clock", self._control_clock)
        control("POST", "/_sandbox/clock", self._control_clock)

    # ----------------------------------------------------------------- rendering
    def _render(self, order: dict[str, Any]) -> dict[str, Any]:
        """The order as the API shows it: internal keys (``_…``) dropped, the type spelled per setting."""
        rendered = {key: value for key, value in order.items() if not key.startswith("_")}
        status = dict(order["status"])
        if status["type"] == "CANCELED":
            status["type"] = self.config.get_str("canceled_type")
        rendered["status"] = status
        return rendered

    def _written(self, order: dict[str, Any]) -> Response:
        answer = self.config.get_str("write_response")
        if answer == "ok_order":
            return Response.json(self._render(order))
        if answer == "ok_empty":
            return Response(200, b"", [])
        return Response(204, b"", [])

    # ----------------------------------------------------------------- queue endpoints
    def _queue_head(self, request: Request) -> Response:
        now = self.now()
        for entry in self.state.queue:
            if entry.visible_at <= now and entry.code in self.state.orders:
                entry.visible_at = now + timedelta(seconds=float(self.config["visibility_timeout"]))
                entry.deliveries += 1
                return Response.json(self._render(self.state.orders[entry.code]))
        empty = self.config.get_str("empty_queue")
        if empty == "object":
            return Response.json({})
        if empty == "empty":
            return Response(200, b"", [("Content-Type", "application/json")])
        return Response(204, b"", [])

    def _queue_ack(self, request: Request) -> Response:
        code = request.params["code"]
        entry = next((entry for entry in self.state.queue if entry.code == code), None)
        if entry is None:
            return Response.json({"error": f"Pedido {code} não está na fila"}, 404)
        self.state.queue.remove(entry)
        order = self.state.orders.get(code)
        if order is not None:
            order["sync_status"] = "SYNCED"
        return Response(204, b"", [])

    # ----------------------------------------------------------------- orders
    def _find(self, request: Request) -> dict[str, Any] | None:
        return self.state.orders.get(request.params["code"])

    @staticmethod
    def _order_not_found() -> Response:
        return Response.json({"error": "Pedido não encontrado"}, 404)

    def _get_order(self, request: Request) -> Response:
        order = self._find(request)
        return self._order_not_found() if order is None else Response.json(self._render(order))

    def _list_orders(self, request: Request) -> Response:
        page = _positive_int(request.arg("page"), 1)
        per_page = min(_positive_int(request.arg("per_page"), 30), self.config.get_int("max_per_page"))
        sale_system = request.arg("filters[sale_system]")
        statuses = set(request.args("filters[statuses][]") + request.args("filters[statuses]"))
        orders = [
            order
            for order in self.state.orders.values()
            if (not sale_system or order["channel"] == sale_system)
            and (not statuses or order["status"]["code"] in statuses)
        ]
        orders.sort(key=lambda order: (order["placed_at"], order["code"]), reverse=True)
        chunk = orders[(page - 1) * per_page : page * per_page]
        return Response.json({"total": len(orders), "orders": [self._render(order) for order in chunk]})

    def _body(self, request: Request) -> dict[str, Any]:
        if request.content_type == "multipart/form-data":
            return _multipart(request)
        data = request.json()
        if not isinstance(data, dict):
            raise BadRequest("o corpo deve ser um objeto JSON")
        return data

    def _status_of(self, body: Mapping[str, Any]) -> dict[str, str]:
        code = body.get("status")
        if not isinstance(code, str) or not code.strip():
            raise Unprocessable("status não informado")
        status = self.state.statuses.get(code.strip())
        if status is None:
            raise Unprocessable(f"Status {code!r} não existe nesta conta (status inválido: {code})")
        return dict(status)

    def _write(self, endpoint: str) -> Any:
        def handle(request: Request) -> Response:
            order = self._find(request)
            if order is None:
                return self._order_not_found()
            try:
                body = self._body(request)
                status = self._status_of(body)
                getattr(self, f"_apply_{endpoint}")(order, body)
            except Unprocessable as error:
                return Response.json({"error": str(error)}, 422)
            self._set_status(order, status, queue=self.config.get_bool("queue_seller_updates"))
            return self._written(order)

        handle.__name__ = f"_post_{endpoint}"
        return handle

    def _apply_approval(self, order: dict[str, Any], body: Mapping[str, Any]) -> None:
        order["approved_date"] = skyhub_time(self.now())

    def _apply_invoice(self, order: dict[str, Any], body: Mapping[str, Any]) -> None:
        if isinstance(body.get("file"), bytes):
            body = self._xml_invoice(body)
        invoice = body.get("invoice")
        if not isinstance(invoice, dict):
            raise Unprocessable("invoice não informado")
        key = str(invoice.get("key") or "")
        if len(key) != 44 or not key.isdigit():
            raise Unprocessable(f"invoice.key deve ter 44 dígitos (recebido {key!r})")
        issue_date = invoice.get("issue_date")
        if issue_date:
            try:
                issued = parse_iso(str(issue_date))
            except ValueError:
                raise Unprocessable(f"invoice.issue_date inválida: {issue_date!r}") from None
        else:
            issued = self.now()
        if not any(existing["key"] == key for existing in order["invoices"]):
            order["invoices"].append(
                {
                    "key": key,
                    "number": str(int(key[25:34])),
                    "line": str(int(key[22:25])),
                    "issue_date": skyhub_time(issued),
                }
            )
        if invoice.get("volume_qty") is not None:
            order["_volume_qty"] = invoice["volume_qty"]
        if invoice.get("xml"):
            order["_invoice_xml"] = invoice["xml"]

    @staticmethod
    def _xml_invoice(body: Mapping[str, Any]) -> dict[str, Any]:
        """The multipart form (``file`` = the NF-e XML, ``status``, ``issue_date``?, ``volume_qty``?)
        as the JSON form's ``invoice``: key and date read from the XML."""
        xml = bytes(body["file"])
        try:
            document = parse_nfe_xml(xml)
        except FiscalError as error:
            raise Unprocessable(f"file: XML da NF-e inválido ({error.detail})") from None
        return {
            "status": body.get("status"),
            "invoice": {
                "key": document.key,
                "issue_date": body.get("issue_date") or document.issued_at.isoformat(),
                "volume_qty": body.get("volume_qty"),
                "xml": xml.decode("utf-8", "replace"),
            },
        }

    def _apply_shipments(self, order: dict[str, Any], body: Mapping[str, Any]) -> None:
        shipment = body.get("shipment")
        if not isinstance(shipment, dict):
            raise Unprocessable("shipment não informado")
        track = shipment.get("track")
        if not isinstance(track, dict) or not str(track.get("code") or "").strip():
            raise Unprocessable("shipment.track.code não informado")
        url = str(track.get("url") or "")
        if len(url) > MAX_TRACK_URL:
            raise Unprocessable(f"shipment.track.url deve ter no máximo {MAX_TRACK_URL} caracteres")
        items = shipment.get("items", body.get("items")) or []
        if not isinstance(items, list) or not all(
            isinstance(item, dict) and item.get("sku") for item in items
        ):
            raise Unprocessable('shipment.items deve ser uma lista de {"sku", "qty"}')
        order["shipments"].append(
            {
                "code": str(shipment.get("code") or order["code"]),
                "items": [{"sku": str(item["sku"]), "qty": int(item.get("qty") or 1)} for item in items],
                "tracks": [
                    {
                        "code": str(track["code"]).strip(),
                        "carrier": str(track.get("carrier") or ""),
                        "method": str(track.get("method") or ""),
                        "url": url,
                    }
                ],
            }
        )
        order["shipped_date"] = str(shipment.get("delivered_carrier_date") or skyhub_time(self.now()))

    def _apply_delivery(self, order: dict[str, Any], body: Mapping[str, Any]) -> None:
        order["delivered_date"] = str(body.get("delivered_date") or skyhub_time(self.now()))

    def _apply_cancel(self, order: dict[str, Any], body: Mapping[str, Any]) -> None:
        return None

    def _apply_shipment_exception(self, order: dict[str, Any], body: Mapping[str, Any]) -> None:
        exception = body.get("shipment_exception")
        if not isinstance(exception, dict) or not str(exception.get("observation") or "").strip():
            raise Unprocessable("shipment_exception.observation não informado")
        order["_shipment_exceptions"].append(
            {
                "occurrence_date": str(exception.get("occurrence_date") or skyhub_time(self.now())),
                "observation": str(exception["observation"]),
            }
        )

    def _set_status(self, order: dict[str, Any], status: dict[str, str], *, queue: bool) -> None:
        order["status"] = dict(status)
        order["updated_at"] = skyhub_time(self.now())
        if queue and not self._seeding:
            order["sync_status"] = "NOT_SYNCED"
            self.enqueue(order["code"])

    # ----------------------------------------------------------------- statuses
    def _list_statuses(self, request: Request) -> Response:
        return Response.json(list(self.state.statuses.values()))

    def _list_status_types(self, request: Request) -> Response:
        return Response.json([{"code": kind} for kind in STATUS_TYPES])

    def _status_fields(self, request: Request) -> dict[str, Any]:
        body = self._body(request)
        status = body.get("status")
        if not isinstance(status, dict):
            raise BadRequest('o corpo deve ser {"status": {"code", "label", "type"}}')
        return status

    def _create_status(self, request: Request) -> Response:
        fields = self._status_fields(request)
        code, label, kind = (str(fields.get(name) or "").strip() for name in ("code", "label", "type"))
        if not code or not label or kind not in STATUS_TYPES:
            return Response.json(
                {"error": f"code, label e type ({', '.join(STATUS_TYPES)}) são obrigatórios"}, 422
            )
        if code in self.state.statuses:
            return Response.json({"error": f"Status {code} já existe"}, 422)
        self.state.statuses[code] = {"code": code, "label": label, "type": kind}
        return Response.json(self.state.statuses[code], 201)

    def _update_status(self, request: Request) -> Response:
        status = self.state.statuses.get(request.params["code"])
        if status is None:
            return Response.json({"error": "Status não encontrado"}, 404)
        fields = self._status_fields(request)
        if "type" in fields and fields["type"] not in STATUS_TYPES:
            return Response.json({"error": f"type deve ser um de {', '.join(STATUS_TYPES)}"}, 422)
        status.update({name: str(fields[name]) for name in ("label", "type") if fields.get(name)})
        return Response.json(status)

    # ----------------------------------------------------------------- building orders
    # ----------------------------------------------------------------- products and stock
    def _variation(self, sku: str) -> dict[str, Any] | None:
        for product in self.state.products.values():
            for variation in product["variations"]:
                if variation["sku"] == sku:
                    return variation
        return None

    @staticmethod
    def _qty(fields: Mapping[str, Any], required: bool) -> int | None:
        qty = fields.get("qty")
        if qty is None and not required:
            return None
        if isinstance(qty, bool) or not isinstance(qty, int) or qty < 0:
            raise Unprocessable(f"qty deve ser um inteiro não negativo (recebido {qty!r})")
        return qty

    def _fields(self, request: Request, root: str) -> dict[str, Any]:
        fields = self._body(request).get(root)
        if not isinstance(fields, dict):
            raise Unprocessable(f"{root} não informado")
        return fields

    def create_product(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Store a product from the API's ``product`` object (also the seed's path)."""
        sku = str(fields.get("sku") or "").strip()
        if not sku:
            raise Unprocessable("product.sku não informado")
        if sku in self.state.products or self._variation(sku) is not None:
            raise Unprocessable(f"SKU {sku} já cadastrado")
        variations = fields.get("variations") or []
        if not isinstance(variations, list) or not all(
            isinstance(v, dict) and str(v.get("sku") or "").strip() for v in variations
        ):
            raise Unprocessable('product.variations deve ser uma lista de {"sku", "qty"}')
        product = {
            "sku": sku,
            "name": str(fields.get("name") or sku),
            "description": str(fields.get("description") or ""),
            "status": str(fields.get("status") or "enabled"),
            "qty": self._qty(fields, required=not variations) or 0,
            "price": fields.get("price"),
            "promotional_price": fields.get("promotional_price"),
            "weight": fields.get("weight"),
            "variations": [
                {
                    "sku": str(v["sku"]).strip(),
                    "qty": self._qty(v, required=True),
                    "ean": str(v.get("ean") or ""),
                    "specifications": list(v.get("specifications") or []),
                }
                for v in variations
            ],
        }
        self.state.products[sku] = product
        return product

    def _create_product(self, request: Request) -> Response:
        try:
            self.create_product(self._fields(request, "product"))
        except Unprocessable as error:
            return Response.json({"error": str(error)}, 422)
        return Response(201, b"", [])

    def _get_product(self, request: Request) -> Response:
        product = self.state.products.get(request.params["sku"])
        if product is None:
            return Response.json({"error": "Produto não encontrado"}, 404)
        return Response.json(product)

    def _update_product(self, request: Request) -> Response:
        product = self.state.products.get(request.params["sku"])
        if product is None:
            return Response.json({"error": "Produto não encontrado"}, 404)
        try:
            fields = self._fields(request, "product")
            qty = self._qty(fields, required=False)
        except Unprocessable as error:
            return Response.json({"error": str(error)}, 422)
        for name in ("name", "description", "status", "price", "promotional_price", "weight"):
            if name in fields:
                product[name] = fields[name]
        if qty is not None:
            product["qty"] = qty
        return Response(204, b"", [])

    def _get_variation(self, request: Request) -> Response:
        variation = self._variation(request.params["sku"])
        if variation is None:
            return Response.json({"error": "Variação não encontrada"}, 404)
        return Response.json(variation)

    def _update_variation(self, request: Request) -> Response:
        variation = self._variation(request.params["sku"])
        if variation is None:
            return Response.json({"error": "Variação não encontrada"}, 404)
        try:
            fields = self._fields(request, "variation")
            qty = self._qty(fields, required=False)
        except Unprocessable as error:
            return Response.json({"error": str(error)}, 422)
        if qty is not None:
            variation["qty"] = qty
        if "ean" in fields:
            variation["ean"] = str(fields["ean"] or "")
        return Response(204, b"", [])

    def new_state(self, seed: bool) -> SkyHubState:
        state = SkyHubState()
        return self.seed_through_live_paths(state, self._seed) if seed else state

    def _new_code(self, channel: str) -> str:
        state = self.state
        number = state.next_number
        state.next_number += state.rng.randrange(1, 9_999)
        if channel in self.config["new_code_channels"]:
            return f"{channel}-{1517940500554 + number % 1_000_000_000}-01"
        return f"{channel}-{number}"

    def new_order(
        self,
        *,
        channel: str,
        shipping_method: str,
        customer: Customer,
        lines: list[tuple[Any, int, Decimal]],
        status_code: str = "book_product",
        payment_method: str = "CREDIT_CARD",
        shipping_cost: Decimal = Decimal("15.00"),
        placed_at: datetime | None = None,
        code: str | None = None,
    ) -> dict[str, Any]:
        """Store a marketplace order (not queued; callers decide) and return it."""
        status = self.state.statuses.get(status_code)
        if status is None:
            raise ControlError(400, "invalid", f"unknown status code {status_code!r}")
        placed = (placed_at or self.now()).astimezone(BRASILIA)
        code = code or self._new_code(channel)
        if code in self.state.orders:
            raise ControlError(409, "conflict", f"order {code} exists")
        subtotal = sum((price * qty for _, qty, price in lines), Decimal("0"))
        total = subtotal + shipping_cost
        carrier, calculation = SHIPPING_METHODS.get(shipping_method, (shipping_method, "own"))
        parcels = 3 if payment_method == "CREDIT_CARD" else 1
        address = self._address(customer)
        order: dict[str, Any] = {
            "code": code,
            "channel": channel,
            "placed_at": skyhub_time(placed),
            "updated_at": skyhub_time(placed),
            "approved_date": skyhub_time(placed + timedelta(minutes=7)) if status["type"] != "NEW" else None,
            "estimated_delivery": skyhub_time(placed + timedelta(days=7)),
            "status": dict(status),
            "sync_status": "NOT_SYNCED",
            "total_ordered": _money(total),
            "shipping_cost": _money(shipping_cost),
            "seller_shipping_cost": 0.0,
            "interest": 0.0,
            "discount": 0.0,
            "shipping_method": shipping_method,
            "shipping_carrier": carrier,
            "calculation_type": calculation,
            "shipping_address": address,
            "billing_address": dict(address),
            "customer": {
                "name": customer.full_name,
                "email": customer.email,
                "date_of_birth": "1990-01-01",
                "gender": "",
                "vat_number": customer.document_digits,
                "phones": [customer.phone],
                "state_registration": "",
            },
            "items": [
                {
                    "id": product.sku,
                    "product_id": product.sku,
                    "name": product.name,
                    "qty": qty,
                    "original_price": _money(price),
                    "special_price": _money(price),
                }
                for product, qty, price in lines
            ],
            "payments": [
                {
                    "method": payment_method,
                    "description": PAYMENT_DESCRIPTIONS.get(payment_method, payment_method),
                    "parcels": parcels,
                    "value": _money(total),
                    "status": None,
                    "transaction_date": skyhub_time(placed + timedelta(minutes=7)),
                }
            ],
            "invoices": [],
            "shipments": [],
            "shipped_date": "",
            "delivered_date": "",
            "tags": [],
            "import_info": {"ss_name": channel, "remote_code": code.rsplit("-", 1)[-1]},
            "_shipment_exceptions": [],
        }
        self.state.orders[code] = order
        return order

    @staticmethod
    def _address(customer: Customer) -> dict[str, Any]:
        address = customer.address
        return {
            "full_name": customer.full_name,
            "street": address.street,
            "number": address.number,
            "detail": address.complement,
            "neighborhood": address.district,
            "city": address.city,
            "region": address.uf,
            "country": "BR",
            "postcode": address.cep_digits,
            "reference": "",
            "complement": address.complement,
            "phone": customer.phone,
            "secondary_phone": "",
        }

    def _seed(self) -> None:
        """Eight orders, one per sub-channel, across the hub's shipping methods; the open ones
        (NEW, APPROVED) wait in the queue for Malote to import them."""
        now = self.now()
        plan: tuple[tuple[str, str, int, tuple[tuple[str, int], ...], str, str, int], ...] = (
            (
                "Lojas Americanas",
                "B2W Entregas",
                0,
                (("CHINELO-42", 2),),
                "payment_received",
                "CREDIT_CARD",
                1,
            ),
            ("Shoptime", "B2W Entregas Direct", 1, (("CANECA-CERAMICA", 2),), "book_product", "BOLETO", 0),
            ("Submarino", "Correios SEDEX", 2, (("MOCHILA-URBANA", 1),), "payment_received", "PIX", 2),
            ("Magazine Luiza", "Magalu Entregas", 3, (("GARRAFA-TERMICA", 1),), "order_invoiced", "PIX", 3),
            ("Carrefour", "Correios PAC", 0, (("TOALHA-PRAIA", 1),), "order_shipped", "CREDIT_CARD", 5),
            ("Amazon", "Correios SEDEX", 1, (("OCULOS-SOL", 1),), "complete", "CREDIT_CARD", 12),
            ("Zoom", "Correios PAC", 2, (("MEIAS-KIT-3", 3),), "order_canceled", "BOLETO", 8),
            ("Mercado Livre", "Mercado Envios 2", 3, (("BONE-AZUL", 1),), "payment_received", "PIX", 1),
        )
        for product in PRODUCTS:
            self.create_product(
                {"sku": product.sku, "name": product.name, "qty": 10, "price": _money(product.price)}
            )
        for channel, method, customer_index, items, status_code, payment, days_ago in plan:
            lines = [(product_by_sku(sku), qty, product_by_sku(sku).price) for sku, qty in items]
            order = self.new_order(
                channel=channel,
                shipping_method=method,
                customer=CUSTOMERS[customer_index],
                lines=lines,
                status_code=status_code,
                payment_method=payment,
                placed_at=now - timedelta(days=days_ago, hours=2),
            )
            if self.state.statuses[status_code]["type"] in ("NEW", "APPROVED"):
                self.enqueue(order["code"])

    # ----------------------------------------------------------------- control actions
    def _control_order(self, request: Request) -> dict[str, Any]:
        order = self.state.orders.get(request.params["code"])
        if order is None:
            raise ControlError(404, "not_found", f"no order {request.params['code']}")
        return order

    def _control_place_order(self, request: Request) -> Response:
        body = control_body(request)
        items = body.get("items") or [{"sku": "CHINELO-42", "qty": 2}]
        if not isinstance(items, list) or not all(isinstance(item, dict) and "sku" in item for item in items):
            raise ControlError(400, "invalid", 'items must be an array of {"sku", "qty"?, "price"?}')
        lines = []
        for item in items:
            product = product_by_sku(str(item["sku"]))
            price = product.price if item.get("price") is None else _decimal(item["price"], "price")
            lines.append((product, int(item.get("qty", 1)), price))
        channel = str(body.get("channel") or SUB_CHANNELS[0])
        payment = str(body.get("payment_method") or "CREDIT_CARD")
        order = self.new_order(
            channel=channel,
            shipping_method=str(body.get("shipping_method") or "B2W Entregas"),
            customer=customer_from_json(body.get("customer")),
            lines=lines,
            status_code=str(body.get("status") or "book_product"),
            payment_method=payment,
            shipping_cost=_decimal(body.get("shipping_cost", "15.00"), "shipping_cost"),
            code=str(body["code"]) if body.get("code") else None,
        )
        self.enqueue(order["code"])
        return Response.json({"order": self._render(order)}, 201)

    def _control_status(self, request: Request) -> Response:
        order = self._control_order(request)
        body = control_body(request)
        status = self.state.statuses.get(str(body.get("status") or ""))
        if status is None:
            raise ControlError(400, "invalid", f"status must be one of {', '.join(self.state.statuses)}")
        self._set_status(order, status, queue=bool(body.get("queue", False)))
        return Response.json({"order": self._render(order)})

    def _control_approve(self, request: Request) -> Response:
        order = self._control_order(request)
        order["approved_date"] = skyhub_time(self.now())
        self._set_status(order, self.state.statuses["payment_received"], queue=True)
        return Response.json({"order": self._render(order)})

    def _control_deliver(self, request: Request) -> Response:
        order = self._control_order(request)
        order["delivered_date"] = skyhub_time(self.now())
        self._set_status(order, self.state.statuses["complete"], queue=True)
        return Response.json({"order": self._render(order)})

    def _control_queue(self, request: Request) -> Response:
        return Response.json({"now": skyhub_time(self.now()), "queue": self._queue_json()})

    def _control_clock(self, request: Request) -> Response:
        if request.method == "POST":
            body = control_body(request)
            advance = body.get("advance", 0)
            if isinstance(advance, bool) or not isinstance(advance, int | float) or advance < 0:
                raise ControlError(400, "invalid", "advance must be a non-negative number of seconds")
            freeze = body.get("freeze")
            if freeze is not None and not isinstance(freeze, bool):
                raise ControlError(400, "invalid", "freeze must be true or false")
            if freeze is True and self.state.frozen_at is None:
                self.state.frozen_at = utc_now()
            elif freeze is False and self.state.frozen_at is not None:
                self.state.clock_offset += (self.state.frozen_at - utc_now()).total_seconds()
                self.state.frozen_at = None
            self.state.clock_offset += float(advance)
        return Response.json(
            {
                "now": skyhub_time(self.now()),
                "offset_seconds": self.state.clock_offset,
                "frozen": self.state.frozen_at is not None,
            }
        )


def _multipart(request: Request) -> dict[str, Any]:
    """A ``multipart/form-data`` body as ``{name: text}``, files as ``{name: bytes}``."""
    head = f"Content-Type: {request.headers.get('content-type', '')}\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + request.body)
    if not message.is_multipart():
        raise BadRequest("corpo multipart inválido")
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if not isinstance(name, str) or not isinstance(payload, bytes):
            continue
        is_file = part.get_param("filename", header="content-disposition") is not None
        fields[name] = payload if is_file else payload.decode("utf-8", "replace")
    return fields


def _title(header: str) -> str:
    return "-".join(part.capitalize() for part in header.split("-"))


def _positive_int(text: str | None, default: int) -> int:
    try:
        value = int(text) if text else default
    except ValueError:
        return default
    return value if value > 0 else default
