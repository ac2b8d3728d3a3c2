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
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q
from django.utils.translation import gettext as _

from malote.channels.models import SALES_ROLES, Channel, ChannelRole, ImportPolicy, OrderLink
from malote.connectors.base import Capability, ListedOrder, Unsupported, supports
from malote.connectors.registry import connector_for
from malote.core.actors import Actor
from malote.orders.models import Order, Payment
from malote.orders.statuses import UNPAID, OrderStatus
from malote.reconcile import actions, divergent, refresh, repair
from malote.reconcile.checks import MAX_PAGES, Check, Miss, listing, order_evidence
from malote.reconcile.errors import ReconcileErrorCode
from malote.reconcile.models import IntegrationIssue, IssueAction, IssueKind
from malote.reconcile.options import option
from malote.reconcile.references import OrderIndex, order_keys, reference_keys
from malote.relay import intake
from malote.relay.routing import PAID_OR_LATER
from malote.sync.errors import DeliveryError

# How far before the window Malote's orders are still matched by reference (an order typed in the
# ERP days after the sale).
REFERENCE_MARGIN = timedelta(days=30)

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


def _erp_candidates(check: ErpCheck) -> Iterator[tuple[Order, OrderLink | None]]:
    """Orders the ERP must have, placed in the window (after both go-lives): those routing linked
    to it (the link older than the grace), and sales orders it wants (import policy) that never got
    a link at all — the ERP was disabled or added later, or the routing never ran for them."""
    erp, settled = check.channel, check.settled
    links = (
        OrderLink.objects.filter(channel=erp, created_at__lte=settled)
        .filter(check.orders_in_window("order__"))
        .exclude(order__status=OrderStatus.CANCELED)
        .select_related("order", "order__channel")
        .order_by("id")
    )
    for link in links.iterator(chunk_size=2000):
        yield link.order, link
    unlinked = (
        Order.objects.filter(check.orders_in_window(), created_at__lte=settled, channel__role__in=SALES_ROLES)
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
    """Found by the link's external id, or by the sale's references (Malote's number, the sale's id
    in its channel, the store's number, as ``malote.reconcile.references`` normalises them)."""

    def cleared_note(self) -> str:
        return _("O pedido está no %(erp)s e no Malote.") % {"erp": self.channel.name}

    def misses(self, listed: list[ListedOrder]) -> Iterator[Miss]:
        erp = self.channel
        by_id = {item.external_id: item for item in listed}
        self.counts["listed"] = len(by_id)
        present, duplicates, unknown = self._match(by_id)
        yield from duplicates
        for order, link in _erp_candidates(self):
            self.counts["checked"] += 1
            if order.pk in present:
                self.saw(order)
                continue
            by_helpdesk = bool(option(erp, "repair_by_helpdesk"))
            wanted = repair.erp_wants_now(erp, order.status)
            if by_helpdesk:
                recommended = IssueAction.OPEN_TICKET
            else:
                recommended = IssueAction.REINTEGRATE if wanted else IssueAction.INVESTIGATE
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
                detail=_("Pedido %(number)s não está no %(erp)s") % {"number": order.number, "erp": erp.name},
                recommended_action=recommended,
                repairable=True,
            )
        if option(erp, "report_unknown_in_erp"):
            yield from self._unknown_to_malote(unknown)

    def _match(self, by_id: dict[str, ListedOrder]) -> tuple[dict[int, str], list[Miss], list[ListedOrder]]:
        """Each listed order to Malote's: by the link's id, else by the sale's references. A match
        by reference without a remote id yet is linked; one whose order already has another remote
        id linked is a duplicate (one issue per order, every remote id in the evidence). Returns the
        orders present (id → remote id), the duplicates and what no reference matched."""
        erp = self.channel
        linked = dict(
            OrderLink.objects.filter(channel=erp, external_id__in=list(by_id)).values_list(
                "external_id", "order_id"
            )
        )
        present: dict[int, str] = {}
        by_reference: dict[int, list[ListedOrder]] = {}
        unknown: list[ListedOrder] = []
        refs = [
            item.reference for item in by_id.values() if item.reference and item.external_id not in linked
        ]
        index = OrderIndex(refs, self.since - REFERENCE_MARGIN) if refs else None
        for external_id, item in by_id.items():
            if external_id in linked:
                present[linked[external_id]] = external_id
                continue
            order_id = index.find(item.reference) if index is not None and item.reference else None
            if order_id is None:
                unknown.append(item)
            else:
                by_reference.setdefault(order_id, []).append(item)
        links = {
            link.order_id: link
            for link in OrderLink.objects.filter(channel=erp, order_id__in=list(by_reference))
        }
        orders = Order.objects.select_related("channel").in_bulk(list(by_reference))
        duplicates: list[Miss] = []
        for order_id, items in by_reference.items():
            order = orders[order_id]
            link = links.get(order_id)
            known_id = present.get(order_id) or (link.external_id if link is not None else "")
            others = [item for item in items if item.external_id != known_id]
            if not known_id:
                first, others = others[0], others[1:]
                self.counts["linked"] += 1
                if not self.dry_run:
                    actions.link_remote(
                        order_id,
                        erp,
                        first.external_id,
                        actor=self.actor,
                        note=_("Pedido %(id)s do %(erp)s referencia a venda %(ref)s: vinculado.")
                        % {"id": first.external_id, "erp": erp.name, "ref": first.reference},
                    )
                known_id = first.external_id
            present[order_id] = known_id
            if others and (self.backfill or self.order_in_window(order)):
                duplicates.append(self._duplicate(order, link, known_id, others))
        return present, duplicates, unknown

    def _duplicate(
        self, order: Order, link: OrderLink | None, known_id: str, others: list[ListedOrder]
    ) -> Miss:
        erp = self.channel
        remote_ids = [known_id, *(item.external_id for item in others)]
        return Miss(
            kind=IssueKind.DUPLICATE,
            counter="duplicate",
            what="duplicate_in_erp",
            order=order,
            other_channel=order.channel,
            reference=", ".join(remote_ids),
            evidence={
                "malote": order_evidence(order, link),
                erp.code: {
                    "found": True,
                    "remote_ids": remote_ids,
                    "linked_id": known_id,
                    "others": [asdict(item) for item in others],
                },
            },
            detail=_("O pedido %(number)s está mais de uma vez no %(erp)s: %(ids)s")
            % {"number": order.number, "erp": erp.name, "ids": ", ".join(remote_ids)},
            recommended_action=IssueAction.INVESTIGATE,
        )

    def _unknown_to_malote(self, unknown: list[ListedOrder]) -> Iterator[Miss]:
        """What the ERP has that Malote does not know by any reference, placed in the window."""
        erp = self.channel
        for item in unknown:
            if not self.listed_in_window(item):
                self.counts["before_window"] += 1
                continue
            yield Miss(
                counter="unknown_in_erp",
                what="unknown_to_malote",
                external_ref=item.external_id,
                reference=item.reference,
                evidence={erp.code: {"found": True, **asdict(item)}, "malote": {"found": False}},
                detail=_("O %(erp)s tem o pedido %(id)s (%(ref)s), que o Malote não conhece")
                % {"erp": erp.name, "id": item.external_id, "ref": item.reference or _("sem referência")},
                recommended_action=IssueAction.INVESTIGATE,
            )

    def verify(self, issue: IntegrationIssue) -> tuple[bool | None, str]:
        """The order read back in the ERP by its link's id (when the connector reads orders)."""
        order = issue.order
        if order is None:
            return None, ""
        if order.status == OrderStatus.CANCELED:
            return True, _("Pedido cancelado no Malote: nada a integrar no %(erp)s.") % {
                "erp": self.channel.name
            }
        link = OrderLink.objects.filter(order=order, channel=self.channel).first()
        if link is None or not link.external_id:
            return None, ""
        found = read_back(self.channel, link.external_id)
        if found:
            return True, _("Pedido %(id)s lido de volta no %(erp)s.") % {
                "id": link.external_id,
                "erp": self.channel.name,
            }
        return found, ""


def read_back(channel: Channel, external_id: str) -> bool | None:
    """Whether ``fetch_order`` finds the order in the system now; ``None`` when it cannot say."""
    try:
        with connector_for(channel) as connector:
            if not supports(connector, Capability.FETCH_ORDER):
                return None
            connector.fetch_order(external_id)
    except LookupError:
        return False
    except DeliveryError as exc:
        return None if exc.retryable or exc.status not in (404, 410) else False
    except Unsupported:
        return None
    return True


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
        return _("O pedido chegou ao Malote.")

    def verify(self, issue: IntegrationIssue) -> tuple[bool | None, str]:
        """Malote is the side that was missing it: its own records are read directly."""
        ref = issue.external_ref
        known = (
            Order.objects.filter(channel=self.channel, external_id=ref).exists()
            or OrderLink.objects.filter(channel=self.channel, external_id=ref).exists()
        )
        return known, (self.cleared_note() if known else "")

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
                self.saw(external_ref=item.external_id)
                continue
            if channel.import_policy == ImportPolicy.PAID_ONLY and item.status in NOT_PAID:
                continue
            if not self.listed_in_window(item):
                self.counts["before_window"] += 1
                continue
            if self.within_grace(item):
                self.counts["within_grace"] += 1
                continue
            yield Miss(
                counter="missing",
                what="missing_in_malote",
                external_ref=item.external_id,
                evidence={channel.code: {"found": True, **asdict(item)}, "malote": {"found": False}},
                detail=_("O pedido %(id)s de %(channel)s não chegou ao Malote")
                % {"id": item.external_id, "channel": channel.name},
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
    """Payments by transaction id, or by the sale's references (Malote's number, the sale's id in
    its channel), normalised as people type them."""

    def cleared_note(self) -> str:
        return _("Pagamento e pedido conferem.")

    def verify(self, issue: IntegrationIssue) -> tuple[bool | None, str]:
        """A payment unknown to Malote: Malote's records read directly. A payment missing at the
        gateway: read back there by its transaction id."""
        if issue.order is None:
            known = Payment.objects.filter(transaction_id=issue.external_ref).exists()
            return known, (self.cleared_note() if known else "")
        payment = (
            Payment.objects.filter(order=issue.order)
            .filter(Q(gateway=self.channel.code) | Q(gateway=self.channel.kind))
            .exclude(transaction_id="")
            .order_by("-id")
            .first()
        )
        if payment is None:
            return None, ""
        found = read_back(self.channel, payment.transaction_id)
        return found, (self.cleared_note() if found else "")

    def misses(self, listed: list[ListedOrder]) -> Iterator[Miss]:
        gateway = self.channel
        ids = {item.external_id for item in listed}
        refs = {item.reference for item in listed if item.reference}
        known_ids = set(
            Payment.objects.filter(transaction_id__in=list(ids)).values_list("transaction_id", flat=True)
        )
        # A charge names its sale as the store typed it ("10016", "pedido-10016", "M0000070-1"):
        # matched by the sale's references, normalised (``malote.reconcile.references``).
        index = OrderIndex(refs, self.since)
        ref_keys = {key for ref in refs for key in reference_keys(ref)}
        self._take_in_paid(listed)
        for item in listed:
            known = item.external_id in known_ids or (
                bool(item.reference) and index.find(item.reference) is not None
            )
            if known:
                self.saw(external_ref=item.external_id)
            if known or item.status == "canceled" or self.within_grace(item):
                continue
            if not self.listed_in_window(item):
                self.counts["before_window"] += 1
                continue
            yield Miss(
                counter="unknown_payment",
                what="payment_unknown_to_malote",
                external_ref=item.external_id,
                reference=item.reference,
                evidence={gateway.code: {"found": True, **asdict(item)}, "malote": {"found": False}},
                detail=_("Pagamento %(id)s (%(ref)s) sem pedido no Malote")
                % {"id": item.external_id, "ref": item.reference or "-"},
                recommended_action=IssueAction.INVESTIGATE,
            )
        payments = (
            Payment.objects.filter(self.orders_in_window("order__"), order__created_at__lte=self.settled)
            .filter(Q(gateway=gateway.code) | Q(gateway=gateway.kind))
            .exclude(transaction_id="")
            .exclude(order__status=OrderStatus.CANCELED)
            .select_related("order", "order__channel")
        )
        for payment in payments.iterator(chunk_size=2000):
            order = payment.order
            if payment.transaction_id in ids or any(
                key in ref_keys for key in order_keys(order.number, order.external_id)
            ):
                self.saw(order)
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
                detail=_("%(gateway)s não lista o pagamento %(id)s do pedido %(number)s")
                % {"gateway": gateway.name, "id": payment.transaction_id, "number": order.number},
                recommended_action=IssueAction.INVESTIGATE,
            )

    def _take_in_paid(self, listed: list[ListedOrder]) -> None:
        """Paid at the gateway, unpaid in Malote: the webhook was lost. Taken in like one."""
        paid_but_unpaid = (
            Payment.objects.filter(
                transaction_id__in=[item.external_id for item in listed if item.status == OrderStatus.PAID],
                order__status__in=UNPAID,
                order__created_at__lte=self.settled,
            )
            .filter(self.orders_in_window("order__"))
            .values_list("transaction_id", flat=True)
        )
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
    backfill: bool = False,
) -> Counter[str]:
    """The check of the pair (this channel, Malote); ``backfill`` (with ``since``) reaches before
    the go-live."""
    run = CHECKS[ChannelRole(channel.role)]
    return run(channel, now, actor=actor, dry_run=dry_run, since=since, findings=findings, backfill=backfill)
