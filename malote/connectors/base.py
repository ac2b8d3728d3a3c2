"""The one connector interface: what Malote asks of any external system.

A connector is a provider class bound to one ``Channel``. Inbound, it verifies and parses webhooks
and pulls changes since a cursor; outbound, it pushes an order snapshot's facts. Remote calls go
through ``malote.connectors.http.JsonHttp`` on ``self.http`` (always under a timeout) and raise
``malote.sync.errors.DeliveryError``, classified retryable or not. A provider declares what it
supports in ``capabilities``; an undeclared operation raises ``Unsupported`` and the caller skips it.

Snapshots are plain dicts (money as decimal strings, times ISO 8601): a connector never touches
Django models, so it can be exercised against a fake server without a database.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

import httpx

from malote.channels.status_maps import StatusMap
from malote.connectors.errors import ConnectorErrorCode
from malote.connectors.http import DEFAULT_TIMEOUT, RateLimits
from malote.sync.errors import DeliveryError


class Capability(StrEnum):
    """An operation a provider implements; its value names the ``Connector`` method."""

    RECEIVE_WEBHOOKS = "parse_webhook"
    PULL_CHANGES = "pull_changes"
    FETCH_ORDER = "fetch_order"
    LIST_ORDERS = "list_orders"
    CREATE_TICKET = "create_ticket"
    FETCH_TICKET = "fetch_ticket"
    PUSH_ORDER = "push_order"
    FIND_ORDER = "find_order"
    PUSH_STATUS = "push_status"
    PUSH_INVOICE = "push_invoice"
    PUSH_SHIPMENT = "push_shipment"
    PUSH_DELIVERY = "push_delivery"
    PUSH_CANCELLATION = "push_cancellation"
    PUSH_INVOICE_EVENT = "push_invoice_event"
    PUSH_REFUND = "push_refund"
    PUSH_STOCK = "push_stock"


class Unsupported(Exception):
    """The system has no such operation (e.g. a gateway has no shipments)."""


class WebhookRejected(Exception):
    """An inbound request that must not be taken in (bad signature, stale timestamp…): 401."""

    def __init__(
        self, detail: str, *, code: ConnectorErrorCode = ConnectorErrorCode.WEBHOOK_SIGNATURE_INVALID
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code


@dataclass(frozen=True)
class InboundChange:
    """One change reported by a channel, in canonical terms.

    ``event_id`` is unique per change in that channel (the inbox de-duplicates on it). ``external_id``
    is the order's id there. ``remote_status`` is the system's own word; ``status`` its canonical
    mapping (or ``""`` when the map has none). ``order`` is the canonical order JSON when the change
    carries enough to import the order. ``facts`` hold what transitions need:
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
class Notification:
    """A verified notification stored before anything is read (``Connector.notification``).

    ``id`` is unique per notification in that channel (a re-sent one keeps it, so the inbox drops
    it); ``subject`` is what it points to (``/orders/123``): notifications of one subject are read
    in the order they arrived."""

    id: str
    subject: str


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
class WebhookAnswer:
    """What a system expects back once its webhook was taken in; the webhook view turns it into the
    HTTP response (connectors know no HTTP server)."""

    body: str
    content_type: str = "application/json"
    status: int = 200


@dataclass(frozen=True)
class RefundAnswer:
    """A gateway's answer to a refund (``Connector.push_refund``): ``confirmed`` when the answer
    itself says the money went back (else the gateway confirms later, by webhook); ``reference``
    is the gateway's id of the refund, when it gives one."""

    confirmed: bool
    reference: str = ""


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    content_type: str = "application/pdf"


class Connector:
    """Base class; subclasses set ``kind``, override what their system supports and declare it in
    ``capabilities`` (a test checks that the two agree)."""

    kind: ClassVar[str] = ""
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    # Canonical status → the system's status, and back (a channel's own map overrides entries).
    default_status_out: ClassVar[Mapping[str, str]] = {}
    default_status_in: ClassVar[Mapping[str, str]] = {}
    # The system wants its notification answered before Malote reads what it points to (Mercado
    # Livre: ~500 ms). The webhook view then stores the notification and answers at once; a worker
    # reads and applies it (``relay.intake.read_notification``). Channel option ``answer_before_reading``.
    answers_before_reading: ClassVar[bool] = False
    # Requests per second per call class as the vendor publishes them (SkyHub: orders GET 1/s,
    # writes 9/s); the channel option ``rate_limits`` overrides entries. The vendor's client classes
    # its calls (``JsonHttp.rate_class``); unclassed calls are not limited.
    default_rate_limits: ClassVar[Mapping[str, float]] = {}

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
    def status_map_of(cls, channel: Any) -> StatusMap:
        """The channel's own status map over this connector's defaults."""
        return StatusMap.of(
            channel.status_map, default_out=cls.default_status_out, default_in=cls.default_status_in
        )

    @classmethod
    def maps_status(cls, channel: Any, status: str) -> bool:
        """Whether the system has a word for this canonical status (else there is nothing to push)."""
        return cls.status_map_of(channel).word_for(status) is not None

    @property
    def status_map(self) -> StatusMap:
        return self.status_map_of(self.channel)

    def status_out(self, status: str) -> str | None:
        return self.status_map.word_for(status)

    def status_in(self, remote: str) -> str:
        return self.status_map.meaning_of(remote)

    # --- channel settings -----------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return str(self.channel.base_url).rstrip("/")

    def option(self, name: str, default: Any = None) -> Any:
        """The channel's option ``name`` (connector-specific settings), else ``default``."""
        return (getattr(self.channel, "options", None) or {}).get(name, default)

    @property
    def rate_limits(self) -> RateLimits | None:
        """The channel's limits for its client: option ``rate_limits`` (``{"<class>": <requests per
        second>}``, 0 or null: no limit) over ``default_rate_limits``; ``None`` when none applies.
        A bad option raises ``RateLimitsInvalid`` (permanent)."""
        return RateLimits.of(str(self.channel.code), self.default_rate_limits, self.option("rate_limits"))

    def credential(self, name: str) -> str:
        value = (self.channel.credentials or {}).get(name)
        if not value:
            raise DeliveryError(f"Channel {self.channel.code} has no credential {name!r}.", retryable=False)
        return str(value)

    # --- inbound --------------------------------------------------------------------------------

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, query: Mapping[str, str]) -> None:
        raise WebhookRejected(
            "This channel takes no webhooks.", code=ConnectorErrorCode.WEBHOOKS_NOT_SUPPORTED
        )

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[InboundChange]:
        raise Unsupported

    @property
    def defers_reading(self) -> bool:
        """Whether this channel's webhooks are answered before reading (``answers_before_reading``,
        unless the channel option ``answer_before_reading`` says otherwise)."""
        return bool(self.option("answer_before_reading", self.answers_before_reading))

    def notification(self, headers: Mapping[str, str], body: bytes) -> Notification | None:
        """For a system that ``answers_before_reading``: the verified webhook as a notification to
        read later, without any remote call; ``None`` when it points to nothing Malote follows. A
        body that cannot be a notification raises ``ValueError`` (422)."""
        raise Unsupported

    def acknowledge(self, results: list[str]) -> WebhookAnswer:
        """The answer the system expects once its webhook was taken in (some want a fixed body)."""
        return WebhookAnswer(json.dumps({"received": len(results), "results": results}))

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

    def find_order(self, snapshot: dict[str, Any]) -> str | None:
        """The system's id for the sale, looked up the way ``push_order`` looks before creating
        (Malote's number and the sale's references however written); ``None``: it has none."""
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

    # --- outbound (snapshot = the order snapshot the outbox carries) ----------------------------

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

    def push_invoice_event(self, external_id: str, snapshot: dict[str, Any], *, idempotency_key: str) -> None:
        """Tell the system of an event SEFAZ registered on the order's NF-e: the snapshot's
        ``invoice_event`` (key, type cancellation/correction, code, sequence, protocol,
        registered_at, text)."""
        raise Unsupported

    def push_cancellation(self, external_id: str, snapshot: dict[str, Any], *, idempotency_key: str) -> None:
        raise Unsupported

    def push_refund(
        self, external_id: str, snapshot: dict[str, Any], *, amount: str, reference: str, idempotency_key: str
    ) -> RefundAnswer:
        """Refund ``amount`` (a decimal string, part or all of the payment) of the order's payment;
        ``reference`` is Malote's name for the refund (a return's number)."""
        raise Unsupported

    def push_stock(self, sku: str, available: int, *, idempotency_key: str) -> None:
        raise Unsupported


def supports(connector: Connector | type[Connector] | None, capability: Capability) -> bool:
    """Whether a provider (class or instance; ``None`` = no provider) declares ``capability``."""
    return connector is not None and capability in connector.capabilities
