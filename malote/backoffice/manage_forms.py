"""Forms of the channels, stock and users pages.

Channel credentials are write-only: their inputs are password fields that never render a value; an
empty one keeps the stored credential, a typed one replaces it, and "substituir credenciais" (a
JSON object) replaces the whole set.

Channel options are one field per option that applies to the channel (``malote.channels.option_specs``):
a checkbox, a number with its bounds, a select, one item per line, or a JSON object. Each field shows
the channel's value, else the default. Saving stores an option the channel already set, or one whose
value differs from the default; an emptied number, optional text or JSON object goes back to the
default (the key is removed). Keys no field covers (unknown or of another connector) stay editable
as JSON in "avançado" (``options_json``).
"""

from __future__ import annotations

import copy
import json
import string
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.utils.translation import gettext_lazy as _

from malote.accounts.roles import ROLES
from malote.backoffice.errors import BackofficeErrorCode
from malote.backoffice.manage_actions import CONFIG_FIELDS
from malote.backoffice.manage_selectors import option_help_html, option_specs_of, option_text
from malote.channels.models import Channel, ChannelRole
from malote.channels.option_specs import GROUP_LABELS, OptionSpec, OptionType, ValueType
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
OPTION_PREFIX = "opt__"
STATUS_LABELS = dict(OrderStatus.choices)
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


def _invalid(message: Any) -> forms.ValidationError:
    return forms.ValidationError(message, code=BackofficeErrorCode.INVALID_OPTION)


def _as_bool(value: Any) -> bool:
    # As routing reads push_stock: "false", "off", "no" and 0 are false.
    return str(value).strip().lower() not in {"false", "off", "no", "0", "", "none"}


def _parse_date(text: str) -> date:
    for parse in (lambda t: datetime.strptime(t, "%d/%m/%Y").date(), date.fromisoformat):
        try:
            return parse(text)
        except ValueError:
            continue
    raise _invalid(_("Data inválida: %(value)s (use dd/mm/aaaa).") % {"value": text})


class LinesField(forms.CharField):
    """One item per line; the cleaned value is a list (empty lines dropped)."""

    def __init__(self, *, item: OptionType, **kwargs: Any) -> None:
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 3}))
        super().__init__(required=False, max_length=5000, **kwargs)
        self.item = item

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list | tuple):
            if self.item == OptionType.DATE_LIST:
                value = [_date_text(v) for v in value]
            return "\n".join(str(v) for v in value)
        return value

    def clean(self, value: Any) -> list[Any]:
        text = super().clean(value) or ""
        items: list[Any] = []
        for line in (part.strip() for part in text.splitlines()):
            if not line:
                continue
            if self.item == OptionType.INT_LIST:
                try:
                    items.append(int(line))
                except ValueError:
                    raise _invalid(_("Número inteiro inválido: %(value)s.") % {"value": line}) from None
            elif self.item == OptionType.DATE_LIST:
                items.append(_parse_date(line).isoformat())
            else:
                items.append(line)
        return items


def _date_text(value: Any) -> str:
    try:
        return date.fromisoformat(str(value)).strftime("%d/%m/%Y")
    except ValueError:
        return str(value)


class MappingField(forms.CharField):
    """A JSON object whose values are of ``value_type``; empty is ``None`` (the default applies)."""

    def __init__(self, *, value_type: ValueType, **kwargs: Any) -> None:
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 3, "class": "mono"}))
        super().__init__(required=False, max_length=20000, **kwargs)
        self.value_type = value_type

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, dict):
            return json.dumps(value, indent=2, ensure_ascii=False) if value else ""
        return value

    def clean(self, value: Any) -> dict[str, Any] | None:
        text = super().clean(value) or ""
        found = _json_object(text, example='{"pix": "PIX"}')
        if found is None:
            return None
        for key, item in found.items():
            if not key.strip():
                raise _invalid(_("As chaves não podem ser vazias."))
            if not self._fits(item):
                shown = json.dumps(item, ensure_ascii=False)
                raise _invalid(
                    _("Valor inválido para %(key)s: %(value)s (%(expected)s).")
                    % {"key": key, "value": shown, "expected": self._expected()}
                )
        return found

    def _fits(self, item: Any) -> bool:
        if self.value_type == ValueType.INT:
            return isinstance(item, int) and not isinstance(item, bool)
        if self.value_type == ValueType.RATE:
            number = isinstance(item, int | float) and not isinstance(item, bool)
            return item is None or (number and item >= 0)
        return isinstance(item, str)

    def _expected(self) -> str:
        if self.value_type == ValueType.INT:
            return str(_("esperado um número inteiro"))
        if self.value_type == ValueType.RATE:
            return str(_("esperado um número maior ou igual a zero, ou null"))
        return str(_("esperado um texto entre aspas"))


def option_field(spec: OptionSpec, kind: str) -> forms.Field:
    """The form field of one option: typed, bounded, labelled, with the help text and the default."""
    default = spec.default_for(kind)
    common: dict[str, Any] = {"label": spec.label, "help_text": spec.help, "required": False}
    if spec.type == OptionType.BOOL:
        return forms.BooleanField(**common)
    # Values and defaults are data (vendor words, templates, names), never translated.
    placeholder = {"placeholder": "" if default is None else str(default), "translate": "no"}
    if spec.type == OptionType.INT:
        return forms.IntegerField(
            **common,
            min_value=None if spec.minimum is None else int(spec.minimum),
            max_value=None if spec.maximum is None else int(spec.maximum),
            widget=forms.NumberInput(attrs=placeholder),
        )
    if spec.type == OptionType.NUMBER:
        return forms.DecimalField(
            **common,
            min_value=None if spec.minimum is None else Decimal(str(spec.minimum)),
            max_value=None if spec.maximum is None else Decimal(str(spec.maximum)),
            widget=forms.NumberInput(attrs={**placeholder, "step": "any"}),
        )
    if spec.type == OptionType.CHOICE:
        empty = [("", _("(nenhum)"))] if spec.nullable else []
        # A choice that is one of Malote's statuses reads as the status's name.
        choices = [(value, STATUS_LABELS.get(value, label)) for value, label in spec.choices]
        # Choices named by plain strings are the vendor's own words (Tiny's "pedido"): not prose.
        words = all(isinstance(label, str) for _value, label in choices)
        return forms.ChoiceField(
            **common,
            choices=[*empty, *choices],
            widget=forms.Select(attrs={"translate": "no"} if words else {}),
        )
    if spec.type in (OptionType.LIST, OptionType.INT_LIST, OptionType.DATE_LIST):
        return LinesField(item=spec.type, label=spec.label, help_text=spec.help)
    if spec.type == OptionType.MAPPING:
        return MappingField(value_type=spec.value_type, label=spec.label, help_text=spec.help)
    return forms.CharField(**common, max_length=500, widget=forms.TextInput(attrs=placeholder))


def _check_placeholders(spec: OptionSpec, text: str) -> None:
    try:
        used = {name for _literal, name, _spec, _conv in string.Formatter().parse(text) if name is not None}
    except ValueError:
        raise _invalid(_("Chaves { } desemparelhadas.")) from None
    unknown = sorted(used - spec.placeholders)
    if unknown:
        raise _invalid(
            _("Campo desconhecido: %(unknown)s. Campos possíveis: %(known)s.")
            % {
                "unknown": ", ".join("{" + name + "}" for name in unknown),
                "known": ", ".join("{" + name + "}" for name in sorted(spec.placeholders)),
            }
        )


class ChannelConfigForm(forms.ModelForm):
    base_url = forms.URLField(
        label=_("URL base da API"), required=False, max_length=300, assume_scheme="https"
    )
    options_json = forms.CharField(
        label=_("Avançado: outras opções (JSON)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "class": "mono"}),
        help_text=_(
            "Opções sem campo próprio acima (desconhecidas ou de outro conector), como objeto JSON. "
            "São guardadas como estão."
        ),
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
            label=_("Conector"),
            choices=[(k, k) for k in sorted({*kinds(), channel.kind})],
            # Connector kinds are codes (``tiny``, ``mercadolivre``), the same in every language.
            widget=forms.Select(attrs={"translate": "no"}),
        )
        own = channel.options or {}
        self.option_specs = option_specs_of(channel)
        self._own_options = dict(own)
        self._kind = channel.kind
        for spec in self.option_specs:
            name = OPTION_PREFIX + spec.name
            self.fields[name] = option_field(spec, channel.kind)
            value = own.get(spec.name, spec.default_for(channel.kind))
            self.initial[name] = _as_bool(value) if spec.type == OptionType.BOOL else value
        covered = {spec.name for spec in self.option_specs}
        others = {key: value for key, value in own.items() if key not in covered}
        self.initial["options_json"] = json.dumps(others, indent=2, ensure_ascii=False) if others else ""
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
            if not name.startswith((CREDENTIAL_PREFIX, OPTION_PREFIX))
            and name not in ("replace_credentials", "options_json")
        ]

    def option_groups(self) -> list[dict[str, Any]]:
        """The option fields by group, in the specs' order:
        ``[{"label", "fields": [{"spec", "field", "help", "default", "is_flag"}]}]`` (``help`` as HTML,
        ``default`` as text)."""
        groups: dict[str, dict[str, Any]] = {}
        for spec in self.option_specs:
            group = groups.setdefault(spec.group, {"label": GROUP_LABELS[spec.group], "fields": []})
            group["fields"].append(
                {
                    "spec": spec,
                    "field": self[OPTION_PREFIX + spec.name],
                    "help": option_help_html(spec),
                    "default": option_text(spec.default_for(self._kind)),
                    "is_flag": spec.type == OptionType.BOOL,
                }
            )
        return list(groups.values())

    def credential_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if name.startswith(CREDENTIAL_PREFIX)]

    def clean_options_json(self) -> dict[str, Any]:
        found = _json_object(self.cleaned_data.get("options_json", ""), example='{"minha_opcao": 1}') or {}
        repeated = sorted(set(found) & {spec.name for spec in self.option_specs})
        if repeated:
            raise _invalid(
                _("Estas opções têm campo próprio no formulário; altere-as lá: %(names)s.")
                % {"names": ", ".join(repeated)}
            )
        return found

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for spec in self.option_specs:
            name = OPTION_PREFIX + spec.name
            if name not in cleaned:
                continue  # the field's own validation failed
            value = cleaned[name]
            try:
                if spec.placeholders and isinstance(value, str):
                    _check_placeholders(spec, value)
                if spec.name == "helpdesk_channel" and value:
                    self._check_helpdesk(value)
            except forms.ValidationError as exc:
                self.add_error(name, exc)
        return cleaned

    @staticmethod
    def _check_helpdesk(code: str) -> None:
        if not Channel.objects.filter(code=code, role=ChannelRole.HELPDESK).exists():
            raise _invalid(_("Não há canal de help desk com o código %(code)s.") % {"code": code})

    def options(self) -> dict[str, Any]:
        """The channel's options after this form: the "avançado" keys, then each option field whose
        value the channel already set or that differs from the default (an empty optional value
        removes the key, so the default applies)."""
        result = dict(self.cleaned_data["options_json"])
        for spec in self.option_specs:
            value = _stored_value(spec, self.cleaned_data[OPTION_PREFIX + spec.name])
            if value is None:
                continue
            if spec.name in self._own_options or value != spec.default_for(self._kind):
                result[spec.name] = value
        return result

    def clean_replace_credentials(self) -> dict[str, Any] | None:
        return _json_object(self.cleaned_data.get("replace_credentials", ""), example='{"token": "…"}')

    def config(self) -> dict[str, Any]:
        """The cleaned configuration fields (options included), for ``save_channel_config``."""
        cleaned = {name: self.cleaned_data[name] for name in self.fields if name in CONFIG_FIELDS}
        cleaned["base_url"] = cleaned.get("base_url") or ""
        cleaned["options"] = self.options()
        return cleaned

    def credential_updates(self) -> dict[str, str]:
        return {
            name.removeprefix(CREDENTIAL_PREFIX): value
            for name, value in self.cleaned_data.items()
            if name.startswith(CREDENTIAL_PREFIX) and value
        }


def _stored_value(spec: OptionSpec, value: Any) -> Any:
    """The JSON value to store for a cleaned field; ``None``: nothing to store (the default applies)."""
    if spec.type == OptionType.BOOL:
        return bool(value)
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if spec.type in (OptionType.TEXT, OptionType.CHOICE) and value == "":
        return None if spec.nullable or spec.type == OptionType.CHOICE else ""
    return value


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
                    attrs={
                        "placeholder": default_remote_in,
                        "aria-label": _("Entrada: %(s)s") % {"s": label},
                        "translate": "no",  # the system's own status words
                    }
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
                            "translate": "no",
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
