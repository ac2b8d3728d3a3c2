"""The reconciliation schedules: jobs registered in ``ReconcileConfig.ready`` and the ``Schedule``
rows that run them (``sync_schedules``, after every migrate and whenever channels change).

* ``reconcile:integration:<channel>`` (job ``reconcile.integration``): the not-integrated check of
  the pair (that channel, Malote), for every enabled sales channel, ERP and gateway whose
  connector lists orders; every ``reconcile_interval_seconds`` (option, 900).
* ``reconcile:stuck`` (hourly), ``reconcile:unpaid``, ``reconcile:divergent``, ``reconcile:tickets``
  (every 15 minutes): created once any connector-driven channel exists.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from malote.channels.models import Channel, ChannelRole
from malote.connectors.base import Capability, Unsupported, supports
from malote.connectors.registry import provider
from malote.core.actors import Actor
from malote.reconcile import divergent, integration, stalls, stuck, tickets, unpaid
from malote.sync.models import Schedule

CHECKED_ROLES = (ChannelRole.STOREFRONT, ChannelRole.MARKETPLACE, ChannelRole.ERP, ChannelRole.GATEWAY)
DEFAULT_INTERVAL = 900
GLOBAL_SCHEDULES = {
    "reconcile:stuck": ("reconcile.stuck", 3600),
    "reconcile:unpaid": ("reconcile.unpaid", 900),
    "reconcile:divergent": ("reconcile.divergent", 900),
    "reconcile:tickets": ("reconcile.tickets", 900),
    "reconcile:stalled": ("reconcile.stalled", 900),
    # Payments that arrived before their order, applied once it exists (malote.relay.intake).
    "relay:awaiting": ("relay.awaiting", 120),
}


def summary(counts: Mapping[str, Any]) -> str:
    return ", ".join(f"{key} {value}" for key, value in sorted(counts.items()) if value) or "nothing to do"


def _actor(schedule: Schedule) -> Actor:
    return Actor.schedule(schedule.name)


def integration_job(schedule: Schedule, slot: datetime) -> str:
    channel = schedule.channel
    if channel is None or not channel.enabled:
        return "channel missing or disabled"
    try:
        return summary(integration.check(channel, actor=_actor(schedule)))
    except Unsupported:
        # A connector that declares list_orders but cannot list for this account: nothing to compare.
        return f"{channel.kind} does not list orders: nothing compared"


def stuck_job(schedule: Schedule, slot: datetime) -> str:
    return summary(stuck.detect(actor=_actor(schedule)))


def unpaid_job(schedule: Schedule, slot: datetime) -> str:
    return summary(unpaid.run(actor=_actor(schedule)))


def divergent_job(schedule: Schedule, slot: datetime) -> str:
    return summary(divergent.detect(actor=_actor(schedule)))


def tickets_job(schedule: Schedule, slot: datetime) -> str:
    return summary(tickets.follow(actor=_actor(schedule)))


JOBS = {
    "reconcile.integration": integration_job,
    "reconcile.stuck": stuck_job,
    "reconcile.unpaid": unpaid_job,
    "reconcile.divergent": divergent_job,
    "reconcile.tickets": tickets_job,
    "reconcile.stalled": stalls.stalled_job,
}


def lists_orders(channel: Channel) -> bool:
    return supports(provider(channel.kind), Capability.LIST_ORDERS)


def sync_schedules(channel: Channel | None = None) -> list[Schedule]:
    """Create or update the reconciliation schedules (of one channel, or of all); idempotent."""
    channels = [channel] if channel is not None else list(Channel.objects.exclude(kind="manual"))
    made = []
    for ch in channels:
        if ch.role not in CHECKED_ROLES:
            continue
        name = f"reconcile:integration:{ch.code}"
        if not lists_orders(ch) and not Schedule.objects.filter(name=name).exists():
            continue  # nothing to compare with, and no schedule of an earlier kind to switch off
        schedule, _ = Schedule.objects.update_or_create(
            name=name,
            defaults={
                "job": "reconcile.integration",
                "channel": ch,
                "interval_seconds": int(ch.option("reconcile_interval_seconds", DEFAULT_INTERVAL)),
                "enabled": ch.enabled and lists_orders(ch) and bool(ch.option("reconcile", True)),
            },
        )
        made.append(schedule)
    if Channel.objects.exclude(kind="manual").exists():
        for name, (job, interval) in GLOBAL_SCHEDULES.items():
            schedule, _ = Schedule.objects.get_or_create(
                name=name, defaults={"job": job, "interval_seconds": interval, "enabled": True}
            )
            made.append(schedule)
    return made


def sync_schedules_after_migrate(sender: Any, **kwargs: Any) -> None:
    if kwargs.get("using", "default") == "default" and getattr(sender, "label", "") == "reconcile":
        sync_schedules()


def sync_schedules_after_channel_saved(
    sender: Any, instance: Channel, raw: bool = False, **kwargs: Any
) -> None:
    if not raw:  # fixtures load rows as they are
        sync_schedules(instance)
