"""Integration issues in the Django admin: read-only (changes go through the commands: the API,
the back office's "Integrações" page or ``malote reconcile``)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from malote.reconcile.models import IntegrationIssue, IssueEvent


class IssueEventInline(admin.TabularInline):
    model = IssueEvent
    extra = 0
    can_delete = False
    fields = ("created_at", "action", "from_state", "to_state", "actor_label", "note")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(IntegrationIssue)
class IntegrationIssueAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "kind",
        "state",
        "channel",
        "order",
        "external_ref",
        "recommended_action",
        "last_seen",
    )
    list_filter = ("kind", "state", "channel")
    search_fields = ("order__number", "external_ref", "detail")
    inlines = [IssueEventInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
