"""The Mercado Livre provider (a seller account on site MLB, as a marketplace channel): imports
orders (notifications, with a search poll as the fallback) — one Malote order per pack (cart) —,
reports claims about them, uploads the NF-e, reports ME1 shipments and deliveries, and sets
listing stock. See docs/connectors/mercadolivre.md.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from functools import cached_property
from typing import Any
from urllib.parse import quote

from django.utils import timezone

from malote import fiscal
from malote.connectors.base import (
    Capability,
    Connector,
    InboundChange,
    ListedOrder,
    Notification,
    OrderListing,
    PullResult,
    Unsupported,
    WebhookRejected,
)
from malote.connectors.errors import ConnectorErrorCode
from malote.connectors.mercadolivre.client import MercadoLivreClient, error_code
from malote.connectors.mercadolivre.mapping import (
    CLAIMS_TOPIC,
    DEFAULT_STATUS_IN,
    DEFAULT_STATUS_OUT,
    HISTORY_MARGIN,
    ME1_DEFAULT_SERVICE_ID,
    ORDER_TOPICS,
    RETRYABLE_INVOICE_ERRORS,
    SHIPMENT_NOT_YET,
    SHIPMENT_TOPIC,
    SITE_ID,
    canonical_order,
    claim_report,
    facts_of,
    iso_time,
    last_updated,
    latest,
    pack_data,
    pack_id_of,
    pack_order,
    pack_status,
    parse_time,
    partial_cancel_report,
    remote_status,
    stock_change,
)
from malote.connectors.payload import load_json
from malote.connectors.registry import register
from malote.connectors.values import money, text_of
from malote.sync.errors import DeliveryError, check_response

log = logging.getLogger(__name__)

PAGE_SIZE = 50
PAGE_OVERLAP = 5


@register
class MercadoLivreConnector(Connector):
    kind = "mercadolivre"
    capabilities = frozenset(
        {
            Capability.RECEIVE_WEBHOOKS,
            Capability.PULL_CHANGES,
            Capability.FETCH_ORDER,
            Capability.LIST_ORDERS,
            Capability.PUSH_INVOICE,
            Capability.PUSH_SHIPMENT,
            Capability.PUSH_DELIVERY,
            Capability.PUSH_CANCELLATION,
            Capability.PUSH_STOCK,
        }
    )
    default_status_in = DEFAULT_STATUS_IN
    default_status_out = DEFAULT_STATUS_OUT
    # ML wants notifications answered within ~500 ms: store them, answer, read them in a worker.
    answers_before_reading = True

    @classmethod
    def maps_status(cls, channel: Any, status: str) -> bool:
        """ML takes no order-status writes: there is never a plain status to push."""
        return False

    # --- HTTP -----------------------------------------------------------------------------------

    @property
    def user_id(self) -> str:
        value = (self.channel.credentials or {}).get("user_id") or self.channel.option("user_id")
        if not value:
            raise DeliveryError(f"Channel {self.channel.code} has no user_id (the seller).", retryable=False)
        return str(value)

    @cached_property
    def api(self) -> MercadoLivreClient:
        return MercadoLivreClient(self.http, self.base_url, channel=self.channel, credential=self.credential)

    @staticmethod
    def _shipment_id(order: Mapping[str, Any]) -> str:
        return text_of((order.get("shipping") or {}).get("id"))

    # --- inbound --------------------------------------------------------------------------------

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, query: Mapping[str, str]) -> None:
        """ML signs nothing: accept only notifications for this app and this seller. The body has to
        be read for that, so it is read safely (``UnreadableBody``: answered 400) before anything."""
        data = load_json(body)
        if not isinstance(data, dict):
            raise WebhookRejected(
                "Not a Mercado Livre notification.",
                code=ConnectorErrorCode.WEBHOOK_NOT_RECOGNIZED,
            )
        credentials = self.channel.credentials or {}
        app, seller = (
            text_of(credentials.get("client_id")),
            text_of(credentials.get("user_id") or self.channel.option("user_id")),
        )
        if not app or not seller:
            raise WebhookRejected(
                "The channel has no client_id/user_id to check against.",
                code=ConnectorErrorCode.WEBHOOK_SECRET_MISSING,
            )
        if text_of(data.get("application_id")) != app or text_of(data.get("user_id")) != seller:
            raise WebhookRejected(
                "The notification is for another app or seller.",
                code=ConnectorErrorCode.WEBHOOK_NOT_OURS,
            )

    def notification(self, headers: Mapping[str, str], body: bytes) -> Notification | None:
        """The notification's ``_id`` (ML re-sends a notification with the same one) and resource;
        ``None`` for topics and resources Malote does not follow. No remote call."""
        data = load_json(body)
        if not isinstance(data, dict) or not text_of(data.get("resource")) or not text_of(data.get("topic")):
            raise ValueError("an ML notification needs resource and topic")
        topic, resource = text_of(data["topic"]), text_of(data["resource"])
        parts = [part for part in resource.split("?", 1)[0].split("/") if part]
        followed = len(parts) == 2 and (
            (topic in ORDER_TOPICS and parts[0] == "orders")
            or (topic == SHIPMENT_TOPIC and parts[0] == "shipments")
        )
        claim = _claim_id(topic, parts)
        if not followed and not claim:
            return None
        subject = f"claims/{claim}" if claim else "/".join(parts)
        given = text_of(data.get("_id"))
        if given:
            return Notification(id=given, subject=subject)
        state = json.dumps(
            {k: data.get(k) for k in ("topic", "resource", "sent", "received")}, sort_keys=True
        )
        return Notification(id=hashlib.sha256(state.encode()).hexdigest()[:32], subject=subject)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[InboundChange]:
        data = load_json(body)
        if not isinstance(data, dict) or not text_of(data.get("resource")) or not text_of(data.get("topic")):
            raise ValueError("an ML notification needs resource and topic")
        topic, resource = text_of(data["topic"]), text_of(data["resource"])
        parts = [part for part in resource.split("?", 1)[0].split("/") if part]
        try:
            if topic in ORDER_TOPICS and len(parts) == 2 and parts[0] == "orders":
                return [self.fetch_order(parts[1])]
            if topic == SHIPMENT_TOPIC and len(parts) == 2 and parts[0] == "shipments":
                shipment = self.api.shipment(parts[1])
                order_id = text_of(shipment.get("order_id"))
                if not order_id:
                    return []  # a shipment of no order (e.g. a return): nothing Malote follows
                return [self._change(self.api.order(order_id), shipment)]
            claim = _claim_id(topic, parts)
            if claim:
                return self._claim_changes(claim)
        except DeliveryError as exc:
            if exc.retryable:
                raise  # the view answers 503: ML notifies again
            # Gone, not this seller's or not an id: retrying cannot help; acknowledge and move on.
            log.warning("mercadolivre %s: notification %s not followed: %s", self.channel.code, resource, exc)
            return []
        return []  # payments, items, questions, messages…: not what Malote follows

    def _change(self, order: dict[str, Any], shipment: dict[str, Any] | None) -> InboundChange:
        """The change of a single order, or — for an order of a pack — of its whole pack."""
        pack_id = pack_id_of(order)
        if pack_id:
            return self._pack_change(pack_id)
        return self._order_change(order, shipment)

    def _pack_change(self, pack_id: str) -> InboundChange:
        """One change for the whole pack: the pack, each of its orders and the shared shipment read
        now, so that reading it through any of its orders (notification, poll, fetch) gives the
        same event id — a duplicate, not a second order."""
        pack = self.api.pack(pack_id)
        ids = sorted({text_of(entry.get("id")) for entry in pack["orders"] if isinstance(entry, Mapping)})
        orders = [self.api.order(order_id) for order_id in ids if order_id]
        merged = pack_order(pack, orders)
        shipment_id = self._shipment_id(merged)
        shipment = self.api.shipment(shipment_id) if shipment_id else None
        state = json.dumps(
            {"pack": pack, "orders": orders, "shipment": shipment}, sort_keys=True, ensure_ascii=False
        ).encode()
        return self._order_change(
            merged,
            shipment,
            event_id=f"pack:{pack_id}:{hashlib.sha256(state).hexdigest()}",
            extra={
                "channel_data": {"mercadolivre_pack": pack_data(pack, orders)},
                "reports": [partial_cancel_report(pack, orders)],
            },
        )

    def _claim_changes(self, claim_id: str) -> list[InboundChange]:
        """A claim (reclamação/mediação) as a report on the Malote order its order belongs to (the
        pack's, for an order of a pack); a claim about anything but an order is not followed."""
        claim = self.api.claim(claim_id)
        if text_of(claim.get("resource")) not in ("", "order") or not text_of(claim.get("resource_id")):
            return []
        order = self.api.order(claim["resource_id"])
        reference = pack_id_of(order) or text_of(order.get("id"))
        report = claim_report(claim, reference)
        state = json.dumps(claim, sort_keys=True, ensure_ascii=False).encode()
        return [
            InboundChange(
                event_id=f"claim:{report['id']}:{hashlib.sha256(state).hexdigest()}",
                external_id=reference,
                facts={"reports": [report]},
                occurred_at=latest(text_of(claim.get("last_updated"))),
            )
        ]

    def _order_change(
        self,
        order: dict[str, Any],
        shipment: dict[str, Any] | None,
        *,
        event_id: str = "",
        extra: dict[str, Any] | None = None,
    ) -> InboundChange:
        remote = remote_status(order, shipment)
        status = self.status_in(remote)
        names = self.channel.option("shipping_method_names") or {}
        canonical = None
        if text_of(order.get("status")) in ("paid", "cancelled") and status:
            shipment_id = self._shipment_id(order)
            billing = self.api.billing(shipment_id) if shipment_id else None
            canonical = canonical_order(order, shipment, billing, self.channel.code, method_names=names)
        state = json.dumps(
            {"order": order, "shipment": shipment}, sort_keys=True, ensure_ascii=False
        ).encode()
        return InboundChange(
            event_id=event_id or f"order:{order['id']}:{hashlib.sha256(state).hexdigest()}",
            external_id=str(order["id"]),
            remote_status=remote,
            status=status,
            order=canonical,
            facts={**facts_of(order, shipment, remote, method_names=names), **(extra or {})},
            occurred_at=latest(last_updated(order), text_of((shipment or {}).get("last_updated"))),
        )

    def fetch_order(self, external_id: str) -> InboundChange:
        """The order, or the pack, of that id (no order of that id: it is a pack's)."""
        order = self.api.order_or_none(external_id)
        if order is None:
            return self._pack_change(external_id)
        if pack_id_of(order):
            return self._pack_change(pack_id_of(order))
        shipment_id = self._shipment_id(order)
        return self._order_change(order, self.api.shipment(shipment_id) if shipment_id else None)

    def _shipment_of(self, external_id: str) -> str:
        """The shipment of a Malote order's ML id: a single order's, or the one its pack shares."""
        order = self.api.order_or_none(external_id)
        if order is not None:
            return self._shipment_id(order)
        pack = self.api.pack(external_id)
        shipment_id = text_of((pack.get("shipment") or {}).get("id"))
        if shipment_id:
            return shipment_id
        first = next((e for e in pack["orders"] if isinstance(e, Mapping)), {})
        return self._shipment_id(self.api.order(first.get("id")))

    def _search(self, since: str, offset: int) -> dict[str, Any]:
        moment = parse_time(since)
        if moment is None:
            raise DeliveryError(f"{self.channel.code}: {since!r} is not an ISO 8601 time.", retryable=False)
        data = self.api.get_json(
            "/orders/search",
            what="search orders",
            params={
                "seller": self.user_id,
                # ML's own form: milliseconds and an offset (2026-11-20T14:03:00.000-03:00).
                "order.date_last_updated.from": moment.isoformat(timespec="milliseconds"),
                "sort": "date_asc",
                "offset": offset,
                "limit": PAGE_SIZE,
            },
        )
        if not isinstance(data, dict) or not isinstance(data.get("results"), list):
            raise DeliveryError(f"{self.channel.code}: the order search has no results.", retryable=True)
        return data

    def _start(self) -> str:
        explicit = self.channel.option("pull_since")
        if explicit:
            return str(explicit)
        created = getattr(self.channel, "created_at", None) or timezone.now()
        return (created - HISTORY_MARGIN).isoformat()

    def pull_changes(self, cursor: str | None) -> PullResult:
        """One page of orders changed since the cursor (JSON ``{from, offset, newest}``)."""
        try:
            position = json.loads(cursor) if cursor else {}
        except ValueError:
            position = {"from": cursor}  # a bare time set by hand: start there
        if not isinstance(position, dict):
            position = {}
        since = str(position.get("from") or self._start())
        offset = int(position.get("offset") or 0)
        newest = str(position.get("newest") or since)
        data = self._search(since, offset)
        orders = [
            order for order in data["results"] if isinstance(order, dict) and order.get("id") is not None
        ]
        changes = []
        packs_read: set[str] = set()
        for order in orders:
            pack_id = pack_id_of(order)
            if pack_id and pack_id not in packs_read:
                packs_read.add(pack_id)
                changes.append(self._pack_change(pack_id))
            elif not pack_id:
                shipment_id = self._shipment_id(order)
                changes.append(
                    self._order_change(order, self.api.shipment(shipment_id) if shipment_id else None)
                )
            stamp = parse_time(last_updated(order))
            if stamp is not None and stamp > (parse_time(newest) or stamp):
                newest = stamp.isoformat()
        total = int((data.get("paging") or {}).get("total") or 0)
        more = offset + len(orders) < total and bool(orders)
        if more:
            following = {
                "from": since,
                "offset": max(offset + len(orders) - PAGE_OVERLAP, offset + 1),
                "newest": newest,
            }
        else:
            following = {"from": newest, "offset": 0, "newest": newest}
        return PullResult(changes=changes, cursor=json.dumps(following), more=more)

    def list_orders(self, since: str, cursor: str | None = None) -> OrderListing:
        """One page of the search as one entry per Malote order: the orders of a pack listed as
        their pack. A page lists whole packs only: a pack the page ends in is left to the next
        page, which then starts at its first order (the orders of a cart are placed together, so
        they are neighbours in the date-sorted search); a page that is all one pack's reads on
        until the pack ends. So each pack is listed once, whole, wherever the pages break."""
        offset = int(cursor or 0)
        data = self._search(since, offset)
        results: list[Any] = list(data["results"])
        following = offset + len(results)
        more = following < _total(data) and bool(results)
        tail = pack_id_of(results[-1]) if more and isinstance(results[-1], dict) else ""
        if tail:
            run = _pack_run(reversed(results), tail)
            if run < len(results):
                del results[len(results) - run :]  # the next page starts at the pack's first order
                following -= run
            else:
                while more:  # the page is all this pack's: read on until it ends
                    ahead = self._search(since, following)
                    rows: list[Any] = list(ahead["results"])
                    run = _pack_run(rows, tail)
                    results += rows[:run]
                    following += run
                    more = following < _total(ahead) and bool(rows)
                    if run < len(rows):
                        break
        groups: dict[str, list[dict[str, Any]]] = {}
        for order in results:
            if not isinstance(order, dict) or order.get("id") is None:
                continue
            groups.setdefault(pack_id_of(order) or str(order["id"]), []).append(order)
        listed = []
        for external_id, members in groups.items():
            word = pack_status(members)
            listed.append(
                ListedOrder(
                    external_id=external_id,
                    remote_status=word,
                    status=self.status_in(word),
                    placed_at=min((iso_time(o.get("date_created")) or "" for o in members), default=""),
                    updated_at=max((iso_time(last_updated(o)) or "" for o in members), default=""),
                    total=str(sum((money(o.get("total_amount")) for o in members), money(0))),
                )
            )
        return OrderListing(orders=listed, cursor=str(following) if more else None, more=more)

    # --- outbound -------------------------------------------------------------------------------

    def push_invoice(self, external_id: str, snapshot: dict[str, Any], *, idempotency_key: str) -> None:
        invoice = snapshot.get("invoice") or {}
        key, xml = text_of(invoice.get("key")), text_of(invoice.get("xml"))
        if not key or not xml:
            raise DeliveryError(
                "Mercado Livre takes the NF-e only as the authorized nfeProc XML; this invoice has no XML.",
                retryable=False,
            )
        try:
            document = fiscal.parse_nfe_xml(xml)
        except fiscal.FiscalError as exc:
            raise DeliveryError(f"The invoice XML cannot be read: {exc.detail}", retryable=False) from None
        if document.key != key:
            raise DeliveryError(f"The invoice XML is NF-e {document.key}, not {key}.", retryable=False)
        if not document.is_authorized:
            raise DeliveryError(
                "Mercado Livre needs the nfeProc (the NF-e with its SEFAZ authorization); this XML has none.",
                retryable=False,
            )
        shipment_id = self._shipment_of(external_id)
        if not shipment_id:
            raise DeliveryError(
                f"Mercado Livre order {external_id} has no shipment: ML takes the NF-e on the shipment.",
                retryable=False,
            )
        number = self.api.id_of(shipment_id, "shipment")
        if self._invoice_already_there(number, key):
            return
        shipment = self.api.shipment(number)
        state = f"{text_of(shipment.get('status'))}/{text_of(shipment.get('substatus')) or '-'}"
        if state != "ready_to_ship/invoice_pending":
            if text_of(shipment.get("status")) in SHIPMENT_NOT_YET:
                raise DeliveryError(f"Shipment {number} is {state}: the NF-e is taken later.", retryable=True)
            raise DeliveryError(
                f"Shipment {number} is {state}: Mercado Livre takes the NF-e only while it is "
                "ready_to_ship/invoice_pending.",
                retryable=False,
            )
        what = f"{self.channel.code} POST invoice_data of shipment {number}"
        response = self.api.authorized(
            "POST",
            f"/shipments/{number}/invoice_data/",
            what=what,
            params={"siteId": SITE_ID},
            content=xml.encode("utf-8"),
            headers={"Content-Type": "application/xml"},
        )
        if response.is_success:
            return
        code = error_code(response)
        if code == "shipment_invoice_already_saved" and self._invoice_already_there(number, key):
            return  # a concurrent upload of the same NF-e got there first
        if code in RETRYABLE_INVOICE_ERRORS:
            raise DeliveryError(
                f"{what}: {code}", retryable=True, status=response.status_code, retry_after=30.0
            )
        if response.status_code == 400:
            raise DeliveryError(
                f"{what}: Mercado Livre refused the NF-e ({code or 'no code'}): {response.text[:200]}",
                retryable=False,
                status=400,
            )
        check_response(response, what=what)

    def _invoice_already_there(self, shipment_id: int, key: str) -> bool:
        """Whether the shipment holds this NF-e already; another NF-e there is a permanent error."""
        what = f"GET invoice_data of shipment {shipment_id}"
        response = self.api.authorized(
            "GET", f"/shipments/{shipment_id}/invoice_data", what=what, params={"siteId": SITE_ID}
        )
        if response.status_code == 404:
            return False
        check_response(response, what=f"{self.channel.code} {what}")
        try:
            there = text_of(response.json().get("fiscal_key"))
        except (ValueError, AttributeError):
            raise DeliveryError(f"{self.channel.code} {what}: unreadable answer.", retryable=True) from None
        if there and there != key:
            raise DeliveryError(
                f"Shipment {shipment_id} already has NF-e {there}; replacing it (PUT /shipment_invoice) is "
                "left to a person.",
                retryable=False,
            )
        return bool(there)

    def _me1_shipment(self, external_id: str) -> dict[str, Any] | None:
        """The order's (or pack's) shipment when the seller ships it (ME1); ``None`` for ML-managed ones."""
        shipment_id = self._shipment_of(external_id)
        if not shipment_id:
            return None
        shipment = self.api.shipment(shipment_id)
        mode = text_of((shipment.get("logistic") or {}).get("mode"))
        if mode != "me1":
            log.info(
                "mercadolivre %s: shipment %s is %s; ML reports it", self.channel.code, shipment_id, mode
            )
            return None
        return shipment

    def _seller_notification(
        self, shipment: Mapping[str, Any], status: str, body: dict[str, Any], key: str
    ) -> None:
        number = self.api.id_of(shipment.get("id"), "shipment")
        what = f"{self.channel.code} POST seller_notifications {status} of shipment {number}"
        payload = {"status": status, "substatus": None, **body}
        response = self.api.authorized(
            "POST",
            f"/shipments/{number}/seller_notifications",
            what=what,
            json=payload,
            headers={"Idempotency-Key": key},
        )
        check_response(response, what=what)

    def push_shipment(self, external_id: str, snapshot: dict[str, Any], *, idempotency_key: str) -> None:
        shipment = self._me1_shipment(external_id)
        if shipment is None or text_of(shipment.get("status")) in ("shipped", "delivered"):
            return
        facts = snapshot.get("shipment") or {}
        code = text_of(facts.get("tracking_code"))
        if not code:
            raise DeliveryError("The shipment has no tracking code to report.", retryable=False)
        service_id = self.channel.option("me1_service_id", ME1_DEFAULT_SERVICE_ID)
        number = self.api.id_of(shipment.get("id"), "shipment")
        if text_of(shipment.get("tracking_number")) != code:
            what = f"{self.channel.code} PUT shipment {number}"
            response = self.api.authorized(
                "PUT",
                f"/shipments/{number}",
                what=what,
                json={"service_id": service_id, "tracking_number": code},
                headers={"Idempotency-Key": idempotency_key},
            )
            check_response(response, what=what)
        carrier = text_of(facts.get("carrier"))
        url = text_of(facts.get("tracking_url")) or fiscal.tracking_url(carrier, code) or ""
        self._seller_notification(
            shipment,
            "shipped",
            {
                "payload": {
                    "service_id": service_id,
                    "comment": text_of(facts.get("method")),
                    "date": facts.get("shipped_at") or timezone.now().isoformat(),
                },
                "tracking_number": code,
                "tracking_url": url,
            },
            idempotency_key,
        )

    def push_delivery(self, external_id: str, snapshot: dict[str, Any], *, idempotency_key: str) -> None:
        shipment = self._me1_shipment(external_id)
        if shipment is None or text_of(shipment.get("status")) == "delivered":
            return
        facts = snapshot.get("shipment") or {}
        service_id = self.channel.option("me1_service_id", ME1_DEFAULT_SERVICE_ID)
        self._seller_notification(
            shipment,
            "delivered",
            {
                "payload": {
                    "service_id": service_id,
                    "comment": "",
                    "date": facts.get("delivered_at") or timezone.now().isoformat(),
                },
                "tracking_number": text_of(shipment.get("tracking_number"))
                or text_of(facts.get("tracking_code")),
            },
            idempotency_key,
        )

    def push_stock(self, sku: str, available: int, *, idempotency_key: str) -> None:
        """Set ``available_quantity`` of every listing (or variation) whose seller SKU is ``sku``
        to ``available`` where it differs. Listings are found with ``GET /users/{seller}/items/
        search?seller_sku=`` and read (``GET /items/{id}``) first, so a retry writes nothing. A
        listing without variations gets ``PUT /items/{id}`` ``{"available_quantity"}``; one with
        variations gets ``{"variations": [...]}`` listing **every** variation by id (ML deletes
        the ones left out) with the new quantity on the matching ones. A SKU with no listing is
        not sold there: nothing to update."""
        wanted = sku.strip()
        found = self.api.get_json(
            f"/users/{self.user_id}/items/search",
            what=f"search listings of SKU {sku}",
            params={"seller_sku": wanted},
        )
        item_ids = [text_of(i) for i in (found.get("results") or [])] if isinstance(found, dict) else []
        if not item_ids:
            log.info("mercadolivre %s lists no SKU %s; stock not pushed", self.channel.code, sku)
            return
        for item_id in item_ids:
            item = self.api.get_json(f"/items/{quote(item_id, safe='')}", what=f"GET item {item_id}")
            body = stock_change(item, wanted, available) if isinstance(item, dict) else None
            if body is None:
                continue
            response = self.api.authorized(
                "PUT", f"/items/{quote(item_id, safe='')}", what=f"PUT item {item_id} stock", json=body
            )
            check_response(response, what=f"{self.channel.code} PUT item {item_id} stock")

    def push_cancellation(self, external_id: str, snapshot: dict[str, Any], *, idempotency_key: str) -> None:
        """No seller cancel endpoint is confirmed : cancel in Mercado Livre's panel."""
        raise Unsupported


def _total(search: Mapping[str, Any]) -> int:
    """How many orders the search matches in all (``paging.total``)."""
    return int((search.get("paging") or {}).get("total") or 0)


def _pack_run(orders: Iterable[Any], pack_id: str) -> int:
    """How many of ``orders``, from the first, are orders of the pack ``pack_id``."""
    count = 0
    for order in orders:
        if not isinstance(order, Mapping) or pack_id_of(order) != pack_id:
            break
        count += 1
    return count


def _claim_id(topic: str, parts: list[str]) -> str:
    """The claim id of a ``claims`` notification (resource ``/post-purchase/v1/claims/{id}``, or
    ``/v1/claims/{id}``: assumed), ``""`` for anything else."""
    if topic != CLAIMS_TOPIC or len(parts) < 2 or parts[-2] != "claims" or not parts[-1].isdigit():
        return ""
    return parts[-1]
