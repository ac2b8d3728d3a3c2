"""Non-integrated orders ("pedido não integrado"): orders one system has and another that must have
them does not.

One check per pair of systems, each a schedule of its own (``reconcile:integration:<channel>``),
each a specialisation of the skeleton in ``malote.reconcile.checks``:

* **Malote → ERP** (``check_erp``): the orders linked to the ERP, and the window's sales orders it
  wants but never got linked, must be in the ERP's listing (by the link's id or by Malote's number
  as the ERP's reference); a missing one is repaired. Orders the ERP lists that Malote does not
  know are reported for a person (option ``report_unknown_in_erp``).
* **storefront/marketplace → Malote** (``check_sales``): every order the channel lists as a sale
  (a paid one under the "paid only" policy) must be in Malote; a missing one is imported. The same
  listing reveals status changes made by hand in the channel's panel: those orders are read again
  (``malote.reconcile.refresh``) and the channel's divergences detected in the same run.
* **gateway ↔ Malote** (``check_gateway``): a payment paid at the gateway but unpaid in Malote is
  taken in as its lost webhook would have been; payments the gateway lists for orders Malote does
  not know, and Malote's payments the gateway does not list, are reported for a person.

An issue clears by itself once the order shows on both sides; repairs are ``malote.reconcile.repair``'s.
docs/reconciliation.md tells the whole story.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict
from datetime import datetime
from typing import Any

from django.db.models import Q

from malote.channels.models import SALES_ROLES, Channel, ChannelRole, ImportPolicy, OrderLink
from malote.connectors.base import ListedOrder, Unsupported
from malote.connectors.registry import connector_for
from malote.core.actors import Actor
from malote.orders.models import Order, Payment
from malote.orders.statuses import UNPAID, OrderStatus
from malote.reconcile import divergent, refresh
from malote.reconcile.checks import MAX_PAGES, Check, Miss, listing, order_evidence
from malote.reconcile.errors import ReconcileErrorCode
from malote.reconcile.models import IssueAction
from malote.reconcile.options import option
from malote.relay import intake
from malote.relay.routing import PAID_OR_LATER
from malote.sync.errors import DeliveryError

__all__ = [
    "CHECKS",
    "MAX_PAGES",
    "ErpCheck",
    "GatewayCheck",
    "SalesCheck",
    "check",
    "check_erp",
    "check_gateway",
    "check_sales",
    "listing",
    "take_in_payment",
]


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


class ErpCheck(Check):
    """Found by the link's external id or by Malote's number as the ERP's reference."""

    def cleared_note(self) -> str:
        return f"O pedido está no {self.channel.name} e no Malote."

    def misses(self, listed: list[ListedOrder]) -> Iterator[Miss]:
        erp = self.channel
        by_id = {item.external_id: item for item in listed}
        by_ref = {item.reference: item for item in listed if item.reference}
        self.counts["listed"] = len(by_id)
        for order, link in _erp_candidates(erp, self.since, self.settled):
            self.counts["checked"] += 1
            if (link is not None and link.external_id and link.external_id in by_id) or (
                order.number or ""
            ) in by_ref:
                continue
            by_helpdesk = bool(option(erp, "repair_by_helpdesk"))
            yield Miss(
                counter="missing",
                what="missing_in_erp",
                order=order,
                other_channel=order.channel,
                evidence={
                    "malote": order_evidence(order, link),
                    erp.code: {
                        "found": False,
                        "listed_since": self.since.isoformat(),
                        "searched": ["id", "reference"],
                    },
                },
                detail=f"Pedido {order.number} não está no {erp.name}",
                recommended_action=IssueAction.OPEN_TICKET if by_helpdesk else IssueAction.REINTEGRATE,
                repairable=True,
            )
        if option(erp, "report_unknown_in_erp"):
            yield from self._unknown_to_malote(by_id, by_ref)

    def _unknown_to_malote(
        self, by_id: dict[str, ListedOrder], by_ref: dict[str, ListedOrder]
    ) -> Iterator[Miss]:
        """What the ERP has that Malote does not know."""
        erp = self.channel
        known_refs = set(Order.objects.filter(number__in=list(by_ref)).values_list("number", flat=True))
        known_ids = set(
            OrderLink.objects.filter(channel=erp, external_id__in=list(by_id)).values_list(
                "external_id", flat=True
            )
        )
        for external_id, item in by_id.items():
            if external_id in known_ids or (item.reference and item.reference in known_refs):
                continue
            yield Miss(
                counter="unknown_in_erp",
                what="unknown_to_malote",
                external_ref=external_id,
                reference=item.reference,
                evidence={erp.code: {"found": True, **asdict(item)}, "malote": {"found": False}},
                detail=f"O {erp.name} tem o pedido {external_id} ({item.reference or 'sem referência'}),"
                " que o Malote não conhece",
                recommended_action=IssueAction.INVESTIGATE,
            )


# --- storefront/marketplace → Malote -------------------------------------------------------------

# Statuses that are no paid sale yet: not imported under the "paid only" policy.
NOT_PAID = (
    OrderStatus.PENDING_PAYMENT,
    OrderStatus.PAYMENT_REVIEW,
    OrderStatus.PAYMENT_OVERDUE,
    OrderStatus.CANCELED,
)


class SalesCheck(Check):
    """Compares the listed orders with a status (a sale, not an abandoned checkout)."""

    def cleared_note(self) -> str:
        return "O pedido chegou ao Malote."

    def misses(self, listed: list[ListedOrder]) -> Iterator[Miss]:
        channel = self.channel
        sales = [item for item in listed if item.status]
        self.counts["listed"] = len(sales)
        ids = [item.external_id for item in sales]
        known = set(
            Order.objects.filter(channel=channel, external_id__in=ids).values_list("external_id", flat=True)
        )
        known |= set(
            OrderLink.objects.filter(channel=channel, external_id__in=ids).values_list(
                "external_id", flat=True
            )
        )
        for item in sales:
            if item.external_id in known:
                continue
            if channel.import_policy == ImportPolicy.PAID_ONLY and item.status in NOT_PAID:
                continue
            if self.within_grace(item):
                self.counts["within_grace"] += 1
                continue
            yield Miss(
                counter="missing",
                what="missing_in_malote",
                external_ref=item.external_id,
                evidence={channel.code: {"found": True, **asdict(item)}, "malote": {"found": False}},
                detail=f"O pedido {item.external_id} de {channel.name} não chegou ao Malote",
                recommended_action=IssueAction.IMPORT,
                repairable=True,
            )

    def after(self, listed: list[ListedOrder]) -> None:
        """Status changes made by hand in the channel (``malote.reconcile.refresh``), then the
        divergence detection of this channel, so a divergence they reveal is an issue in this run."""
        refreshed = refresh.refresh(self.channel, listed, dry_run=self.dry_run, findings=self.findings)
        self.counts.update(refreshed)
        if self.dry_run or not refreshed["refreshed"]:
            return
        detected = divergent.detect(actor=self.actor, channel=self.channel)
        for key in ("opened", "cleared"):
            self.counts[f"divergent:{key}"] += detected[key]


# --- gateway ↔ Malote ----------------------------------------------------------------------------


class GatewayCheck(Check):
    """Payments by transaction id, or by the order's number or external id as the reference."""

    def cleared_note(self) -> str:
        return "Pagamento e pedido conferem."

    def misses(self, listed: list[ListedOrder]) -> Iterator[Miss]:
        gateway = self.channel
        ids = {item.external_id for item in listed}
        refs = {item.reference for item in listed if item.reference}
        known_ids = set(
            Payment.objects.filter(transaction_id__in=list(ids)).values_list("transaction_id", flat=True)
        )
        known_refs = set(
            Order.objects.filter(Q(number__in=list(refs)) | Q(external_id__in=list(refs))).values_list(
                "external_id", "number"
            )
        )
        known_ref_words = {word for pair in known_refs for word in pair if word}
        self._take_in_paid(listed)
        for item in listed:
            known = item.external_id in known_ids or item.reference in known_ref_words
            if known or item.status == "canceled" or self.within_grace(item):
                continue
            yield Miss(
                counter="unknown_payment",
                what="payment_unknown_to_malote",
                external_ref=item.external_id,
                reference=item.reference,
                evidence={gateway.code: {"found": True, **asdict(item)}, "malote": {"found": False}},
                detail=f"Pagamento {item.external_id} ({item.reference or '-'}) sem pedido no Malote",
                recommended_action=IssueAction.INVESTIGATE,
            )
        payments = (
            Payment.objects.filter(order__created_at__gte=self.since, order__created_at__lte=self.settled)
            .filter(Q(gateway=gateway.code) | Q(gateway=gateway.kind))
            .exclude(transaction_id="")
            .exclude(order__status=OrderStatus.CANCELED)
            .select_related("order", "order__channel")
        )
        for payment in payments.iterator(chunk_size=2000):
            order = payment.order
            if payment.transaction_id in ids or order.external_id in refs or (order.number or "") in refs:
                continue
            yield Miss(
                counter="missing_at_gateway",
                what="missing_at_gateway",
                order=order,
                other_channel=order.channel,
                reference=payment.transaction_id,
                evidence={
                    "malote": order_evidence(order),
                    gateway.code: {"found": False, "transaction_id": payment.transaction_id},
                },
                detail=f"{gateway.name} não lista o pagamento {payment.transaction_id}"
                f" do pedido {order.number}",
                recommended_action=IssueAction.INVESTIGATE,
            )

    def _take_in_paid(self, listed: list[ListedOrder]) -> None:
        """Paid at the gateway, unpaid in Malote: the webhook was lost. Taken in like one."""
        paid_but_unpaid = Payment.objects.filter(
            transaction_id__in=[item.external_id for item in listed if item.status == OrderStatus.PAID],
            order__status__in=UNPAID,
            order__created_at__lte=self.settled,
        ).values_list("transaction_id", flat=True)
        for transaction_id in list(paid_but_unpaid):
            self.counts["payment_found_paid"] += 1
            self.finding("paid_at_gateway_unpaid_in_malote", ref=transaction_id)
            if not self.dry_run:
                self.counts[f"payment:{take_in_payment(self.channel, transaction_id)}"] += 1


def take_in_payment(gateway: Channel, transaction_id: str) -> str:
    """Read the payment now and take it in through the inbox, as its webhook would have been."""
    try:
        with connector_for(gateway) as connector:
            change = connector.fetch_order(transaction_id)
    except (DeliveryError, Unsupported):
        return ReconcileErrorCode.UNREACHABLE
    received = intake.take_in(gateway, change, headers={"x-malote-reconcile": "gateway"}, body="")
    return "duplicate" if received.duplicate else received.result or "taken_in"


# --- one entry point per pair --------------------------------------------------------------------

check_erp = ErpCheck.run
check_sales = SalesCheck.run
check_gateway = GatewayCheck.run

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
