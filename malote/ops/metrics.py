"""Prometheus metrics, computed from the database at scrape time.

Any number of gunicorn workers on any number of hosts may answer a scrape, and the work being
measured is done by worker processes that serve no HTTP, so nothing is counted in process memory:
each scrape runs a handful of indexed queries (six) and reports gauges of what the database holds
now. Counts over a window (deliveries, dead letters, webhook intake) cover the last hour
(``WINDOW``); a rate is ``…_last_hour / 3600``. The collector keeps no state between scrapes.
See docs/observability.md for every family and what to alert on.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Min, Q
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from malote.ops.health import is_late, schedule_lag
from malote.reconcile.models import ACTIVE_STATES, IntegrationIssue
from malote.sync import heartbeats
from malote.sync.models import InboxEvent, MessageState, OutboxMessage, Schedule, WorkerHeartbeat

WINDOW = timedelta(hours=1)
UNPROCESSED = "none"  # the ``result`` label of an inbox event not processed yet (empty result)

_QUEUED = (MessageState.PENDING, MessageState.IN_FLIGHT)


@dataclass
class _Destination:
    depth: int = 0
    in_flight: int = 0
    oldest_age: float = 0.0
    retrying: int = 0
    dead: int = 0
    dead_recent: int = 0
    delivered_recent: int = 0


def _seconds(delta: timedelta) -> float:
    return max(delta.total_seconds(), 0.0)


def outbox_families(now: datetime) -> Iterator[Metric]:
    since = now - WINDOW
    destinations: dict[str, _Destination] = {}
    # Queued and dead rows only (the index on state): delivered rows are never all read.
    queued = (
        OutboxMessage.objects.filter(state__in=[*_QUEUED, MessageState.DEAD])
        .values("destination")
        .annotate(
            depth=Count("id", filter=Q(state__in=_QUEUED)),
            in_flight=Count("id", filter=Q(state=MessageState.IN_FLIGHT)),
            retrying=Count("id", filter=Q(state=MessageState.PENDING, attempts__gt=0)),
            dead=Count("id", filter=Q(state=MessageState.DEAD)),
            # A message is dead-lettered with next_attempt_at = the moment it died (outbox.settle).
            dead_recent=Count("id", filter=Q(state=MessageState.DEAD, next_attempt_at__gte=since)),
            oldest=Min("created_at", filter=Q(state__in=_QUEUED)),
        )
        .order_by()
    )
    for row in queued:
        d = destinations.setdefault(row["destination"], _Destination())
        d.depth, d.in_flight, d.retrying = row["depth"], row["in_flight"], row["retrying"]
        d.dead, d.dead_recent = row["dead"], row["dead_recent"]
        d.oldest_age = _seconds(now - row["oldest"]) if row["oldest"] else 0.0
    delivered = (
        OutboxMessage.objects.filter(state=MessageState.DONE, delivered_at__gte=since)
        .values("destination")
        .annotate(n=Count("id"))
        .order_by()
    )
    for delivered_row in delivered:
        destination = delivered_row["destination"]
        destinations.setdefault(destination, _Destination()).delivered_recent = delivered_row["n"]

    families = {
        "depth": GaugeMetricFamily(
            "malote_outbox_depth", "Outbox messages waiting or in delivery.", labels=["destination"]
        ),
        "in_flight": GaugeMetricFamily(
            "malote_outbox_in_flight", "Outbox messages being delivered now.", labels=["destination"]
        ),
        "oldest_age": GaugeMetricFamily(
            "malote_outbox_oldest_pending_age_seconds",
            "Age of the oldest outbox message waiting or in delivery (0 when none).",
            labels=["destination"],
        ),
        "retrying": GaugeMetricFamily(
            "malote_outbox_retrying",
            "Outbox messages waiting after at least one failed attempt.",
            labels=["destination"],
        ),
        "dead": GaugeMetricFamily(
            "malote_outbox_dead_letters",
            "Dead letters (failed for good, not replayed).",
            labels=["destination"],
        ),
        "dead_recent": GaugeMetricFamily(
            "malote_outbox_dead_lettered_last_hour",
            "Outbox messages that became dead letters in the last hour.",
            labels=["destination"],
        ),
        "delivered_recent": GaugeMetricFamily(
            "malote_outbox_delivered_last_hour",
            "Outbox messages delivered in the last hour.",
            labels=["destination"],
        ),
    }
    for destination, d in sorted(destinations.items()):
        for attribute, family in families.items():
            family.add_metric([destination], getattr(d, attribute))
    yield from families.values()


def issue_families() -> Iterator[Metric]:
    family = GaugeMetricFamily(
        "malote_integration_issues_open",
        "Integration issues still needing attention (open or resolving).",
        labels=["kind", "channel"],
    )
    rows = (
        IntegrationIssue.objects.filter(state__in=ACTIVE_STATES)
        .values("kind", "channel__code")
        .annotate(n=Count("id"))
        .order_by("kind", "channel__code")
    )
    for row in rows:
        family.add_metric([row["kind"], row["channel__code"]], row["n"])
    yield family


def schedule_families(now: datetime) -> Iterator[Metric]:
    lag = GaugeMetricFamily(
        "malote_schedule_lag_seconds",
        "How long the schedule's next slot has been due (0 when on time; absent before its first run).",
        labels=["schedule"],
    )
    interval = GaugeMetricFamily(
        "malote_schedule_interval_seconds", "The schedule's interval.", labels=["schedule"]
    )
    late = GaugeMetricFamily(
        "malote_schedule_late",
        "1 when the schedule is late (its next slot due for more than 3 intervals, at least 60 s).",
        labels=["schedule"],
    )
    for schedule in Schedule.objects.filter(enabled=True).only("name", "interval_seconds", "last_slot"):
        behind = schedule_lag(schedule, now)
        interval.add_metric([schedule.name], schedule.interval_seconds)
        late.add_metric([schedule.name], int(is_late(schedule, behind)))
        if behind is not None:
            lag.add_metric([schedule.name], _seconds(behind))
    yield from (lag, interval, late)


def worker_families(now: datetime) -> Iterator[Metric]:
    age = GaugeMetricFamily(
        "malote_worker_heartbeat_age_seconds",
        "Seconds since each worker process last beat (rows of silent workers are kept a day).",
        labels=["worker"],
    )
    alive = 0
    for name, beat_at in WorkerHeartbeat.objects.values_list("name", "beat_at"):
        age.add_metric([name], _seconds(now - beat_at))
        alive += now - beat_at <= heartbeats.STALE_AFTER
    yield age
    yield GaugeMetricFamily(
        "malote_workers_alive", "Worker processes that beat within the last 2 minutes.", value=alive
    )


def inbox_families(now: datetime) -> Iterator[Metric]:
    family = GaugeMetricFamily(
        "malote_inbox_events_last_hour",
        "Inbound changes (webhooks and polls) received in the last hour, per source and result.",
        labels=["source", "result"],
    )
    rows = (
        InboxEvent.objects.filter(received_at__gte=now - WINDOW)
        # Grouped by result first and unordered: grouping or ordering by source first leads SQLite
        # to walk the whole (source, event_id) unique index instead of the received_at range.
        .values("result", "source")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in sorted(rows, key=lambda r: (r["source"], r["result"])):
        family.add_metric([row["source"], row["result"] or UNPROCESSED], row["n"])
    yield family


class MaloteCollector(Collector):
    """Every family, queried afresh on each ``collect`` (each scrape)."""

    def collect(self) -> Iterator[Metric]:
        now = timezone.now()
        yield from outbox_families(now)
        yield from issue_families()
        yield from schedule_families(now)
        yield from worker_families(now)
        yield from inbox_families(now)


# A registry of its own: the process-global one would add this gunicorn process's own figures,
# which say nothing of Malote as a whole. Registering runs no query (auto_describe is off).
registry = CollectorRegistry(auto_describe=False)
registry.register(MaloteCollector())
