"""Back-office forms: the throttled login and the orders list filter."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from malote.backoffice import throttle
from malote.backoffice.errors import BackofficeErrorCode
from malote.orders.statuses import OrderStatus, PaymentMethod

THROTTLED_MESSAGE = _(
    "Muitas tentativas de acesso sem sucesso para este usuário. Aguarde 15 minutos e tente novamente."
)


class ThrottledAuthenticationForm(AuthenticationForm):
    def clean(self) -> dict[str, Any]:
        username = str(self.data.get("username", ""))
        ip = throttle.client_ip(self.request)
        if throttle.is_blocked(username, ip):
            raise ValidationError(THROTTLED_MESSAGE, code=BackofficeErrorCode.THROTTLED)
        try:
            cleaned = super().clean()
        except ValidationError:
            throttle.record_failure(username, ip)
            raise
        throttle.reset(username, ip)
        return cleaned


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
