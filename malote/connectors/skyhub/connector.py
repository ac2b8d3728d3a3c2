"""The SkyHub (B2W / Americanas Marketplace) provider: takes orders from the hub's queue (each
message is acknowledged only once committed in Malote) and reports invoice, shipment, delivery,
cancellation and stock back. See docs/connectors/skyhub.md.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from malote import fiscal
from malote.connectors.base import (
    Capability,
    Connector,
    InboundChange,
    ListedOrder,
    OrderListing,
    PullResult,
)
from malote.connectors.registry import register
from malote.connectors.skyhub.client import DEFAULT_RATE_LIMITS, SkyHubClient
from malote.connectors.skyhub.mapping import (
    AFTER_INVOICED_TYPES,
    BRASILIA,
    CARRIER_NAMES,
    DEFAULT_OBSERVATION,
    DEFAULT_PER_PAGE,
    DEFAULT_STATUS_IN,
    DEFAULT_STATUS_OUT,
    MARKETPLACE_DELIVERY_METHODS,
    MAX_TRACK_URL,
    PAID_TYPES,
    PAYMENT_METHODS,
    STOCK_RESOURCES,
    XML_INVOICE_METHODS,
    address,
    brasilia_date,
    fold,
    iso_time,
    parse_time,
    payments_of,
    status_code,
    status_type,
)
from malote.connectors.values import ZERO, balance_totals, money, text_of
from malote.fiscal.tracking import carrier_key
from malote.sync.errors import DeliveryError

log = logging.getLogger(__name__)


@register
class SkyHubConnector(Connector):
    kind = "skyhub"
    capabilities = frozenset(
        {
            Capability.PULL_CHANGES,
            Capability.FETCH_ORDER,
            Capability.LIST_ORDERS,
            Capability.PUSH_STATUS,
            Capability.PUSH_INVOICE,
            Capability.PUSH_SHIPMENT,
            Capability.PUSH_DELIVERY,
            Capability.PUSH_CANCELLATION,
            Capability.PUSH_STOCK,
        }
    )
    default_status_out = DEFAULT_STATUS_OUT
    default_status_in = DEFAULT_STATUS_IN
    default_rate_limits = DEFAULT_RATE_LIMITS

    # --- statuses ---------------------------------------------------------------------------------

    def canonical_status(self, order: Mapping[str, Any]) -> str:
        """The canonical status of a SkyHub order: by code (channel map, then the standard codes),
        else by type."""
        code = status_code(order)
        if self.status_map.knows(code):
            return self.status_in(code)
        return self.status_in(status_type(order))

    def _code_for(self, status: str) -> str:
        return text_of(self.status_out(status)) or DEFAULT_STATUS_OUT[status]

    @property
    def api(self) -> SkyHubClient:
        headers = {
            "X-User-Email": self.credential("user_email"),
            "X-Api-Key": self.credential("api_key"),
            "X-Accountmanager-Key": self.credential("accountmanager_key"),
        }
        return SkyHubClient(
            self.http, self.base_url, label=self.channel.code, headers=headers, rate_limits=self.rate_limits
        )

    # --- inbound --------------------------------------------------------------------------------

    def pull_changes(self, cursor: str | None) -> PullResult:
        """One ``GET /queues/orders``: the queue's head as a change (``more``), or nothing."""
        what = "GET /queues/orders"
        response = self.api.call("GET", "queues", "orders", what=what)
        data = None if response.status_code == 204 else self.api.decode(response, what)
        if not isinstance(data, dict) or not text_of(data.get("code")):
            return PullResult([], cursor, more=False)
        return PullResult([self.change_of(data)], cursor, more=True)

    def confirm_pulled(self, change: InboundChange) -> None:
        """``DELETE /queues/orders/{code}`` once the change is committed (404: already gone)."""
        try:
            self.api.call("DELETE", "queues", "orders", change.external_id, what="DELETE queue entry")
        except DeliveryError as exc:
            if exc.status == 404:
                log.info("skyhub %s: %s was no longer queued", self.channel.code, change.external_id)
                return
            raise

    def fetch_order(self, external_id: str) -> InboundChange:
        return self.change_of(self.api.order(external_id))

    def list_orders(self, since: str, cursor: str | None = None) -> OrderListing:
        page = int(cursor) if cursor and cursor.isdigit() else 1
        per_page = int(self.option("per_page", DEFAULT_PER_PAGE))
        params: list[tuple[str, str | int]] = [("page", page), ("per_page", per_page)]
        if self.option("sale_system", ""):
            params.append(("filters[sale_system]", str(self.option("sale_system", ""))))
        for code in self.option("list_statuses", []):
            params.append(("filters[statuses][]", str(code)))
        what = f"GET /orders page {page}"
        data = self.api.decode(self.api.call("GET", "orders", what=what, params=params), what)
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
            placed_at=iso_time(order.get("placed_at")) or "",
            updated_at=iso_time(order.get("updated_at")) or "",
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
            occurred_at=iso_time(order.get("updated_at")) or "",
        )

    def canonical_order(self, order: Mapping[str, Any]) -> dict[str, Any]:
        """The canonical order JSON; validation is Malote's (``OrderIn``)."""
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
        payments = payments_of(order)
        first = payments[0] if payments else {}
        parcels = text_of(first.get("parcels"))
        return {
            "channel": self.channel.code,
            "external_id": text_of(order["code"]),
            "placed_at": iso_time(order.get("placed_at")) or "",
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
            payments = payments_of(order)
            paid_at = iso_time(order.get("approved_date")) or (
                iso_time(payments[0].get("transaction_date")) if payments else None
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
            facts["delivered_at"] = iso_time(order.get("delivered_date")) or iso_time(order.get("updated_at"))
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
                "issued_at": iso_time(invoice.get("issue_date")) or iso_time(order.get("updated_at")),
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
                shipped_at = iso_time(order.get("shipped_date"))
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
        order = self.api.order(external_id)
        if status_type(order) == "CANCELED":
            return  # never revive a canceled order
        if any(text_of(existing.get("key")) == invoice["key"] for existing in order.get("invoices") or []):
            return
        status = self._code_for("invoiced")
        if status_type(order) in AFTER_INVOICED_TYPES and status_code(order):
            # The key after the shipment ("invoice waits for shipment"): SkyHub keeps its later status.
            status = status_code(order)
        issue_date = brasilia_date(invoice["issued_at"]) if invoice.get("issued_at") else ""
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
            self.api.write(external_id, "invoice", form, files=files)
            return
        body: dict[str, Any] = {"key": invoice["key"]}
        if issue_date:
            body["issue_date"] = issue_date
        if volume_qty:
            body["volume_qty"] = int(volume_qty)
        self.api.write(external_id, "invoice", {"status": status, "invoice": body})

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
        methods = {fold(m) for m in self.option("xml_invoice_shipping_methods", XML_INVOICE_METHODS)}
        method = text_of(snapshot.get("shipping_method")) or text_of(order.get("shipping_method"))
        return fold(method) in methods and bool(text_of((snapshot.get("invoice") or {}).get("xml")))

    def push_shipment(self, external_id: str, snapshot: dict[str, Any], *, idempotency_key: str) -> None:
        shipment = snapshot.get("shipment") or {}
        code = text_of(shipment.get("tracking_code"))
        if not code:
            raise DeliveryError("The order's shipment has no tracking code for SkyHub.", retryable=False)
        order = self.api.order(external_id)
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
            body["delivered_carrier_date"] = brasilia_date(shipment["shipped_at"])
        self.api.write(external_id, "shipments", {"status": self._code_for("shipped"), "shipment": body})

    def push_delivery(self, external_id: str, snapshot: dict[str, Any], *, idempotency_key: str) -> None:
        methods = {fold(m) for m in self._delivery_from_marketplace_methods()}
        if fold(snapshot.get("shipping_method")) in methods:
            return  # the marketplace reports these deliveries itself
        order = self.api.order(external_id)
        if fold(order.get("shipping_method")) in methods or status_type(order) in ("DELIVERED", "CANCELED"):
            return
        body: dict[str, Any] = {"status": self._code_for("delivered")}
        delivered_at = (snapshot.get("shipment") or {}).get("delivered_at")
        if delivered_at:
            body["delivered_date"] = brasilia_date(delivered_at)
        self.api.write(external_id, "delivery", body)

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
        order = self.api.order(external_id)
        if status_type(order) == "CANCELED":
            return
        self.api.write(external_id, "cancel", {"status": self._code_for("canceled")})

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
                current = self.api.decode(self.api.call("GET", resource, sku, what=what), what)
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
            self.api.call(
                "PUT", resource, sku, what=f"PUT /{resource}/{sku} qty", body={root: {"qty": available}}
            )
            return
        log.info("skyhub %s sells no SKU %s; stock not pushed", self.channel.code, sku)

    def _push_exception(self, external_id: str, snapshot: dict[str, Any]) -> None:
        order = self.api.order(external_id)
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
        self.api.write(external_id, "shipment_exception", body)
