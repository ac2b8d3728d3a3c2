"""Outbox, inbox and schedules in the Django admin: dead letters visible and replayable."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from malote.sync import outbox
from malote.sync.models import InboxEvent, OutboxMessage, Schedule, ScheduleRun


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ReadOnly):
    list_display = ("id", "destination", "kind", "key", "state", "attempts", "next_attempt_at", "last_error")
    list_filter = ("state", "destination", "kind")
    search_fields = ("key", "idempotency_key", "last_error")
    actions = ["replay_selected"]

    @admin.action(description="Replay (dead or pending messages become due now)", permissions=["replay"])
    def replay_selected(self, request: HttpRequest, queryset: QuerySet[OutboxMessage]) -> None:
        count = outbox.replay(list(queryset.values_list("id", flat=True)))
        self.message_user(request, f"{count} message(s) replayed.", messages.SUCCESS)

    def has_replay_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("sync.change_outboxmessage"))


@admin.register(InboxEvent)
class InboxEventAdmin(ReadOnly):
    list_display = ("id", "source", "event_id", "kind", "result", "received_at", "order")
    list_filter = ("source", "result")
    search_fields = ("event_id", "detail")


@admin.register(Schedule)
class ScheduleAdmin(admin.ModelAdmin):
    list_display = ("name", "job", "channel", "interval_seconds", "enabled", "last_run_at", "last_result")
    list_filter = ("enabled", "job")


@admin.register(ScheduleRun)
class ScheduleRunAdmin(ReadOnly):
    list_display = ("schedule", "slot", "worker", "ok", "started_at", "finished_at")
    list_filter = ("ok",)
