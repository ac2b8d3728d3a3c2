"""``jumpseller``: a Jumpseller store (API v1) as a storefront channel.

Channel configuration: ``base_url`` is the API root (``https://api.jumpseller.com/v1``, or a fake's
``api_url``); ``credentials`` are ``login`` and ``authtoken`` (HTTP Basic on every call) and
``hooks_token`` (the key of the hook signature). Options: ``push_stock`` (routing), ``pull_after_id``
(import every order after this id; by default the poll passes over orders placed before the channel
was created, see :meth:`JumpsellerConnector.pull_changes`) and ``invoice_url_template`` (see
:meth:`JumpsellerConnector.push_invoice`).

Inbound. Hooks POST ``{"order": {…}}`` with ``Jumpseller-Event`` and ``Jumpseller-Hmac-Sha256``;
the signature is checked (constant time) before anything is read. Hooks carry no event id and no
timestamp, so the inbox key is ``"<event>:<sha256 of the body>"``: an identical repeat is a
duplicate, any real change is new (the store sends ``order_paid`` and ``order_updated`` with the
same body: two inbox rows, the second one finds the order already there). Product and customer
hooks are acknowledged and ignored. The remote status combines ``status_enum`` and
``shipment_status_enum``: a paid order whose shipment is ``in_transit``, ``delivered`` or
``failed`` reports that shipment word, any other order its payment word. An order whose remote
status maps to nothing (``abandoned`` by default: an abandoned checkout is not a sale) is not
imported; a known one only has that status recorded on its link.

Updates arrive through hooks; :meth:`pull_changes` is the import fallback for lost hooks: it reads
``GET /orders/after/{cursor}.json`` (orders with a greater id, oldest first), so it sees new
orders only, never later changes of orders it already passed. :meth:`fetch_order` reads one order.

Outbound. Every push reads the order first and sends only what differs (a repeat sends nothing,
so the store neither changes twice nor e-mails the buyer twice): ``status`` labels for the
statuses the map knows (``Paid``, ``Canceled``), ``shipment_status`` ``in_transit`` with the
tracking fields, ``delivered``; the NF-e is a ``document`` record, posted unless one with its key
exists. Stock: the product or variant whose SKU matches is found through
``/products/search.json`` and gets ``stock`` = Malote's available quantity when it differs.

Faithful to the vendor's OpenAPI file and the reference (channel-apis.md §1, ✅): Basic auth,
``Content-Type: application/json``, wrapped resources, the order fields and both status
vocabularies, the writable order fields and the ``status`` labels on PUT, ``/orders/after``,
documents (``document_type`` 1 = invoice), products/variants with ``stock``, the hook events and
the ``Jumpseller-Event`` header, the rate-limit headers.

Resting on assumptions (🟢/🟡/❓, each chosen so that being wrong is visible, not silent):

* 🟢 the signature is base64(HMAC-SHA256(raw body, hooks token)) — community code, no vendor page.
* ❓ ``created_at``/``completed_at`` read as ``YYYY-MM-DD HH:MM:SS UTC`` (the hook example's form;
  ISO 8601 is accepted too); ``completed_at`` is taken as the payment time.
* ❓ ``products[].discount`` is per unit (the line discount is ``discount × qty``); whether ``tax``
  is on top of or inside the prices is not documented — see :func:`balance_totals`.
* ❓ ``payment_method_type``/``payment_method_name`` words decide the payment method (``pix``,
  ``boleto``, card words; else ``other``); a type that is not such a word is taken as the gateway;
  ``payment_notification_id`` as the transaction id. Jumpseller does not expose installments (1).
* ❓ ``tracking_company`` is a carrier name (folded: ``Correios`` → ``correios``); without it the
  first word of ``shipping_method_name`` is used. A delivery's time is when Malote hears of it.
* ❓ ``/products/search.json?query=<sku>&fields=sku,variants`` returns the product whose SKU, or
  one of whose variants' SKU, contains the query; exact (case-insensitive) matches are then picked
  here, and every exact match gets the stock. A SKU not sold in the store is skipped.
* ❓ Jumpseller has no idempotency header; ``Idempotency-Key`` is sent for tracing only.
* A 429 without ``Retry-After`` but with ``Jumpseller-BannedByRateLimit-Reset`` waits until then.
* The document ``url`` must be a link; Malote holds no DANFE/XML URL, so it comes from the option
  ``invoice_url_template`` (``{key}``, ``{number}``, ``{series}``, ``{order}``); the default
  ``https://malote.invalid/nfe/{key}`` is a placeholder (``.invalid`` never resolves) to replace.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from django.http import HttpResponse
from django.utils import timezone

from malote import fiscal
from malote.connectors.base import (
    Connector,
    InboundChange,
    ListedOrder,
    OrderListing,
    PullResult,
    WebhookRejected,
)
from malote.connectors.registry import register
from malote.connectors.values import ZERO, balance_totals, header_value, money, parse_iso, text_of
from malote.fiscal.tracking import carrier_key
from malote.sync.errors import DeliveryError, check_response, retry_after_seconds, transport_error

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "Jumpseller-Hmac-Sha256"
EVENT_HEADER = "Jumpseller-Event"
RESET_HEADER = "Jumpseller-BannedByRateLimit-Reset"
PULL_LIMIT = 50  # the API's default page size (max 100)
LIST_LIMIT = 100  # the API's maximum page size
DEFAULT_INVOICE_URL = "https://malote.invalid/nfe/{key}"
# Clock skew between the store and Malote, and the store's whole-second times, fit in this.
HISTORY_MARGIN = timedelta(minutes=15)

STATUS_LABELS = {  # status_enum → the label PUT takes
    "abandoned": "Abandoned",
    "canceled": "Canceled",
    "pending_payment": "Pending Payment",
    "paid": "Paid",
}
STATUS_ENUMS = {label: enum for enum, label in STATUS_LABELS.items()}
# Shipment words that, on a paid order, say more than "paid".
SHIPMENT_PROGRESS = frozenset({"in_transit", "delivered", "failed"})
# Carrier key → how the store spells it in tracking_company (others are sent as Malote has them).
CARRIER_NAMES = {
    "correios": "Correios",
    "jadlog": "Jadlog",
    "totalexpress": "Total Express",
    "loggi": "Loggi",
}
CARD_WORDS = ("credit", "credito", "cartao", "card", "tarjeta")


# --- reading the store's JSON ------------------------------------------------------------------


def _fold(text: Any) -> str:
    """Lower case without accents, for matching words in free text."""
    decomposed = unicodedata.normalize("NFKD", str(text or ""))
    return "".join(char for char in decomposed.casefold() if not unicodedata.combining(char))


def parse_time(value: Any) -> datetime | None:
    """``2023-02-10 13:56:35 UTC`` (the hook example's form) or ISO 8601; naive means UTC."""
    text = text_of(value)
    if not text:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%d %H:%M:%S UTC").replace(tzinfo=UTC)
    except ValueError:
        pass
    return parse_iso(text, naive=UTC)


def remote_status(order: Mapping[str, Any]) -> str:
    """The order's status in one word: the shipment's when a paid order is on its way or done,
    else the payment status (``status_enum``, or the label when the enum is missing)."""
    status = text_of(order.get("status_enum")) or STATUS_ENUMS.get(text_of(order.get("status")), "")
    shipment = text_of(order.get("shipment_status_enum"))
    if status == "paid" and shipment in SHIPMENT_PROGRESS:
        return shipment
    return status


def payment_method(order: Mapping[str, Any]) -> str:
    """``pix``, ``boleto``, ``credit_card`` or ``other`` from the payment method's type and name."""
    words = f"{_fold(order.get('payment_method_type'))} {_fold(order.get('payment_method_name'))}"
    if "pix" in words:
        return "pix"
    if "boleto" in words:
        return "boleto"
    if any(word in words for word in CARD_WORDS):
        return "credit_card"
    return "other"


def _gateway(order: Mapping[str, Any]) -> str:
    kind = text_of(order.get("payment_method_type"))
    folded = _fold(kind).replace("_", " ")
    if not kind or any(word in folded for word in ("pix", "boleto", "manual", *CARD_WORDS)):
        return ""
    return kind[:40]


def _phone(customer: Mapping[str, Any]) -> str:
    phone = "".join(text_of(customer.get("phone")).split())
    prefix = text_of(customer.get("phone_prefix"))
    if phone and prefix and not phone.startswith("+"):
        phone = prefix + phone
    return phone[:30]


def _street_number(value: Any) -> str:
    # The OpenAPI types it as a number: 100.0 is "100"; null (S/N) stays empty.
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return text_of(value)


def address(data: Any) -> dict[str, str] | None:
    """A Jumpseller address as Malote's; ``None`` when it has no street (e.g. store pickup)."""
    if not isinstance(data, Mapping) or not text_of(data.get("address")):
        return None
    return {
        "street": text_of(data.get("address")),
        "number": _street_number(data.get("street_number")),
        "complement": text_of(data.get("complement")),
        "district": text_of(data.get("neighbourhood")),
        "city": text_of(data.get("city")) or text_of(data.get("municipality")),
        "state": text_of(data.get("region_code")),
        "postal_code": text_of(data.get("postal")),
        "country": text_of(data.get("country_code")) or "BR",
    }


def _full_name(*candidates: Any) -> str:
    for candidate in candidates:
        if isinstance(candidate, Mapping):
            name = f"{text_of(candidate.get('name'))} {text_of(candidate.get('surname'))}".strip()
        else:
            name = text_of(candidate)
        if name:
            return name
    return ""


def canonical_order(order: Mapping[str, Any], channel_code: str) -> dict[str, Any]:
    """The canonical order JSON (DESIGN.md §5) of a Jumpseller order; validation is Malote's
    (``OrderIn``): this maps, it does not judge."""
    items: list[dict[str, Any]] = []
    lines_net = ZERO
    for product in order.get("products") or []:
        qty = int(product.get("qty") or 0)
        price = money(product.get("price"))
        gross = price * qty
        line_discount = min(money(product.get("discount")) * qty, gross)
        lines_net += gross - line_discount
        # A product without SKU still needs one in Malote: the store's ids keep it traceable.
        sku = text_of(product.get("sku")) or f"jumpseller-{product.get('variant_id') or product.get('id')}"
        items.append(
            {
                "sku": sku,
                "name": text_of(product.get("name")) or sku,
                "quantity": qty,
                "unit_price": str(price),
                "discount": str(line_discount),
            }
        )
    shipping = money(order.get("shipping"))
    total = money(order.get("total"))
    tax = money(order.get("tax")) + money(order.get("shipping_tax"))
    discount = (
        money(order.get("discount"))
        + money(order.get("shipping_discount"))
        + money(order.get("gift_cards_discount"))
    )
    tax, discount = balance_totals(lines_net, shipping, tax, discount, total)

    customer = order.get("customer") or {}
    billing_raw = order.get("billing_address") or {}
    shipping_address = address(order.get("shipping_address"))
    billing = address(billing_raw) or shipping_address
    placed_at = parse_time(order.get("created_at"))
    return {
        "channel": channel_code,
        "external_id": str(order["id"]),
        "placed_at": placed_at.isoformat() if placed_at else "",
        "currency": text_of(order.get("currency")) or "BRL",
        "status": "paid" if text_of(order.get("status_enum")) == "paid" else "pending_payment",
        "customer": {
            "name": _full_name(customer.get("fullname"), billing_raw, order.get("shipping_address")),
            "email": text_of(customer.get("email")),
            "phone": _phone(customer),
            "document": text_of(billing_raw.get("taxid")),
        },
        "billing_address": billing,
        "shipping_address": shipping_address,
        "items": items,
        "shipping": {"method": text_of(order.get("shipping_method_name"))[:100], "price": str(shipping)},
        "discount": str(discount),
        "tax": str(tax),
        "total": str(total),
        "payment": {
            "method": payment_method(order),
            "gateway": _gateway(order),
            "transaction_id": text_of(order.get("payment_notification_id"))[:100],
            "installments": 1,
        },
    }


def _carrier(order: Mapping[str, Any]) -> str:
    company = text_of(order.get("tracking_company"))
    if company:
        return carrier_key(company)
    words = text_of(order.get("shipping_method_name")).split()
    return carrier_key(words[0]) if words else ""


def facts_of(order: Mapping[str, Any], remote: str) -> dict[str, Any]:
    """What the lifecycle's transitions need, from the order as the store has it now."""
    facts: dict[str, Any] = {}
    if text_of(order.get("status_enum")) == "paid":
        paid_at = parse_time(order.get("completed_at"))
        facts["payment"] = {
            "method": payment_method(order),
            "gateway": _gateway(order),
            "transaction_id": text_of(order.get("payment_notification_id"))[:100],
            "amount": str(money(order.get("total"))),
            "paid_at": paid_at.isoformat() if paid_at else None,
        }
    code = text_of(order.get("tracking_number"))
    carrier = _carrier(order)
    if code and carrier:
        url = text_of(order.get("tracking_url"))
        method = text_of(order.get("shipping_method_name")) or text_of(order.get("tracking_company"))
        # ShipIn takes only http(s) links; the carrier's own page is the fallback.
        if not url.startswith(("http://", "https://")):
            url = fiscal.tracking_url(carrier, code) or ""
        facts["shipment"] = {
            "carrier": carrier,
            "method": method[:100],
            "tracking_code": code,
            "tracking_url": url or None,
        }
    if remote == "delivered":
        facts["delivered_at"] = timezone.now().isoformat()
    return facts


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- the connector -----------------------------------------------------------------------------


@register
class JumpsellerConnector(Connector):
    kind = "jumpseller"
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

    # --- HTTP -----------------------------------------------------------------------------------

    def request(self, method: str, url: str, *, what: str, **kwargs: Any) -> httpx.Response:
        """The base contract, plus: a 429 without ``Retry-After`` waits for the store's ban reset."""
        try:
            response = self.http.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise transport_error(exc, what=what) from exc
        try:
            return check_response(response, what=what)
        except DeliveryError as exc:
            if exc.status == 429 and exc.retry_after is None:
                exc.retry_after = _reset_seconds(response.headers.get(RESET_HEADER))
            raise

    def _call(
        self,
        method: str,
        path: str,
        *,
        what: str,
        body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        idempotency_key: str = "",
    ) -> Any:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        response = self.request(
            method,
            f"{self.base_url}{path}",
            what=f"{self.channel.code} {what}",
            auth=(self.credential("login"), self.credential("authtoken")),
            headers=headers,
            params=params,
            content=None if body is None else json.dumps(body, ensure_ascii=False).encode(),
        )
        try:
            return response.json()
        except ValueError as exc:
            raise DeliveryError(
                f"{self.channel.code} {what}: the answer is not JSON ({response.text[:100]!r}).",
                retryable=True,
                status=response.status_code,
            ) from exc

    @staticmethod
    def _order_id(external_id: str) -> int:
        if not str(external_id).isdigit():
            raise DeliveryError(f"{external_id!r} is not a Jumpseller order id.", retryable=False)
        return int(external_id)

    def _get_order(self, external_id: str) -> dict[str, Any]:
        order_id = self._order_id(external_id)
        data = self._call("GET", f"/orders/{order_id}.json", what=f"GET order {order_id}")
        order = data.get("order") if isinstance(data, dict) else None
        if not isinstance(order, dict):
            raise DeliveryError(
                f"{self.channel.code}: order {order_id} came back without an order.", retryable=True
            )
        return order

    # --- inbound --------------------------------------------------------------------------------

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, query: Mapping[str, str]) -> None:
        token = text_of((self.channel.credentials or {}).get("hooks_token"))
        if not token:
            raise WebhookRejected(
                "This channel has no hooks_token to check signatures.", code="webhook_secret_missing"
            )
        signature = header_value(headers, SIGNATURE_HEADER)
        if not signature:
            raise WebhookRejected(f"Missing {SIGNATURE_HEADER} header.", code="webhook_signature_missing")
        expected = base64.b64encode(hmac.new(token.encode(), body, hashlib.sha256).digest())
        if not hmac.compare_digest(expected, signature.encode()):
            raise WebhookRejected("Signature does not match.", code="webhook_signature_invalid")

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[InboundChange]:
        data = json.loads(body)
        if not isinstance(data, dict):
            raise ValueError("a Jumpseller hook is a JSON object")
        order = data.get("order")
        if order is None:
            return []  # product_* / customer_* hooks: nothing Malote takes in from them
        if not isinstance(order, dict) or order.get("id") is None:
            raise ValueError("an order hook needs order.id")
        event = header_value(headers, EVENT_HEADER) or "order"
        return [self._change(order, event_id=f"{event}:{_sha256(body)}")]

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
        return self._change(order, event_id=f"order:{order['id']}:{_sha256(state)}")

    def acknowledge(self, results: list[str]) -> HttpResponse:
        """Jumpseller only looks for a 2xx (within ~15 s 🟡); the body is for people reading logs."""
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
        after = self._order_id(cursor or str(explicit or 0))
        created = getattr(self.channel, "created_at", None)
        history_ends = created - HISTORY_MARGIN if explicit is None and created is not None else None
        data = self._call(
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
        changes = [self._polled(order) for order in orders if not _history(order, history_ends)]
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
        data = self._call(
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
        return self._polled(self._get_order(external_id))

    # --- outbound -------------------------------------------------------------------------------

    def _update_order(
        self, external_id: str, wanted: dict[str, Any], *, what: str, idempotency_key: str
    ) -> dict[str, Any]:
        """PUT only the fields whose remote value differs from ``wanted``; returns what was sent.

        Reading first costs one GET per push and buys: no second hook, no second buyer e-mail
        (the store mails on every shipment_status change), and no late message moving a
        delivered order back to in transit.
        """
        remote = self._get_order(external_id)
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
            order_id = self._order_id(external_id)
            self._call(
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
        order_id = self._order_id(external_id)
        path = f"/orders/{order_id}/documents.json"
        existing = self._call("GET", path, what=f"GET documents of order {order_id}")
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
        self._call(
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
        found = self._call(
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
            self._call(
                "PUT",
                path,
                what=f"PUT {root} stock of {sku}",
                body={root: {"stock": available}},
                idempotency_key=idempotency_key,
            )


def _history(order: Mapping[str, Any], history_ends: datetime | None) -> bool:
    """Whether the order was placed before ``history_ends`` (never, when that is ``None``)."""
    placed = parse_time(order.get("created_at"))
    return history_ends is not None and placed is not None and placed < history_ends


def _reset_seconds(value: str | None) -> float | None:
    """``Jumpseller-BannedByRateLimit-Reset`` as seconds from now (an ISO time, an HTTP date or
    seconds; the vendor names the header but not its format)."""
    if not value:
        return None
    moment = parse_time(value)
    if moment is not None:
        return max(0.0, (moment - timezone.now()).total_seconds())
    return retry_after_seconds(value)
