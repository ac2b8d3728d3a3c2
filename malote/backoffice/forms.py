"""Back-office forms: the login forms (back office and Django admin) and the orders list filter."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from malote.accounts import login_protection
from malote.backoffice.errors import BackofficeErrorCode
from malote.orders.statuses import OrderStatus, PaymentMethod


def locked_out_message() -> str:
    minutes = max(1, round(settings.AXES_COOLOFF_TIME.total_seconds() / 60))
    return ngettext(
        "Muitas tentativas de acesso sem sucesso para este usuário. Aguarde %(minutes)d minuto e "
        "tente novamente.",
        "Muitas tentativas de acesso sem sucesso para este usuário. Aguarde %(minutes)d minutos e "
        "tente novamente.",
        minutes,
    ) % {"minutes": minutes}


class LockoutAwareLoginMixin:
    """Refuses, with the lockout message, a login whose (normalised username, address) is locked
    out — before the password is looked at. django-axes counts the failures and its backend refuses
    locked-out attempts on every login path (docs/security.md); this only says why."""

    request: Any
    cleaned_data: dict[str, Any]

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        if username and self.request is not None and login_protection.is_locked_out(self.request, username):
            raise ValidationError(locked_out_message(), code=BackofficeErrorCode.THROTTLED)
        cleaned: dict[str, Any] = super().clean()  # type: ignore[misc]
        return cleaned


class ThrottledAuthenticationForm(LockoutAwareLoginMixin, AuthenticationForm):
    """The back office's login."""


class ThrottledAdminAuthenticationForm(LockoutAwareLoginMixin, AdminAuthenticationForm):
    """The Django admin's login (``admin.site.login_form``): the same protection."""


SORTS: dict[str, tuple[str, ...]] = {
    "placed_at": ("placed_at", "id"),
    "number": ("number",),
    "customer": ("customer_name", "id"),
    "total": ("total", "id"),
    "status": ("status", "-placed_at", "-id"),
    "channel": ("channel__code", "-placed_at", "-id"),
}
DEFAULT_SORT = "-placed_at"


def sort_choices() -> list[tuple[str, str]]:
    return [(s, s) for name in SORTS for s in (name, f"-{name}")]


class OrderFilterForm(forms.Form):
    q = forms.CharField(label=_("Buscar"), required=False, max_length=200)
    status = forms.MultipleChoiceField(
        label=_("Status"), required=False, choices=OrderStatus.choices, widget=forms.CheckboxSelectMultiple
    )
    channel = forms.ChoiceField(label=_("Canal"), required=False)
    placed_from = forms.DateField(
        label=_("De"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    placed_to = forms.DateField(
        label=_("Até"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    payment_method = forms.ChoiceField(
        label=_("Pagamento"), required=False, choices=[("", _("Todos")), *PaymentMethod.choices]
    )
    problem = forms.BooleanField(label=_("Com problema de integração"), required=False)
    xml_pending = forms.BooleanField(label=_("Aguardando XML da NF-e"), required=False)
    invoice_held = forms.BooleanField(label=_("NF-e retida até o envio"), required=False)
    sort = forms.ChoiceField(required=False, choices=sort_choices(), widget=forms.HiddenInput)

    def __init__(self, *args: Any, channels: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        channel_field = self.fields["channel"]
        assert isinstance(channel_field, forms.ChoiceField)
        channel_field.choices = [("", _("Todos")), *channels]
        self.fields["q"].widget.attrs.update(
            {"placeholder": _("Número, id externo, cliente, e-mail, CPF/CNPJ"), "type": "search"}
        )
