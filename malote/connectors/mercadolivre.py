"""``mercadolivre``: a Mercado Livre Brasil seller account (site ``MLB``) as a marketplace channel.

Channel configuration
---------------------
``base_url`` = ``https://api.mercadolibre.com`` (a fake's ``api_url`` in tests). ``credentials``:
``client_id`` (the app's id, = ``application_id`` of notifications), ``client_secret``,
``access_token``, ``refresh_token`` and ``user_id`` (the seller; also accepted as the option
``user_id``). Options: ``pull_since`` (ISO time the poll starts from; default: the channel's
creation minus ``HISTORY_MARGIN``, so a seller's history is not imported), ``shipping_method_names``
(``"<mode>:<logistic type>"`` or ``"<mode>"`` → name, overriding ``SHIPPING_METHOD_NAMES``),
``me1_service_id`` (ME1 tracking calls, ❓ default 11), ``timeout_seconds``. Channel policies
(DESIGN.md §3): ``invoice_needs_xml`` on; deliveries come from ML for every ME2 variant (the
``delivery_from_channel_methods`` policy, or ``delivery_from_channel`` when the seller has no ME1
sales); ``invoice_waits_for_shipment`` **off**: ML needs the NF-e *before* it releases the ME2
label, so an invoice held until shipping would never ship.

Auth. Every call sends ``Authorization: Bearer <access_token>``. A 401 refreshes once through
``POST /oauth/token`` (``grant_type=refresh_token``, ``client_id``, ``client_secret``,
``refresh_token``, form-encoded) and repeats the call once; the new pair is kept **in memory
only**: for this connector's life and, in a process-wide cache keyed by channel and stored refresh
token, for later connectors of the same process (one refresh at a time; a connector whose token
was refused adopts a pair another one already got). Connectors never write to the database, so the
channel's stored credentials go stale; with ML's single-use refresh tokens (❓) another process
(or a restart) then holds a used refresh token and gets ``invalid_grant`` → a permanent
``DeliveryError`` asking to re-authorize. Persisting the pair needs a command outside connectors.

Inbound
-------
* Notifications ``{"resource", "user_id", "topic", "application_id", "attempts", "sent",
  "received"}`` are not signed (🟢). ``verify_webhook`` accepts one only when ``application_id`` is
  the channel's ``client_id`` and ``user_id`` its seller; anything else is 401. That is a filter,
  not authentication: whoever knows both ids can send one. It is harmless because the notification
  is only a hint: ``parse_webhook`` reads the resource from ML's API (``/orders/{id}``, or
  ``/shipments/{id}`` and then its order) and reports what the API says, never what the body says.
  Topics other than ``orders_v2``/``orders``/``shipments`` are acknowledged and ignored, and so is
  a resource ML answers with a permanent error (404, 403: gone or another seller's). Reading
  costs three calls (order, shipment, billing info) before the 200; ML wants a fast answer (🟡
  ~500 ms) and retries otherwise; an unreachable API answers 503, so ML retries.
* One change per order state: ``event_id`` = ``order:<id>:<sha256 of order + shipment>``, the same
  for a notification, a poll or a fetch of the same state (the inbox drops repeats).
* ``occurred_at`` is ML's own clock: the later ``last_updated`` of the order and its shipment.
* ``remote_status`` is one word: the order's status, or for a paid order the shipment's progress
  (``invoice_pending`` while the shipment waits for the NF-e, then ``ready_to_ship``, ``shipped``,
  ``delivered``, ``not_delivered``, ``shipment_cancelled``); mapped by ``DEFAULT_STATUS_IN``.
* ``order`` (the canonical JSON) is built only for paid or cancelled orders: ML hides the buyer's
  address until payment (✅ M6), and Malote needs one. An unpaid sale is recorded as
  ``unknown_order`` and imported when paid. ``marketplace`` = "Mercado Livre"; the buyer's CPF/CNPJ
  comes from ``/shipments/{id}/billing_info``; the billing address is the shipping address (ML
  gives no other); the shipping price is ``lead_time.cost`` (❓; else ``paid_amount −
  total_amount``); the total is items + shipping.
* Facts: ``payment`` (gateway ``mercadopago``, the approved payment's id, ``paid_amount``,
  ``date_approved``); ``shipment`` once shipped (carrier ``correios`` when ``tracking_method``
  names Correios, else ``mercadoenvios``; method = the shipping method name; ``date_shipped``);
  ``delivered_at`` = ``status_history.date_delivered`` (❓; else now); ``cancel_reason`` ``channel``.
* ``pull_changes``: ``GET /orders/search?seller&order.date_last_updated.from&sort=date_asc&offset&
  limit``; the cursor is JSON ``{"from", "offset", "newest"}``: the same ``from`` while paging (an
  order that changes keeps matching; ``date_asc`` sorts by creation so new orders append at the end),
  the next page starts ``PAGE_OVERLAP`` orders back (an order leaving the result set cannot make
  the poll skip one), and a finished sweep restarts from the newest ``last_updated`` seen. Seller
  searches leave ``cancelled`` orders out (✅ M2): cancellations arrive by notification or
  :meth:`fetch_order` only.
* ``list_orders(since, cursor)``: the same search, one page, order statuses only (no shipment reads).

Outbound
--------
* ``push_invoice``: ML Brazil takes the NF-e only as the authorized ``nfeProc`` XML (✅ M3) on the
  order's shipment: ``POST /shipments/{id}/invoice_data/?siteId=MLB`` with ``Content-Type:
  application/xml``. Without XML in the snapshot, with a bare ``NFe``, or with an XML of another
  key it raises a permanent ``DeliveryError`` (the routing holds the invoice until the XML exists).
  It reads ``GET …/invoice_data`` first: the same key there is success without a second upload (a
  retry after a lost answer); another key is a permanent error (replacing is a person's call).
  The shipment must be ``ready_to_ship``/``invoice_pending``; ``pending``/``handling`` is retried
  later (the shipment is not there yet), any other state is a permanent error naming it. ML's
  refusals (400 with ``error_code``) are permanent and quote the code;
  ``shipment_already_being_processed`` is retried.
* ``push_shipment``/``push_delivery`` only for ME1 (the seller ships, ✅ M5): ``PUT /shipments/{id}``
  with the tracking number, then ``POST /shipments/{id}/seller_notifications`` ``shipped`` or
  ``delivered``, each skipped when the shipment already says so. ME2/custom shipments are ML's (or
  nobody's) to report: nothing is sent. ``service_id`` is the option ``me1_service_id`` (❓ 11).
* ``push_status``: ML takes no status writes; ``maps_status`` says so, so routing sends none.
* ``push_stock`` (channel option ``push_stock``): ``GET /users/{seller}/items/search?seller_sku=``,
  ``GET /items/{id}``, then ``PUT /items/{id}`` ``{"available_quantity"}`` or, for a listing with
  variations, ``{"variations": [{"id", "available_quantity"?}, …]}`` naming every variation (ML
  deletes the ones left out); skipped where the quantity already is the one pushed. Not in
  ``channel-apis.md``: the paths and bodies are the public items API's (❓ assumed), the seller
  SKU is ``seller_custom_field`` or the ``SELLER_SKU`` attribute (❓). A SKU a listing holds on
  the item while it has variations sets every variation (the item's stock is their sum).
* ``push_cancellation`` raises ``Unsupported``: no seller cancel endpoint is confirmed (§4.2 ❓);
  ML orders are cancelled by the buyer or ML, and the seller does it in ML's panel.

Confirmed (✅/🟢 in ``channel-apis.md`` §4): base URL, Bearer auth, ``x-format-new: true`` on
shipment reads, the search parameters and envelope, order and shipment fields used here, the order
statuses, shipment statuses ``pending/ready_to_ship/shipped/delivered/not_delivered``, the substatus
``invoice_pending``, the invoice upload/read and its error codes, ME1 calls, the notification body.
Assumed (❓): the OAuth exchange details, ``handling``/``cancelled`` shipment statuses, ``invalid``
order status, ``last_updated``, ``lead_time.cost``, ``status_history``, ``order_id`` on shipments,
``payment_type`` words, the error body shape, the shipping method names below.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import httpx
from django.utils import timezone

from malote import fiscal
from malote.connectors.base import (
    Connector,
    InboundChange,
    ListedOrder,
    OrderListing,
    PullResult,
    Unsupported,
    WebhookRejected,
)
from malote.connectors.registry import register
from malote.connectors.values import ZERO, iso_or_none, money, parse_iso, text_of
from malote.fiscal.tracking import carrier_key
from malote.sync.errors import DeliveryError, check_response, transport_error

log = logging.getLogger(__name__)

MARKETPLACE = "Mercado Livre"
GATEWAY = "mercadopago"
SITE_ID = "MLB"
PAGE_SIZE = 50
PAGE_OVERLAP = 5
HISTORY_MARGIN = timedelta(minutes=15)
ORDER_TOPICS = frozenset({"orders_v2", "orders"})
SHIPMENT_TOPIC = "shipments"
# ❓ Names of ML's shipping services as Malote shows them; "<mode>:<logistic type>" first, then "<mode>".
SHIPPING_METHOD_NAMES: dict[str, str] = {
    "me2:cross_docking": "Mercado Envios Coleta",
    "me2:self_service": "Mercado Envios Flex",
    "me2:fulfillment": "Mercado Envios Full",
    "me2": "Mercado Envios 2",
    "me1": "Mercado Envios 1",
    "custom": "Envio próprio",
}
# Shipment progress words of a paid order (remote_status) by ML shipment status.
SHIPMENT_WORDS = {
    "ready_to_ship": "ready_to_ship",
    "shipped": "shipped",
    "delivered": "delivered",
    "not_delivered": "not_delivered",
    "cancelled": "shipment_cancelled",
}
DEFAULT_STATUS_IN: dict[str, str] = {
    # order statuses (§4.4 ✅; invalid ❓)
    "confirmed": "pending_payment",
    "payment_required": "pending_payment",
    "payment_in_process": "payment_review",
    "partially_paid": "payment_review",
    "paid": "paid",
    "partially_refunded": "",  # still a sale; the refund is the operator's to look at
    "pending_cancel": "",  # wait for "cancelled"
    "cancelled": "canceled",
    "invalid": "canceled",
    # a paid order's shipment progress
    "invoice_pending": "paid",
    "ready_to_ship": "ready_to_ship",
    "shipped": "shipped",
    "delivered": "delivered",
    "not_delivered": "delivery_failed",
    "shipment_cancelled": "",  # the order's own status says whether the sale is cancelled
}
# Canonical → the word ML shows for it (for comparisons; ML takes no status writes).
DEFAULT_STATUS_OUT: dict[str, str] = {
    "pending_payment": "payment_required",
    "payment_review": "payment_in_process",
    "paid": "paid",
    "ready_to_ship": "ready_to_ship",
    "shipped": "shipped",
    "delivered": "delivered",
    "delivery_failed": "not_delivered",
    "canceled": "cancelled",
}
PAYMENT_METHODS = {"pix": "pix", "bank_transfer": "pix", "ticket": "boleto", "credit_card": "credit_card"}
# Shipment states where the NF-e cannot be taken yet but will be (the shipment is being prepared).
SHIPMENT_NOT_YET = frozenset({"pending", "handling"})
RETRYABLE_INVOICE_ERRORS = frozenset({"shipment_already_being_processed"})
ME1_DEFAULT_SERVICE_ID = 11

# (channel code, stored refresh token) → (access token, refresh token) obtained by a refresh.
_token_lock = threading.Lock()
_refresh_lock = threading.Lock()
_refreshed_tokens: dict[tuple[str, str], tuple[str, str]] = {}


def clear_token_cache() -> None:
    """Forget every refreshed token pair (tests)."""
    with _token_lock:
        _refreshed_tokens.clear()


# --- reading ML's JSON -------------------------------------------------------------------------


def parse_time(value: Any) -> datetime | None:
    """ML's ISO 8601 times (``2024-05-02T10:31:00.000-04:00``); naive values are UTC."""
    return parse_iso(value, naive=UTC)


def _iso(value: Any) -> str | None:
    return iso_or_none(value, naive=UTC)


def last_updated(order: Mapping[str, Any]) -> str:
    return text_of(order.get("last_updated")) or text_of(order.get("date_last_updated"))


def _latest(*stamps: str) -> str:
    """The latest of ML's own times (ISO 8601), for ``occurred_at``; now when there is none."""
    moments = [moment for moment in map(parse_time, stamps) if moment is not None]
    return max(moments).isoformat() if moments else timezone.now().isoformat()


def remote_status(order: Mapping[str, Any], shipment: Mapping[str, Any] | None) -> str:
    """The order's status, or for a paid order its shipment's progress (see the module doc)."""
    status = text_of(order.get("status"))
    if status != "paid" or not shipment:
        return status
    shipment_status = text_of(shipment.get("status"))
    if shipment_status == "ready_to_ship" and text_of(shipment.get("substatus")) == "invoice_pending":
        return "invoice_pending"
    return SHIPMENT_WORDS.get(shipment_status, status)


def shipping_method(shipment: Mapping[str, Any] | None, overrides: Mapping[str, str] | None = None) -> str:
    if not shipment:
        return ""
    logistic = shipment.get("logistic") or {}
    mode, kind = text_of(logistic.get("mode")), text_of(logistic.get("type"))
    names = {**SHIPPING_METHOD_NAMES, **(overrides or {})}
    return names.get(f"{mode}:{kind}") or names.get(mode) or MARKETPLACE


def _approved_payment(order: Mapping[str, Any]) -> Mapping[str, Any]:
    payments = [p for p in order.get("payments") or [] if isinstance(p, Mapping)]
    return next((p for p in payments if p.get("status") == "approved"), payments[0] if payments else {})


def payment_method(payment: Mapping[str, Any]) -> str:
    if text_of(payment.get("payment_method_id")) == "pix":
        return "pix"
    return PAYMENT_METHODS.get(text_of(payment.get("payment_type")), "other")


def address(shipment: Mapping[str, Any] | None) -> dict[str, str] | None:
    """The shipment's destination as Malote's address; ``None`` when ML shows none (unpaid)."""
    destination = (shipment or {}).get("destination") or {}
    data = destination.get("shipping_address") or {}
    street = text_of(data.get("street_name")) or text_of(data.get("address_line"))
    city = text_of((data.get("city") or {}).get("name"))
    if not street or not city:
        return None
    state = data.get("state") or {}
    uf = text_of(state.get("id")).upper().removeprefix("BR-") or text_of(state.get("name"))
    country = data.get("country") or {}
    return {
        "street": street,
        "number": text_of(data.get("street_number")),
        "complement": text_of(data.get("comment"))[:100],
        "district": text_of((data.get("neighborhood") or {}).get("name")),
        "city": city,
        "state": uf,
        "postal_code": text_of(data.get("zip_code")),
        "country": text_of(country.get("id") if isinstance(country, Mapping) else country) or "BR",
    }


def shipping_price(order: Mapping[str, Any], shipment: Mapping[str, Any] | None) -> Decimal:
    lead_time = (shipment or {}).get("lead_time") or {}
    if lead_time.get("cost") is not None:
        return money(lead_time.get("cost"))
    return max(money(order.get("paid_amount")) - money(order.get("total_amount")), ZERO)


def canonical_order(
    order: Mapping[str, Any],
    shipment: Mapping[str, Any] | None,
    billing: Mapping[str, Any] | None,
    channel_code: str,
    *,
    method_names: Mapping[str, str] | None = None,
) -> dict[str, Any] | None:
    """The canonical order JSON (DESIGN.md §5); ``None`` when ML does not show an address yet."""
    destination = address(shipment)
    if destination is None:
        return None
    items: list[dict[str, Any]] = []
    subtotal = ZERO
    for line in order.get("order_items") or []:
        item = line.get("item") or {}
        quantity = int(line.get("quantity") or 0)
        price = money(line.get("unit_price"))
        subtotal += price * quantity
        sku = text_of(item.get("seller_sku")) or text_of(item.get("id"))
        items.append(
            {
                "sku": sku[:60],
                "name": (text_of(item.get("title")) or sku)[:200],
                "quantity": quantity,
                "unit_price": str(price),
                "discount": "0.00",
            }
        )
    freight = shipping_price(order, shipment)
    buyer = order.get("buyer") or {}
    receiver = (shipment or {}).get("destination") or {}
    name = f"{text_of(buyer.get('first_name'))} {text_of(buyer.get('last_name'))}".strip()
    document = ((billing or {}).get("receiver") or {}).get("document") or {}
    payment = _approved_payment(order)
    placed_at = parse_time(order.get("date_created"))
    return {
        "channel": channel_code,
        "external_id": str(order["id"]),
        "placed_at": placed_at.isoformat() if placed_at else "",
        "currency": text_of(order.get("currency_id")) or "BRL",
        "status": "paid" if text_of(order.get("status")) == "paid" else "pending_payment",
        "customer": {
            "name": (name or text_of(receiver.get("receiver_name")) or text_of(buyer.get("nickname")))[:200],
            "email": "",  # ML does not give the buyer's e-mail
            "phone": text_of(receiver.get("receiver_phone"))[:30],
            "document": text_of(document.get("value")),
        },
        "billing_address": destination,
        "shipping_address": destination,
        "items": items,
        "shipping": {"method": shipping_method(shipment, method_names)[:100], "price": str(freight)},
        "discount": "0.00",
        "tax": "0.00",
        "total": str(subtotal + freight),
        "payment": {
            "method": payment_method(payment),
            "gateway": GATEWAY,
            "transaction_id": text_of(payment.get("id"))[:100],
            "installments": max(int(payment.get("installments") or 1), 1),
        },
        "marketplace": MARKETPLACE,
    }


def facts_of(
    order: Mapping[str, Any],
    shipment: Mapping[str, Any] | None,
    remote: str,
    *,
    method_names: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """What the lifecycle's transitions need, from the order and shipment as ML has them now."""
    facts: dict[str, Any] = {}
    status = text_of(order.get("status"))
    if status == "paid":
        payment = _approved_payment(order)
        facts["payment"] = {
            "method": payment_method(payment),
            "gateway": GATEWAY,
            "transaction_id": text_of(payment.get("id"))[:100],
            "amount": str(money(order.get("paid_amount")) or money(order.get("total_amount"))),
            "paid_at": _iso(payment.get("date_approved")),
        }
    if status in ("cancelled", "invalid"):
        detail = order.get("status_detail")
        why = text_of(detail.get("code") if isinstance(detail, Mapping) else detail)
        facts["cancel_reason"] = "channel"
        facts["note"] = f"Mercado Livre: order {status}{f' ({why})' if why else ''}"
    shipment = shipment or {}
    history = shipment.get("status_history") or {}
    code = text_of(shipment.get("tracking_number"))
    if code and text_of(shipment.get("status")) in ("shipped", "delivered", "not_delivered"):
        tracking_method = text_of(shipment.get("tracking_method"))
        carrier = "correios" if "correios" in carrier_key(tracking_method) else "mercadoenvios"
        url = text_of(shipment.get("tracking_url"))
        if not url.startswith(("http://", "https://")):
            url = fiscal.tracking_url(carrier, code) or ""
        facts["shipment"] = {
            "carrier": carrier,
            "method": shipping_method(shipment, method_names)[:100],
            "tracking_code": code,
            "tracking_url": url or None,
            "shipped_at": _iso(history.get("date_shipped")),
        }
    if remote == "delivered":
        facts["delivered_at"] = _iso(history.get("date_delivered")) or timezone.now().isoformat()
    if remote == "not_delivered":
        detail = text_of(shipment.get("substatus")) or "no detail"
        facts["problem"] = f"Mercado Livre: not delivered ({detail})"
    return facts


def _field(data: Any, name: str) -> str:
    return text_of(data.get(name)) if isinstance(data, Mapping) else ""


def _error_code(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, Mapping):
        return ""
    code = _field(body, "error_code")
    for cause in body.get("cause") or []:
        code = code or _field(cause, "code")
    return code or _field(body, "error")


# --- the connector -----------------------------------------------------------------------------


def _skus(listing: Mapping[str, Any]) -> set[str]:
    """Seller SKUs of a listing or variation: ``seller_custom_field`` and the ``SELLER_SKU`` attribute."""
    skus = {text_of(listing.get("seller_custom_field"))}
    skus |= {
        text_of(a.get("value_name"))
        for a in listing.get("attributes") or []
        if isinstance(a, Mapping) and a.get("id") == "SELLER_SKU"
    }
    return skus - {""}


def _stock_change(item: Mapping[str, Any], sku: str, available: int) -> dict[str, Any] | None:
    """The ``PUT /items/{id}`` body that sets ``sku``'s quantity, or None when nothing differs."""
    variations = [v for v in item.get("variations") or [] if isinstance(v, Mapping)]
    if not variations:
        if sku not in _skus(item) or item.get("available_quantity") == available:
            return None
        return {"available_quantity": available}
    matching = [v for v in variations if sku in _skus(v)] or (variations if sku in _skus(item) else [])
    if all(v.get("available_quantity") == available for v in matching):
        return None
    targets = {id(v) for v in matching}
    return {
        "variations": [
            {"id": v.get("id"), "available_quantity": available} if id(v) in targets else {"id": v.get("id")}
            for v in variations
        ]
    }


@register
class MercadoLivreConnector(Connector):
    kind = "mercadolivre"
    default_status_in = DEFAULT_STATUS_IN
    default_status_out = DEFAULT_STATUS_OUT

    def __init__(self, channel: Any, *, http: httpx.Client | None = None) -> None:
        super().__init__(channel, http=http)
        self._access_token: str | None = None
        self._refresh_token: str | None = None

    @classmethod
    def maps_status(cls, channel: Any, status: str) -> bool:
        """ML takes no order-status writes: there is never a plain status to push."""
        return False

    # --- auth and HTTP --------------------------------------------------------------------------

    @property
    def user_id(self) -> str:
        value = (self.channel.credentials or {}).get("user_id") or self.channel.option("user_id")
        if not value:
            raise DeliveryError(f"Channel {self.channel.code} has no user_id (the seller).", retryable=False)
        return str(value)

    def _tokens(self) -> tuple[str, str]:
        if self._access_token is None:
            stored_refresh = text_of((self.channel.credentials or {}).get("refresh_token"))
            with _token_lock:
                cached = _refreshed_tokens.get((self.channel.code, stored_refresh))
            self._access_token, self._refresh_token = cached or (
                self.credential("access_token"),
                stored_refresh,
            )
        return self._access_token, self._refresh_token or ""

    def _refresh(self) -> None:
        """Get a new token pair; one refresh at a time per process, and a pair another connector
        got meanwhile is adopted instead of spending the (single-use ❓) refresh token again."""
        with _refresh_lock:
            refused, refresh = self._tokens()
            stored_refresh = text_of((self.channel.credentials or {}).get("refresh_token"))
            with _token_lock:
                cached = _refreshed_tokens.get((self.channel.code, stored_refresh))
            if cached is not None and cached[0] != refused:
                self._access_token, self._refresh_token = cached
                return
            if not refresh:
                raise DeliveryError(
                    f"{self.channel.code}: token refused and no refresh_token.", retryable=False
                )
            self._exchange(refresh, stored_refresh)

    def _exchange(self, refresh: str, stored_refresh: str) -> None:
        what = f"{self.channel.code} POST /oauth/token"
        try:
            response = self.http.post(
                f"{self.base_url}/oauth/token",
                data={
                    "grant_type": "refresh_token",
                    "client_id": self.credential("client_id"),
                    "client_secret": self.credential("client_secret"),
                    "refresh_token": refresh,
                },
                headers={"Accept": "application/json"},
            )
        except httpx.HTTPError as exc:
            raise transport_error(exc, what=what) from exc
        if response.status_code in (400, 401, 403):
            raise DeliveryError(
                f"{what}: Mercado Livre refused the refresh token "
                f"({_error_code(response) or response.status_code}); authorize the app again and store "
                "the new tokens in the channel.",
                retryable=False,
                status=response.status_code,
            )
        check_response(response, what=what)
        try:
            data = response.json()
            access, new_refresh = str(data["access_token"]), str(data.get("refresh_token") or refresh)
        except (ValueError, KeyError, TypeError):
            raise DeliveryError(f"{what}: the answer has no access_token.", retryable=True) from None
        with _token_lock:
            _refreshed_tokens[(self.channel.code, stored_refresh)] = (access, new_refresh)
        self._access_token, self._refresh_token = access, new_refresh
        log.info("mercadolivre %s: access token refreshed (kept in memory only)", self.channel.code)

    def _send(self, method: str, path: str, *, what: str, **kwargs: Any) -> httpx.Response:
        """One call with the bearer token; a 401 refreshes the token once and repeats the call."""
        headers = dict(kwargs.pop("headers", None) or {})
        headers.setdefault("Accept", "application/json")
        url = f"{self.base_url}{path}"
        label = f"{self.channel.code} {what}"
        for attempt in (1, 2):
            headers["Authorization"] = f"Bearer {self._tokens()[0]}"
            try:
                response = self.http.request(method, url, headers=headers, **kwargs)
            except httpx.HTTPError as exc:
                raise transport_error(exc, what=label) from exc
            if response.status_code == 401 and attempt == 1:
                self._refresh()
                continue
            return response
        raise AssertionError("unreachable")

    def _get_json(
        self, path: str, *, what: str, params: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> Any:
        label = f"{self.channel.code} {what}"
        response = check_response(self._send("GET", path, what=what, params=params, **kwargs), what=label)
        try:
            return response.json()
        except ValueError as exc:
            raise DeliveryError(
                f"{self.channel.code} {what}: the answer is not JSON.", retryable=True
            ) from exc

    @staticmethod
    def _id(value: Any, what: str) -> int:
        text = text_of(value)
        if not text.isdigit():
            raise DeliveryError(f"{text!r} is not a Mercado Livre {what} id.", retryable=False)
        return int(text)

    def _order(self, order_id: Any) -> dict[str, Any]:
        number = self._id(order_id, "order")
        data = self._get_json(f"/orders/{number}", what=f"GET order {number}")
        if not isinstance(data, dict) or data.get("id") is None:
            raise DeliveryError(f"{self.channel.code}: order {number} came back empty.", retryable=True)
        return data

    def _shipment(self, shipment_id: Any) -> dict[str, Any]:
        number = self._id(shipment_id, "shipment")
        data = self._get_json(
            f"/shipments/{number}", what=f"GET shipment {number}", headers={"x-format-new": "true"}
        )
        if not isinstance(data, dict):
            raise DeliveryError(f"{self.channel.code}: shipment {number} came back empty.", retryable=True)
        return data

    def _billing(self, shipment_id: Any) -> dict[str, Any] | None:
        number = self._id(shipment_id, "shipment")
        response = self._send("GET", f"/shipments/{number}/billing_info", what=f"GET billing_info {number}")
        if response.status_code == 404:
            return None
        check_response(response, what=f"{self.channel.code} GET billing_info {number}")
        try:
            data = response.json()
        except ValueError:
            raise DeliveryError(
                f"{self.channel.code}: billing_info {number} is not JSON.", retryable=True
            ) from None
        return data if isinstance(data, dict) else None

    @staticmethod
    def _shipment_id(order: Mapping[str, Any]) -> str:
        return text_of((order.get("shipping") or {}).get("id"))

    # --- inbound --------------------------------------------------------------------------------

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, query: Mapping[str, str]) -> None:
        """ML signs nothing: accept only notifications for this app and this seller (see module doc)."""
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise WebhookRejected(
                "Not a Mercado Livre notification.", code="webhook_not_recognized"
            ) from None
        if not isinstance(data, dict):
            raise WebhookRejected("Not a Mercado Livre notification.", code="webhook_not_recognized")
        credentials = self.channel.credentials or {}
        app, seller = (
            text_of(credentials.get("client_id")),
            text_of(credentials.get("user_id") or self.channel.option("user_id")),
        )
        if not app or not seller:
            raise WebhookRejected(
                "The channel has no client_id/user_id to check against.", code="webhook_secret_missing"
            )
        if text_of(data.get("application_id")) != app or text_of(data.get("user_id")) != seller:
            raise WebhookRejected("The notification is for another app or seller.", code="webhook_not_ours")

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[InboundChange]:
        data = json.loads(body)
        if not isinstance(data, dict) or not text_of(data.get("resource")) or not text_of(data.get("topic")):
            raise ValueError("an ML notification needs resource and topic")
        topic, resource = text_of(data["topic"]), text_of(data["resource"])
        parts = [part for part in resource.split("?", 1)[0].split("/") if part]
        try:
            if topic in ORDER_TOPICS and len(parts) == 2 and parts[0] == "orders":
                return [self.fetch_order(parts[1])]
            if topic == SHIPMENT_TOPIC and len(parts) == 2 and parts[0] == "shipments":
                shipment = self._shipment(parts[1])
                order_id = text_of(shipment.get("order_id"))
                if not order_id:
                    return []  # a shipment of no order (e.g. a return): nothing Malote follows
                return [self._change(self._order(order_id), shipment)]
        except DeliveryError as exc:
            if exc.retryable:
                raise  # the view answers 503: ML notifies again
            # Gone, not this seller's or not an id: retrying cannot help; acknowledge and move on.
            log.warning("mercadolivre %s: notification %s not followed: %s", self.channel.code, resource, exc)
            return []
        return []  # payments, items, questions, messages…: not what Malote follows

    def _change(self, order: dict[str, Any], shipment: dict[str, Any] | None) -> InboundChange:
        remote = remote_status(order, shipment)
        status = self.status_in(remote)
        names = self.channel.option("shipping_method_names") or {}
        canonical = None
        if text_of(order.get("status")) in ("paid", "cancelled") and status:
            shipment_id = self._shipment_id(order)
            billing = self._billing(shipment_id) if shipment_id else None
            canonical = canonical_order(order, shipment, billing, self.channel.code, method_names=names)
        state = json.dumps(
            {"order": order, "shipment": shipment}, sort_keys=True, ensure_ascii=False
        ).encode()
        return InboundChange(
            event_id=f"order:{order['id']}:{hashlib.sha256(state).hexdigest()}",
            external_id=str(order["id"]),
            remote_status=remote,
            status=status,
            order=canonical,
            facts=facts_of(order, shipment, remote, method_names=names),
            occurred_at=_latest(last_updated(order), text_of((shipment or {}).get("last_updated"))),
        )

    def fetch_order(self, external_id: str) -> InboundChange:
        order = self._order(external_id)
        shipment_id = self._shipment_id(order)
        return self._change(order, self._shipment(shipment_id) if shipment_id else None)

    def _search(self, since: str, offset: int) -> dict[str, Any]:
        moment = parse_time(since)
        if moment is None:
            raise DeliveryError(f"{self.channel.code}: {since!r} is not an ISO 8601 time.", retryable=False)
        data = self._get_json(
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
        """One page of orders changed since the cursor (see the module doc for the cursor)."""
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
        for order in orders:
            shipment_id = self._shipment_id(order)
            changes.append(self._change(order, self._shipment(shipment_id) if shipment_id else None))
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
        offset = int(cursor or 0)
        data = self._search(since, offset)
        listed = []
        for order in data["results"]:
            if not isinstance(order, dict) or order.get("id") is None:
                continue
            word = text_of(order.get("status"))
            listed.append(
                ListedOrder(
                    external_id=str(order["id"]),
                    remote_status=word,
                    status=self.status_in(word),
                    placed_at=_iso(order.get("date_created")) or "",
                    updated_at=_iso(last_updated(order)) or "",
                    total=str(money(order.get("total_amount"))),
                )
            )
        following = offset + len(data["results"])
        more = following < int((data.get("paging") or {}).get("total") or 0) and bool(data["results"])
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
        order = self._order(external_id)
        shipment_id = self._shipment_id(order)
        if not shipment_id:
            raise DeliveryError(
                f"Mercado Livre order {external_id} has no shipment: ML takes the NF-e on the shipment.",
                retryable=False,
            )
        number = self._id(shipment_id, "shipment")
        if self._invoice_already_there(number, key):
            return
        shipment = self._shipment(number)
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
        response = self._send(
            "POST",
            f"/shipments/{number}/invoice_data/",
            what=what,
            params={"siteId": SITE_ID},
            content=xml.encode("utf-8"),
            headers={"Content-Type": "application/xml"},
        )
        if response.is_success:
            return
        code = _error_code(response)
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
        response = self._send(
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
        """The order's shipment when the seller ships it (ME1); ``None`` for ML-managed ones."""
        order = self._order(external_id)
        shipment_id = self._shipment_id(order)
        if not shipment_id:
            return None
        shipment = self._shipment(shipment_id)
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
        number = self._id(shipment.get("id"), "shipment")
        what = f"{self.channel.code} POST seller_notifications {status} of shipment {number}"
        payload = {"status": status, "substatus": None, **body}
        response = self._send(
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
        number = self._id(shipment.get("id"), "shipment")
        if text_of(shipment.get("tracking_number")) != code:
            what = f"{self.channel.code} PUT shipment {number}"
            response = self._send(
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
        found = self._get_json(
            f"/users/{self.user_id}/items/search",
            what=f"search listings of SKU {sku}",
            params={"seller_sku": wanted},
        )
        item_ids = [text_of(i) for i in (found.get("results") or [])] if isinstance(found, dict) else []
        if not item_ids:
            log.info("mercadolivre %s lists no SKU %s; stock not pushed", self.channel.code, sku)
            return
        for item_id in item_ids:
            item = self._get_json(f"/items/{quote(item_id, safe='')}", what=f"GET item {item_id}")
            body = _stock_change(item, wanted, available) if isinstance(item, dict) else None
            if body is None:
                continue
            response = self._send(
                "PUT", f"/items/{quote(item_id, safe='')}", what=f"PUT item {item_id} stock", json=body
            )
            check_response(response, what=f"{self.channel.code} PUT item {item_id} stock")

    def push_cancellation(self, external_id: str, snapshot: dict[str, Any], *, idempotency_key: str) -> None:
        """No seller cancel endpoint is confirmed (§4.2 ❓): cancel in Mercado Livre's panel."""
        raise Unsupported
