"""``vtex``: a VTEX store (OMS Orders API) as a storefront or marketplace channel.

Channel configuration: ``base_url`` is the account's root, ``https://{account}.vtexcommercestable.com.br``
(or a fake's ``url``); left empty, it is built from the options ``account`` and ``environment``
(default ``vtexcommercestable``). ``credentials``: ``app_key`` and ``app_token`` (sent as
``X-VTEX-API-AppKey``/``X-VTEX-API-AppToken`` on every call) and ``hook_secret`` (see below).
Options: ``account`` (also checked against a hook's ``Origin.Account``), ``hook_secret_header``,
``feed_max_lot`` (1–10, default 10), ``send_invoice_xml`` (default true), ``invoice_url_template``
(``{key}``, ``{number}``, ``{series}``, ``{order}``; default none), ``affiliates`` (affiliate id →
marketplace name, e.g. ``{"MGZ": "Magazine Luiza"}``), ``timeout_seconds``.

Money. VTEX writes integer cents everywhere (order ``value``, ``totals[].value``, item ``price``
and ``sellingPrice``, invoice ``invoiceValue``); Malote's decimal strings are converted exactly
(:func:`from_cents`, :func:`to_cents`).

Inbound: the feed. :meth:`VtexConnector.pull_changes` reads ``GET /api/orders/feed?maxlot=N``
(feed v3: items ``{eventId, handle, domain, state, lastState, orderId, lastChange,
currentChange}``), reads each item's order (``GET /api/oms/pvt/orders/{orderId}``) and returns one
change per item, reporting the order as it is now: ``remote_status`` is the order's ``status`` and
``occurred_at`` its ``lastChange`` (the item's ``state`` only when the order cannot be read), the
order JSON and the facts come from it. Items arrive late and several per order; reporting an
item's own, possibly stale state would make Malote see a paid order "go back" to
``payment-pending`` (a divergence). An item's ``handle`` is committed (``POST /api/orders/feed``
``{"handles": [...]}``) only in :meth:`confirm_pulled`, i.e. after Malote committed the change (or
found it a duplicate): an item whose change failed is not committed and VTEX delivers it again
after the queue's visibility timeout. The feed must be configured for the app key (``POST
/api/orders/feed/config``); without one VTEX answers 404 and the poll stops with a clear,
non-retryable error. The inbox key of a workflow change is ``"<orderId>:<state>:<currentChange>"``
(times normalized to UTC), the same for a feed item and the hook of the same change, so the two
paths never take one change in twice.

Inbound: the hook. VTEX POSTs ``{Domain, OrderId, State, LastState, LastChange, CurrentChange,
Origin{Account, Key}}``, unsigned (✅ §3.3); the hook configuration's custom ``headers`` are how a
receiver knows it is VTEX. :meth:`verify_webhook` requires the header ``hook_secret_header``
(option, default ``X-Malote-Hook-Secret``) to equal the credential ``hook_secret`` (constant-time)
and, when the option ``account`` is set, ``Origin.Account`` to name it. Configure the hook with
``{"hook": {"url": "https://<malote>/hooks/<code>", "headers": {"X-Malote-Hook-Secret": "<secret>"}}}``.
The configuration ping ``{"hookConfig": "ping"}`` must be answered 200 (🟢): it is let through
without the secret (it carries nothing and changes nothing) and :meth:`parse_webhook` returns no
change for it, so the view answers ``{"received": 0, "results": []}`` and records nothing. A real
hook is turned into a change by reading the order, like a feed item (an unreachable VTEX answers
the hook 503, and VTEX retries it).

Outbound (each idempotent):

* ``preparing`` → ``POST …/start-handling`` (204). VTEX answers 409 ``OMS003`` unless the order is
  ``ready-for-handling``: the order is then read; already handling (or later) means a repeat, done;
  otherwise (e.g. still in ``window-to-cancel``) a retryable error says why.
* invoice → ``POST …/invoice`` (type ``Output``, value and item prices in cents, ``issuanceDate``,
  ``invoiceNumber``, ``invoiceKey``, the NF-e XML as ``embeddedInvoice`` unless
  ``send_invoice_xml`` is off). VTEX keys invoices by number (the same number again only issues a
  new receipt, ✅); besides, the order is read first and an Output package with this number and
  key means it is there already, nothing is sent. An order still ``ready-for-handling`` there
  (Malote may invoice straight from paid) gets start-handling first; a 409 is retryable.
* shipment → ``PATCH …/invoice/{invoiceNumber}`` with tracking number, URL, courier and dispatch
  time; skipped when the package already has this tracking number. Needs the invoice in VTEX.
* delivery → ``PUT …/invoice/{invoiceNumber}/tracking`` with ``isDelivered: true``; skipped when
  the package's ``courierStatus`` is already finished.
* cancellation → ``POST …/cancel`` ``{"reason"}``; on a refusal the order is read: already
  ``canceled`` is done; an invoiced order cannot be canceled in VTEX (non-retryable: it needs a
  return invoice there).

Status words (§3.5 ✅), consistent with the ``vtex`` preset of ``malote.channels.status_maps``
(which this map extends): in, ``order-created``/``on-order-completed``/``payment-pending`` →
pending_payment, ``payment-approved``/``window-to-cancel``/``ready-for-handling`` → paid,
``start-handling``/``handling`` → preparing, ``invoiced`` → invoiced, ``canceled`` → canceled;
words in between (``invoice``, ``cancel``, ``request-cancel``…) map to nothing and are only
recorded. Out: preparing → ``start-handling`` (the only status pushed as such), invoiced →
``invoiced`` and canceled → ``cancel`` (carried by the invoice and cancellation pushes).
:meth:`fetch_order` reads one order; :meth:`list_orders` pages ``GET /api/oms/pvt/orders`` with
``f_creationDate`` (oldest first, 100 a page) for reconciliation.

Faithful to the vendor's OpenAPI file (✅ V1): paths, methods, auth headers, ``Accept``/
``Content-Type: application/json``, cents, the feed item, commit and hook bodies, start-handling's
204/OMS003, the invoice, tracking and delivery bodies and their ``{date, orderId, receipt}``
answers, the list envelope ``{list, paging}`` and its 30-page limit, the order JSON.

Resting on assumptions (each a setting or visible when wrong):

* ❓ the shared-secret header (name and value are Malote's choice, configured in VTEX's hook
  ``headers``); ❓ the ping is sent without those headers, hence let through.
* ❓ an invoice's ``items[].price`` is the unit ``sellingPrice`` in cents (the spec says "price in
  cents"); the whole order is invoiced at once, for Malote's order total.
* ❓ ``deliveredDate`` is written ``yyyy-mm-dd hh:mm`` in São Paulo time (the reference's form).
* ❓ the SKU is the item's ``refId`` (the seller's code), else ``sellerSku``, else VTEX's SKU id;
  item discounts are ``price − sellingPrice``; the rest of ``Discounts`` is an order discount;
  Malote's total is the order's ``value``, gaps closed on the discount/tax (``_balance``).
* ❓ payment ``group`` decides the method (``instantPayment`` pix, ``bankInvoice`` boleto,
  ``creditCard`` card, else other); the transaction id is the VTEX payment transaction id; the
  payment time is ``authorizedDate``.
* VTEX has no shipped or delivered status (the order stays ``invoiced``): an ``invoiced`` order
  whose Output invoice has a tracking number (and courier) is reported as canonical ``shipped``,
  one whose ``courierStatus`` is finished as ``delivered`` (``remote_status`` stays
  ``invoiced``), so a carrier integration's delivery in VTEX reaches Malote, and VTEX repeating
  ``invoiced`` after Malote shipped never reads as going back.
* :meth:`list_orders` filters on the creation date (VTEX cannot filter by last change) and VTEX
  indexes the list with a delay of minutes; it serves at most 30 pages (3000 orders) per window.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

import httpx
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
from malote.connectors.values import CENT, ZERO, balance_totals, header_value, iso_or_none, parse_iso, text_of
from malote.fiscal.tracking import carrier_key
from malote.orders.statuses import CancelReason
from malote.sync.errors import DeliveryError

log = logging.getLogger(__name__)

APP_KEY_HEADER = "X-VTEX-API-AppKey"
APP_TOKEN_HEADER = "X-VTEX-API-AppToken"
DEFAULT_HOOK_HEADER = "X-Malote-Hook-Secret"
DEFAULT_ENVIRONMENT = "vtexcommercestable"
FEED_MAX_LOT = 10
LIST_PAGE_SIZE = 100
LIST_MAX_PAGES = 30
SAO_PAULO = ZoneInfo("America/Sao_Paulo")
PING = {"hookConfig": "ping"}

# Statuses in which start-handling was already done (a repeated push changes nothing).
HANDLING_OR_LATER = frozenset({"start-handling", "handling", "ready-for-invoicing", "invoice", "invoiced"})
# Statuses after the payment was approved (the order is imported as paid).
PAID_STATES = frozenset({"payment-approved", "window-to-cancel", "ready-for-handling", *HANDLING_OR_LATER})
PAYMENT_GROUPS = {"instantPayment": "pix", "bankInvoice": "boleto", "creditCard": "credit_card"}
COUNTRIES = {"BRA": "BR"}
# Carrier key → how VTEX's courier field spells it (others are sent as Malote has them).
COURIER_NAMES = {
    "correios": "Correios",
    "jadlog": "Jadlog",
    "totalexpress": "Total Express",
    "loggi": "Loggi",
}


# --- money and times -----------------------------------------------------------------------------


def from_cents(value: Any) -> Decimal:
    """VTEX's integer cents as reais (``11480`` → ``Decimal("114.80")``); null is zero."""
    if value is None or value == "":
        return ZERO
    try:
        return (Decimal(str(value)) / 100).quantize(CENT, rounding=ROUND_HALF_UP)
    except InvalidOperation:
        raise ValueError(f"not an amount in cents: {value!r}") from None


def to_cents(value: Any) -> int:
    """A decimal amount (``"114.80"``) as VTEX's integer cents (``11480``)."""
    return int((Decimal(str(value)) * 100).quantize(Decimal("1"), rounding=ROUND_HALF_UP))


def parse_time(value: Any, *, naive: tzinfo = UTC) -> datetime | None:
    """VTEX's ISO 8601 times (7 fraction digits, ``Z`` or an offset); a naive one is in ``naive``."""
    return parse_iso(value, naive=naive)


def _iso(value: Any) -> str:
    return iso_or_none(value, naive=UTC) or ""


def event_key(order_id: str, state: str, when: Any) -> str:
    """The inbox key of one workflow change, alike for a feed item and a hook."""
    moment = parse_time(when)
    stamp = moment.astimezone(UTC).isoformat() if moment else text_of(when)
    return f"{order_id}:{state}:{stamp}"


# --- reading the order JSON --------------------------------------------------------------------


def _totals(order: Mapping[str, Any]) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = {}
    for total in order.get("totals") or []:
        if isinstance(total, Mapping):
            totals[text_of(total.get("id"))] = from_cents(total.get("value"))
    return totals


def _address(data: Any) -> dict[str, str] | None:
    if not isinstance(data, Mapping) or not text_of(data.get("street")):
        return None
    country = text_of(data.get("country")) or "BRA"
    return {
        "street": text_of(data.get("street")),
        "number": text_of(data.get("number")),
        "complement": text_of(data.get("complement")),
        "district": text_of(data.get("neighborhood")),
        "city": text_of(data.get("city")),
        "state": text_of(data.get("state")),
        "postal_code": text_of(data.get("postalCode")),
        "country": COUNTRIES.get(country, country[:2]),
    }


def _payment(order: Mapping[str, Any]) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    """The first active transaction and its first payment (empty mappings when none)."""
    transactions = [
        t for t in (order.get("paymentData") or {}).get("transactions") or [] if isinstance(t, Mapping)
    ]
    transaction = next(
        (t for t in transactions if t.get("isActive", True)), transactions[0] if transactions else {}
    )
    payments = [p for p in transaction.get("payments") or [] if isinstance(p, Mapping)]
    return transaction, payments[0] if payments else {}


def payment_method(payment: Mapping[str, Any]) -> str:
    """``pix``, ``boleto``, ``credit_card`` or ``other`` from the payment's ``group`` (or name)."""
    method = PAYMENT_GROUPS.get(text_of(payment.get("group")))
    if method:
        return method
    name = text_of(payment.get("paymentSystemName")).casefold()
    if "pix" in name:
        return "pix"
    if "boleto" in name:
        return "boleto"
    return "other"


def _shipping_method(order: Mapping[str, Any]) -> str:
    for info in (order.get("shippingData") or {}).get("logisticsInfo") or []:
        if isinstance(info, Mapping) and text_of(info.get("selectedSla")):
            return text_of(info.get("selectedSla"))[:100]
    return ""


def _delivery_company(order: Mapping[str, Any]) -> str:
    for info in (order.get("shippingData") or {}).get("logisticsInfo") or []:
        if isinstance(info, Mapping) and text_of(info.get("deliveryCompany")):
            return text_of(info.get("deliveryCompany"))
    return ""


def is_paid(order: Mapping[str, Any], remote: str = "") -> bool:
    return bool(order.get("authorizedDate")) or (remote or text_of(order.get("status"))) in PAID_STATES


def canonical_order(
    order: Mapping[str, Any], channel_code: str, affiliates: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The canonical order JSON (DESIGN.md §5) of a VTEX order; ``OrderIn`` judges it."""
    items: list[dict[str, Any]] = []
    lines_net = ZERO
    line_discounts = ZERO
    for item in order.get("items") or []:
        qty = int(item.get("quantity") or 0)
        price = from_cents(item.get("price"))
        selling = from_cents(item.get("sellingPrice")) if item.get("sellingPrice") is not None else price
        gross = price * qty
        discount = min(max(price - selling, ZERO) * qty, gross)
        line_discounts += discount
        lines_net += gross - discount
        sku = (
            text_of(item.get("refId")) or text_of(item.get("sellerSku")) or f"vtex-{text_of(item.get('id'))}"
        )
        items.append(
            {
                "sku": sku[:60],
                "name": (text_of(item.get("name")) or sku)[:200],
                "quantity": qty,
                "unit_price": str(price),
                "discount": str(discount),
            }
        )
    totals = _totals(order)
    shipping = totals.get("Shipping", ZERO)
    tax = totals.get("Tax", ZERO)
    discount = max(-totals.get("Discounts", ZERO) - line_discounts, ZERO)
    total = from_cents(order.get("value"))
    tax, discount = balance_totals(lines_net, shipping, tax, discount, total)

    client = order.get("clientProfileData") or {}
    corporate = bool(client.get("isCorporate"))
    person = f"{text_of(client.get('firstName'))} {text_of(client.get('lastName'))}".strip()
    shipping_data = order.get("shippingData") or {}
    shipping_address = _address(shipping_data.get("address"))
    billing = _address((order.get("invoiceData") or {}).get("address")) or shipping_address
    transaction, payment = _payment(order)
    affiliate = text_of(order.get("affiliateId"))
    placed_at = parse_time(order.get("creationDate"))
    return {
        "channel": channel_code,
        "external_id": text_of(order.get("orderId")),
        "placed_at": placed_at.isoformat() if placed_at else "",
        "currency": text_of((order.get("storePreferencesData") or {}).get("currencyCode")) or "BRL",
        "status": "paid" if is_paid(order) else "pending_payment",
        "customer": {
            "name": (text_of(client.get("corporateName")) if corporate else "") or person,
            "email": text_of(client.get("email")),
            "phone": text_of(client.get("phone"))[:30],
            "document": (text_of(client.get("corporateDocument")) if corporate else "")
            or text_of(client.get("document")),
        },
        "billing_address": billing,
        "shipping_address": shipping_address,
        "items": items,
        "shipping": {"method": _shipping_method(order), "price": str(shipping)},
        "discount": str(discount),
        "tax": str(tax),
        "total": str(total),
        "payment": {
            "method": payment_method(payment),
            "gateway": "",
            "transaction_id": text_of(transaction.get("transactionId"))[:100],
            "installments": min(max(int(payment.get("installments") or 1), 1), 48),
        },
        "marketplace": (dict(affiliates or {}).get(affiliate, affiliate) if affiliate else "")[:100],
    }


def _unit_cents(item: Mapping[str, Any]) -> int:
    """An item's unit price as sold (``sellingPrice``, else ``price``), in cents."""
    value = item.get("sellingPrice")
    if value is None:
        value = item.get("price")
    return int(value or 0)


def _carrier(courier: str) -> str:
    key = carrier_key(courier)
    if "correios" in key or key in ("sedex", "pac"):
        return "correios"
    return key


def _invoice_fact(package: Mapping[str, Any]) -> dict[str, Any] | None:
    try:
        key = fiscal.parse_nfe_key(text_of(package.get("invoiceKey")))
    except fiscal.FiscalError:
        return None  # no NF-e key (a CF-e, a foreign invoice…): nothing Malote can record
    number = text_of(package.get("invoiceNumber"))
    if not (number.isdigit() and 0 < int(number) < 10**9):
        number = str(key.number)
    issued = parse_time(package.get("issuanceDate"))
    return {
        "key": key.key,
        "number": str(int(number)),
        "series": str(key.series),
        "issued_at": issued.isoformat() if issued else timezone.now().isoformat(),
        "xml": text_of(package.get("embeddedInvoice")) or None,
    }


def facts_of(order: Mapping[str, Any], remote: str) -> dict[str, Any]:
    """What the lifecycle's transitions need, from the order as VTEX has it now."""
    facts: dict[str, Any] = {}
    transaction, payment = _payment(order)
    if is_paid(order, remote):
        facts["payment"] = {
            "method": payment_method(payment),
            "transaction_id": text_of(transaction.get("transactionId"))[:100],
            "amount": str(from_cents(order.get("value"))),
            "paid_at": _iso(order.get("authorizedDate")) or None,
        }
    outputs = [
        p
        for p in (order.get("packageAttachment") or {}).get("packages") or []
        if isinstance(p, Mapping) and text_of(p.get("type") or "Output") == "Output"
    ]
    for package in reversed(outputs):
        invoice = _invoice_fact(package)
        if invoice is not None:
            facts["invoice"] = invoice
            break
    for package in reversed(outputs):
        code = text_of(package.get("trackingNumber"))
        courier = text_of(package.get("courier")) or _delivery_company(order)
        if not (code and courier):
            continue
        carrier = _carrier(courier)
        url = text_of(package.get("trackingUrl"))
        if not url.startswith(("http://", "https://")):
            url = fiscal.tracking_url(carrier, code) or ""
        shipment: dict[str, Any] = {
            "carrier": carrier,
            "method": (courier or _shipping_method(order))[:100],
            "tracking_code": code,
            "tracking_url": url or None,
        }
        dispatched = parse_time(package.get("dispatchedDate"))
        status = package.get("courierStatus") or {}
        if isinstance(status, Mapping) and status.get("finished"):
            # Naive when written as push_delivery does (``yyyy-mm-dd hh:mm``, São Paulo time).
            delivered = parse_time(status.get("deliveredDate"), naive=SAO_PAULO) or timezone.now()
            facts["delivered_at"] = delivered.isoformat()
            # Left at Malote's "now", the shipment would leave after VTEX's delivery time.
            dispatched = min(dispatched, delivered) if dispatched else delivered
        if dispatched is not None:
            shipment["shipped_at"] = dispatched.isoformat()
        facts["shipment"] = shipment
        break
    if remote == "canceled":
        facts["cancel_reason"] = "channel"
        facts["note"] = text_of(order.get("cancelReason"))[:2000]
    return facts


# --- the connector -----------------------------------------------------------------------------


@register
class VtexConnector(Connector):
    kind = "vtex"
    # The preset's words (malote.channels.status_maps "vtex"); only preparing is pushed as a status.
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

    def _call(
        self,
        method: str,
        path: str,
        *,
        what: str,
        body: Any = None,
        params: dict[str, Any] | None = None,
        idempotency_key: str = "",
    ) -> httpx.Response:
        headers = {
            APP_KEY_HEADER: self.credential("app_key"),
            APP_TOKEN_HEADER: self.credential("app_token"),
            "Accept": "application/json",
            "Content-Type": "application/json",
        }
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key  # VTEX ignores it; for tracing only
        return self.request(
            method,
            f"{self.base_url}{path}",
            what=f"{self.channel.code} {what}",
            headers=headers,
            params=params,
            content=None if body is None else json.dumps(body, ensure_ascii=False).encode(),
        )

    def _json(self, response: httpx.Response, what: str) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            raise DeliveryError(
                f"{self.channel.code} {what}: the answer is not JSON ({response.text[:100]!r}).",
                retryable=True,
                status=response.status_code,
            ) from exc

    def _get_order(self, order_id: str) -> dict[str, Any]:
        what = f"GET order {order_id}"
        order = self._json(self._call("GET", f"/api/oms/pvt/orders/{order_id}", what=what), what)
        if not isinstance(order, dict) or not order.get("orderId"):
            raise DeliveryError(
                f"{self.channel.code}: order {order_id} came back without an order.", retryable=True
            )
        return order

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
            return self._get_order(order_id)
        except DeliveryError as exc:
            if exc.status == 404:
                return None
            raise

    def pull_changes(self, cursor: str | None) -> PullResult:
        """One lot of feed items as changes; ``cursor`` is unused (the feed is a queue) and
        ``more`` says the lot was full. Handles are committed in :meth:`confirm_pulled`."""
        lot = min(max(int(self.channel.option("feed_max_lot") or FEED_MAX_LOT), 1), FEED_MAX_LOT)
        try:
            response = self._call(
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
        items = self._json(response, "read the orders feed")
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
            self._call("POST", "/api/orders/feed", what="commit feed items", body={"handles": handles})
        except DeliveryError as exc:
            if not exc.retryable:
                raise
            log.warning(
                "vtex %s: feed commit failed, the item will come again: %s", self.channel.code, exc.detail
            )

    def fetch_order(self, external_id: str) -> InboundChange:
        order = self._get_order(external_id)
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
        data = self._json(self._call("GET", "/api/oms/pvt/orders", what=what, params=params), what)
        if not isinstance(data, dict) or not isinstance(data.get("list"), list):
            raise DeliveryError(f"{self.channel.code}: the order list has no list.", retryable=True)
        orders = [
            ListedOrder(
                external_id=text_of(row.get("orderId")),
                reference=text_of(row.get("marketPlaceOrderId")),
                remote_status=text_of(row.get("status")),
                status=self.status_in(text_of(row.get("status"))),
                placed_at=_iso(row.get("creationDate")),
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
        try:
            return bool(json.loads(body) == PING)
        except ValueError:
            return False

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, query: Mapping[str, str]) -> None:
        if self._is_ping(body):
            return  # the configuration ping carries nothing and changes nothing (see the docstring)
        secret = text_of((self.channel.credentials or {}).get("hook_secret"))
        if not secret:
            raise WebhookRejected(
                "This channel has no hook_secret to check hooks.", code="webhook_secret_missing"
            )
        name = text_of(self.channel.option("hook_secret_header")) or DEFAULT_HOOK_HEADER
        presented = header_value(headers, name)
        if not presented:
            raise WebhookRejected(f"Missing {name} header.", code="webhook_signature_missing")
        if not hmac.compare_digest(presented.encode(), secret.encode()):
            raise WebhookRejected(f"{name} does not match.", code="webhook_signature_invalid")
        account = text_of(self.channel.option("account"))
        if account:
            try:
                origin = (json.loads(body).get("Origin") or {}).get("Account")
            except (ValueError, AttributeError):
                return  # unreadable: parse_webhook answers 422
            if origin is not None and text_of(origin) != account:
                raise WebhookRejected(
                    f"The hook comes from account {origin!r}.", code="webhook_origin_mismatch"
                )

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[InboundChange]:
        data = json.loads(body)
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
            self._call("POST", path, what=f"start handling {external_id}", idempotency_key=idempotency_key)
            return
        except DeliveryError as exc:
            if exc.status != 409:
                raise
            conflict = exc
        current = text_of(self._get_order(external_id).get("status"))
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
        order = self._get_order(external_id)
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
                    "price": _unit_cents(item),
                    "quantity": int(item.get("quantity") or 0),
                    "description": text_of(item.get("name")),
                }
                for item in order.get("items") or []
                if isinstance(item, Mapping)
            ],
        }
        try:
            self._call(
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
        package = self._package(self._get_order(external_id), number)
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
        self._call(
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
        self._call(
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
            self._call(
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
        current = text_of(self._get_order(external_id).get("status"))
        if current == "canceled":
            return
        raise DeliveryError(
            f"{self.channel.code}: VTEX refused to cancel order {external_id} ({current}); an invoiced "
            f"order needs a return invoice there. ({refusal.detail[:200]})",
            retryable=False,
            status=refusal.status,
        )
