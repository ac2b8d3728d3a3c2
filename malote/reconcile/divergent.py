"""Divergences: a linked system shows another status than the order's (typically a status changed
by hand in a marketplace's panel, which the marketplace never reports).

For each link of an enabled sales channel or ERP with a status seen there (``remote_status``),
the status that system should show is the order's latest status it has a word for (its status
map, ``Connector.status_out``; statuses without a word there are skipped, e.g. ``in_transit`` in
Tiny shows as ``enviado``). The link agrees when its word is that word (case and accents aside), or
when the canonical meaning of its word (``status_in``) is a status the order passed at or after
the expected one (Jumpseller shows a shipped order's shipment word). A disagreement older than
``divergence_grace_minutes`` (60; option of the linked channel; only orders or links that changed in
the last ``divergence_window_days``, 30, are looked at) — counted from the later of the
order's last status change, the remote status's time and the last push — opens a ``divergent``
issue with both values, recommending ``push_again``. It clears by itself once they agree; a
resolution of the divergent link made elsewhere (the order page) reaches the issue at once through
``settle``, so the inbox never recommends re-sending a status the operator has just accepted.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_noop

from malote.channels.models import Channel, ChannelRole, LinkState, OrderLink
from malote.connectors.base import Connector
from malote.connectors.registry import provider
from malote.core.actors import Actor
from malote.orders.models import Order
from malote.reconcile import actions
from malote.reconcile.models import ACTIVE_STATES, IntegrationIssue, IssueAction, IssueKind, IssueState
from malote.reconcile.options import option

ROLES = (ChannelRole.STOREFRONT, ChannelRole.MARKETPLACE, ChannelRole.ERP)


def fold(text: str) -> str:
    plain = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return "_".join(plain.casefold().replace("-", " ").split())


def expected_status(connector: Connector, order: Order) -> str | None:
    """The order's latest status the system has a word for: what Malote told it (``StatusMap.told``,
    the rule the order's creation there and the status pushes follow)."""
    return connector.status_map.told(order.status_path, order.status)[0] or None


def compare(connector: Connector, order: Order, remote: str) -> dict[str, Any] | None:
    """None when the link agrees with the order; else the evidence of the difference."""
    expected = expected_status(connector, order)
    if expected is None or not remote:
        return None
    word = str(connector.status_out(expected))
    if fold(word) == fold(remote):
        return None
    meaning = connector.status_in(remote)
    path = list(order.status_path)
    if meaning and meaning in path and expected in path and path.index(meaning) >= path.index(expected):
        return None
    return {
        "order_status": order.status,
        "expected_status": expected,
        "expected_remote": word,
        "remote_status": remote,
        "remote_meaning": meaning,
    }


def recorded_evidence(link: OrderLink) -> dict[str, Any]:
    recorded = dict(getattr(link, "divergence", None) or {})
    return {
        "order_status": link.order.status,
        "expected_status": recorded.get("expected_status", link.order.status),
        "expected_remote": recorded.get("expected_remote_status", ""),
        "remote_status": link.remote_status,
        "remote_meaning": recorded.get("remote_canonical_status", ""),
        "reason": recorded.get("reason", ""),
        "recorded_by_intake": True,
    }


def detect(
    now: datetime | None = None,
    *,
    actor: Actor,
    channel: Channel | None = None,
    dry_run: bool = False,
    findings: list[dict[str, Any]] | None = None,
) -> Counter[str]:
    now = now or timezone.now()
    counts: Counter[str] = Counter()
    channels = Channel.objects.filter(enabled=True, role__in=ROLES)
    if channel is not None:
        channels = channels.filter(pk=channel.pk)
    seen: set[tuple[int, int]] = set()
    for ch in channels:
        cls = provider(ch.kind)
        if cls is None:
            continue
        try:
            connector = cls(ch, http=_NO_HTTP)  # only the status maps are used: no client is opened
        except (TypeError, ValueError, LookupError):
            continue
        window = now - timedelta(days=float(option(ch, "divergence_window_days")))
        grace = timedelta(minutes=float(option(ch, "divergence_grace_minutes")))
        links = (
            OrderLink.objects.filter(channel=ch)
            .filter(
                Q(order__updated_at__gte=window)
                | Q(remote_status_at__gte=window)
                | Q(state=LinkState.DIVERGENT)
            )
            .exclude(remote_status="")
            .select_related("order")
        )
        for link in links.iterator(chunk_size=2000):
            counts["checked"] += 1
            if link.state == LinkState.DIVERGENT:
                # Recorded by the intake (a status Malote cannot reach): no grace, it is held already.
                evidence = recorded_evidence(link)
                since = getattr(link, "divergent_since", None) or link.remote_status_at or now
            else:
                found = compare(connector, link.order, link.remote_status)
                if found is None:
                    continue
                evidence = found
                moments = [
                    m for m in (link.order.status_changed_at, link.remote_status_at, link.last_synced_at) if m
                ]
                since = max(moments) if moments else now
                if now - since < grace:
                    counts["within_grace"] += 1
                    continue
            seen.add((link.order_id, ch.pk))
            counts["divergent"] += 1
            if findings is not None:
                findings.append(
                    {
                        "kind": IssueKind.DIVERGENT.value,
                        "what": "status_differs",
                        "channel": ch.code,
                        "order": link.order.number,
                        "external_ref": link.external_id,
                        "reference": f"{evidence['remote_status']} != {evidence['expected_remote']}",
                    }
                )
            if dry_run:
                continue
            evidence["since"] = since.isoformat()
            evidence["link"] = link.pk
            result = actions.report(
                IssueKind.DIVERGENT,
                channel=ch,
                actor=actor,
                order=link.order,
                evidence=evidence,
                detail=f"{ch.name} mostra {link.remote_status!r}; esperado {evidence['expected_remote']!r}",
                recommended_action=IssueAction.PUSH_AGAIN,
            )
            counts["opened"] += result.created
    active = IntegrationIssue.objects.filter(
        kind=IssueKind.DIVERGENT, state__in=ACTIVE_STATES
    ).select_related("channel")
    if channel is not None:
        active = active.filter(channel=channel)
    for issue in active:
        if (issue.order_id, issue.channel_id) not in seen and _agrees_now(issue):
            counts["cleared"] += actions.clear(issue, actor=actor, note="Os status voltaram a coincidir.")
    return counts


# A divergent link's resolution (``malote.relay.divergence.RESOLUTIONS``) → what it does to the issue.
SETTLED_BY = {"push_again": IssueAction.PUSH_AGAIN, "accept_remote": IssueAction.ACCEPT, "dismiss": "dismiss"}


def settle(order_id: int, channel: Channel, resolution: str, *, actor: Actor, reason: str = "") -> bool:
    """The link's divergence was resolved outside the issue (the order page, the admin): the active
    ``divergent`` issue of (order, channel) follows at once instead of at the next schedule run —
    ``accept_remote`` resolves it, ``dismiss`` dismisses it, ``push_again`` moves it to resolving
    (it clears when the statuses agree). Returns whether an issue changed."""
    issue = IntegrationIssue.objects.filter(
        kind=IssueKind.DIVERGENT, order_id=order_id, channel=channel, state__in=ACTIVE_STATES
    ).first()
    action = SETTLED_BY.get(resolution)
    if issue is None or action is None:
        return False
    if action == "dismiss":
        actions.dismiss(
            issue.pk, actor=actor, reason=reason or gettext_noop("Divergência descartada no pedido.")
        )
    elif action == IssueAction.ACCEPT:
        actions.resolve(
            issue.pk, actor=actor, note=reason or "Status do outro sistema aceito.", action=IssueAction.ACCEPT
        )
    elif issue.state != IssueState.RESOLVING:
        actions.start_resolving(issue.pk, IssueAction.PUSH_AGAIN, actor=actor, note="Status reenviado.")
    return True


def _agrees_now(issue: IntegrationIssue) -> bool:
    if issue.order_id is None:
        return True
    link = (
        OrderLink.objects.filter(order_id=issue.order_id, channel=issue.channel)
        .select_related("order")
        .first()
    )
    cls = provider(issue.channel.kind)
    if link is None or cls is None:
        return True
    if link.state == LinkState.DIVERGENT:
        return False
    return compare(cls(issue.channel, http=_NO_HTTP), link.order, link.remote_status) is None


class _NoHttp:
    """Stands in for the HTTP client of connectors used only for their status maps."""

    def close(self) -> None:
        return None


_NO_HTTP: Any = _NoHttp()
