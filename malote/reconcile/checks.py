"""The skeleton every not-integrated check follows, for one pair (a system, Malote).

One time basis on both sides: the order's *placement date*. The window starts
``reconcile_lookback_hours`` back (or at ``since``), never before the checked channel's
``go_live_at``; a Malote order is compared only when it was also placed after its own sales
channel's go-live (the later of the two go-lives). What was placed before is history: never
re-sent, imported, canceled nor flagged — unless an operator runs an explicit backfill
(``backfill=True`` with ``since``; ``malote reconcile --backfill``), whose window is ``since``.

A run reads the system's listing since the start of its window, page by page; the specialisation
compares it with Malote's records, notes what it saw on both sides (``Check.saw``) and names each
miss (``Check.misses``), leaving out what is younger than ``integration_grace_minutes``. Each miss
is counted and becomes a finding; outside a dry run it opens or refreshes an issue, repaired at
once when the specialisation allows it and ``auto_repair`` is on. An active issue of the channel
resolves only on positive evidence: its subject seen on both sides in this run, or read back
directly (``Check.verify``); an issue whose order merely left the window stays open, noted
"fora da janela, não verificado". Options are the checked channel's.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from malote.channels.models import Channel, OrderLink
from malote.connectors.base import Connector, ListedOrder
from malote.connectors.registry import connector_for
from malote.core.actors import Actor
from malote.core.errors import MaloteError
from malote.orders.models import Order
from malote.reconcile import actions, repair
from malote.reconcile.errors import ReconcileErrorCode
from malote.reconcile.models import ACTIVE_STATES, IntegrationIssue, IssueAction, IssueKind, IssueState
from malote.reconcile.options import option

MAX_PAGES = 100_000


def listing(connector: Connector, since: datetime) -> Iterator[ListedOrder]:
    """Every order of the system's listing since ``since``, page after page."""
    cursor: str | None = None
    for _page in range(MAX_PAGES):
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
    kind: str = IssueKind.NOT_INTEGRATED
    # What a dry run lists: the action that would be taken, and why.
    action: str = ""
    why: str = ""


class Check:
    """One run of the check of (``channel``, Malote).

    A specialisation says what is missing (``misses``, calling ``saw`` for every subject it found
    on both sides), what clearing an issue means (``cleared_note``), how to read one issue's subject
    back outside the listing (``verify``) and, optionally, what else the listing is for (``after``).
    ``misses`` may narrow ``counts["listed"]`` to the part of the listing it compares."""

    def __init__(
        self,
        channel: Channel,
        now: datetime | None = None,
        *,
        actor: Actor,
        dry_run: bool = False,
        since: datetime | None = None,
        findings: list[dict[str, Any]] | None = None,
        backfill: bool = False,
    ) -> None:
        now = now or timezone.now()
        self.channel = channel
        self.actor = actor
        self.dry_run = dry_run
        self.now = now
        # An explicit backfill (an operator's, with a date) is the only way before the go-live.
        self.backfill = backfill and since is not None
        start = since or now - timedelta(hours=float(option(channel, "reconcile_lookback_hours")))
        # The window's start on the placement date, and the time before which a record must show
        # on the other side.
        self.since = start if self.backfill else max(start, channel.go_live_at)
        self.settled = now - timedelta(minutes=float(option(channel, "integration_grace_minutes")))
        self.findings = findings if findings is not None else []
        self.counts: Counter[str] = Counter()
        # Subjects (``actions.subject_for``) this run found present on both sides.
        self.seen: set[str] = set()

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
        backfill: bool = False,
    ) -> Counter[str]:
        """Run the check once; ``findings`` collects what was found (dry run or not)."""
        check = cls(
            channel, now, actor=actor, dry_run=dry_run, since=since, findings=findings, backfill=backfill
        )
        return check.execute()

    # --- what a specialisation says ---------------------------------------------------------------

    def misses(self, listed: list[ListedOrder]) -> Iterator[Miss]:
        raise NotImplementedError

    def cleared_note(self) -> str:
        raise NotImplementedError

    def after(self, listed: list[ListedOrder]) -> None:
        """Called last, with the whole listing."""

    def verify(self, issue: IntegrationIssue) -> tuple[bool | None, str]:
        """Read an active issue's subject back outside the listing: ``(True, note)`` when it is now
        present where it was missing (or the statuses agree), ``False`` when still missing, ``None``
        when it cannot be read."""
        return None, ""

    # --- the window -------------------------------------------------------------------------------

    def saw(self, order: Order | int | None = None, external_ref: str = "") -> None:
        """The subject was found on both sides in this run: positive evidence for its issue."""
        self.seen.add(actions.subject_for(order, external_ref))

    def listed_in_window(self, listed: ListedOrder) -> bool:
        """Placed (by the system's own date) in the window: after the start and the go-live. A listed
        order without a readable placement date cannot be shown to be after the go-live: left out."""
        placed = placed_at(listed)
        return placed is not None and placed >= self.since

    def order_in_window(self, order: Order) -> bool:
        """Placed in the window and after its own sales channel's go-live (the later go-live wins)."""
        if order.placed_at < self.since:
            return False
        return self.backfill or order.placed_at >= order.channel.go_live_at

    def orders_in_window(self, prefix: str = "") -> Q:
        """``order_in_window`` as a filter; ``prefix`` is the path to the order (``"order__"``)."""
        query = Q(**{f"{prefix}placed_at__gte": self.since})
        if not self.backfill:
            query &= Q(**{f"{prefix}placed_at__gte": F(f"{prefix}channel__go_live_at")})
        return query

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
            self.finding(
                miss.what,
                order=miss.order,
                ref=miss.external_ref,
                reference=miss.reference,
                action=miss.action or (self.would_do(miss) if self.dry_run else miss.recommended_action),
                why=miss.why or miss.detail,
                kind=miss.kind,
            )
            if self.dry_run:
                continue
            if miss.kind == IssueKind.NOT_INTEGRATED:
                still.add(actions.subject_for(miss.order, miss.external_ref))
            result = actions.report(
                miss.kind,
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
            for subject, issue in active.items():
                if subject not in still:
                    self.settle(issue, seen=subject in self.seen)
        self.after(listed)
        return self.counts

    def settle(self, issue: IntegrationIssue, *, seen: bool) -> None:
        """An active issue this run did not find missing: resolved only on positive evidence."""
        present, note = (True, self.cleared_note()) if seen else self.verify(issue)
        if present:
            self.counts["cleared"] += actions.clear(issue, actor=self.actor, note=note or self.cleared_note())
            return
        if present is None:
            self.counts["unverified"] += 1
            actions.note(
                issue.pk,
                "unverified",
                actor=self.actor,
                text=_("Fora da janela, não verificado."),
                data={"window_start": self.since.isoformat()},
            )
            return
        self.counts["still_missing"] += 1

    def would_do(self, miss: Miss) -> str:
        """What an automatic repair would do (a dry run's answer; asks, changes nothing)."""
        if not miss.repairable or not option(self.channel, "auto_repair"):
            return f"report:{miss.recommended_action}"
        if miss.order is None:
            return IssueAction.IMPORT if self.channel.is_sales else ReconcileErrorCode.NEEDS_PERSON
        decision = repair.decide(miss.order, self.channel)
        return decision.action

    def within_grace(self, listed: ListedOrder) -> bool:
        """Placed too recently to be missed yet (a listed order without a readable time is not)."""
        placed = placed_at(listed)
        return placed is not None and placed > self.settled

    def finding(
        self,
        what: str,
        *,
        order: Order | None = None,
        ref: str = "",
        reference: str = "",
        action: str = "",
        why: str = "",
        kind: str = IssueKind.NOT_INTEGRATED,
    ) -> None:
        self.findings.append(
            {
                "kind": str(kind),
                "what": what,
                "channel": self.channel.code,
                "order": order.number if order is not None else "",
                "external_ref": ref or (order.external_id if order is not None else ""),
                "reference": reference,
                "action": action,
                "why": why,
            }
        )

    def try_repair(self, issue: IntegrationIssue) -> None:
        """Repair an open issue now, when the channel's ``auto_repair`` allows it."""
        if issue.state != IssueState.OPEN or not option(self.channel, "auto_repair"):
            return
        if issue.ticket_id:
            return  # a person already had a ticket for it: the automation does not ask twice
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
