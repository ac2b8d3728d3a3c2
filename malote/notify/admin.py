"""Operators edit the e-mail templates here; the sent log is read-only.

The form compiles subject and body before saving, so most mistakes are caught at once; anything
that still fails at send time becomes a dead letter that names the template.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from malote.notify import rendering
from malote.notify.models import EmailTemplate, SentEmail


class EmailTemplateForm(forms.ModelForm):
    class Meta:
        model = EmailTemplate
        fields = ("status", "enabled", "subject", "body")
        help_texts = {"body": rendering.TEMPLATE_HELP}

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        status = cleaned.get("status") or (self.instance.status if self.instance.pk else "")
        for part in ("subject", "body"):
            source = cleaned.get(part)
            if source is None:
                continue
            try:
                rendering.compile_template(source, status=status, part=part)
            except rendering.TemplateBroken as exc:
                self.add_error(part, str(exc.__cause__ or exc))
        return cleaned


@admin.register(EmailTemplate)
class EmailTemplateAdmin(admin.ModelAdmin):
    form = EmailTemplateForm
    list_display = ("status", "subject", "enabled", "updated_at")
    list_filter = ("enabled",)


@admin.register(SentEmail)
class SentEmailAdmin(admin.ModelAdmin):
    list_display = ("sent_at", "order", "ret", "status", "to", "subject", "message_id")
    list_filter = ("status",)
    search_fields = ("order__number", "ret__number", "to", "message_id")
    date_hierarchy = "sent_at"
    list_select_related = ("order", "ret")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
