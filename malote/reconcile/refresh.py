"""Status changes made by hand in a sales channel's panel, noticed by the reconciliation.

A channel may not report a change made by hand in its panel (SkyHub queues only the marketplace's
updates: an order canceled there while invoiced in Malote never reaches the queue). The
not-integrated check of a sales channel lists the channel's recent orders anyway. A listed order
Malote has a link to has changed there since Malote last looked when

* its listed status (``ListedOrder.remote_status``) is not the link's last recorded one
  (``OrderLink.remote_status``), or
* Malote pushed to the channel after recording it (``last_synced_at`` later than
  ``remote_status_at``): the push changed it there, so the record says nothing about now, and a
  status set back by hand to the recorded one would otherwise look unchanged.

Such an order is read again (``Connector.fetch_order``, outside any transaction) and taken in
through ``malote.relay.intake.take_in``, exactly like a polled change: the inbox de-duplicates,
a later status moves the order forward, an impossible one (a cancel after the NF-e, a status
going back) marks the link divergent and is not applied. Not read again:

* an order whose listed status was already taken in after both the link's status and Malote's
  last push (the inbox has an event of that order with that status received after them): the
  intake kept the link's status on purpose (a late, reordered update), and reading it every slot
  would only give a duplicate. The link's time is the channel's clock, the inbox's Malote's: a
  skew larger than the time between two changes there could skip one such read (assumption:
  clocks agree within minutes; the next change there is read anyway);
* beyond ``status_refresh_max_per_run`` (option of the sales channel, 200) orders in one run, so a
  mass change in the panel never floods the channel: the rest are read in the next slots (counted
  ``refresh_deferred``).

A failed read is logged and counted (``refresh_failed``) and never raised: the order still differs
in the next slot and is read then. A retryable failure (the channel down, throttling) stops this
run's reads (the rest are ``refresh_deferred``) instead of waiting for each one's timeout.
``status_refresh`` (option, default true) turns the whole thing off for a channel.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from typing import Any

from malote.channels.models import Channel, OrderLink
from malote.connectors.base import ListedOrder, Unsupported
from malote.connectors.registry import connector_for
from malote.reconcile.errors import ReconcileErrorCode
from malote.reconcile.options import option
from malote.relay import intake
from malote.sync.errors import DeliveryError
from malote.sync.models import InboxEvent

log = logging.getLogger(__name__)

HEADERS = {"x-malote-reconcile": "status_refresh"}


def changed_orders(channel: Channel, listed: Iterable[ListedOrder]) -> list[tuple[ListedOrder, OrderLink]]:
    """The listed orders Malote has a link to that changed there since (see the module docstring)."""
    items = [item for item in listed if item.remote_status]
    links = {
        link.external_id: link
        for link in OrderLink.objects.filter(
            channel=channel, external_id__in=[item.external_id for item in items]
        ).select_related("order")
    }
    changed = []
    for item in items:
        link = links.get(item.external_id)
        if link is not None and (item.remote_status[:60] != link.remote_status or _pushed_since(link)):
            changed.append((item, link))
    return changed


def _pushed_since(link: OrderLink) -> bool:
    """Whether Malote pushed to the channel after the link recorded the channel's status: the
    record tells nothing about now (a status set back by hand to the recorded one is a change)."""
    return link.last_synced_at is not None and (
        link.remote_status_at is None or link.last_synced_at > link.remote_status_at
    )


def _already_read(channel: Channel, item: ListedOrder, link: OrderLink) -> bool:
    """Whether this status was taken in after the link took its own and after Malote's last push
    (see the module docstring)."""
    events = InboxEvent.objects.filter(
        source=channel.code, order_id=link.order_id, kind=item.remote_status[:80]
    )
    moments = [moment for moment in (link.remote_status_at, link.last_synced_at) if moment is not None]
    if moments:
        events = events.filter(received_at__gt=max(moments))
    return events.exists()


def refresh(
    channel: Channel,
    listed: Iterable[ListedOrder],
    *,
    dry_run: bool = False,
    findings: list[dict[str, Any]] | None = None,
) -> Counter[str]:
    """Read again and take in the linked orders whose status changed in the channel; returns the
    counts (``status_changed``, ``refreshed``, ``refresh:<inbox result>``, ``refresh_failed``,
    ``refresh_deferred``). A dry run reads nothing and reports each changed order as a finding."""
    counts: Counter[str] = Counter()
    if not option(channel, "status_refresh"):
        return counts
    limit = max(int(option(channel, "status_refresh_max_per_run")), 0)
    due: list[ListedOrder] = []
    for item, link in changed_orders(channel, listed):
        if _already_read(channel, item, link):
            continue
        counts["status_changed"] += 1
        if len(due) >= limit:
            counts["refresh_deferred"] += 1
            continue
        due.append(item)
        if findings is not None:
            findings.append(
                {
                    "kind": "status_changed",
                    "what": "status_changed_in_channel",
                    "channel": channel.code,
                    "order": link.order.number,
                    "external_ref": item.external_id,
                    "reference": f"{link.remote_status or '?'} -> {item.remote_status}",
                }
            )
    if dry_run or not due:
        return counts
    with connector_for(channel) as connector:
        for position, item in enumerate(due):
            try:
                change = connector.fetch_order(item.external_id)
            except (DeliveryError, Unsupported) as exc:
                counts[ReconcileErrorCode.REFRESH_FAILED] += 1
                log.warning(
                    "reconcile %s: reading %s again failed (next slot retries): %s",
                    channel.code,
                    item.external_id,
                    exc,
                )
                if isinstance(exc, DeliveryError) and exc.retryable:
                    counts["refresh_deferred"] += len(due) - position - 1
                    break
                continue
            try:
                received = intake.take_in(channel, change, headers=HEADERS, body="")
            except Exception:
                # Rolled back by the inbox (nothing recorded): one order's fault never stops the
                # others nor the check; the order still differs next slot and is taken in again.
                counts[ReconcileErrorCode.REFRESH_FAILED] += 1
                log.exception("reconcile %s: taking in %s failed", channel.code, item.external_id)
                continue
            counts["refreshed"] += 1
            counts[f"refresh:{received.result}"] += 1
    return counts
