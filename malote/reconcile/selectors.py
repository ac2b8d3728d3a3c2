"""Read queries of integration issues (API, back office, CLI, the dashboard's numbers)."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, OuterRef, QuerySet, Subquery

from malote.reconcile.models import ACTIVE_STATES, IntegrationIssue, IssueEvent, IssueKind


def issues() -> QuerySet[IntegrationIssue]:
    return IntegrationIssue.objects.select_related("channel", "other_channel", "order")


def filtered(
    *,
    kind: str | None = None,
    state: str | None = "active",
    channel: str | None = None,
    order_id: int | None = None,
) -> QuerySet[IntegrationIssue]:
    qs = issues()
    if state == "active":
        qs = qs.filter(state__in=ACTIVE_STATES)
    elif state:
        qs = qs.filter(state=state)
    if kind:
        qs = qs.filter(kind=kind)
    if channel:
        qs = qs.filter(channel__code=channel)
    if order_id:
        qs = qs.filter(order_id=order_id)
    return qs.order_by("-last_seen", "-id")


def with_last_step(qs: QuerySet[IntegrationIssue]) -> QuerySet[IntegrationIssue]:
    """Each issue with its latest history step (``last_step``, ``last_note``) in the same query:
    what the inbox shows in red when it is a failed step."""
    latest = IssueEvent.objects.filter(issue=OuterRef("pk")).order_by("-id")
    return qs.annotate(
        last_step=Subquery(latest.values("action")[:1]), last_note=Subquery(latest.values("note")[:1])
    )


def active_pairs(order_ids: list[int]) -> set[tuple[int, int]]:
    """(order id, channel id) of the active issues of these orders: a link problem an issue
    already covers is shown once, as the issue."""
    rows = IntegrationIssue.objects.filter(order_id__in=order_ids, state__in=ACTIVE_STATES).values_list(
        "order_id", "channel_id"
    )
    return {(order_id, channel_id) for order_id, channel_id in rows if order_id is not None}


def active_counts() -> list[dict[str, Any]]:
    """Active issues per (kind, channel): ``[{"kind", "channel__code", "channel__name", "count"}]``."""
    rows: Any = (
        IntegrationIssue.objects.filter(state__in=ACTIVE_STATES)
        .values("kind", "channel__code", "channel__name")
        .annotate(count=Count("id"))
        .order_by("kind", "channel__code")
    )
    return [dict(row) for row in rows]


def counts_by_kind() -> dict[str, int]:
    """Active issues per kind, every kind present (the dashboard's badges)."""
    result = dict.fromkeys(IssueKind.values, 0)
    for row in (
        IntegrationIssue.objects.filter(state__in=ACTIVE_STATES).values("kind").annotate(n=Count("id"))
    ):
        result[row["kind"]] = row["n"]
    return result


def active_by_order(order_ids: list[int]) -> dict[int, list[str]]:
    """Kinds of active issues per order: what the order list and page badges need."""
    found: dict[int, list[str]] = {}
    rows = IntegrationIssue.objects.filter(order_id__in=order_ids, state__in=ACTIVE_STATES).values_list(
        "order_id", "kind"
    )
    for order_id, kind in rows:
        found.setdefault(order_id, []).append(kind)
    return found
