"""The Jumpseller storefront provider: imports orders (hooks, with a poll of new orders as the
fallback) and writes back status, shipment, delivery, the NF-e document and stock, reading the
order first so a repeated push changes nothing. See docs/connectors/jumpseller.md.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone

from malote import fiscal
from malote.connectors.base import (
    Capability,
    Connector,
    InboundChange,
    ListedOrder,
    OrderListing,
    PullResult,
    WebhookAnswer,
    WebhookRejected,
)
from malote.connectors.errors import ConnectorErrorCode
from malote.connectors.jumpseller.client import DEFAULT_RATE_LIMITS, JumpsellerClient
from malote.connectors.jumpseller.mapping import (
    CARRIER_NAMES,
    DEFAULT_INVOICE_URL,
    HISTORY_MARGIN,
    LIST_LIMIT,
    PULL_LIMIT,
    STATUS_LABELS,
    canonical_order,
    facts_of,
    parse_time,
    placed_before,
    remote_status,
    sha256_hex,
)
from malote.connectors.payload import load_json
from malote.connectors.registry import register
from malote.connectors.values import header_value, text_of
from malote.fiscal.tracking import carrier_key
from malote.sync.errors import DeliveryError

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "Jumpseller-Hmac-Sha256"


@register
class JumpsellerConnector(Connector):
    kind = "jumpseller"
    default_rate_limits = DEFAULT_RATE_LIMITS
    capabilities = frozenset(
        {
            Capability.RECEIVE_WEBHOOKS,
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
    # Only these canonical statuses have a Jumpseller order-status word (the labels PUT takes).
    default_status_out = {"paid": "Paid", "canceled": "Canceled"}
    default_status_in = {
        "pending_payment": "pending_payment",
        "paid": "paid",
        "canceled": "canceled",
        "abandoned": "",
        "in_transit": "shipped",
        "delivered": "delivered",
        "failed": "delivery_failed",
    }

    @property
    def api(self) -> JumpsellerClient:
        return JumpsellerClient(
            self.http,
            self.base_url,
            label=self.channel.code,
            login=self.credential("login"),
            authtoken=self.credential("authtoken"),
            rate_limits=self.rate_limits,
        )

    # --- inbound --------------------------------------------------------------------------------

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, query: Mapping[str, str]) -> None:
        token = text_of((self.channel.credentials or {}).get("hooks_token"))
        if not token:
            raise WebhookRejected(
                "This channel has no hooks_token to check signatures.",
                code=ConnectorErrorCode.WEBHOOK_SECRET_MISSING,
            )
        signature = header_value(headers, SIGNATURE_HEADER)
        if not signature:
            raise WebhookRejected(
                f"Missing {SIGNATURE_HEADER} header.", code=ConnectorErrorCode.WEBHOOK_SIGNATURE_MISSING
            )
        expected = base64.b64encode(hmac.new(token.encode(), body, hashlib.sha256).digest())
        if not hmac.compare_digest(expected, signature.encode()):
            raise WebhookRejected(
                "Signature does not match.", code=ConnectorErrorCode.WEBHOOK_SIGNATURE_INVALID
            )

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[InboundChange]:
        data = load_json(body)
        if not isinstance(data, dict):
            raise ValueError("a Jumpseller hook is a JSON object")
        order = data.get("order")
        if order is None:
            return []  # product_* / customer_* hooks: nothing Malote takes in from them
        if not isinstance(order, dict) or order.get("id") is None:
            raise ValueError("an order hook needs order.id")
        # The key comes from the signed body alone: the Jumpseller-Event header is not signed, so
        # a key including it would let one captured body be replayed under every event name.
        return [self._change(order, event_id=f"hook:{sha256_hex(body)}")]

    def _change(self, order: dict[str, Any], *, event_id: str) -> InboundChange:
        remote = remote_status(order)
        status = self.status_in(remote)
        return InboundChange(
            event_id=event_id,
            external_id=str(order["id"]),
            remote_status=remote,
            status=status,
            # A status that maps to nothing (an abandoned checkout) is no reason to create an order.
            order=canonical_order(order, self.channel.code) if status else None,
            facts=facts_of(order, remote),
            occurred_at=timezone.now().isoformat(),
        )

    def _polled(self, order: dict[str, Any]) -> InboundChange:
        # The same state read twice (poll, fetch) is one event; any change of the order is a new one.
        state = json.dumps(order, sort_keys=True, ensure_ascii=False).encode()
        return self._change(order, event_id=f"order:{order['id']}:{sha256_hex(state)}")

    def acknowledge(self, results: list[str]) -> WebhookAnswer:
        """Jumpseller only looks for a 2xx (within about 15 s); the body is for people reading logs."""
        return super().acknowledge(results)

    def pull_changes(self, cursor: str | None) -> PullResult:
        """New orders after the cursor (the last order id seen), one page per call, oldest first.

        The import fallback for lost hooks: updates of orders already passed arrive through hooks
        (or :meth:`fetch_order`), never through this poll. Without the option ``pull_after_id``
        the poll starts at the first order and passes over the store's history: orders placed more
        than ``HISTORY_MARGIN`` before the channel was created in Malote are not imported (each
        import e-mails its customer; a store's back catalogue of orders is not Malote's to take).
        With ``pull_after_id`` every order after that id is imported.
        """
        explicit = self.channel.option("pull_after_id")
        after = self.api.order_id(cursor or str(explicit or 0))
        created = getattr(self.channel, "created_at", None)
        history_ends = created - HISTORY_MARGIN if explicit is None and created is not None else None
        data = self.api.call(
            "GET",
            f"/orders/after/{after}.json",
            what=f"GET orders after {after}",
            params={"limit": PULL_LIMIT},
        )
        if not isinstance(data, list):
            raise DeliveryError(f"{self.channel.code}: orders after {after} is not a list.", retryable=True)
        orders = sorted(
            (
                item["order"]
                for item in data
                if isinstance(item, dict) and isinstance(item.get("order"), dict)
            ),
            key=lambda order: int(order["id"]),
        )
        changes = [self._polled(order) for order in orders if not placed_before(order, history_ends)]
        last = max([after, *(int(order["id"]) for order in orders)])
        return PullResult(changes=changes, cursor=str(last), more=len(data) >= PULL_LIMIT)

    def list_orders(self, since: str, cursor: str | None = None) -> OrderListing:
        """Orders created since ``since``: ``GET /orders.json`` with ``dateFilter=customDate``
        (whole days in the store's zone, so earlier orders of the first day are dropped here),
        ``limit`` 100; ``cursor`` is the page number. Abandoned checkouts are listed too, with an
        empty canonical ``status``: the caller decides."""
        start = parse_time(since) or datetime.now(UTC)
        local = ZoneInfo("America/Sao_Paulo")
        page = int(cursor or 1)
        data = self.api.call(
            "GET",
            "/orders.json",
            what=f"GET orders page {page}",
            params={
                "dateFilter": "customDate",
                "initialDate": start.astimezone(local).date().isoformat(),
                "finalDate": (datetime.now(local) + timedelta(days=1)).date().isoformat(),
                "page": page,
                "limit": LIST_LIMIT,
            },
        )
        if not isinstance(data, list):
            raise DeliveryError(f"{self.channel.code}: the order list is not a list.", retryable=True)
        listed = []
        for item in data:
            order = item.get("order") if isinstance(item, dict) else None
            if not isinstance(order, dict) or order.get("id") is None:
                continue
            created = parse_time(order.get("created_at"))
            if created is not None and created < start:
                continue
            remote = remote_status(order)
            listed.append(
                ListedOrder(
                    external_id=str(order["id"]),
                    remote_status=remote,
                    status=self.status_in(remote),
                    placed_at=created.isoformat() if created else "",
                    total=str(order.get("total") or ""),
                )
            )
        more = len(data) >= LIST_LIMIT
        return OrderListing(listed, str(page + 1) if more else None, more=more)

    def fetch_order(self, external_id: str) -> InboundChange:
        return self._polled(self.api.order(external_id))

    # --- outbound -------------------------------------------------------------------------------

    def _update_order(
        self, external_id: str, wanted: dict[str, Any], *, what: str, idempotency_key: str
    ) -> dict[str, Any]:
        """PUT only the fields whose remote value differs from ``wanted``; returns what was sent.

        Reading first costs one GET per push and buys: no second hook, no second buyer e-mail
        (the store mails on every shipment_status change), and no late message moving a
        delivered order back to in transit.
        """
        remote = self.api.order(external_id)
        changes: dict[str, Any] = {}
        for name, value in wanted.items():
            if name == "status":
                if value in (remote.get("status"), STATUS_LABELS.get(text_of(remote.get("status_enum")))):
                    continue
            elif name == "shipment_status":
                current = text_of(remote.get("shipment_status_enum"))
                if value == current or (current == "delivered" and value != "delivered"):
                    continue
            elif text_of(remote.get(name)) == text_of(value):
                continue
            changes[name] = value
        if changes:
            order_id = self.api.order_id(external_id)
            self.api.call(
                "PUT",
                f"/orders/{order_id}.json",
                what=f"PUT order {order_id} ({what})",
                body={"order": changes},
                idempotency_key=idempotency_key,
            )
        return changes

    def push_status(self, external_id: str, snapshot: dict[str, Any], *, idempotency_key: str) -> None:
        """Send the status label when the map has one (paid, canceled); other statuses: nothing."""
        label = self.status_out(str(snapshot.get("change_status") or snapshot["status"]))
        if label:
            self._update_order(external_id, {"status": label}, what="status", idempotency_key=idempotency_key)

    def push_cancellation(self, external_id: str, snapshot: dict[str, Any], *, idempotency_key: str) -> None:
        label = self.status_out("canceled") or STATUS_LABELS["canceled"]
        self._update_order(
            external_id, {"status": label}, what="cancellation", idempotency_key=idempotency_key
        )

    def push_shipment(self, external_id: str, snapshot: dict[str, Any], *, idempotency_key: str) -> None:
        shipment = snapshot.get("shipment") or {}
        carrier = text_of(shipment.get("carrier"))
        code = text_of(shipment.get("tracking_code"))
        wanted: dict[str, Any] = {"shipment_status": "in_transit"}
        if code:
            wanted["tracking_number"] = code
        if carrier:
            wanted["tracking_company"] = CARRIER_NAMES.get(carrier_key(carrier), carrier)
        url = text_of(shipment.get("tracking_url")) or (fiscal.tracking_url(carrier, code) if code else None)
        if url:
            wanted["tracking_url"] = url
        self._update_order(external_id, wanted, what="shipment", idempotency_key=idempotency_key)

    def push_delivery(self, external_id: str, snapshot: dict[str, Any], *, idempotency_key: str) -> None:
        self._update_order(
            external_id, {"shipment_status": "delivered"}, what="delivery", idempotency_key=idempotency_key
        )

    def push_invoice(self, external_id: str, snapshot: dict[str, Any], *, idempotency_key: str) -> None:
        """Attach the NF-e as a document (type 1, invoice): ``external_id`` = the access key,
        ``public_id`` = ``<number>-<series>``, ``url`` from ``invoice_url_template``. Skipped when
        the order already has a document with this key (a retry after a lost answer included)."""
        invoice = snapshot.get("invoice")
        if not invoice or not invoice.get("key"):
            raise DeliveryError("The order has no invoice to attach.", retryable=False)
        order_id = self.api.order_id(external_id)
        path = f"/orders/{order_id}/documents.json"
        existing = self.api.call("GET", path, what=f"GET documents of order {order_id}")
        for item in existing if isinstance(existing, list) else []:
            document = item.get("document") if isinstance(item, dict) else None
            if isinstance(document, dict) and text_of(document.get("external_id")) == invoice["key"]:
                return
        values = {
            "key": invoice["key"],
            "number": invoice.get("number", ""),
            "series": invoice.get("series", ""),
            "order": snapshot.get("number", ""),
        }
        template = str(self.channel.option("invoice_url_template") or DEFAULT_INVOICE_URL)
        document = {
            "document_type": 1,
            "external_id": invoice["key"],
            "public_id": f"{invoice.get('number')}-{invoice.get('series')}",
            "url": template.format(**values),
        }
        self.api.call(
            "POST",
            path,
            what=f"POST invoice document of order {order_id}",
            body={"document": document},
            idempotency_key=idempotency_key,
        )

    def push_stock(self, sku: str, available: int, *, idempotency_key: str) -> None:
        """Set ``stock`` of every product or variant whose SKU is ``sku`` (case-insensitive) to
        ``available``, where it differs. A SKU the store does not sell is nothing to update."""
        wanted = sku.strip().casefold()
        found = self.api.call(
            "GET",
            "/products/search.json",
            what=f"search SKU {sku}",
            params={"query": sku, "fields": "sku,variants"},
        )
        targets: list[tuple[str, str, Any]] = []  # (path, root, current stock)
        for item in found if isinstance(found, list) else []:
            product = item.get("product") if isinstance(item, dict) else None
            if not isinstance(product, dict) or product.get("id") is None:
                continue
            product_id = int(product["id"])
            if text_of(product.get("sku")).casefold() == wanted:
                targets.append((f"/products/{product_id}.json", "product", product.get("stock")))
            for variant in product.get("variants") or []:
                if isinstance(variant, dict) and text_of(variant.get("sku")).casefold() == wanted:
                    path = f"/products/{product_id}/variants/{int(variant['id'])}.json"
                    targets.append((path, "variant", variant.get("stock")))
        if not targets:
            log.info("jumpseller %s sells no SKU %s; stock not pushed", self.channel.code, sku)
            return
        for path, root, current in targets:
            if current == available:
                continue
            self.api.call(
                "PUT",
                path,
                what=f"PUT {root} stock of {sku}",
                body={root: {"stock": available}},
                idempotency_key=idempotency_key,
            )
