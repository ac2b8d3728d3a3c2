"""The VTEX provider (OMS Orders API), for a storefront or a marketplace: imports orders from the
feed (and hooks that point at it), writes start-handling, invoices with tracking, delivery and
cancellations back. See docs/connectors/vtex.md.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from django.utils import timezone

from malote import fiscal
from malote.connectors.base import (
    Capability,
    Connector,
    InboundChange,
    ListedOrder,
    OrderListing,
    PullResult,
    WebhookRejected,
)
from malote.connectors.errors import ConnectorErrorCode
from malote.connectors.payload import UnreadableBody, load_json
from malote.connectors.registry import register
from malote.connectors.values import header_value, text_of
from malote.connectors.vtex.client import VtexClient
from malote.connectors.vtex.mapping import (
    COURIER_NAMES,
    DEFAULT_ENVIRONMENT,
    HANDLING_OR_LATER,
    PING,
    SAO_PAULO,
    canonical_order,
    event_key,
    facts_of,
    from_cents,
    iso_time,
    parse_time,
    to_cents,
    unit_cents,
)
from malote.fiscal.tracking import carrier_key
from malote.orders.statuses import CancelReason
from malote.sync.errors import DeliveryError

log = logging.getLogger(__name__)

DEFAULT_HOOK_HEADER = "X-Malote-Hook-Secret"
# The configuration ping ({"hookConfig":"ping"}) with room for whitespace.
PING_MAX_BYTES = 64
FEED_MAX_LOT = 10
LIST_PAGE_SIZE = 100
LIST_MAX_PAGES = 30


@register
class VtexConnector(Connector):
    kind = "vtex"
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
        }
    )
    # Only preparing is pushed as a status; invoices and cancellations have their own calls.
    default_status_out = {"preparing": "start-handling", "invoiced": "invoiced", "canceled": "cancel"}
    default_status_in = {
        "order-created": "pending_payment",
        "on-order-completed": "pending_payment",
        "on-order-completed-ffm": "pending_payment",
        "payment-pending": "pending_payment",
        "payment-approved": "paid",
        "window-to-cancel": "paid",
        "ready-for-handling": "paid",
        "start-handling": "preparing",
        "handling": "preparing",
        "invoiced": "invoiced",
        "canceled": "canceled",
    }

    def __init__(self, channel: Any, *, http: httpx.Client | None = None) -> None:
        super().__init__(channel, http=http)
        # Feed handles of the changes pull_changes returned, by event id, until confirm_pulled.
        self._handles: dict[str, list[str]] = {}

    # --- HTTP -----------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        configured = text_of(getattr(self.channel, "base_url", ""))
        if configured:
            return configured.rstrip("/")
        account = text_of(self.channel.option("account"))
        if not account:
            raise DeliveryError(
                f"Channel {self.channel.code} has neither a base_url nor an account option.", retryable=False
            )
        environment = text_of(self.channel.option("environment")) or DEFAULT_ENVIRONMENT
        return f"https://{account}.{environment}.com.br"

    @property
    def api(self) -> VtexClient:
        return VtexClient(
            self.http,
            self.base_url,
            label=self.channel.code,
            app_key=self.credential("app_key"),
            app_token=self.credential("app_token"),
        )

    @staticmethod
    def _package(order: Mapping[str, Any], number: str) -> Mapping[str, Any] | None:
        for package in (order.get("packageAttachment") or {}).get("packages") or []:
            if isinstance(package, Mapping) and text_of(package.get("invoiceNumber")) == number:
                return package
        return None

    # --- inbound: changes -----------------------------------------------------------------------

    def _affiliates(self) -> dict[str, str]:
        affiliates = self.channel.option("affiliates") or {}
        return {str(k): str(v) for k, v in affiliates.items()} if isinstance(affiliates, Mapping) else {}

    def _change(
        self, order_id: str, order: dict[str, Any] | None, *, remote: str, event_id: str, when: Any
    ) -> InboundChange:
        """The change an event (``remote`` at ``when``) announces. When the order could be read,
        it is reported as VTEX has it now (its ``status`` at its ``lastChange``): the feed and
        the hook deliver history late and out of order, and a stale ``payment-pending`` about an
        order paid since must not read as the store going back."""
        if order is not None:
            remote = text_of(order.get("status")) or remote
            when = order.get("lastChange") or when
        status = self.status_in(remote)
        facts = facts_of(order, remote) if order else {}
        if status == "invoiced":
            # VTEX stays "invoiced" while its invoice's tracking moves: the package tells more.
            status = "delivered" if "delivered_at" in facts else "shipped" if "shipment" in facts else status
        occurred = parse_time(when) or timezone.now()
        return InboundChange(
            event_id=event_id,
            external_id=order_id,
            remote_status=remote,
            status=status,
            # A word that maps to nothing (invoice, request-cancel…) is no reason to create an order.
            order=canonical_order(order, self.channel.code, self._affiliates()) if order and status else None,
            facts=facts,
            occurred_at=occurred.isoformat(),
        )

    def _read_order_for(self, order_id: str) -> dict[str, Any] | None:
        """The order, or ``None`` when VTEX says it does not exist (the change is then recorded
        as about an unknown order); other failures propagate and the item stays in the feed."""
        try:
            return self.api.order(order_id)
        except DeliveryError as exc:
            if exc.status == 404:
                return None
            raise

    def pull_changes(self, cursor: str | None) -> PullResult:
        """One lot of feed items as changes; ``cursor`` is unused (the feed is a queue) and
        ``more`` says the lot was full. Handles are committed in :meth:`confirm_pulled`."""
        lot = min(max(int(self.channel.option("feed_max_lot") or FEED_MAX_LOT), 1), FEED_MAX_LOT)
        try:
            response = self.api.call(
                "GET", "/api/orders/feed", what="read the orders feed", params={"maxlot": lot}
            )
        except DeliveryError as exc:
            if exc.status == 404:
                raise DeliveryError(
                    f"{self.channel.code}: VTEX has no orders feed for this app key; configure it with "
                    'POST /api/orders/feed/config ({"filter": {"type": "FromWorkflow", "status": [...]}}).',
                    retryable=False,
                    status=404,
                ) from exc
            raise
        items = self.api.decode(response, "read the orders feed")
        if not isinstance(items, list):
            raise DeliveryError(f"{self.channel.code}: the orders feed is not a list.", retryable=True)
        orders: dict[str, dict[str, Any] | None] = {}
        changes = []
        for item in items:
            if not isinstance(item, dict) or not item.get("orderId") or not item.get("handle"):
                continue
            order_id, state = text_of(item["orderId"]), text_of(item.get("state"))
            if order_id not in orders:
                orders[order_id] = self._read_order_for(order_id)
            key = event_key(order_id, state, item.get("currentChange"))
            changes.append(
                self._change(
                    order_id, orders[order_id], remote=state, event_id=key, when=item.get("currentChange")
                )
            )
            self._handles.setdefault(key, []).append(str(item["handle"]))
        return PullResult(changes=changes, cursor=cursor, more=len(items) >= lot)

    def confirm_pulled(self, change: InboundChange) -> None:
        """Commit the feed handle(s) of ``change`` — called only once Malote committed it. A
        commit that fails retryably is only logged: VTEX redelivers the item after its visibility
        timeout and the inbox knows it as a duplicate."""
        handles = self._handles.pop(change.event_id, [])
        if not handles:
            return
        try:
            self.api.call("POST", "/api/orders/feed", what="commit feed items", body={"handles": handles})
        except DeliveryError as exc:
            if not exc.retryable:
                raise
            log.warning(
                "vtex %s: feed commit failed, the item will come again: %s", self.channel.code, exc.detail
            )

    def fetch_order(self, external_id: str) -> InboundChange:
        order = self.api.order(external_id)
        remote = text_of(order.get("status"))
        key = event_key(external_id, remote, order.get("lastChange"))
        return self._change(external_id, order, remote=remote, event_id=key, when=order.get("lastChange"))

    def list_orders(self, since: str, cursor: str | None = None) -> OrderListing:
        """Orders created since ``since``, oldest first, 100 a page; ``cursor`` is the next page.
        VTEX filters the list by creation date only and serves at most 30 pages."""
        start = parse_time(since) or datetime(1970, 1, 1, tzinfo=UTC)
        end = timezone.now() + timedelta(days=1)
        page = int(cursor or 1)
        fmt = "%Y-%m-%dT%H:%M:%S.000Z"
        params = {
            "f_creationDate": f"creationDate:[{start.astimezone(UTC):{fmt}} TO {end.astimezone(UTC):{fmt}}]",
            "orderBy": "creationDate,asc",
            "page": page,
            "per_page": LIST_PAGE_SIZE,
        }
        what = f"list orders since {since} (page {page})"
        data = self.api.decode(self.api.call("GET", "/api/oms/pvt/orders", what=what, params=params), what)
        if not isinstance(data, dict) or not isinstance(data.get("list"), list):
            raise DeliveryError(f"{self.channel.code}: the order list has no list.", retryable=True)
        orders = [
            ListedOrder(
                external_id=text_of(row.get("orderId")),
                reference=text_of(row.get("marketPlaceOrderId")),
                remote_status=text_of(row.get("status")),
                status=self.status_in(text_of(row.get("status"))),
                placed_at=iso_time(row.get("creationDate")),
                total=str(from_cents(row.get("totalValue"))),
            )
            for row in data["list"]
            if isinstance(row, dict) and row.get("orderId")
        ]
        paging = data.get("paging") or {}
        current, pages = int(paging.get("currentPage") or page), int(paging.get("pages") or page)
        more = current < pages and current < LIST_MAX_PAGES
        return OrderListing(orders=orders, cursor=str(current + 1) if more else None, more=more)

    # --- inbound: the hook ----------------------------------------------------------------------

    @staticmethod
    def _is_ping(body: bytes) -> bool:
        # Unauthenticated: only a body as short as the ping itself is read at all.
        if len(body) > PING_MAX_BYTES:
            return False
        try:
            return bool(load_json(body) == PING)
        except UnreadableBody:
            return False

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, query: Mapping[str, str]) -> None:
        if self._is_ping(body):
            return  # the configuration ping carries nothing and changes nothing (see the docstring)
        secret = text_of((self.channel.credentials or {}).get("hook_secret"))
        if not secret:
            raise WebhookRejected(
                "This channel has no hook_secret to check hooks.",
                code=ConnectorErrorCode.WEBHOOK_SECRET_MISSING,
            )
        name = text_of(self.channel.option("hook_secret_header")) or DEFAULT_HOOK_HEADER
        presented = header_value(headers, name)
        if not presented:
            raise WebhookRejected(
                f"Missing {name} header.", code=ConnectorErrorCode.WEBHOOK_SIGNATURE_MISSING
            )
        if not hmac.compare_digest(presented.encode(), secret.encode()):
            raise WebhookRejected(
                f"{name} does not match.", code=ConnectorErrorCode.WEBHOOK_SIGNATURE_INVALID
            )
        account = text_of(self.channel.option("account"))
        if account:
            data = load_json(body)  # verified: an unreadable body is answered 400 here
            raw_origin = data.get("Origin") if isinstance(data, dict) else None
            origin = raw_origin.get("Account") if isinstance(raw_origin, dict) else None
            if origin is not None and text_of(origin) != account:
                raise WebhookRejected(
                    f"The hook comes from account {text_of(origin)[:80]!r}.",
                    code=ConnectorErrorCode.WEBHOOK_ORIGIN_MISMATCH,
                )

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[InboundChange]:
        data = load_json(body)
        if not isinstance(data, dict):
            raise ValueError("a VTEX hook is a JSON object")
        if data == PING:
            return []
        order_id, state = text_of(data.get("OrderId")), text_of(data.get("State"))
        if not order_id or not state:
            raise ValueError("a VTEX order hook needs OrderId and State")
        order = self._read_order_for(order_id)
        key = event_key(order_id, state, data.get("CurrentChange"))
        return [self._change(order_id, order, remote=state, event_id=key, when=data.get("CurrentChange"))]

    # --- outbound -------------------------------------------------------------------------------

    def push_status(self, external_id: str, snapshot: dict[str, Any], *, idempotency_key: str) -> None:
        """``start-handling`` for preparing; ``cancel`` cancels; other words are carried by the
        invoice push (or have no VTEX action) and send nothing."""
        word = self.status_out(str(snapshot.get("change_status") or snapshot["status"]))
        if word == "start-handling":
            self._start_handling(external_id, idempotency_key=idempotency_key)
        elif word == "cancel":
            self.push_cancellation(external_id, snapshot, idempotency_key=idempotency_key)

    def _start_handling(self, external_id: str, *, idempotency_key: str) -> None:
        path = f"/api/oms/pvt/orders/{external_id}/start-handling"
        try:
            self.api.call("POST", path, what=f"start handling {external_id}", idempotency_key=idempotency_key)
            return
        except DeliveryError as exc:
            if exc.status != 409:
                raise
            conflict = exc
        current = text_of(self.api.order(external_id).get("status"))
        if current in HANDLING_OR_LATER:
            return  # a repeat: VTEX already handles it
        raise DeliveryError(
            f"{self.channel.code}: VTEX order {external_id} is {current!r}, not ready-for-handling yet "
            f"(OMS003); start-handling will be retried. ({conflict.detail[:200]})",
            retryable=True,
            status=409,
        )

    def push_invoice(self, external_id: str, snapshot: dict[str, Any], *, idempotency_key: str) -> None:
        invoice = snapshot.get("invoice")
        if not invoice or not invoice.get("key"):
            raise DeliveryError("The order has no invoice to send.", retryable=False)
        order = self.api.order(external_id)
        if text_of(order.get("status")) == "ready-for-handling":
            # Malote may invoice straight from paid; VTEX invoices only what is being handled.
            self._start_handling(external_id, idempotency_key=idempotency_key)
        number = text_of(invoice.get("number"))
        existing = self._package(order, number)
        if (
            existing is not None
            and existing.get("type", "Output") == "Output"
            and text_of(existing.get("invoiceKey")) == invoice["key"]
        ):
            return  # already there: a repeat would only issue another receipt
        template = text_of(self.channel.option("invoice_url_template"))
        values = {
            "key": invoice["key"],
            "number": number,
            "series": invoice.get("series", ""),
            "order": snapshot.get("number", ""),
        }
        xml = invoice.get("xml") if self.channel.option("send_invoice_xml", True) else None
        body = {
            "type": "Output",
            "issuanceDate": invoice.get("issued_at"),
            "invoiceNumber": number,
            "invoiceValue": str(to_cents(snapshot["total"])),
            "invoiceKey": invoice["key"],
            "invoiceUrl": template.format(**values) if template else None,
            "embeddedInvoice": xml or None,
            "courier": "",
            "trackingNumber": "",
            "trackingUrl": "",
            "dispatchedDate": None,
            "items": [
                {
                    "id": text_of(item.get("id")),
                    "price": unit_cents(item),
                    "quantity": int(item.get("quantity") or 0),
                    "description": text_of(item.get("name")),
                }
                for item in order.get("items") or []
                if isinstance(item, Mapping)
            ],
        }
        try:
            self.api.call(
                "POST",
                f"/api/oms/pvt/orders/{external_id}/invoice",
                what=f"invoice {number} of {external_id}",
                body=body,
                idempotency_key=idempotency_key,
            )
        except DeliveryError as exc:
            if (
                exc.status == 409
            ):  # the order is not handling yet in VTEX: the start-handling push comes first
                exc.retryable = True
            raise

    def _invoice_number(self, snapshot: dict[str, Any]) -> str:
        invoice = snapshot.get("invoice") or {}
        number = text_of(invoice.get("number"))
        if not number:
            raise DeliveryError(
                "VTEX takes tracking per invoice, and the order has no invoice.", retryable=False
            )
        return number

    def _invoice_in_vtex(self, external_id: str, number: str) -> Mapping[str, Any]:
        package = self._package(self.api.order(external_id), number)
        if package is None:
            raise DeliveryError(
                f"{self.channel.code}: invoice {number} is not in VTEX order {external_id} yet.",
                retryable=True,
            )
        return package

    def push_shipment(self, external_id: str, snapshot: dict[str, Any], *, idempotency_key: str) -> None:
        shipment = snapshot.get("shipment") or {}
        code = text_of(shipment.get("tracking_code"))
        if not code:
            raise DeliveryError("The order has no tracking code to send.", retryable=False)
        number = self._invoice_number(snapshot)
        if text_of(self._invoice_in_vtex(external_id, number).get("trackingNumber")) == code:
            return  # already sent
        carrier = text_of(shipment.get("carrier"))
        url = text_of(shipment.get("tracking_url")) or fiscal.tracking_url(carrier, code) or None
        body = {
            "trackingNumber": code,
            "trackingUrl": url,
            "courier": COURIER_NAMES.get(carrier_key(carrier), carrier) or None,
            "dispatchedDate": shipment.get("shipped_at") or timezone.now().isoformat(),
        }
        self.api.call(
            "PATCH",
            f"/api/oms/pvt/orders/{external_id}/invoice/{number}",
            what=f"tracking of invoice {number} of {external_id}",
            body=body,
            idempotency_key=idempotency_key,
        )

    def push_delivery(self, external_id: str, snapshot: dict[str, Any], *, idempotency_key: str) -> None:
        number = self._invoice_number(snapshot)
        courier_status = self._invoice_in_vtex(external_id, number).get("courierStatus") or {}
        if isinstance(courier_status, Mapping) and courier_status.get("finished"):
            return  # already delivered there
        delivered = parse_time((snapshot.get("shipment") or {}).get("delivered_at")) or timezone.now()
        local = delivered.astimezone(SAO_PAULO)
        address = snapshot.get("shipping_address") or snapshot.get("billing_address") or {}
        body = {
            "isDelivered": True,
            "deliveredDate": local.strftime("%Y-%m-%d %H:%M"),
            "events": [
                {
                    "city": text_of(address.get("city")),
                    "state": text_of(address.get("state")),
                    "description": "Pedido entregue",
                    "date": local.strftime("%Y-%m-%d"),
                }
            ],
        }
        self.api.call(
            "PUT",
            f"/api/oms/pvt/orders/{external_id}/invoice/{number}/tracking",
            what=f"delivery of invoice {number} of {external_id}",
            body=body,
            idempotency_key=idempotency_key,
        )

    def push_cancellation(self, external_id: str, snapshot: dict[str, Any], *, idempotency_key: str) -> None:
        code = text_of(snapshot.get("cancel_reason"))
        reason = str(CancelReason(code).label) if code in CancelReason.values else "Cancelado pelo Malote"
        try:
            self.api.call(
                "POST",
                f"/api/oms/pvt/orders/{external_id}/cancel",
                what=f"cancel {external_id}",
                body={"reason": reason},
                idempotency_key=idempotency_key,
            )
            return
        except DeliveryError as exc:
            if exc.retryable:
                raise
            refusal = exc
        current = text_of(self.api.order(external_id).get("status"))
        if current == "canceled":
            return
        raise DeliveryError(
            f"{self.channel.code}: VTEX refused to cancel order {external_id} ({current}); an invoiced "
            f"order needs a return invoice there. ({refusal.detail[:200]})",
            retryable=False,
            status=refusal.status,
        )
