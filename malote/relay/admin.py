"""Channels in the Django admin. Credentials are write-only: typed in, never shown again.

The change form shows which credential names are stored (or that no configured key decrypts them),
never a value; a JSON object typed into "New credentials" replaces them all. No changelist lookup
may filter on them (the encrypted column would otherwise become a guessing oracle)."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from malote.channels.credentials import is_readable
from malote.channels.errors import ChannelsErrorCode
from malote.channels.models import Channel, LinkState, OrderLink
from malote.channels.status_maps import policy_options
from malote.core.actors import Actor
from malote.core.errors import MaloteError
from malote.relay.divergence import resolve_divergence
from malote.relay.polling import sync_poll_schedule


class WriteOnlyTextarea(forms.Textarea):
    """A textarea that never renders a value: a form refused for another field does not echo the
    credentials typed into it (they must be typed again)."""

    def format_value(self, value: Any) -> None:
        return None


class ChannelForm(forms.ModelForm):
    base_url = forms.URLField(required=False, max_length=300, assume_scheme="https")
    new_credentials = forms.CharField(
        required=False,
        widget=WriteOnlyTextarea(attrs={"rows": 3, "autocomplete": "off"}),
        help_text=(
            "JSON object; replaces all the stored credentials (they are never shown). Leave empty to"
            " keep them."
        ),
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
    readonly_fields = ("stored_credentials", "policies")

    @admin.display(description="Stored credentials")
    def stored_credentials(self, obj: Channel) -> str:
        """The names of the stored credentials, never their values."""
        if obj.pk is None:
            return "-"
        if not is_readable(obj.credentials):
            return (
                f"Unreadable ({ChannelsErrorCode.CREDENTIALS_UNREADABLE}): no configured key decrypts"
                " them. Restore the key, or enter new credentials to replace them."
            )
        return ", ".join(sorted(obj.credentials)) or "None"

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest) -> bool:
        if lookup.split("__", 1)[0] == "credentials":
            return False
        return super().lookup_allowed(lookup, value, request)

    @admin.display(description="Policies (options, with the kind's defaults)")
    def policies(self, obj: Channel) -> str:
        if obj.pk is None:
            return "-"
        return "\n".join(
            f"{name}: {shown['value']!r}" + ("" if shown["overridden"] else " (default)")
            for name, shown in policy_options(obj).items()
        )

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
        "divergent_since",
        "last_synced_at",
    )
    list_filter = ("state", "channel")
    search_fields = ("external_id", "order__number")
    readonly_fields = [f.name for f in OrderLink._meta.fields]
    actions = ("push_again", "accept_remote", "dismiss")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def _resolve(self, request: HttpRequest, queryset: QuerySet[OrderLink], action: str) -> None:
        done = 0
        for link in queryset.filter(state=LinkState.DIVERGENT):
            try:
                resolve_divergence(link.pk, action, actor=Actor.user(request.user), reason="admin")
                done += 1
            except MaloteError as exc:
                self.message_user(request, f"{link}: {exc.detail}", messages.ERROR)
        self.message_user(request, f"{done} divergence(s) resolved ({action}).")

    @admin.action(permissions=["change"], description="Divergence: push Malote's status again")
    def push_again(self, request: HttpRequest, queryset: QuerySet[OrderLink]) -> None:
        self._resolve(request, queryset, "push_again")

    @admin.action(permissions=["change"], description="Divergence: accept the channel's status")
    def accept_remote(self, request: HttpRequest, queryset: QuerySet[OrderLink]) -> None:
        self._resolve(request, queryset, "accept_remote")

    @admin.action(permissions=["change"], description="Divergence: dismiss")
    def dismiss(self, request: HttpRequest, queryset: QuerySet[OrderLink]) -> None:
        self._resolve(request, queryset, "dismiss")
