"""Taking in what channels report: import new orders, move existing ones forward, never back.

Every change goes through the inbox (unique per channel and event id) in the same transaction as
its effect. The order is found by its link to the channel, or, for gateways, by the payment's
transaction id or the shop's order reference. A status the order already passed is ignored (an
out-of-order or repeated update never moves an order backwards); a later status is reached
through the lifecycle's own transitions, using the facts the change carries; a step whose facts
are missing stops the walk and is reported as waiting.

Divergence (see ``malote.relay.divergence``): the link turns divergent, and the change is not
applied, when the channel reports
- a status the lifecycle cannot reach from the order's (``advance`` answers ``unreachable``);
- a cancellation once the order is invoiced (``CANCEL_IS_DIVERGENT_FROM``): the NF-e is issued,
  the goods may have left; canceling then is an operator's decision, not a channel's report;
- an earlier status (``PROGRESS``; one the order passed or skipped) after a later one that is no
  mere out-of-order repeat: the channel had the later status (it reported it, or Malote pushed
  it) before the time the change carries (``InboundChange.occurred_at``). Without that time, or
  with the channel's ``detect_regressions`` policy off, an earlier status is taken as a late,
  reordered update and ignored (``already``, or ``unreachable:…`` for a status the order
  skipped), as before; the link keeps the later status it showed.
While a link is divergent, the channel's changes for that order are recorded on the link and in
the inbox (result ``held_divergent``) but not applied.

A payment refusal (``cancel_reason`` ``payment_refused``) for a transaction other than the one
the order was paid under is a stale attempt, not a cancellation (result ``stale_refusal``). A
gateway's approval that happened before the cancellation or refund that gateway already reported
is late history, not a divergence (result ``late_approval``); so is a status without canonical
meaning after the link showed a final one (result ``late_update``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from pydantic import ValidationError

from malote.channels.models import Channel, ChannelRole, ImportPolicy, LinkState, OrderLink
from malote.connectors.base import InboundChange, Notification
from malote.connectors.registry import connector_for
from malote.core.actors import Actor
from malote.orders import actions
from malote.orders.advance import advance
from malote.orders.changes import OrderChange
from malote.orders.models import Order, Payment
from malote.orders.schemas import OrderIn
from malote.orders.statuses import OrderStatus, PaymentStatus
from malote.relay import divergence as link_actions
from malote.relay import refunds
from malote.sync import inbox, outbox
from malote.sync.errors import DeliveryError
from malote.sync.models import InboxEvent, OutboxMessage, Schedule

PAID = frozenset({OrderStatus.PAID})
S = OrderStatus
CANCEL_IS_DIVERGENT_FROM = frozenset(
    {S.INVOICED, S.READY_TO_SHIP, S.SHIPPED, S.IN_TRANSIT, S.DELIVERY_FAILED}
)
# How far along the lifecycle each status is, to tell an earlier status from a later one (a
# cancellation ends everything: a status after it is always earlier).
PROGRESS: dict[str, int] = {
    S.PENDING_PAYMENT: 0,
    S.PAYMENT_REVIEW: 1,
    S.PAYMENT_OVERDUE: 1,
    S.PAID: 2,
    S.OUT_OF_STOCK: 3,
    S.PREPARING: 3,
    S.INVOICED: 4,
    S.READY_TO_SHIP: 5,
    S.SHIPPED: 6,
    S.IN_TRANSIT: 7,
    S.DELIVERY_FAILED: 8,
    S.DELIVERED: 9,
    S.CANCELED: 10,
}


def take_in(channel: Channel, change: InboundChange, *, headers: dict[str, str], body: str) -> inbox.Received:
    return inbox.receive(
        channel.code,
        change.event_id,
        lambda event: apply_change(channel, change, event),
        kind=change.remote_status or change.status,
        headers=headers,
        body=body,
    )


# Notifications answered before reading (``Connector.answers_before_reading``): the webhook view
# stores the notification and queues one ``notification:<channel code>`` message keyed by what it
# points to; the worker reads it (``read_notification``) and takes the changes in as a webhook would.
NOTIFICATION_PREFIX = "notification"


def defer(
    channel: Channel, notification: Notification, *, headers: dict[str, str], body: str
) -> inbox.Received:
    """Store a verified notification unread and queue its reading, in one transaction; a duplicate
    (same channel and notification id) stores and queues nothing. No remote call."""
    with transaction.atomic():
        received = inbox.store(
            channel.code, f"notification:{notification.id}", kind="notification", headers=headers, body=body
        )
        if not received.duplicate:
            outbox.enqueue(
                f"{NOTIFICATION_PREFIX}:{channel.code}",
                "notification.read",
                {"event": received.event_id},
                key=f"notification:{notification.subject}"[:100],
            )
    return received


def read_notification(message: OutboxMessage) -> None:
    """The outbox handler for ``notification:<code>``: read what a stored notification points to
    (``parse_webhook``, outside any transaction) and take each change in through the inbox, then
    record the notification's outcome. A retried or repeated read changes nothing: each change is
    de-duplicated by its own event id, and a settled notification is not read again."""
    event = InboxEvent.objects.filter(pk=message.payload.get("event")).first()
    if event is None:
        raise DeliveryError("The stored notification no longer exists.", retryable=False)
    if event.processed_at is not None:
        return
    channel = Channel.objects.filter(code=event.source).first()
    if channel is None:
        raise DeliveryError(f"Channel {event.source!r} no longer exists.", retryable=False)
    if not channel.enabled:
        raise DeliveryError(f"Channel {channel.code!r} is disabled; the notification waits.", retryable=True)
    with connector_for(channel) as connector:
        try:
            changes = connector.parse_webhook(event.headers, event.body.encode())
        except (ValueError, KeyError, TypeError) as exc:
            inbox.settle(event.pk, inbox.Applied("malformed", detail=f"{type(exc).__name__}: {exc}"))
            return
    results = [take_in(channel, change, headers=event.headers, body=event.body) for change in changes]
    words = [received.result for received in results]
    outcome = words[0] if len(words) == 1 else f"read:{len(words)}"
    inbox.settle(event.pk, inbox.Applied(outcome, detail=", ".join(words)))


def find_order(channel: Channel, change: InboundChange) -> Order | None:
    link = OrderLink.objects.filter(channel=channel, external_id=change.external_id).select_related("order")
    found = link.first()
    if found is not None:
        return found.order
    if channel.role == ChannelRole.GATEWAY:
        if change.transaction_id:
            payment = (
                Payment.objects.filter(transaction_id=change.transaction_id).select_related("order").first()
            )
            if payment is not None:
                return payment.order
        if change.reference:
            return (
                Order.objects.filter(number=change.reference).first()
                or Order.objects.filter(external_id=change.reference).first()
            )
    if channel.is_sales:
        return Order.objects.filter(channel=channel, external_id=change.external_id).first()
    return None


# --- reports: what a channel says about an order that is not its status ------------------------
# A change may carry ``facts["reports"]``: dicts with at least ``kind`` and ``open`` (a Mercado Livre
# claim, an order cancelled inside a paid cart). They go, in the change's own transaction, to the
# listeners registered here (reconcile turns them into integration issues; relay cannot import it);
# listeners may only write rows. A change carrying only reports (no status, no order) touches
# neither the order nor its link. ``facts["channel_data"]`` is kept on the link (``remote_data``).
ReportListener = Callable[[Channel, Order | None, str, dict[str, Any]], None]
_report_listeners: list[ReportListener] = []


def register_report_listener(listener: ReportListener) -> None:
    """Called with (channel, the Malote order or None, the change's external id, the report)."""
    if listener not in _report_listeners:
        _report_listeners.append(listener)


def _reports(change: InboundChange) -> list[dict[str, Any]]:
    return [report for report in change.facts.get("reports") or [] if isinstance(report, dict)]


def _publish_reports(channel: Channel, order: Order | None, change: InboundChange) -> None:
    for report in _reports(change):
        for listener in _report_listeners:
            listener(channel, order, change.external_id, report)


def apply_change(channel: Channel, change: InboundChange, event: InboxEvent) -> inbox.Applied:
    if _reports(change) and not (change.status or change.remote_status or change.order):
        order = find_order(channel, change)
        _publish_reports(channel, order, change)
        kinds = ", ".join(str(report.get("kind")) for report in _reports(change))
        return inbox.Applied("reported", order.pk if order else None, detail=kinds)
    applied = _apply_status(channel, change, event)
    if _reports(change) and applied.order_id is not None:
        _publish_reports(channel, Order.objects.get(pk=applied.order_id), change)
    return applied


def _apply_status(channel: Channel, change: InboundChange, event: InboxEvent) -> inbox.Applied:
    actor = Actor.channel(channel.code)
    order = find_order(channel, change)
    if order is None:
        if channel.role == ChannelRole.GATEWAY:
            return _await_order(channel, change, event)
        if not (channel.is_sales and change.order):
            return inbox.Applied("unknown_order", detail=f"{channel.code} order {change.external_id}")
        if channel.import_policy == ImportPolicy.PAID_ONLY and change.status not in PAID:
            return inbox.Applied("deferred_unpaid", detail="import policy: only paid orders")
        placed_at = _placed_at(change)
        if placed_at is not None and channel.is_history(placed_at):
            # The shop's history when Malote went live: no import, no ERP copy, no e-mail.
            return inbox.Applied("history", detail=f"placed {placed_at.isoformat()}, before the go-live")
        try:
            data = OrderIn.model_validate(change.order)
        except ValidationError as exc:
            # Refused and recorded (the inbox keeps the raw body), so one bad order never blocks a poll.
            raise actions.invalid_input_from(exc, prefix="order") from None
        order, _ = actions.create_order(data, actor=actor)
    refunded = refunds.take_refund(channel, order, change)  # a return's or a partial refund
    if refunded is not None:
        return refunded
    previous = OrderLink.objects.filter(order=order, channel=channel).first()
    if previous is not None and previous.state == LinkState.DIVERGENT:
        _remember_remote_status(order, channel, change, keep_state=True)
        return inbox.Applied(
            "held_divergent",
            order.pk,
            detail=f"{channel.code} diverges; {change.remote_status!r} not applied",
        )
    target = change.status
    if _stale_refusal(order, change):
        return inbox.Applied(
            "stale_refusal",
            order.pk,
            detail=f"{change.transaction_id} refused; paid under another transaction",
        )
    if _late_approval(channel, order, change, previous):
        return inbox.Applied(
            "late_approval",
            order.pk,
            detail=f"{channel.code}: an approval from before its own cancellation or refund, applied late",
        )
    if target and _behind(order, target):
        regression = _regression(channel, change, previous)
        if regression:
            return _diverge(order, channel, change, event, regression)
        if not _older_than_known(target, previous):
            _remember_remote_status(order, channel, change)
        if target in order.status_path:
            return inbox.Applied("already", order.pk)
        return inbox.Applied(
            f"unreachable:{order.status}->{target}", order.pk, detail="an earlier status: a late update"
        )
    if target == OrderStatus.CANCELED and order.status in CANCEL_IS_DIVERGENT_FROM:
        return _diverge(order, channel, change, event, f"canceled_after:{order.status}")
    if _late_unmapped(change, previous):
        return inbox.Applied(
            "late_update",
            order.pk,
            detail=f"{change.remote_status!r} after {previous.remote_status!r}: an older notification"
            if previous is not None
            else "",
        )
    _remember_remote_status(order, channel, change)
    if not target:
        return inbox.Applied("recorded", order.pk, detail=f"no canonical status for {change.remote_status!r}")
    facts = change.facts
    if "delivered_at" not in facts and change.occurred_at:
        # A channel that reports deliveries (B2W Entregas, Mercado Envios 2…) may omit the date
        # (SkyHub's delivered_date is optional): the time of its change is the delivery's.
        facts = {**facts, "delivered_at": change.occurred_at}
    result = advance(order.pk, target, facts, actor=actor)
    if result.startswith("unreachable:"):
        order.refresh_from_db()
        return _diverge(order, channel, change, event, result)
    return inbox.Applied(result, order.pk)


def _await_order(channel: Channel, change: InboundChange, event: InboxEvent) -> inbox.Applied:
    """A payment about an order Malote does not have yet (its own webhook was late or lost): kept,
    and applied when the order arrives (``replay_awaiting``), never dropped — else a paid order
    would wait for a payment already made, and be canceled as unpaid."""
    key = (change.reference or change.transaction_id or change.external_id)[:100]
    InboxEvent.objects.filter(pk=event.pk).update(awaiting=key)
    return inbox.Applied(inbox.AWAITING_ORDER, detail=f"{channel.code}: no order {key} yet")


# --- payments that arrived before their order ----------------------------------------------------
REPLAY_PREFIX = "awaiting"
AWAITING_DAYS = 30


def awaiting_keys(order: Order) -> set[str]:
    """The references a waiting payment may name this order by."""
    keys = {order.number or "", order.external_id}
    keys |= set(order.payments.exclude(transaction_id="").values_list("transaction_id", flat=True))
    return {key for key in keys if key}


def queue_awaiting(change: OrderChange) -> None:
    """Order listener: a new order that payments were waiting for gets them applied (one outbox
    message each, after this transaction commits: the listener may only write rows). They are
    queued in the order they arrived, under the order's key, so a gateway's authorisation is
    applied before the refund that came after it (else the refund cancels first and the late
    authorisation looks like a divergence)."""
    if change.transition != "created":
        return
    waiting = (
        InboxEvent.objects.filter(result=inbox.AWAITING_ORDER, awaiting__in=awaiting_keys(change.order))
        .order_by("received_at", "pk")
        .values_list("pk", "source")
    )
    for event_pk, source in waiting:
        outbox.enqueue(
            f"{REPLAY_PREFIX}:{source}", "inbox.reapply", {"event": event_pk}, order_id=change.order.pk
        )


def reapply_awaiting(message: OutboxMessage) -> None:
    """The outbox handler of ``awaiting:<gateway>``: apply the waiting event now."""
    reapply_event(int(message.payload.get("event") or 0))


def reapply_event(event_pk: int) -> str | None:
    """Parse the stored body again (no remote call) and apply the change the event stands for."""
    event = InboxEvent.objects.filter(pk=event_pk, result=inbox.AWAITING_ORDER).first()
    if event is None:
        return None
    channel = Channel.objects.filter(code=event.source).first()
    if channel is None:
        return None
    with connector_for(channel) as connector:
        try:
            changes = connector.parse_webhook(event.headers, event.body.encode())
        except (ValueError, KeyError, TypeError):
            return None
    mine = [change for change in changes if change.event_id[:200] == event.event_id] or changes[:1]
    if not mine:
        return None
    applied = inbox.reapply(event.pk, lambda stored: apply_change(channel, mine[0], stored))
    return applied.result if applied is not None else None


def replay_awaiting(schedule: Schedule, now: datetime) -> str:
    """Schedule job: waiting payments whose order exists now (created by a path that raced the
    listener) are applied; older than ``AWAITING_DAYS`` they are left as they are."""
    since = now - timedelta(days=AWAITING_DAYS)
    waiting = (
        InboxEvent.objects.filter(result=inbox.AWAITING_ORDER, received_at__gte=since)
        .order_by("received_at", "pk")  # as they arrived: an authorisation before its refund
        .values_list("pk", "awaiting")
    )
    counts: Counter[str] = Counter()
    for event_pk, key in waiting.iterator(chunk_size=500):
        exists = (
            Order.objects.filter(Q(number=key) | Q(external_id=key)).exists()
            or Payment.objects.filter(transaction_id=key).exists()
        )
        if exists:
            counts[str(reapply_event(event_pk))] += 1
    return ", ".join(f"{word} {n}" for word, n in sorted(counts.items())) or "nothing to do"


def _placed_at(change: InboundChange) -> datetime | None:
    value = (change.order or {}).get("placed_at")
    if isinstance(value, datetime):
        return value if timezone.is_aware(value) else None
    try:
        moment = datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None  # the order's own validation reports it
    return moment if moment is not None and timezone.is_aware(moment) else None


def _diverge(
    order: Order, channel: Channel, change: InboundChange, event: InboxEvent, reason: str
) -> inbox.Applied:
    link_actions.record_divergence(
        order,
        channel,
        remote_status=change.remote_status or change.status,
        remote_canonical_status=change.status,
        reason=reason,
        event_id=change.event_id,
        seen_at=_occurred_at(change),
        actor=Actor.channel(channel.code),
    )
    return inbox.Applied("divergent", order.pk, detail=reason)


def _occurred_at(change: InboundChange) -> datetime | None:
    try:
        moment = parse_datetime(change.occurred_at) if change.occurred_at else None
    except ValueError:
        return None
    if moment is not None and timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def _stale_refusal(order: Order, change: InboundChange) -> bool:
    """A refused payment attempt never cancels an order already paid under another transaction
    (a shopper's retry under the same order reference was authorised; the old refusal came late)."""
    if change.status != OrderStatus.CANCELED or change.facts.get("cancel_reason") != "payment_refused":
        return False
    if not change.transaction_id:
        return False
    paid_under = set(
        order.payments.filter(status=PaymentStatus.APPROVED)
        .exclude(transaction_id="")
        .values_list("transaction_id", flat=True)
    )
    return bool(paid_under) and change.transaction_id not in paid_under


def _late_approval(channel: Channel, order: Order, change: InboundChange, previous: OrderLink | None) -> bool:
    """A gateway's approval that happened before the cancellation or refund the same gateway
    already reported for this order (webhooks arrive out of order; a waiting payment is applied
    late): history, not a divergence. Without both times it is left to the divergence rules."""
    if channel.role != ChannelRole.GATEWAY or change.status != OrderStatus.PAID:
        return False
    if order.status != OrderStatus.CANCELED or previous is None:
        return False
    if previous.remote_canonical_status != OrderStatus.CANCELED or previous.remote_status_at is None:
        return False
    occurred = _occurred_at(change)
    return occurred is not None and occurred <= previous.remote_status_at


def _effective_status(order: Order) -> str:
    """The order's progress: its status, or for a canceled order the status it was canceled in."""
    if order.status != OrderStatus.CANCELED:
        return order.status
    path = list(order.status_path)
    return path[-2] if len(path) > 1 else OrderStatus.PENDING_PAYMENT


def _behind(order: Order, target: str) -> bool:
    """Whether ``target`` is a status the order has passed (or skipped) on its way to its own."""
    if target in (order.status, OrderStatus.CANCELED):
        return False
    return target in order.status_path or PROGRESS[target] < PROGRESS[_effective_status(order)]


def _regression(channel: Channel, change: InboundChange, previous: OrderLink | None) -> str | None:
    """Why an earlier status is a divergence (see the module docstring), or None: the channel had
    a later status (it said so, or Malote pushed it) before the time the change carries."""
    occurred = _occurred_at(change)
    if previous is None or occurred is None or not channel.policy("detect_regressions"):
        return None
    known = (
        (previous.remote_canonical_status, previous.remote_status_at),
        (previous.expected_status, previous.last_synced_at),
    )
    for status, since in known:
        later = status in PROGRESS and PROGRESS[status] > PROGRESS[change.status]
        if later and since is not None and occurred > since:
            return f"went_back:{status}->{change.status}"
    return None


FINAL_REMOTE = (OrderStatus.CANCELED, OrderStatus.DELIVERED)


def _late_unmapped(change: InboundChange, previous: OrderLink | None) -> bool:
    """A status with no canonical meaning after the link already shows a final one (canceled,
    delivered) is an older notification that came late (Tiny's carry no time and may arrive in
    reverse order), not news: the link keeps the final status, else the divergence check compares
    the stale word with the order's and raises a false alarm. With both times known, the newer wins."""
    if change.status or previous is None or previous.remote_canonical_status not in FINAL_REMOTE:
        return False
    occurred = _occurred_at(change)
    return occurred is None or previous.remote_status_at is None or occurred <= previous.remote_status_at


def _older_than_known(target: str, previous: OrderLink | None) -> bool:
    """A late, reordered update: the link already shows a later status, which it keeps."""
    if previous is None or previous.remote_canonical_status not in PROGRESS:
        return False
    return PROGRESS[previous.remote_canonical_status] > PROGRESS[target]


def _remember_remote_status(
    order: Order, channel: Channel, change: InboundChange, *, keep_state: bool = False
) -> None:
    if channel.pk == order.channel_id and not change.external_id:
        return
    values = {
        "external_id": change.external_id,
        "remote_status": change.remote_status[:60],
        "remote_canonical_status": change.status,
        "remote_status_at": _occurred_at(change) or timezone.now(),
    }
    if not keep_state:
        values["state"] = LinkState.LINKED
    if isinstance(change.facts.get("channel_data"), dict):
        values["remote_data"] = change.facts["channel_data"]
    OrderLink.objects.update_or_create(order=order, channel=channel, defaults=values)
