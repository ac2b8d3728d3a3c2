"""Scheduled work of channels: polling for changes (the fallback when webhooks are missed)."""

from __future__ import annotations

from datetime import datetime

from malote.connectors.base import Unsupported
from malote.connectors.registry import connector_for
from malote.relay import intake
from malote.sync.models import Schedule

MAX_PAGES_PER_SLOT = 20


def poll_channel(schedule: Schedule, slot: datetime) -> str:
    """Pull changes since the schedule's cursor and take each in; the cursor advances only past
    pages fully taken in, so a crash mid-poll re-reads (and the inbox drops the repeats)."""
    channel = schedule.channel
    if channel is None or not channel.enabled:
        return "channel missing or disabled"
    taken, pages = 0, 0
    cursor = (schedule.params or {}).get("cursor")
    with connector_for(channel) as connector:
        try:
            while pages < MAX_PAGES_PER_SLOT:
                result = connector.pull_changes(cursor)
                for change in result.changes:
                    intake.take_in(channel, change, headers={"x-malote-poll": schedule.name}, body="")
                    connector.confirm_pulled(change)  # after the commit: queues drop it only now
                    taken += 1
                cursor = result.cursor or cursor
                schedule.params = {**(schedule.params or {}), "cursor": cursor}
                Schedule.objects.filter(pk=schedule.pk).update(params=schedule.params)
                pages += 1
                if not result.more:
                    break
        except Unsupported:
            return "this connector does not poll"
    return f"{taken} change(s) in {pages} page(s); cursor {cursor}"


def sync_poll_schedule(channel: object) -> Schedule | None:
    """Create or update the poll schedule of a channel (disabled with the channel)."""
    from malote.channels.models import Channel

    assert isinstance(channel, Channel)
    schedule, _ = Schedule.objects.update_or_create(
        name=f"poll:{channel.code}",
        defaults={
            "job": "channel.poll",
            "channel": channel,
            "interval_seconds": channel.poll_interval_seconds,
            "enabled": channel.enabled and bool(channel.option("poll", True)),
        },
    )
    return schedule
