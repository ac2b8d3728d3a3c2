"""``skyhub``: SkyHub / B2W (Americanas Marketplace), the hub that brings orders from Lojas
Americanas, Shoptime, Submarino, Magazine Luiza, Carrefour, Amazon, Zoom, Mercado Livre… into one
queue, and takes the seller's NF-e key, tracking, delivery and cancellations back to them.

Channel
-------
``base_url`` is the API root (``https://api.skyhub.com.br``; a fake's ``api_url`` in tests);
``credentials = {"user_email", "api_key", "accountmanager_key"}`` go out on every call as
``X-User-Email``, ``X-Api-Key`` and ``X-Accountmanager-Key`` with ``Accept``/``Content-Type:
application/json``. Order codes (``Lojas Americanas-201036063223000``) are URL-encoded in paths.
Role ``marketplace``; the sub-channel of each order becomes the canonical ``marketplace``.

Inbound: the queue (SkyHub pushes nothing)
------------------------------------------
* ``pull_changes`` makes ONE ``GET /queues/orders`` per call: the head of the queue, one order
  as it is now. It returns that order as an ``InboundChange`` (canonical order JSON in ``order``,
  ``marketplace`` = the order's ``channel``, ``shipping.method`` = its ``shipping_method``) with
  ``more=True``; an empty queue (204, an empty body or ``{}``) is no change and ``more=False``.
  The cursor is not used (the queue is the cursor) and is passed through unchanged.
* ``confirm_pulled`` sends ``DELETE /queues/orders/{code}``. The poll job calls it only after
  the change is committed in Malote (or found to be a duplicate): a crash or a failed commit
  before it leaves the order in the queue, and SkyHub serves it again once its 5 minutes are up.
  A 404 (someone else acknowledged it) is fine; other failures raise (the slot fails visibly, the
  order comes back and is then a duplicate that gets acknowledged).
* ``event_id`` = ``"<code>:<status code>:<updated_at>"``: the same order state served twice (a
  redelivery after the timeout, or ``fetch_order``) is one inbox event; each change of the
  order there is a new one.
* An order whose status maps to no canonical status carries no ``order`` (not imported; its
  inbox row says ``unknown_order``) and is still acknowledged; so is an order Malote refuses as
  invalid (the inbox keeps the refusal for operators): one bad order never blocks the queue.

Statuses
--------
SkyHub statuses are objects ``{code, label, type}``; accounts may create their own codes of the
standard types (``POST /statuses``). Inbound, the code is looked up in the channel's
``status_map.in``, then in ``DEFAULT_STATUS_IN`` (standard codes); a code found in neither maps by
its ``type`` (``NEW``→pending_payment, ``APPROVED``→paid, ``INVOICED``→invoiced, ``SHIPPED``→
shipped, ``DELIVERED``→delivered, ``SHIPMENT_EXCEPTION``→delivery_failed, ``CANCELED``/
``CANCELLED``→canceled, ``OVERDUE``→payment_overdue); the channel map may name types too.
Outbound, the code sent in each write's ``status`` is ``status_map.out`` or ``DEFAULT_STATUS_OUT``
(invoiced→``order_invoiced``, shipped→``order_shipped``, delivered→``complete``,
delivery_failed→``shipment_exception``, canceled→``order_canceled``). A code the account does not
have answers 422: it becomes a non-retryable ``DeliveryError`` naming the code (dead letter; the
order's link shows it), fixed by creating the status in SkyHub or correcting the map.

Outbound (idempotence: **state is checked first**; SkyHub documents no idempotency key)
-----------------------------------------------------------------------------------------
Each push reads the order (``GET /orders/{code}``) and writes only what SkyHub lacks, so a
retried push after a lost answer writes nothing, and a late push never moves SkyHub back:

* ``push_invoice``: ``POST /orders/{code}/invoice`` ``{"status", "invoice": {"key",
  "issue_date"}}`` unless ``invoices[]`` has the key; nothing on a canceled order. ``status`` is
  the invoiced code, or the order's own code once SkyHub has it shipped or further (the key of a
  sub-channel that takes it only after the shipment comes after it and must not move SkyHub back). When the
  channel's "invoice needs XML" policy covers the order's sub-channel (``invoice_needs_xml_for``:
  Mercado Livre, seed article), or the order ships by a method in the option
  ``xml_invoice_shipping_methods`` (B2W Entregas Direct) and the XML is at hand, the same call
  is a multipart form: ``file`` (the nfeProc, ``text/xml``), ``status``, ``issue_date``
  (✅ S1 ``B2WDirectInvoiced``); an invoice that must go as XML but has none is a permanent error.
* ``push_shipment``: ``POST /orders/{code}/shipments`` ``{"status", "shipment": {"code",
  "delivered_carrier_date", "items": [{"sku", "qty"}], "track": {"code", "carrier", "method",
  "url"}}}`` unless a track with the code exists; nothing once delivered or canceled. A tracking
  URL over 200 characters is replaced by the carrier's own page (or left out).
* ``push_delivery``: ``POST /orders/{code}/delivery`` ``{"status", "delivered_date"}`` unless
  delivered or canceled, and never for orders whose shipping method is one where the marketplace
  reports delivery (the channel policy ``delivery_from_channel_methods``: B2W Entregas, B2W
  Entregas Direct, Magalu Entregas, Mercado Envios 2 — the seed article; routing already holds
  these back, the connector checks again against SkyHub's own ``shipping_method``).
* ``push_cancellation``: ``POST /orders/{code}/cancel`` ``{"status"}`` unless canceled.
* ``push_status``: ``delivery_failed`` → ``POST /orders/{code}/shipment_exception``
  ``{"status", "shipment_exception": {"occurrence_date", "observation"}}`` unless the order is
  already in exception, delivered or canceled; canceled/invoiced/shipped/delivered go to the
  pushes above; other statuses have no SkyHub write and cost nothing.

Reads for the reconciliation: ``fetch_order(code)`` (``GET /orders/{code}``, the same change the
queue would give) and ``list_orders(since, cursor)``: ``GET /orders?page&per_page`` (option
``per_page``, 30) with ``filters[sale_system]`` (option ``sale_system``) and
``filters[statuses][]`` (option ``list_statuses``); the cursor is the next page number.

Confirmed (✅ ``channel-apis.md`` §2): base URL, the three headers, the queue (one order per GET,
DELETE to acknowledge, redelivery after 5 minutes, only marketplace updates are queued), the write
paths and bodies above, ``issue_date`` optional, URL ≤ 200 chars, the status codes and types,
422 for an unknown status, the order JSON fields, ``GET /orders`` with ``page``/``per_page``/
``filters[sale_system]``/``filters[statuses][]``, errors as ``{"error": …}``, 401 for missing
headers.

Assumed (❓), with the option that changes it:

* the empty-queue answer: 204, an empty 200 or ``{}`` are all read as "no order".
* the write calls' answers: any 2xx, with or without a body, is success.
* ``GET /orders`` answers ``{"total", "orders": [...]}`` (a bare array is accepted too) and has no
  date filter: ``since`` is applied here on ``updated_at`` (``placed_at`` when missing), page by
  page, oldest first within a page; ``more`` while ``page × per_page < total`` (or a full page).
* item ``id`` is the SKU Malote knows (``product_id`` is the parent); the unit price is
  ``special_price`` (else ``original_price``); ``interest`` is booked as ``tax``; totals are then
  balanced against ``total_ordered`` (see :func:`balance_totals`).
* payment ``method`` words: ``CREDIT_CARD``/``BOLETO``/``PIX`` (option ``payment_methods`` adds
  words); ``parcels`` = installments; ``approved_date`` is the payment time.
* carriers: ``track.carrier`` folded (``Correios`` → ``correios``); Malote's carrier keys are sent
  with the names in ``CARRIER_NAMES`` (option ``carrier_names``).
* ``shipment_exception.observation``: Malote's snapshot carries no problem text, so a fixed
  sentence naming the order is sent (option ``exception_observation``, ``{number}`` placeholder).
* ``invoice.volume_qty`` (B2W Entrega Direct) is sent when the option ``invoice_volume_qty`` is set.
* the XML form's file name (``<key>.xml``) and that SkyHub reads the key from the XML.

* stock (not in ``channel-apis.md``; SkyHub's public products API): ``push_stock`` writes
  ``qty`` through ``PUT /variations/{sku}`` ``{"variation": {"qty"}}`` or ``PUT /products/{sku}``
  ``{"product": {"qty"}}`` after a ``GET`` of the same path (404 = not there); the order of the
  two is the option ``stock_resources``. Channel option ``push_stock`` turns the pushes on.

Other options: ``timeout_seconds`` (per-call timeout).
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import httpx

from malote import fiscal
from malote.connectors.base import Connector, InboundChange, ListedOrder, OrderListing, PullResult
from malote.connectors.registry import register
from malote.connectors.values import ZERO, balance_totals, iso_or_none, money, parse_iso, text_of
from malote.fiscal.tracking import carrier_key
from malote.sync.errors import DeliveryError

log = logging.getLogger(__name__)

BRASILIA = ZoneInfo("America/Sao_Paulo")
DEFAULT_PER_PAGE = 30  # the PHP SDK's default
MAX_TRACK_URL = 200
# Stock resources (path segment → body root) tried by push_stock, in this order.
STOCK_RESOURCES: dict[str, str] = {"variations": "variation", "products": "product"}
# Status types past "invoiced": an invoice sent to such an order keeps the order's status code.
AFTER_INVOICED_TYPES = frozenset({"SHIPPED", "DELIVERED", "SHIPMENT_EXCEPTION"})

DEFAULT_STATUS_OUT: dict[str, str] = {
    "invoiced": "order_invoiced",
    "shipped": "order_shipped",
    "delivered": "complete",
    "delivery_failed": "shipment_exception",
    "canceled": "order_canceled",
}
# Status types (upper case) and the standard codes (lower case) never collide, so one map holds both.
TYPE_STATUS_IN: dict[str, str] = {
    "NEW": "pending_payment",
    "OVERDUE": "payment_overdue",
    "APPROVED": "paid",
    "INVOICED": "invoiced",
    "SHIPPED": "shipped",
    "DELIVERED": "delivered",
    "SHIPMENT_EXCEPTION": "delivery_failed",
    "CANCELED": "canceled",
}
DEFAULT_STATUS_IN: dict[str, str] = {
    "book_product": "pending_payment",
    "waiting_payment": "pending_payment",
    "payment_overdue": "payment_overdue",
    "payment_received": "paid",
    "order_invoiced": "invoiced",
    "order_shipped": "shipped",
    "complete": "delivered",
    "shipment_exception": "delivery_failed",
    "order_canceled": "canceled",
    **TYPE_STATUS_IN,
}
# Types past payment: an order first seen in one of them is imported as paid.
PAID_TYPES = frozenset({"APPROVED", "INVOICED", "SHIPPED", "DELIVERED", "SHIPMENT_EXCEPTION"})
PAYMENT_METHODS = {"CREDIT_CARD": "credit_card", "BOLETO": "boleto", "PIX": "pix"}
CARRIER_NAMES = {
    "correios": "Correios",
    "jadlog": "Jadlog",
    "totalexpress": "Total Express",
    "loggi": "Loggi",
}
XML_INVOICE_METHODS = ("B2W Entregas Direct",)
MARKETPLACE_DELIVERY_METHODS = ("B2W Entregas", "B2W Entregas Direct", "Magalu Entregas", "Mercado Envios 2")
DEFAULT_OBSERVATION = "Problema na entrega do pedido {number} informado pelo vendedor."


# --- reading SkyHub's JSON ---------------------------------------------------------------------


def _fold(text: Any) -> str:
    decomposed = unicodedata.normalize("NFKD", text_of(text))
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).casefold().split())


def parse_time(value: Any) -> datetime | None:
    """ISO 8601 (``2019-10-16T17:45:38-03:00``); naive values are Brasília time."""
    return parse_iso(value, naive=BRASILIA)


def _iso(value: Any) -> str | None:
    return iso_or_none(value, naive=BRASILIA)


def status_type(order: Mapping[str, Any]) -> str:
    """The order status's type, upper case, ``CANCELLED`` (the PHP SDK's spelling) read as ``CANCELED``."""
    status = order.get("status")
    kind = text_of(status.get("type") if isinstance(status, Mapping) else "").upper()
    return "CANCELED" if kind == "CANCELLED" else kind


def status_code(order: Mapping[str, Any]) -> str:
    status = order.get("status")
    if isinstance(status, Mapping):
        return text_of(status.get("code"))
    return text_of(status)  # a bare code, in case an answer ever carries one


def _payments(order: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    payments = order.get("payments")
    if isinstance(payments, Mapping):  # the S3 example shows one object
        return [payments]
    return [item for item in payments or [] if isinstance(item, Mapping)]


def address(data: Any) -> dict[str, str] | None:
    if not isinstance(data, Mapping) or not text_of(data.get("street")):
        return None
    return {
        "street": text_of(data.get("street")),
        "number": text_of(data.get("number"))[:20],
        "complement": (text_of(data.get("complement")) or text_of(data.get("detail")))[:100],
        "district": text_of(data.get("neighborhood"))[:100],
        "city": text_of(data.get("city")),
        "state": text_of(data.get("region")),
        "postal_code": text_of(data.get("postcode")),
        "country": text_of(data.get("country")) or "BR",
    }


# --- the connector -----------------------------------------------------------------------------


@register
class SkyHubConnector(Connector):
    kind = "skyhub"
    default_status_out = DEFAULT_STATUS_OUT
    default_status_in = DEFAULT_STATUS_IN

    # --- statuses ---------------------------------------------------------------------------------

    def canonical_status(self, order: Mapping[str, Any]) -> str:
        """The canonical status of a SkyHub order: by code (channel map, then the standard codes),
        else by type."""
        own = (self.channel.status_map or {}).get("in", {})
        code = status_code(order)
        if code in own or code in DEFAULT_STATUS_IN:
            return self.status_in(code)
        return self.status_in(status_type(order))

    def _code_for(self, status: str) -> str:
        return text_of(self.status_out(status)) or DEFAULT_STATUS_OUT[status]

    # --- HTTP -----------------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        return {
            "X-User-Email": self.credential("user_email"),
            "X-Api-Key": self.credential("api_key"),
            "X-Accountmanager-Key": self.credential("accountmanager_key"),
            "Accept": "application/json",
            "Content-Type": "application/json",
        }

    def _url(self, *segments: str) -> str:
        return self.base_url + "".join(f"/{quote(segment, safe='')}" for segment in segments)

    def _call(
        self,
        method: str,
        *segments: str,
        what: str,
        params: Any = None,
        body: Any = None,
        form: dict[str, str] | None = None,
        files: dict[str, tuple[str, bytes, str]] | None = None,
    ) -> httpx.Response:
        headers = self._headers()
        if files:
            del headers["Content-Type"]  # httpx writes multipart/form-data with its boundary
        return self.request(
            method,
            self._url(*segments),
            what=f"{self.channel.code} {what}",
            headers=headers,
            params=params,
            json=body,
            data=form,
            files=files,
        )

    @staticmethod
    def _json(response: httpx.Response, what: str) -> Any:
        if not response.content.strip():
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise DeliveryError(
                f"{what}: the answer is not JSON ({response.text[:100]!r}).",
                retryable=True,
                status=response.status_code,
            ) from exc

    def _get_order(self, code: str) -> dict[str, Any]:
        what = f"GET order {code}"
        data = self._json(self._call("GET", "orders", code, what=what), what)
        if not isinstance(data, dict) or not data.get("code"):
            raise DeliveryError(f"{self.channel.code} {what}: the answer has no order.", retryable=True)
        return data

    def _write(
        self,
        code: str,
        endpoint: str,
        body: dict[str, Any],
        files: dict[str, tuple[str, bytes, str]] | None = None,
    ) -> None:
        """``POST /orders/{code}/{endpoint}`` (JSON, or a multipart form when ``files``); a 422
        becomes a permanent error naming the status code sent."""
        what = f"POST /orders/{code}/{endpoint}"
        try:
            if files:
                self._call("POST", "orders", code, endpoint, what=what, form=body, files=files)
            else:
                self._call("POST", "orders", code, endpoint, what=what, body=body)
        except DeliveryError as exc:
            if exc.status == 422:
                raise DeliveryError(
                    f"SkyHub refused {what} with status code {body.get('status')!r} (HTTP 422): "
                    f"{exc.detail}. Check that the SkyHub account has this status (GET /statuses) "
                    "or fix the channel's status map.",
                    retryable=False,
                    status=422,
                ) from exc
            raise

    # --- inbound --------------------------------------------------------------------------------

    def pull_changes(self, cursor: str | None) -> PullResult:
        """One ``GET /queues/orders``: the queue's head as a change (``more``), or nothing."""
        what = "GET /queues/orders"
        response = self._call("GET", "queues", "orders", what=what)
        data = None if response.status_code == 204 else self._json(response, what)
        if not isinstance(data, dict) or not text_of(data.get("code")):
            return PullResult([], cursor, more=False)
        return PullResult([self.change_of(data)], cursor, more=True)

    def confirm_pulled(self, change: InboundChange) -> None:
        """``DELETE /queues/orders/{code}`` once the change is committed (404: already gone)."""
        try:
            self._call("DELETE", "queues", "orders", change.external_id, what="DELETE queue entry")
        except DeliveryError as exc:
            if exc.status == 404:
                log.info("skyhub %s: %s was no longer queued", self.channel.code, change.external_id)
                return
            raise

    def fetch_order(self, external_id: str) -> InboundChange:
        return self.change_of(self._get_order(external_id))

    def list_orders(self, since: str, cursor: str | None = None) -> OrderListing:
        page = int(cursor) if cursor and cursor.isdigit() else 1
        per_page = int(self.option("per_page", DEFAULT_PER_PAGE))
        params: list[tuple[str, str | int]] = [("page", page), ("per_page", per_page)]
        if self.option("sale_system", ""):
            params.append(("filters[sale_system]", str(self.option("sale_system", ""))))
        for code in self.option("list_statuses", []):
            params.append(("filters[statuses][]", str(code)))
        what = f"GET /orders page {page}"
        data = self._json(self._call("GET", "orders", what=what, params=params), what)
        orders = data.get("orders") if isinstance(data, dict) else data
        if not isinstance(orders, list):
            raise DeliveryError(f"{self.channel.code} {what}: the answer has no orders list.", retryable=True)
        start = parse_time(since)
        listed: list[tuple[datetime, ListedOrder]] = []
        for order in orders:
            if not isinstance(order, dict) or not text_of(order.get("code")):
                continue
            changed = parse_time(order.get("updated_at")) or parse_time(order.get("placed_at"))
            if start is not None and changed is not None and changed < start:
                continue
            listed.append((changed or datetime.min.replace(tzinfo=BRASILIA), self._listed(order)))
        listed.sort(key=lambda pair: pair[0])
        total = data.get("total") if isinstance(data, dict) else None
        more = page * per_page < int(total) if isinstance(total, int) else len(orders) >= per_page
        return OrderListing([entry for _, entry in listed], str(page + 1) if more else None, more=more)

    def _listed(self, order: Mapping[str, Any]) -> ListedOrder:
        import_info = order.get("import_info")
        reference = text_of(import_info.get("remote_code")) if isinstance(import_info, Mapping) else ""
        return ListedOrder(
            external_id=text_of(order["code"]),
            reference=reference,
            remote_status=status_code(order),
            status=self.canonical_status(order),
            placed_at=_iso(order.get("placed_at")) or "",
            updated_at=_iso(order.get("updated_at")) or "",
            total=str(money(order.get("total_ordered"))),
        )

    def change_of(self, order: dict[str, Any]) -> InboundChange:
        """The order as a change: canonical JSON (when its status maps), facts, the event id."""
        code = text_of(order["code"])
        remote = status_code(order)
        status = self.canonical_status(order)
        stamp = text_of(order.get("updated_at")) or text_of(order.get("placed_at"))
        return InboundChange(
            event_id=f"{code}:{remote}:{stamp}",
            external_id=code,
            remote_status=remote,
            status=status,
            order=self.canonical_order(order) if status else None,
            facts=self.facts_of(order, status),
            occurred_at=_iso(order.get("updated_at")) or "",
        )

    def canonical_order(self, order: Mapping[str, Any]) -> dict[str, Any]:
        """The canonical order JSON (DESIGN.md §5); validation is Malote's (``OrderIn``)."""
        items: list[dict[str, Any]] = []
        lines_net = ZERO
        for item in order.get("items") or []:
            qty = int(item.get("qty") or 0)
            price = money(item.get("special_price")) or money(item.get("original_price"))
            lines_net += price * qty
            sku = text_of(item.get("id")) or text_of(item.get("product_id"))
            items.append(
                {
                    "sku": sku,
                    "name": text_of(item.get("name")) or sku,
                    "quantity": qty,
                    "unit_price": str(price),
                    "discount": "0.00",
                }
            )
        shipping = money(order.get("shipping_cost"))
        total = money(order.get("total_ordered"))
        tax, discount = balance_totals(
            lines_net, shipping, money(order.get("interest")), money(order.get("discount")), total
        )
        customer = order.get("customer") or {}
        shipping_address = address(order.get("shipping_address"))
        billing = address(order.get("billing_address")) or shipping_address
        phones = [text_of(phone) for phone in customer.get("phones") or [] if text_of(phone)]
        phone = phones[0] if phones else text_of((order.get("shipping_address") or {}).get("phone"))
        payments = _payments(order)
        first = payments[0] if payments else {}
        parcels = text_of(first.get("parcels"))
        return {
            "channel": self.channel.code,
            "external_id": text_of(order["code"]),
            "placed_at": _iso(order.get("placed_at")) or "",
            "currency": "BRL",
            "status": "paid" if status_type(order) in PAID_TYPES else "pending_payment",
            "marketplace": text_of(order.get("channel"))[:100],
            "customer": {
                "name": text_of(customer.get("name"))
                or text_of((order.get("shipping_address") or {}).get("full_name")),
                "email": text_of(customer.get("email")),
                "phone": phone[:30],
                "document": text_of(customer.get("vat_number")),
            },
            "billing_address": billing,
            "shipping_address": shipping_address,
            "items": items,
            "shipping": {"method": text_of(order.get("shipping_method"))[:100], "price": str(shipping)},
            "discount": str(discount),
            "tax": str(tax),
            "total": str(total),
            "payment": {
                "method": self._payment_method(first),
                "installments": min(max(int(parcels), 1), 48) if parcels.isdigit() else 1,
            },
        }

    def _payment_method(self, payment: Mapping[str, Any]) -> str:
        words = {**PAYMENT_METHODS, **self.option("payment_methods", {})}
        return str(words.get(text_of(payment.get("method")).upper(), "other"))

    def facts_of(self, order: Mapping[str, Any], status: str) -> dict[str, Any]:
        """What the lifecycle's transitions need, from the order as SkyHub has it now."""
        facts: dict[str, Any] = {}
        kind = status_type(order)
        where = text_of(order.get("channel")) or "SkyHub"
        if kind in PAID_TYPES or status not in ("", "pending_payment", "payment_overdue", "canceled"):
            payments = _payments(order)
            paid_at = _iso(order.get("approved_date")) or (
                _iso(payments[0].get("transaction_date")) if payments else None
            )
            facts["payment"] = {
                "method": self._payment_method(payments[0] if payments else {}),
                "amount": str(money(order.get("total_ordered"))),
                "paid_at": paid_at,
            }
        invoice = self._invoice_facts(order)
        if invoice:
            facts["invoice"] = invoice
        shipment = self._shipment_facts(order)
        if shipment:
            facts["shipment"] = shipment
        if status == "delivered":
            facts["delivered_at"] = _iso(order.get("delivered_date")) or _iso(order.get("updated_at"))
        if status == "canceled":
            facts["cancel_reason"] = "channel"
            facts["note"] = f"Cancelado na SkyHub ({where}, pedido {text_of(order.get('code'))})"
        if status == "delivery_failed":
            facts["problem"] = f"Exceção de entrega na SkyHub ({where}, pedido {text_of(order.get('code'))})"
        return facts

    @staticmethod
    def _invoice_facts(order: Mapping[str, Any]) -> dict[str, Any] | None:
        for invoice in reversed(order.get("invoices") or []):
            key = "".join(char for char in text_of(invoice.get("key")) if char.isdigit())
            if len(key) != 44:
                continue
            number = text_of(invoice.get("number")) or str(int(key[25:34]))
            series = text_of(invoice.get("line")) or str(int(key[22:25]))
            return {
                "key": key,
                "number": number,
                "series": series,
                "issued_at": _iso(invoice.get("issue_date")) or _iso(order.get("updated_at")),
            }
        return None

    @staticmethod
    def _shipment_facts(order: Mapping[str, Any]) -> dict[str, Any] | None:
        for shipment in reversed(order.get("shipments") or []):
            for track in reversed(shipment.get("tracks") or []):
                code = text_of(track.get("code"))
                if not code:
                    continue
                name = text_of(track.get("carrier")) or text_of(order.get("shipping_carrier"))
                carrier = carrier_key(name)[:60] or "outra"
                url = text_of(track.get("url"))
                if not url.startswith(("http://", "https://")):
                    url = fiscal.tracking_url(carrier, code) or ""
                facts: dict[str, Any] = {
                    "carrier": carrier,
                    "method": (text_of(track.get("method")) or text_of(order.get("shipping_method")) or name)[
                        :100
                    ],
                    "tracking_code": code,
                }
                if url and not any(char.isspace() for char in url):
                    facts["tracking_url"] = url
                shipped_at = _iso(order.get("shipped_date"))
                if shipped_at:
                    facts["shipped_at"] = shipped_at
                return facts
        return None

    # --- outbound -------------------------------------------------------------------------------

    def push_status(self, external_id: str, snapshot: dict[str, Any], *, idempotency_key: str) -> None:
        status = str(snapshot.get("change_status") or snapshot["status"])
        if status == "delivery_failed":
            self._push_exception(external_id, snapshot)
        elif status == "canceled":
            self.push_cancellation(external_id, snapshot, idempotency_key=idempotency_key)
        elif status == "invoiced" and snapshot.get("invoice"):
            self.push_invoice(external_id, snapshot, idempotency_key=idempotency_key)
        elif status == "shipped" and snapshot.get("shipment"):
            self.push_shipment(external_id, snapshot, idempotency_key=idempotency_key)
        elif status == "delivered":
            self.push_delivery(external_id, snapshot, idempotency_key=idempotency_key)
        # Any other status has no SkyHub write: nothing to tell.

    def push_invoice(self, external_id: str, snapshot: dict[str, Any], *, idempotency_key: str) -> None:
        invoice = snapshot.get("invoice")
        if not invoice or not invoice.get("key"):
            raise DeliveryError("The order has no invoice to send to SkyHub.", retryable=False)
        order = self._get_order(external_id)
        if status_type(order) == "CANCELED":
            return  # never revive a canceled order
        if any(text_of(existing.get("key")) == invoice["key"] for existing in order.get("invoices") or []):
            return
        status = self._code_for("invoiced")
        if status_type(order) in AFTER_INVOICED_TYPES and status_code(order):
            # The key after the shipment ("invoice waits for shipment"): SkyHub keeps its later status.
            status = status_code(order)
        issue_date = _brasilia(invoice["issued_at"]) if invoice.get("issued_at") else ""
        volume_qty = self.option("invoice_volume_qty", None)
        if self._invoice_as_xml(snapshot, order):
            xml = text_of(invoice.get("xml"))
            if not xml:
                raise DeliveryError(
                    f"SkyHub order {external_id} takes the NF-e only as its XML, and the invoice has none.",
                    retryable=False,
                )
            form = {"status": status}
            if issue_date:
                form["issue_date"] = issue_date
            if volume_qty:
                form["volume_qty"] = str(int(volume_qty))
            files = {"file": (f"{invoice['key']}.xml", xml.encode("utf-8"), "text/xml")}
            self._write(external_id, "invoice", form, files=files)
            return
        body: dict[str, Any] = {"key": invoice["key"]}
        if issue_date:
            body["issue_date"] = issue_date
        if volume_qty:
            body["volume_qty"] = int(volume_qty)
        self._write(external_id, "invoice", {"status": status, "invoice": body})

    def _invoice_as_xml(self, snapshot: Mapping[str, Any], order: Mapping[str, Any]) -> bool:
        """Whether the NF-e goes as its XML (multipart): the channel's "invoice needs XML" policy
        for the order's sub-channel (Mercado Livre by default), or a shipping method in the option
        ``xml_invoice_shipping_methods`` (B2W Entregas Direct) when the XML is at hand."""
        marketplace = text_of(snapshot.get("marketplace")) or text_of(order.get("channel"))
        needs_xml_for = getattr(self.channel, "invoice_needs_xml_for", None)
        if callable(needs_xml_for):
            if needs_xml_for(marketplace):
                return True
        elif getattr(self.channel, "invoice_needs_xml", False):
            return True
        methods = {_fold(m) for m in self.option("xml_invoice_shipping_methods", XML_INVOICE_METHODS)}
        method = text_of(snapshot.get("shipping_method")) or text_of(order.get("shipping_method"))
        return _fold(method) in methods and bool(text_of((snapshot.get("invoice") or {}).get("xml")))

    def push_shipment(self, external_id: str, snapshot: dict[str, Any], *, idempotency_key: str) -> None:
        shipment = snapshot.get("shipment") or {}
        code = text_of(shipment.get("tracking_code"))
        if not code:
            raise DeliveryError("The order's shipment has no tracking code for SkyHub.", retryable=False)
        order = self._get_order(external_id)
        if status_type(order) in ("CANCELED", "DELIVERED"):
            return
        for existing in order.get("shipments") or []:
            if any(text_of(track.get("code")) == code for track in existing.get("tracks") or []):
                return
        carrier = text_of(shipment.get("carrier"))
        names = {**CARRIER_NAMES, **self.option("carrier_names", {})}
        url = text_of(shipment.get("tracking_url"))
        if len(url) > MAX_TRACK_URL or not url:
            url = fiscal.tracking_url(carrier, code) or ""
        if len(url) > MAX_TRACK_URL:
            url = ""
        body: dict[str, Any] = {
            "code": external_id,
            "items": [{"sku": item["sku"], "qty": item["quantity"]} for item in snapshot.get("items") or []],
            "track": {
                "code": code,
                "carrier": names.get(carrier_key(carrier), carrier),
                "method": text_of(shipment.get("method")) or text_of(snapshot.get("shipping_method")),
                "url": url,
            },
        }
        if shipment.get("shipped_at"):
            body["delivered_carrier_date"] = _brasilia(shipment["shipped_at"])
        self._write(external_id, "shipments", {"status": self._code_for("shipped"), "shipment": body})

    def push_delivery(self, external_id: str, snapshot: dict[str, Any], *, idempotency_key: str) -> None:
        methods = {_fold(m) for m in self._delivery_from_marketplace_methods()}
        if _fold(snapshot.get("shipping_method")) in methods:
            return  # the marketplace reports these deliveries itself
        order = self._get_order(external_id)
        if _fold(order.get("shipping_method")) in methods or status_type(order) in ("DELIVERED", "CANCELED"):
            return
        body: dict[str, Any] = {"status": self._code_for("delivered")}
        delivered_at = (snapshot.get("shipment") or {}).get("delivered_at")
        if delivered_at:
            body["delivered_date"] = _brasilia(delivered_at)
        self._write(external_id, "delivery", body)

    def _delivery_from_marketplace_methods(self) -> list[str]:
        """The channel policy ``delivery_from_channel_methods`` (its kind's default when unset)."""
        policy = getattr(self.channel, "policy", None)
        if callable(policy):
            try:
                return list(policy("delivery_from_channel_methods") or [])
            except KeyError:
                pass
        return list(self.option("delivery_from_channel_methods", MARKETPLACE_DELIVERY_METHODS))

    def push_cancellation(self, external_id: str, snapshot: dict[str, Any], *, idempotency_key: str) -> None:
        order = self._get_order(external_id)
        if status_type(order) == "CANCELED":
            return
        self._write(external_id, "cancel", {"status": self._code_for("canceled")})

    def push_stock(self, sku: str, available: int, *, idempotency_key: str) -> None:
        """Set the SkyHub ``qty`` of the SKU to ``available`` where it differs: the variation
        (``PUT /variations/{sku}`` ``{"variation": {"qty"}}``; order items carry the variation's
        SKU) or else the simple product (``PUT /products/{sku}`` ``{"product": {"qty"}}``), each
        read first (``GET``), so a retry writes nothing. The resources tried, in order, are the
        option ``stock_resources`` (``["variations", "products"]``). A SKU neither has (404) is
        not sold there: nothing to update. A product with variations keeps its stock in them."""
        for resource in self.option("stock_resources", list(STOCK_RESOURCES)):
            root = STOCK_RESOURCES.get(resource)
            if root is None:
                raise DeliveryError(f"Unknown SkyHub stock resource {resource!r}.", retryable=False)
            what = f"GET /{resource}/{sku}"
            try:
                current = self._json(self._call("GET", resource, sku, what=what), what)
            except DeliveryError as exc:
                if exc.status == 404:
                    continue
                raise
            if not isinstance(current, dict):
                raise DeliveryError(f"{self.channel.code} {what}: the answer has no {root}.", retryable=True)
            if root == "product" and current.get("variations"):
                log.info("skyhub %s: %s has variations; their SKUs carry the stock", self.channel.code, sku)
                return
            if current.get("qty") == available:
                return
            self._call(
                "PUT", resource, sku, what=f"PUT /{resource}/{sku} qty", body={root: {"qty": available}}
            )
            return
        log.info("skyhub %s sells no SKU %s; stock not pushed", self.channel.code, sku)

    def _push_exception(self, external_id: str, snapshot: dict[str, Any]) -> None:
        order = self._get_order(external_id)
        if status_type(order) in ("SHIPMENT_EXCEPTION", "DELIVERED", "CANCELED"):
            return
        template = str(self.option("exception_observation", DEFAULT_OBSERVATION))
        body = {
            "status": self._code_for("delivery_failed"),
            "shipment_exception": {
                "occurrence_date": datetime.now(BRASILIA).replace(microsecond=0).isoformat(),
                "observation": template.format(number=snapshot.get("number", ""), code=external_id),
            },
        }
        self._write(external_id, "shipment_exception", body)


def _brasilia(value: str) -> str:
    """An ISO time from a snapshot as SkyHub writes it: ``2019-01-27T12:30:00-03:00``."""
    moment = parse_time(value)
    if moment is None:
        return value
    return moment.astimezone(BRASILIA).replace(microsecond=0).isoformat()
