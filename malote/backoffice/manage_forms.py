"""Forms of the channels, stock and users pages.

Channel credentials are write-only: their inputs are password fields that never render a value; an
empty one keeps the stored credential, a typed one replaces it, and "substituir credenciais" (a
JSON object) replaces the whole set.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from django import forms
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.utils.translation import gettext_lazy as _

from malote.accounts.roles import ROLES
from malote.backoffice.errors import BackofficeErrorCode
from malote.backoffice.manage_actions import CONFIG_FIELDS
from malote.channels.models import Channel
from malote.connectors.registry import kinds, provider
from malote.orders.statuses import OrderStatus
from malote.stock.errors import StockErrorCode
from malote.stock.models import MovementReason

ROLE_LABELS = {
    "viewer": _("Leitura"),
    "operator": _("Operador"),
    "support": _("Suporte"),
    "admin": _("Administrador"),
}
ROLE_CHOICES = [(role, ROLE_LABELS[role]) for role in ROLES]
CREDENTIAL_PREFIX = "credential__"
# Remote statuses that map to no canonical status (e.g. Hybris NOT_INTEGRATED) go in this row.
UNMAPPED = "__none__"


class WriteOnlyTextarea(forms.Textarea):
    """A textarea that never renders a value back (not even after a failed submit)."""

    def format_value(self, value: Any) -> None:
        return None


def _json_object(raw: str, *, example: str) -> dict[str, Any] | None:
    raw = raw.strip()
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        raise forms.ValidationError(_("JSON inválido."), code=BackofficeErrorCode.INVALID_JSON) from None
    if not isinstance(value, dict):
        raise forms.ValidationError(
            _("Informe um objeto JSON, por exemplo %(example)s.") % {"example": example},
            code=BackofficeErrorCode.NOT_AN_OBJECT,
        )
    return value


class ChannelConfigForm(forms.ModelForm):
    base_url = forms.URLField(
        label=_("URL base da API"), required=False, max_length=300, assume_scheme="https"
    )
    options_json = forms.CharField(
        label=_("Opções (JSON)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 5, "class": "mono"}),
        help_text=_("Configurações específicas do conector, como objeto JSON."),
    )
    replace_credentials = forms.CharField(
        label=_("Substituir credenciais (JSON)"),
        required=False,
        widget=WriteOnlyTextarea(attrs={"rows": 3, "class": "mono", "autocomplete": "off"}),
        help_text=_("Objeto JSON que substitui todas as credenciais guardadas. Deixe vazio para mantê-las."),
    )
    poll_interval_seconds = forms.IntegerField(label=_("Intervalo de consulta (segundos)"), min_value=10)

    class Meta:
        model = Channel
        fields = (
            "name", "kind", "base_url", "import_policy", "invoice_needs_xml", "invoice_waits_for_shipment",
            "delivery_from_channel", "poll_interval_seconds",
        )  # fmt: skip
        labels = {
            "name": _("Nome"),
            "kind": _("Conector"),
            "import_policy": _("Política de importação"),
            "invoice_needs_xml": _("Nota fiscal só como XML"),
            "invoice_waits_for_shipment": _("Nota fiscal aguarda dados de envio"),
            "delivery_from_channel": _("Entrega informada pelo canal"),
        }
        help_texts = {
            "import_policy": _("Com “todos”, pedidos não pagos entram e são atualizados quando pagos."),
            "invoice_needs_xml": _(
                "O canal aceita a NF-e apenas como o XML autorizado (ex.: Mercado Livre)."
            ),
            "invoice_waits_for_shipment": _(
                "A chave da NF-e só é enviada depois que existem dados de envio."
            ),
            "delivery_from_channel": _("O marketplace informa a entrega; o Malote não a envia."),
        }

    def __init__(self, *args: Any, instance: Channel, **kwargs: Any) -> None:
        # A copy: validation writes the typed values onto the instance, and the stored channel must
        # stay as it is until save_channel_config compares and saves.
        kwargs["instance"] = copy.copy(instance)
        super().__init__(*args, **kwargs)
        channel = instance
        self.fields["kind"] = forms.ChoiceField(
            label=_("Conector"), choices=[(k, k) for k in sorted({*kinds(), channel.kind})]
        )
        if not self.is_bound:
            self.initial["options_json"] = json.dumps(channel.options or {}, indent=2, ensure_ascii=False)
        for name in sorted(channel.credentials or {}):
            self.fields[CREDENTIAL_PREFIX + name] = forms.CharField(
                label=name,
                required=False,
                strip=True,
                widget=forms.PasswordInput(
                    render_value=False,
                    attrs={
                        "autocomplete": "new-password",
                        "placeholder": _("•••••• (guardada; vazio mantém)"),
                    },
                ),
            )
        if not channel.is_sales:
            # Import and invoice policies apply to the channels orders come from.
            for name in (
                "import_policy",
                "invoice_needs_xml",
                "invoice_waits_for_shipment",
                "delivery_from_channel",
            ):
                del self.fields[name]

    def config_fields(self) -> list[forms.BoundField]:
        return [
            self[name]
            for name in self.fields
            if not name.startswith(CREDENTIAL_PREFIX) and name != "replace_credentials"
        ]

    def credential_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if name.startswith(CREDENTIAL_PREFIX)]

    def clean_options_json(self) -> dict[str, Any]:
        return (
            _json_object(self.cleaned_data.get("options_json", ""), example='{"timeout_seconds": 10}') or {}
        )

    def clean_replace_credentials(self) -> dict[str, Any] | None:
        return _json_object(self.cleaned_data.get("replace_credentials", ""), example='{"token": "…"}')

    def config(self) -> dict[str, Any]:
        """The cleaned configuration fields (options included), for ``save_channel_config``."""
        cleaned = {name: self.cleaned_data[name] for name in self.fields if name in CONFIG_FIELDS}
        cleaned["base_url"] = cleaned.get("base_url") or ""
        cleaned["options"] = self.cleaned_data["options_json"]
        return cleaned

    def credential_updates(self) -> dict[str, str]:
        return {
            name.removeprefix(CREDENTIAL_PREFIX): value
            for name, value in self.cleaned_data.items()
            if name.startswith(CREDENTIAL_PREFIX) and value
        }


class StatusMapForm(forms.Form):
    """The status map as a table: one row per canonical status, both directions.

    Out: the remote status Malote sends for the canonical one. In: the remote statuses (comma
    separated) read as this canonical status. Empty cells fall back to the connector's defaults,
    shown as placeholders.
    """

    def __init__(self, *args: Any, channel: Channel, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cls = provider(channel.kind)
        default_out = dict(cls.default_status_out) if cls else {}
        default_in = dict(cls.default_status_in) if cls else {}
        stored = channel.status_map or {}
        stored_out, stored_in = stored.get("out", {}), stored.get("in", {})
        self.rows: list[dict[str, Any]] = []
        for code, label in [*OrderStatus.choices, (UNMAPPED, _("(nenhum: não integrado)"))]:
            remote_in = ", ".join(
                sorted(r for r, c in stored_in.items() if c == ("" if code == UNMAPPED else code))
            )
            default_remote_in = ", ".join(
                sorted(r for r, c in default_in.items() if c == ("" if code == UNMAPPED else code))
            )
            in_field = forms.CharField(
                required=False,
                max_length=1000,
                initial=remote_in,
                widget=forms.TextInput(
                    attrs={"placeholder": default_remote_in, "aria-label": _("Entrada: %(s)s") % {"s": label}}
                ),
            )
            self.fields[f"in__{code}"] = in_field
            row: dict[str, Any] = {"code": code, "label": label, "in": self[f"in__{code}"], "out": None}
            if code != UNMAPPED:
                self.fields[f"out__{code}"] = forms.CharField(
                    required=False,
                    max_length=60,
                    initial=stored_out.get(code, ""),
                    widget=forms.TextInput(
                        attrs={
                            "placeholder": default_out.get(code, ""),
                            "aria-label": _("Saída: %(s)s") % {"s": label},
                        }
                    ),
                )
                row["out"] = self[f"out__{code}"]
            self.rows.append(row)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        seen: dict[str, str] = {}
        for name, value in list(cleaned.items()):
            if not name.startswith("in__"):
                continue
            for remote in (part.strip() for part in (value or "").split(",")):
                if not remote:
                    continue
                if remote in seen and seen[remote] != name:
                    self.add_error(
                        name,
                        forms.ValidationError(
                            _("O status remoto %(remote)s aparece em mais de uma linha.")
                            % {"remote": remote},
                            code=BackofficeErrorCode.DUPLICATE_REMOTE_STATUS,
                        ),
                    )
                seen[remote] = name
        return cleaned

    def status_map(self) -> dict[str, dict[str, str]]:
        out = {
            name.removeprefix("out__"): value.strip()
            for name, value in self.cleaned_data.items()
            if name.startswith("out__") and value and value.strip()
        }
        inbound: dict[str, str] = {}
        for name, value in self.cleaned_data.items():
            if name.startswith("in__"):
                code = name.removeprefix("in__")
                for remote in (part.strip() for part in (value or "").split(",")):
                    if remote:
                        inbound[remote] = "" if code == UNMAPPED else code
        result: dict[str, dict[str, str]] = {}
        if out:
            result["out"] = out
        if inbound:
            result["in"] = inbound
        return result


class StockSearchForm(forms.Form):
    q = forms.CharField(label=_("Buscar SKU"), required=False, max_length=60)


class StockAdjustForm(forms.Form):
    MODES = [("set", _("Nova quantidade física")), ("delta", _("Somar ou subtrair (±)"))]
    mode = forms.ChoiceField(
        label=_("Tipo de ajuste"), choices=MODES, initial="set", widget=forms.RadioSelect
    )
    quantity = forms.IntegerField(label=_("Quantidade"), min_value=-1_000_000, max_value=1_000_000)
    reason = forms.ChoiceField(
        label=_("Motivo"),
        choices=[
            (MovementReason.ADJUSTMENT.value, MovementReason.ADJUSTMENT.label),
            (MovementReason.INVENTORY_COUNT.value, MovementReason.INVENTORY_COUNT.label),
        ],
    )
    note = forms.CharField(label=_("Justificativa"), max_length=255)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("mode") == "set" and (cleaned.get("quantity") or 0) < 0:
            self.add_error(
                "quantity",
                forms.ValidationError(
                    _("A quantidade física não pode ser negativa."), code=StockErrorCode.STOCK_NEGATIVE
                ),
            )
        return cleaned


class UserCreateForm(forms.Form):
    username = forms.CharField(label=_("Usuário"), max_length=150, validators=[UnicodeUsernameValidator()])
    email = forms.EmailField(label=_("E-mail"), required=False)
    password = forms.CharField(
        label=_("Senha"), widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}), strip=False
    )
    role = forms.ChoiceField(label=_("Perfil"), choices=ROLE_CHOICES)

    def clean_username(self) -> str:
        username = self.cleaned_data["username"].strip()
        if get_user_model().objects.filter(username__iexact=username).exists():
            raise forms.ValidationError(
                _("Já existe um usuário com este nome."), code=BackofficeErrorCode.USERNAME_TAKEN
            )
        return str(username)

    def clean_password(self) -> str:
        password = str(self.cleaned_data["password"])
        password_validation.validate_password(password)
        return password


class RoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Perfil"), choices=ROLE_CHOICES)


class TokenCreateForm(forms.Form):
    name = forms.CharField(label=_("Nome do token"), max_length=100, initial="default")
