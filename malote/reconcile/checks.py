"""The skeleton every not-integrated check follows, for one pair (a system, Malote).

A run reads the system's listing since the start of its window (``reconcile_lookback_hours`` back,
or ``since``), page by page; the specialisation compares it with Malote's records and names each
miss (``Check.misses``), leaving out what is younger than ``integration_grace_minutes``. Each miss
is counted and becomes a finding; outside a dry run it opens or refreshes a ``not_integrated``
issue, repaired at once when the specialisation allows it and ``auto_repair`` is on. The channel's
active issues no longer missed are then cleared. Options are the checked channel's.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from malote.channels.models import Channel, OrderLink
from malote.connectors.base import Connector, ListedOrder
from malote.connectors.registry import connector_for
from malote.core.actors import Actor
from malote.core.errors import MaloteError
from malote.orders.models import Order
from malote.reconcile import actions, repair
from malote.reconcile.errors import ReconcileErrorCode
from malote.reconcile.models import ACTIVE_STATES, IntegrationIssue, IssueKind, IssueState
from malote.reconcile.options import option

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


def placed_at(listed: ListedOrder) -> datetime | None:
    """When the listed order was placed, aware; ``None`` when the system gave no readable time."""
    try:
        moment = datetime.fromisoformat(listed.placed_at)
    except ValueError:
        return None
    return moment if moment.tzinfo else timezone.make_aware(moment)


def order_evidence(order: Order, link: OrderLink | None = None) -> dict[str, Any]:
    """Malote's side of the evidence: the order, and its link to the checked system when it has one."""
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


@dataclass(frozen=True)
class Miss:
    """A record one side lacks: the count it adds to, its finding and the issue it opens.

    The issue's subject is ``order`` when Malote has the order, else ``external_ref`` (the other
    system's id)."""

    counter: str
    what: str
    detail: str
    recommended_action: str
    evidence: dict[str, Any]
    order: Order | None = None
    external_ref: str = ""
    other_channel: Channel | None = None
    reference: str = ""
    repairable: bool = False


class Check:
    """One run of the check of (``channel``, Malote).

    A specialisation says what is missing (``misses``), what clearing an issue means
    (``cleared_note``) and, optionally, what else the listing is for (``after``). ``misses`` may
    narrow ``counts["listed"]`` to the part of the listing it compares."""

    def __init__(
        self,
        channel: Channel,
        now: datetime | None = None,
        *,
        actor: Actor,
        dry_run: bool = False,
        since: datetime | None = None,
        findings: list[dict[str, Any]] | None = None,
    ) -> None:
        now = now or timezone.now()
        self.channel = channel
        self.actor = actor
        self.dry_run = dry_run
        # The listing's start, and the time before which a record must show on the other side.
        self.since = since or now - timedelta(hours=float(option(channel, "reconcile_lookback_hours")))
        self.settled = now - timedelta(minutes=float(option(channel, "integration_grace_minutes")))
        self.findings = findings if findings is not None else []
        self.counts: Counter[str] = Counter()

    @classmethod
    def run(
        cls,
        channel: Channel,
        now: datetime | None = None,
        *,
        actor: Actor,
        dry_run: bool = False,
        since: datetime | None = None,
        findings: list[dict[str, Any]] | None = None,
    ) -> Counter[str]:
        """Run the check once; ``findings`` collects what was found (dry run or not)."""
        check = cls(channel, now, actor=actor, dry_run=dry_run, since=since, findings=findings)
        return check.execute()

    # --- what a specialisation says ---------------------------------------------------------------

    def misses(self, listed: list[ListedOrder]) -> Iterator[Miss]:
        raise NotImplementedError

    def cleared_note(self) -> str:
        raise NotImplementedError

    def after(self, listed: list[ListedOrder]) -> None:
        """Called last, with the whole listing."""

    # --- the skeleton -----------------------------------------------------------------------------

    def execute(self) -> Counter[str]:
        with connector_for(self.channel) as connector:
            listed = list(listing(connector, self.since))
        self.counts["listed"] = len(listed)
        active = {
            issue.subject: issue
            for issue in IntegrationIssue.objects.filter(
                kind=IssueKind.NOT_INTEGRATED, channel=self.channel, state__in=ACTIVE_STATES
            )
        }
        still: set[str] = set()
        for miss in self.misses(listed):
            self.counts[miss.counter] += 1
            self.finding(miss.what, order=miss.order, ref=miss.external_ref, reference=miss.reference)
            if self.dry_run:
                continue
            still.add(actions.subject_for(miss.order, miss.external_ref))
            result = actions.report(
                IssueKind.NOT_INTEGRATED,
                channel=self.channel,
                other_channel=miss.other_channel,
                actor=self.actor,
                order=miss.order,
                external_ref=miss.external_ref,
                evidence=miss.evidence,
                detail=miss.detail,
                recommended_action=miss.recommended_action,
            )
            self.counts["opened"] += result.created
            if miss.repairable:
                self.try_repair(result.issue)
        if not self.dry_run:
            note = self.cleared_note()
            for subject, issue in active.items():
                if subject not in still:
                    self.counts["cleared"] += actions.clear(issue, actor=self.actor, note=note)
        self.after(listed)
        return self.counts

    def within_grace(self, listed: ListedOrder) -> bool:
        """Placed too recently to be missed yet (a listed order without a readable time is not)."""
        placed = placed_at(listed)
        return placed is not None and placed > self.settled

    def finding(self, what: str, *, order: Order | None = None, ref: str = "", reference: str = "") -> None:
        self.findings.append(
            {
                "kind": IssueKind.NOT_INTEGRATED.value,
                "what": what,
                "channel": self.channel.code,
                "order": order.number if order is not None else "",
                "external_ref": ref or (order.external_id if order is not None else ""),
                "reference": reference,
            }
        )

    def try_repair(self, issue: IntegrationIssue) -> None:
        """Repair an open issue now, when the channel's ``auto_repair`` allows it."""
        if issue.state != IssueState.OPEN or not option(self.channel, "auto_repair"):
            return
        try:
            outcome = repair.repair(issue.pk, actor=self.actor)
        except MaloteError as exc:
            # e.g. no help-desk channel for a "repair by help desk" ERP: the issue stays open, visible.
            actions.note(
                issue.pk,
                ReconcileErrorCode.REPAIR_FAILED,
                actor=self.actor,
                text=exc.detail,
                data={"code": exc.code},
            )
            outcome = f"failed:{exc.code}"
        self.counts[f"repair:{outcome}"] += 1
