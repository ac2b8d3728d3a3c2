"""Reliable delivery tables: outbox (to other systems), inbox (from them), schedules.

See docs/delivery.md. An ``OutboxMessage`` is written in the same transaction as the change that
causes it, one row per destination; workers claim the oldest due message per (destination, key)
so per-order order is kept while one slow system blocks no other. An ``InboxEvent`` is unique on
(source, event_id) and written in the same transaction as its effect, so a repeated webhook
changes nothing.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class MessageState(models.TextChoices):
    PENDING = "pending", _("Pendente")
    IN_FLIGHT = "in_flight", _("Em envio")
    DONE = "done", _("Entregue")
    DEAD = "dead", _("Falha definitiva")
    # A dead message whose state a later message of its destination and key delivered (a status or
    # a stock level pushed again since): nothing left to deliver, no longer a failure to act on.
    SUPERSEDED = "superseded", _("Substituída por um envio posterior")


# The states of a message still to be delivered. ``outbox_key_state`` covers only these rows, so its
# size follows the queue, not the history; a query that wants that index must repeat this exact
# term (SQLite uses a partial index only when the query's WHERE contains the index's condition).
LIVE_STATES = (MessageState.PENDING, MessageState.IN_FLIGHT)


class OutboxMessage(models.Model):
    destination = models.CharField(
        max_length=80, help_text=_("Destino da mensagem, por exemplo channel:tiny")
    )
    # Ordering key inside a destination: "order:<id>" for order messages, "sku:<sku>" for stock.
    key = models.CharField(max_length=100)
    order = models.ForeignKey(
        "orders.Order", null=True, blank=True, on_delete=models.CASCADE, related_name="outbox_messages"
    )
    seq = models.PositiveIntegerField(default=0, help_text=_("Número de sequência por pedido"))
    kind = models.CharField(max_length=60)
    payload = models.JSONField(default=dict)
    idempotency_key = models.CharField(max_length=120, unique=True)
    state = models.CharField(max_length=10, choices=MessageState.choices, default=MessageState.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    lease_owner = models.CharField(max_length=80, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_status = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"], name="outbox_due"),
            # The claim's "no older live message of this key" and the coalesced enqueue: live rows
            # only, so a write touches pages of an index the size of the queue, not of the history.
            models.Index(
                fields=["destination", "key", "state"],
                name="outbox_key_state",
                condition=Q(state__in=LIVE_STATES),
            ),
            models.Index(fields=["order", "destination"], name="outbox_order"),
            # The claim's walk in id order over live messages only: on PostgreSQL, with statistics,
            # the planner walks ids and filters; over the primary key that walk would also pass
            # every delivered row of the history (350 ms a claim at a million), here only the queue.
            models.Index(fields=["id"], name="outbox_live_id", condition=Q(state__in=LIVE_STATES)),
            # Deliveries in a recent window (the metrics) without reading every delivered row.
            # (state first, so SQLite's planner prefers it to outbox_due for state = 'done').
            models.Index(
                fields=["state", "delivered_at"], name="outbox_delivered", condition=Q(state="done")
            ),
        ]
        constraints = [
            # At most one message per (destination, key) is ever being delivered.
            models.UniqueConstraint(
                fields=["destination", "key"],
                condition=Q(state="in_flight"),
                name="outbox_one_in_flight_per_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.destination} {self.kind} #{self.pk} ({self.state})"


class InboxEvent(models.Model):
    """One webhook or polled change, stored raw; unique per (source, event_id)."""

    source = models.CharField(max_length=80)
    event_id = models.CharField(max_length=200)
    kind = models.CharField(max_length=80, blank=True)
    headers = models.JSONField(default=dict)
    body = models.TextField(blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)
    result = models.CharField(max_length=40, blank=True)
    detail = models.TextField(blank=True)
    order = models.ForeignKey(
        "orders.Order", null=True, blank=True, on_delete=models.SET_NULL, related_name="inbox_events"
    )
    # A payment that arrived before its order: the reference it names (the order's number or its id
    # in the sales channel, or the transaction id), so the order's arrival can apply it (``reapply``).
    awaiting = models.CharField(max_length=100, blank=True, default="")

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["source", "event_id"], name="inbox_once_per_source")]
        indexes = [
            models.Index(
                fields=["awaiting"], name="inbox_awaiting", condition=models.Q(result="awaiting_order")
            ),
            # Intake in a recent window (the metrics) without reading every stored event.
            models.Index(fields=["received_at"], name="inbox_received"),
        ]

    def __str__(self) -> str:
        return f"{self.source} {self.event_id}"


class Schedule(models.Model):
    """A periodic job (poll a channel, push stock, reconcile…) run once per slot across workers."""

    name = models.CharField(max_length=100, unique=True)
    job = models.CharField(max_length=60, help_text=_("Nome da tarefa registrada"))
    channel = models.ForeignKey(
        "channels.Channel", null=True, blank=True, on_delete=models.CASCADE, related_name="schedules"
    )
    interval_seconds = models.PositiveIntegerField(default=300)
    enabled = models.BooleanField(default=True)
    params = models.JSONField(default=dict, blank=True)
    last_slot = models.DateTimeField(null=True, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_result = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ScheduleRun(models.Model):
    """The election of one runner for one slot: the unique insert is the lock."""

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="runs")
    slot = models.DateTimeField()
    worker = models.CharField(max_length=80)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    ok = models.BooleanField(null=True)
    detail = models.TextField(blank=True)

    class Meta:
        ordering = ["-slot"]
        constraints = [
            models.UniqueConstraint(fields=["schedule", "slot"], name="schedule_run_once_per_slot")
        ]

    def __str__(self) -> str:
        return f"{self.schedule} @ {self.slot:%Y-%m-%d %H:%M:%S}"


class RateBucket(models.Model):
    """A token bucket shared by every worker and poll (``malote.sync.rate_buckets.take``): at most
    ``burst`` tokens, refilled continuously at the caller's rate since ``refilled_at``."""

    key = models.CharField(max_length=120, unique=True, help_text=_("por exemplo rate:skyhub:orders_get"))
    tokens = models.FloatField()
    refilled_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.key} ({self.tokens:.2f})"


class WorkerHeartbeat(models.Model):
    """One row per running ``malote worker`` process, its ``beat_at`` renewed every few seconds
    (``malote.sync.heartbeats``). /healthz and the metrics read how long ago each worker beat; a
    worker that stops cleanly deletes its row, a killed one leaves it to go stale."""

    name = models.CharField(max_length=80, unique=True)
    started_at = models.DateTimeField(default=timezone.now)
    beat_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["beat_at"], name="worker_beat_at")]

    def __str__(self) -> str:
        return f"{self.name} @ {self.beat_at:%Y-%m-%d %H:%M:%S}"
