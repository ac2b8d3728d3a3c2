"""Channels in the Django admin. Credentials are write-only: typed in, never shown again."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from malote.channels.jobs import sync_poll_schedule
from malote.channels.models import Channel, OrderLink


class ChannelForm(forms.ModelForm):
    base_url = forms.URLField(required=False, max_length=300, assume_scheme="https")
    new_credentials = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="JSON object; replaces the stored credentials. Leave empty to keep them.",
    )

    class Meta:
        model = Channel
        fields = (
            "code", "name", "role", "kind", "enabled", "base_url", "options", "import_policy",
            "status_map", "invoice_needs_xml", "invoice_waits_for_shipment", "delivery_from_channel",
            "poll_interval_seconds",
        )  # fmt: skip

    def clean_new_credentials(self) -> dict[str, Any] | None:
        raw = self.cleaned_data.get("new_credentials", "").strip()
        if not raw:
            return None
        try:
            value = json.loads(raw)
        except ValueError:
            raise forms.ValidationError("Not valid JSON.") from None
        if not isinstance(value, dict):
            raise forms.ValidationError('Give a JSON object, e.g. {"token": "…"}.')
        return value


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    form = ChannelForm
    list_display = ("code", "name", "role", "kind", "enabled", "import_policy")
    list_filter = ("role", "kind", "enabled")
    search_fields = ("code", "name")

    def save_model(self, request: HttpRequest, obj: Channel, form: Any, change: bool) -> None:
        credentials = form.cleaned_data.get("new_credentials")
        if credentials is not None:
            obj.credentials = credentials
        super().save_model(request, obj, form, change)
        sync_poll_schedule(obj)


@admin.register(OrderLink)
class OrderLinkAdmin(admin.ModelAdmin):
    list_display = (
        "order",
        "channel",
        "external_id",
        "remote_status",
        "expected_status",
        "state",
        "last_synced_at",
    )
    list_filter = ("state", "channel")
    search_fields = ("external_id", "order__number")
    readonly_fields = [f.name for f in OrderLink._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
