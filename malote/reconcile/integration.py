"""Non-integrated orders ("pedido não integrado", seed 000): orders one system has and another
that must have them does not.

One check per pair of systems, each a schedule of its own (``reconcile:<role>:<channel>``):

* **Malote → ERP** (``check_erp``): every order linked to the ERP (routing links an order once the
  ERP wants it) created in the last ``reconcile_lookback_hours`` (72) whose link is older than
  ``integration_grace_minutes`` (30) must be in the ERP's listing, found by the link's external id
  or by Malote's number as the ERP's e-commerce reference. A missing one opens a
  ``not_integrated`` issue. Orders the ERP lists that Malote does not know open one too (order
  ``None``, ``external_ref`` = the ERP's id), for a person to look at (option
  ``report_unknown_in_erp``, default true: an ERP that also takes counter sales turns it off).
* **storefront/marketplace → Malote** (``check_sales``): every order the channel lists with a
  status that means a sale (not an abandoned checkout; only paid ones under the "paid only" import
  policy), older than the grace, must be in Malote; a missing one is imported when repaired.
  The same listing shows status changes made by hand in the channel's panel, which the channel
  does not report (SkyHub's queue): a linked order listed with another status than its link's
  last one is read again and taken in (``malote.reconcile.refresh``; at most
  ``status_refresh_max_per_run`` a run), then this channel's divergences are detected, so a
  cancel by hand of an invoiced order is a ``divergent`` issue within one slot.
* **gateway ↔ Malote** (``check_gateway``): payments the gateway lists (not canceled) for orders
  Malote does not know, and Malote payments of recent orders the gateway does not list.

Options are the checked channel's (the ERP, the sales channel, the gateway). An issue clears by
itself once the order shows up on both sides. Repairs (``repair``) follow the seed's decision.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q
from django.utils import timezone

from malote.channels import intake
from malote.channels.models import SALES_ROLES, Channel, ChannelRole, ImportPolicy, OrderLink
from malote.channels.routing import PAID_OR_LATER
from malote.connectors.base import Connector, ListedOrder, Unsupported
from malote.connectors.registry import connector_for
from malote.core.actors import Actor
from malote.core.errors import MaloteError
from malote.orders.models import Order, Payment
from malote.orders.statuses import UNPAID, OrderStatus
from malote.reconcile import actions, divergent, refresh, repair
from malote.reconcile.models import ACTIVE_STATES, IntegrationIssue, IssueAction, IssueKind, IssueState
from malote.reconcile.options import option
from malote.sync.errors import DeliveryError

MAX_PAGES = 100_000


def listing(connector: Connector, since: datetime) -> Iterator[ListedOrder]:
    """Every order of the system's listing since ``since``, page after page."""
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        page = connector.list_orders(since.isoformat(), cursor)
        yield from page.orders
        if not page.more or not page.cursor:
            return
        cursor = page.cursor


def _window(channel: Channel, now: datetime, since: datetime | None = None) -> tuple[datetime, datetime]:
    """(since, settled): the listing's start and the time before which a record must show."""
    since = since or now - timedelta(hours=float(option(channel, "reconcile_lookback_hours")))
    settled = now - timedelta(minutes=float(option(channel, "integration_grace_minutes")))
    return since, settled


def _active(kind: str, channel: Channel) -> dict[str, IntegrationIssue]:
    return {
        issue.subject: issue
        for issue in IntegrationIssue.objects.filter(kind=kind, channel=channel, state__in=ACTIVE_STATES)
    }


def _clear_missing(
    active: dict[str, IntegrationIssue], still: set[str], *, actor: Actor, note: str, counts: Counter[str]
) -> None:
    for subject, issue in active.items():
        if subject not in still:
            counts["cleared"] += actions.clear(issue, actor=actor, note=note)


def _order_evidence(order: Order, link: OrderLink | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "found": True,
        "number": order.number,
        "channel": order.channel.code,
        "external_id": order.external_id,
        "status": order.status,
        "placed_at": order.placed_at.isoformat(),
        "total": f"{order.total:.2f}",
    }
    if link is not None:
        data["link"] = {
            "external_id": link.external_id,
            "state": link.state,
            "last_error": link.last_error[:300],
            "created_at": link.created_at.isoformat(),
            "last_synced_at": link.last_synced_at.isoformat() if link.last_synced_at else None,
        }
    return data


def _maybe_repair(issue: IntegrationIssue, channel: Channel, *, actor: Actor, counts: Counter[str]) -> None:
    if issue.state != IssueState.OPEN or not option(channel, "auto_repair"):
        return
    try:
        outcome = repair.repair(issue.pk, actor=actor)
    except MaloteError as exc:
        # e.g. no help-desk channel for a "repair by help desk" ERP: the issue stays open, visible.
        actions.note(issue.pk, "repair_failed", actor=actor, text=exc.detail, data={"code": exc.code})
        outcome = f"failed:{exc.code}"
    counts[f"repair:{outcome}"] += 1


# --- Malote → ERP --------------------------------------------------------------------------------


def _erp_candidates(
    erp: Channel, since: datetime, settled: datetime
) -> Iterator[tuple[Order, OrderLink | None]]:
    """Orders the ERP must have: those routing linked to it (the link older than the grace), and
    sales orders of the window it wants (import policy) that never got a link at all — the ERP
    was disabled or added later, or the routing never ran for them."""
    links = (
        OrderLink.objects.filter(channel=erp, order__created_at__gte=since, created_at__lte=settled)
        .exclude(order__status=OrderStatus.CANCELED)
        .select_related("order", "order__channel")
        .order_by("id")
    )
    for link in links.iterator(chunk_size=2000):
        yield link.order, link
    unlinked = (
        Order.objects.filter(created_at__gte=since, created_at__lte=settled, channel__role__in=SALES_ROLES)
        .exclude(status=OrderStatus.CANCELED)
        .exclude(links__channel=erp)
        .select_related("channel")
        .order_by("id")
    )
    if erp.import_policy == ImportPolicy.PAID_ONLY:
        unlinked = unlinked.filter(status__in=PAID_OR_LATER)
    for order in unlinked.iterator(chunk_size=2000):
        yield order, None


def check_erp(
    erp: Channel,
    now: datetime | None = None,
    *,
    actor: Actor,
    dry_run: bool = False,
    since: datetime | None = None,
    findings: list[dict[str, Any]] | None = None,
) -> Counter[str]:
    now = now or timezone.now()
    since, settled = _window(erp, now, since)
    found = findings if findings is not None else []
    counts: Counter[str] = Counter()
    by_id: dict[str, ListedOrder] = {}
    by_ref: dict[str, ListedOrder] = {}
    with connector_for(erp) as connector:
        for listed in listing(connector, since):
            by_id[listed.external_id] = listed
            if listed.reference:
                by_ref[listed.reference] = listed
    counts["listed"] = len(by_id)
    active = _active(IssueKind.NOT_INTEGRATED, erp)
    still: set[str] = set()
    for order, link in _erp_candidates(erp, since, settled):
        counts["checked"] += 1
        if (link is not None and link.external_id and link.external_id in by_id) or (
            order.number or ""
        ) in by_ref:
            continue
        counts["missing"] += 1
        found.append(_finding(erp, "missing_in_erp", order=order))
        if dry_run:
            continue
        subject = actions.subject_for(order)
        still.add(subject)
        evidence = {
            "malote": _order_evidence(order, link),
            erp.code: {"found": False, "listed_since": since.isoformat(), "searched": ["id", "reference"]},
        }
        by_helpdesk = bool(option(erp, "repair_by_helpdesk"))
        result = actions.report(
            IssueKind.NOT_INTEGRATED,
            channel=erp,
            other_channel=order.channel,
            actor=actor,
            order=order,
            evidence=evidence,
            detail=f"Pedido {order.number} não está no {erp.name}",
            recommended_action=IssueAction.OPEN_TICKET if by_helpdesk else IssueAction.REINTEGRATE,
        )
        counts["opened"] += result.created
        _maybe_repair(result.issue, erp, actor=actor, counts=counts)
    # What the ERP has that Malote does not know.
    known_refs = set(Order.objects.filter(number__in=list(by_ref)).values_list("number", flat=True))
    known_ids = set(
        OrderLink.objects.filter(channel=erp, external_id__in=list(by_id)).values_list(
            "external_id", flat=True
        )
    )
    for external_id, listed in by_id.items():
        if not option(erp, "report_unknown_in_erp"):
            break
        if external_id in known_ids or (listed.reference and listed.reference in known_refs):
            continue
        counts["unknown_in_erp"] += 1
        found.append(_finding(erp, "unknown_to_malote", ref=external_id, reference=listed.reference))
        if dry_run:
            continue
        still.add(actions.subject_for(None, external_id))
        counts["opened"] += actions.report(
            IssueKind.NOT_INTEGRATED,
            channel=erp,
            actor=actor,
            external_ref=external_id,
            evidence={erp.code: {"found": True, **asdict(listed)}, "malote": {"found": False}},
            detail=f"O {erp.name} tem o pedido {external_id} ({listed.reference or 'sem referência'}),"
            " que o Malote não conhece",
            recommended_action=IssueAction.INVESTIGATE,
        ).created
    if not dry_run:
        _clear_missing(
            active, still, actor=actor, note=f"O pedido está no {erp.name} e no Malote.", counts=counts
        )
    return counts


# --- storefront/marketplace → Malote -------------------------------------------------------------


def _placed(listed: ListedOrder) -> datetime | None:
    try:
        moment = datetime.fromisoformat(listed.placed_at)
    except ValueError:
        return None
    return moment if moment.tzinfo else timezone.make_aware(moment)


def check_sales(
    channel: Channel,
    now: datetime | None = None,
    *,
    actor: Actor,
    dry_run: bool = False,
    since: datetime | None = None,
    findings: list[dict[str, Any]] | None = None,
) -> Counter[str]:
    now = now or timezone.now()
    since, settled = _window(channel, now, since)
    found = findings if findings is not None else []
    counts: Counter[str] = Counter()
    with connector_for(channel) as connector:
        everything = list(listing(connector, since))
    listed_orders = [item for item in everything if item.status]
    counts["listed"] = len(listed_orders)
    ids = [item.external_id for item in listed_orders]
    known = set(
        Order.objects.filter(channel=channel, external_id__in=ids).values_list("external_id", flat=True)
    )
    known |= set(
        OrderLink.objects.filter(channel=channel, external_id__in=ids).values_list("external_id", flat=True)
    )
    active = _active(IssueKind.NOT_INTEGRATED, channel)
    still: set[str] = set()
    for item in listed_orders:
        if item.external_id in known:
            continue
        if channel.import_policy == ImportPolicy.PAID_ONLY and item.status in (
            OrderStatus.PENDING_PAYMENT,
            OrderStatus.PAYMENT_REVIEW,
            OrderStatus.PAYMENT_OVERDUE,
            OrderStatus.CANCELED,
        ):
            continue
        placed = _placed(item)
        if placed is not None and placed > settled:
            counts["within_grace"] += 1
            continue
        counts["missing"] += 1
        found.append(_finding(channel, "missing_in_malote", ref=item.external_id))
        if dry_run:
            continue
        still.add(actions.subject_for(None, item.external_id))
        result = actions.report(
            IssueKind.NOT_INTEGRATED,
            channel=channel,
            actor=actor,
            external_ref=item.external_id,
            evidence={channel.code: {"found": True, **asdict(item)}, "malote": {"found": False}},
            detail=f"O pedido {item.external_id} de {channel.name} não chegou ao Malote",
            recommended_action=IssueAction.IMPORT,
        )
        counts["opened"] += result.created
        _maybe_repair(result.issue, channel, actor=actor, counts=counts)
    if not dry_run:
        _clear_missing(active, still, actor=actor, note="O pedido chegou ao Malote.", counts=counts)
    _refresh_statuses(channel, everything, actor=actor, dry_run=dry_run, findings=found, counts=counts)
    return counts


def _refresh_statuses(
    channel: Channel,
    listed: list[ListedOrder],
    *,
    actor: Actor,
    dry_run: bool,
    findings: list[dict[str, Any]],
    counts: Counter[str],
) -> None:
    """Status changes made by hand in the channel (``malote.reconcile.refresh``), then the
    divergence detection of this channel, so a divergence they reveal is an issue in this run."""
    refreshed = refresh.refresh(channel, listed, dry_run=dry_run, findings=findings)
    counts.update(refreshed)
    if dry_run or not refreshed["refreshed"]:
        return
    detected = divergent.detect(actor=actor, channel=channel)
    for key in ("opened", "cleared"):
        counts[f"divergent:{key}"] += detected[key]


# --- gateway ↔ Malote ----------------------------------------------------------------------------


def check_gateway(
    gateway: Channel,
    now: datetime | None = None,
    *,
    actor: Actor,
    dry_run: bool = False,
    since: datetime | None = None,
    findings: list[dict[str, Any]] | None = None,
) -> Counter[str]:
    now = now or timezone.now()
    since, settled = _window(gateway, now, since)
    found = findings if findings is not None else []
    counts: Counter[str] = Counter()
    with connector_for(gateway) as connector:
        listed_orders = list(listing(connector, since))
    counts["listed"] = len(listed_orders)
    ids = {item.external_id for item in listed_orders}
    refs = {item.reference for item in listed_orders if item.reference}
    known_ids = set(
        Payment.objects.filter(transaction_id__in=list(ids)).values_list("transaction_id", flat=True)
    )
    known_refs = set(
        Order.objects.filter(Q(number__in=list(refs)) | Q(external_id__in=list(refs))).values_list(
            "external_id", "number"
        )
    )
    known_ref_words = {word for pair in known_refs for word in pair if word}
    active = _active(IssueKind.NOT_INTEGRATED, gateway)
    still: set[str] = set()
    paid_but_unpaid = Payment.objects.filter(
        transaction_id__in=[item.external_id for item in listed_orders if item.status == OrderStatus.PAID],
        order__status__in=UNPAID,
        order__created_at__lte=settled,
    ).values_list("transaction_id", flat=True)
    for transaction_id in list(paid_but_unpaid):
        # Paid at the gateway, unpaid in Malote: the webhook was lost. Taken in like one.
        counts["payment_found_paid"] += 1
        found.append(_finding(gateway, "paid_at_gateway_unpaid_in_malote", ref=transaction_id))
        if not dry_run:
            counts[f"payment:{take_in_payment(gateway, transaction_id)}"] += 1
    for item in listed_orders:
        if item.external_id in known_ids or item.reference in known_ref_words or item.status == "canceled":
            continue
        placed = _placed(item)
        if placed is not None and placed > settled:
            continue
        counts["unknown_payment"] += 1
        found.append(
            _finding(gateway, "payment_unknown_to_malote", ref=item.external_id, reference=item.reference)
        )
        if dry_run:
            continue
        still.add(actions.subject_for(None, item.external_id))
        counts["opened"] += actions.report(
            IssueKind.NOT_INTEGRATED,
            channel=gateway,
            actor=actor,
            external_ref=item.external_id,
            evidence={gateway.code: {"found": True, **asdict(item)}, "malote": {"found": False}},
            detail=f"Pagamento {item.external_id} ({item.reference or '-'}) sem pedido no Malote",
            recommended_action=IssueAction.INVESTIGATE,
        ).created
    payments = (
        Payment.objects.filter(order__created_at__gte=since, order__created_at__lte=settled)
        .filter(Q(gateway=gateway.code) | Q(gateway=gateway.kind))
        .exclude(transaction_id="")
        .exclude(order__status=OrderStatus.CANCELED)
        .select_related("order", "order__channel")
    )
    for payment in payments.iterator(chunk_size=2000):
        order = payment.order
        if payment.transaction_id in ids or order.external_id in refs or (order.number or "") in refs:
            continue
        counts["missing_at_gateway"] += 1
        found.append(_finding(gateway, "missing_at_gateway", order=order, reference=payment.transaction_id))
        if dry_run:
            continue
        still.add(actions.subject_for(order))
        counts["opened"] += actions.report(
            IssueKind.NOT_INTEGRATED,
            channel=gateway,
            other_channel=order.channel,
            actor=actor,
            order=order,
            evidence={
                "malote": _order_evidence(order),
                gateway.code: {"found": False, "transaction_id": payment.transaction_id},
            },
            detail=f"{gateway.name} não lista o pagamento {payment.transaction_id} do pedido {order.number}",
            recommended_action=IssueAction.INVESTIGATE,
        ).created
    if not dry_run:
        _clear_missing(active, still, actor=actor, note="Pagamento e pedido conferem.", counts=counts)
    return counts


def take_in_payment(gateway: Channel, transaction_id: str) -> str:
    """Read the payment now and take it in through the inbox, as its webhook would have been."""
    try:
        with connector_for(gateway) as connector:
            change = connector.fetch_order(transaction_id)
    except (DeliveryError, Unsupported):
        return "unreachable"
    received = intake.take_in(gateway, change, headers={"x-malote-reconcile": "gateway"}, body="")
    return "duplicate" if received.duplicate else received.result or "taken_in"


CHECKS = {
    ChannelRole.ERP: check_erp,
    ChannelRole.STOREFRONT: check_sales,
    ChannelRole.MARKETPLACE: check_sales,
    ChannelRole.GATEWAY: check_gateway,
}


def check(
    channel: Channel,
    now: datetime | None = None,
    *,
    actor: Actor,
    dry_run: bool = False,
    since: datetime | None = None,
    findings: list[dict[str, Any]] | None = None,
) -> Counter[str]:
    """The check of the pair (this channel, Malote)."""
    run = CHECKS[ChannelRole(channel.role)]
    return run(channel, now, actor=actor, dry_run=dry_run, since=since, findings=findings)


def _finding(
    channel: Channel, what: str, *, order: Order | None = None, ref: str = "", reference: str = ""
) -> dict[str, Any]:
    return {
        "kind": IssueKind.NOT_INTEGRATED.value,
        "what": what,
        "channel": channel.code,
        "order": order.number if order is not None else "",
        "external_ref": ref or (order.external_id if order is not None else ""),
        "reference": reference,
    }
