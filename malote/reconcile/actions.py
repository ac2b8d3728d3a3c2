"""Commands on integration issues. Every one takes the actor explicitly and writes, in one
transaction, the issue's change, its ``IssueEvent`` and (when there is an order) an ``OrderEvent``
of type ``integration_issue`` on the order's timeline.

``report`` is what the detectors call on every run: it opens the issue, or refreshes the active
one for the same (kind, subject, channel) — the unique constraint makes a concurrent second
detector fall back to refreshing. ``clear`` resolves an issue whose condition is gone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from malote.channels.models import Channel, LinkState, OrderLink
from malote.core.actors import Actor
from malote.core.errors import Conflict, InvalidInput, NotFound
from malote.orders import events
from malote.orders.models import Order, OrderEvent
from malote.reconcile.errors import ReconcileErrorCode
from malote.reconcile.models import ACTIVE_STATES, IntegrationIssue, IssueEvent, IssueState

S = IssueState


def subject_for(order: Order | int | None, external_ref: str = "") -> str:
    if order is not None:
        return f"order:{order if isinstance(order, int) else order.pk}"
    if not external_ref:
        raise InvalidInput(
            "An issue needs an order or an external reference.", code=ReconcileErrorCode.ISSUE_WITHOUT_SUBJECT
        )
    return f"ref:{external_ref}"[:140]


def _record(
    issue: IntegrationIssue,
    action: str,
    actor: Actor,
    *,
    from_state: str = "",
    note: str = "",
    data: dict[str, Any] | None = None,
) -> None:
    now = timezone.now()
    IssueEvent.objects.create(
        issue=issue,
        action=action,
        from_state=from_state,
        to_state=issue.state,
        actor_kind=actor.kind,
        actor_label=actor.label[:200],
        actor_user_id=actor.user_id,
        note=note,
        data=data or {},
        created_at=now,
    )
    if issue.order_id is not None:
        OrderEvent.objects.create(
            order_id=issue.order_id,
            type="integration_issue",
            actor_kind=actor.kind,
            actor_label=actor.label[:200],
            actor_user_id=actor.user_id,
            data={
                "issue": issue.pk,
                "kind": issue.kind,
                "action": action,
                "state": issue.state,
                "channel": issue.channel.code,
                **({"note": note} if note else {}),
            },
            created_at=now,
        )


def active_issue(kind: str, channel: Channel, subject: str) -> IntegrationIssue | None:
    return (
        IntegrationIssue.objects.select_related("channel")
        .filter(kind=kind, channel=channel, subject=subject, state__in=ACTIVE_STATES)
        .first()
    )


@dataclass(frozen=True)
class Reported:
    issue: IntegrationIssue
    created: bool


def report(
    kind: str,
    *,
    channel: Channel,
    actor: Actor,
    order: Order | None = None,
    external_ref: str = "",
    other_channel: Channel | None = None,
    evidence: dict[str, Any] | None = None,
    detail: str = "",
    recommended_action: str = "",
    subject: str = "",
) -> Reported:
    """Open the issue, or refresh the active one (``last_seen``, evidence, recommendation).

    Only opening writes history: a detector seeing the same problem every slot does not flood the
    order's timeline. ``subject`` names what the issue is about when it is neither an order nor an
    external order reference (a stalled channel: ``channel:<code>``); by default it is built from
    the order or the external reference (``subject_for``).
    """
    subject = subject[:140] if subject else subject_for(order, external_ref)
    now = timezone.now()
    fields = {
        "evidence": evidence or {},
        "detail": detail[:500],
        "recommended_action": recommended_action,
        "last_seen": now,
    }
    existing = active_issue(kind, channel, subject)
    if existing is not None:
        IntegrationIssue.objects.filter(pk=existing.pk).update(**fields)
        for name, value in fields.items():
            setattr(existing, name, value)
        return Reported(existing, False)
    try:
        with transaction.atomic():
            issue = IntegrationIssue.objects.create(
                kind=kind,
                subject=subject,
                order=order,
                external_ref=external_ref[:100],
                channel=channel,
                other_channel=other_channel,
                first_seen=now,
                **fields,
            )
            _record(issue, "opened", actor, note=detail, data={"evidence": evidence or {}})
    except IntegrityError:
        # Another detector opened it a moment ago: refresh that one.
        existing = active_issue(kind, channel, subject)
        if existing is None:
            raise
        IntegrationIssue.objects.filter(pk=existing.pk).update(**fields)
        return Reported(existing, False)
    return Reported(issue, True)


def _locked(issue_id: int) -> IntegrationIssue:
    issue = IntegrationIssue.objects.select_for_update().select_related("channel").filter(pk=issue_id).first()
    if issue is None:
        raise NotFound(f"No integration issue {issue_id}.", code=ReconcileErrorCode.ISSUE_NOT_FOUND)
    return issue


def _move(
    issue_id: int, to: str, action: str, actor: Actor, *, note: str = "", data: dict[str, Any] | None = None
) -> IntegrationIssue:
    with transaction.atomic():
        issue = _locked(issue_id)
        if not issue.is_active:
            raise Conflict(
                f"The issue is already {issue.state}.",
                code=ReconcileErrorCode.ISSUE_CLOSED,
                extra={"state": issue.state},
            )
        before = issue.state
        issue.state = to
        update = ["state"]
        if to in (S.RESOLVED, S.DISMISSED):
            issue.resolved_at = timezone.now()
            issue.resolution = note
            update += ["resolved_at", "resolution"]
        issue.save(update_fields=update)
        _record(issue, action, actor, from_state=before, note=note, data=data)
    return issue


def start_resolving(
    issue_id: int, action: str, *, actor: Actor, note: str = "", data: dict[str, Any] | None = None
) -> IntegrationIssue:
    """The repair is under way (re-sent through the outbox, ticket opened…)."""
    return _move(issue_id, S.RESOLVING, action, actor, note=note, data=data)


def reopen(
    issue_id: int, action: str, *, actor: Actor, note: str, data: dict[str, Any] | None = None
) -> IntegrationIssue:
    """A repair under way did not fix it (a ticket closed while the order is still missing): the
    issue is open again, for a person."""
    return _move(issue_id, S.OPEN, action, actor, note=note, data=data)


def resolve(
    issue_id: int, *, actor: Actor, note: str, action: str = "resolved", data: dict[str, Any] | None = None
) -> IntegrationIssue:
    return _move(issue_id, S.RESOLVED, action, actor, note=note, data=data)


def dismiss(issue_id: int, *, actor: Actor, reason: str) -> IntegrationIssue:
    """An operator decides there is nothing to do; the reason is mandatory."""
    if not reason.strip():
        raise InvalidInput(
            "Say why the issue is dismissed.", code=ReconcileErrorCode.REASON_REQUIRED, field="reason"
        )
    return _move(issue_id, S.DISMISSED, "dismissed", actor, note=reason.strip())


def note(
    issue_id: int,
    action: str,
    *,
    actor: Actor,
    text: str,
    data: dict[str, Any] | None = None,
    once: bool = True,
) -> None:
    """A step that does not change the state (a re-check, a retry later, a ticket update).

    With ``once`` (default) the same step repeated (a gateway down for hours, seen every slot) is
    written only the first time in a row, so the order's timeline is not flooded."""
    with transaction.atomic():
        issue = _locked(issue_id)
        last = issue.history.order_by("-id").values_list("action", "note").first()
        if once and last == (action, text):
            return
        _record(issue, action, actor, from_state=issue.state, note=text, data=data)


def clear(issue: IntegrationIssue, *, actor: Actor, note: str) -> bool:
    """Resolve an active issue whose condition is gone; False when it was already closed."""
    try:
        resolve(issue.pk, actor=actor, note=note, action="cleared")
    except Conflict:
        return False
    return True


def link_remote(order_id: int, channel: Channel, external_id: str, *, actor: Actor, note: str) -> None:
    """Record that ``channel`` has the order as ``external_id`` (found there by the sale's
    references): the order's link to it gets that id, and the order's timeline says so."""
    with transaction.atomic():
        order = Order.objects.select_for_update().filter(pk=order_id).first()
        if order is None:
            raise NotFound(f"No order {order_id}.", code=ReconcileErrorCode.ISSUE_WITHOUT_SUBJECT)
        link, created = OrderLink.objects.get_or_create(
            order=order, channel=channel, defaults={"external_id": external_id, "state": LinkState.LINKED}
        )
        if not created:
            if link.external_id:
                return  # already linked: a different id is a duplicate, for the caller to report
            link.external_id, link.state = external_id, LinkState.LINKED
            link.save(update_fields=["external_id", "state"])
        events.integration_link(order, actor, channel=channel.code, external_id=external_id, note=note)


def set_ticket(issue_id: int, *, ticket_id: str, status: str, url: str, actor: Actor) -> None:
    with transaction.atomic():
        issue = _locked(issue_id)
        changed = issue.ticket_id != ticket_id or issue.ticket_status != status
        issue.ticket_id, issue.ticket_status, issue.ticket_url = ticket_id, status[:30], url[:500]
        issue.save(update_fields=["ticket_id", "ticket_status", "ticket_url"])
        if changed:
            _record(
                issue,
                "ticket",
                actor,
                from_state=issue.state,
                note=f"Chamado {ticket_id}: {status}",
                data={"ticket": ticket_id, "status": status, "url": url},
            )
