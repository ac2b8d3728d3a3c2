"""The one connector interface: what Malote asks of any external system.

A connector is a provider class bound to one ``Channel``. Inbound, it verifies and parses webhooks
and pulls changes since a cursor; outbound, it pushes an order snapshot's facts. Every remote call
goes through ``self.http`` (an ``httpx.Client`` with a timeout) and raises
``malote.sync.errors.DeliveryError`` on failure, classified retryable or not. A method a system
does not support raises ``Unsupported`` and the caller skips it.

Snapshots are plain dicts built by ``malote.channels.snapshots.order_snapshot`` (money as decimal
strings, times ISO 8601): the connector never touches Django models, so it can be exercised against
a fake server without a database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import httpx
from django.http import HttpResponse, JsonResponse

from malote.sync.errors import DeliveryError, check_response, transport_error

DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


class Unsupported(Exception):
    """The system has no such operation (e.g. a gateway has no shipments)."""


class WebhookRejected(Exception):
    """An inbound request that must not be taken in (bad signature, stale timestamp…): 401."""

    def __init__(self, detail: str, *, code: str = "webhook_signature_invalid") -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code


@dataclass(frozen=True)
class InboundChange:
    """One change reported by a channel, in canonical terms.

    ``event_id`` is unique per change in that channel (the inbox de-duplicates on it). ``external_id``
    is the order's id there. ``remote_status`` is the system's own word; ``status`` its canonical
    mapping (or ``""`` when the map has none). ``order`` is the canonical order JSON (DESIGN.md §5)
    when the change carries enough to import the order. ``facts`` hold what transitions need:
    ``payment`` {gateway, transaction_id, amount, paid_at}, ``invoice`` {key, number, series,
    issued_at, xml}, ``shipment`` {carrier, method, tracking_code, tracking_url, shipped_at},
    ``delivered_at``, ``cancel_reason``.
    """

    event_id: str
    external_id: str
    remote_status: str = ""
    status: str = ""
    order: dict[str, Any] | None = None
    facts: dict[str, Any] = field(default_factory=dict)
    occurred_at: str = ""
    # For gateways: the order is found by payment transaction id or by the shop's order reference.
    transaction_id: str = ""
    reference: str = ""


@dataclass(frozen=True)
class PullResult:
    changes: list[InboundChange]
    cursor: str | None
    more: bool = False


@dataclass(frozen=True)
class ListedOrder:
    """One order as a system lists it, for reconciliation (``Connector.list_orders``).

    ``external_id`` is its id there; ``reference`` the number the shop knows it by when the system
    stores one (an ERP keeps the storefront's number; a gateway the shop's order code);
    ``remote_status`` the system's word and ``status`` its canonical mapping (``""`` when none).
    Times are ISO 8601; ``total`` a decimal string.
    """

    external_id: str
    reference: str = ""
    remote_status: str = ""
    status: str = ""
    placed_at: str = ""
    updated_at: str = ""
    total: str = ""


@dataclass(frozen=True)
class OrderListing:
    """One page of ``list_orders``; pass ``cursor`` back for the next page while ``more``."""

    orders: list[ListedOrder]
    cursor: str | None
    more: bool = False


@dataclass(frozen=True)
class Ticket:
    """A help-desk ticket as the help desk reports it (``status`` is its own word: new, open, solved…)."""

    id: str
    status: str
    url: str = ""
    group: str = ""


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    content_type: str = "application/pdf"


class Connector:
    """Base class; subclasses set ``kind`` and override what their system supports."""

    kind: ClassVar[str] = ""
    # Canonical status → the system's status, and back (a channel's own map overrides entries).
    default_status_out: ClassVar[Mapping[str, str]] = {}
    default_status_in: ClassVar[Mapping[str, str]] = {}

    def __init__(self, channel: Any, *, http: httpx.Client | None = None) -> None:
        self.channel = channel
        self.http = http or httpx.Client(timeout=self._timeout(channel), headers={"User-Agent": "Malote/0.1"})
        self._owns_http = http is None

    @staticmethod
    def _timeout(channel: Any) -> httpx.Timeout:
        """The channel's ``timeout_seconds`` option, else ``DEFAULT_TIMEOUT``."""
        seconds = (getattr(channel, "options", None) or {}).get("timeout_seconds")
        if not seconds:
            return DEFAULT_TIMEOUT
        return httpx.Timeout(float(seconds), connect=min(float(seconds), 5.0))

    def close(self) -> None:
        if self._owns_http:
            self.http.close()

    def __enter__(self) -> Connector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- status maps ----------------------------------------------------------------------------

    @classmethod
    def maps_status(cls, channel: Any, status: str) -> bool:
        """Whether the system has a word for this canonical status (else there is nothing to push)."""
        own = (channel.status_map or {}).get("out", {})
        return bool(own.get(status, cls.default_status_out.get(status)))

    def status_out(self, status: str) -> str | None:
        own = (self.channel.status_map or {}).get("out", {})
        return own.get(status, self.default_status_out.get(status))

    def status_in(self, remote: str) -> str:
        own = (self.channel.status_map or {}).get("in", {})
        return str(own.get(remote, self.default_status_in.get(remote, "")))

    # --- HTTP -----------------------------------------------------------------------------------

    def request(self, method: str, url: str, *, what: str, **kwargs: Any) -> httpx.Response:
        """One remote call with the client's timeout; failures become classified DeliveryErrors."""
        try:
            response = self.http.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise transport_error(exc, what=what) from exc
        return check_response(response, what=what)

    @property
    def base_url(self) -> str:
        return str(self.channel.base_url).rstrip("/")

    def option(self, name: str, default: Any = None) -> Any:
        """The channel's option ``name`` (connector-specific settings), else ``default``."""
        return (getattr(self.channel, "options", None) or {}).get(name, default)

    def credential(self, name: str) -> str:
        value = (self.channel.credentials or {}).get(name)
        if not value:
            raise DeliveryError(f"Channel {self.channel.code} has no credential {name!r}.", retryable=False)
        return str(value)

    # --- inbound --------------------------------------------------------------------------------

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, query: Mapping[str, str]) -> None:
        raise WebhookRejected("This channel takes no webhooks.", code="webhooks_not_supported")

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[InboundChange]:
        raise Unsupported

    def acknowledge(self, results: list[str]) -> HttpResponse:
        """The answer the system expects once its webhook was taken in (some want a fixed body)."""
        return JsonResponse({"received": len(results), "results": results})

    def pull_changes(self, cursor: str | None) -> PullResult:
        raise Unsupported

    def confirm_pulled(self, change: InboundChange) -> None:
        """Called once ``change`` (from ``pull_changes``) is committed in Malote, or was a duplicate.

        Queue-based systems acknowledge the message here (SkyHub's ``DELETE /queues/orders/{code}``),
        so a crash before the commit leaves the message in the queue to be delivered again.
        """

    def fetch_order(self, external_id: str) -> InboundChange:
        """The order (for a gateway: the payment, by transaction id) as the system shows it now."""
        raise Unsupported

    def list_orders(self, since: str, cursor: str | None = None) -> OrderListing:
        """Orders created or changed since ``since`` (ISO 8601), one page at a time, oldest first."""
        raise Unsupported

    # --- help desk --------------------------------------------------------------------------------

    def create_ticket(
        self,
        *,
        subject: str,
        body: str,
        group: str,
        requester_email: str = "",
        attachments: tuple[Attachment, ...] = (),
        idempotency_key: str,
    ) -> Ticket:
        """Open a ticket; retried with the same key it must never open a second one."""
        raise Unsupported

    def fetch_ticket(self, ticket_id: str) -> Ticket:
        raise Unsupported

    # --- outbound (snapshot = malote.channels.snapshots.order_snapshot) ---------------------------

    def push_order(self, snapshot: dict[str, Any], *, idempotency_key: str) -> str:
        """Create the order in the system; returns its id there. Must not create a second copy
        when retried with the same snapshot (look it up first, or send the idempotency key)."""
        raise Unsupported

    def push_status(self, external_id: str, snapshot: dict[str, Any], *, idempotency_key: str) -> None:
        raise Unsupported

    def push_invoice(self, external_id: str, snapshot: dict[str, Any], *, idempotency_key: str) -> None:
        raise Unsupported

    def push_shipment(self, external_id: str, snapshot: dict[str, Any], *, idempotency_key: str) -> None:
        raise Unsupported

    def push_delivery(self, external_id: str, snapshot: dict[str, Any], *, idempotency_key: str) -> None:
        raise Unsupported

    def push_cancellation(self, external_id: str, snapshot: dict[str, Any], *, idempotency_key: str) -> None:
        raise Unsupported

    def push_stock(self, sku: str, available: int, *, idempotency_key: str) -> None:
        raise Unsupported
