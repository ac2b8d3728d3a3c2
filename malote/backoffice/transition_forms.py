"""Forms for "Processar pedido", generated from each transition's input schema (the lifecycle table).

The schema stays the single source of truth: the form lists its fields (type, required, choices,
limits) and the submitted values go to ``run_transition`` unchanged but for two conveniences a
browser needs — empty optional fields are left out and ``datetime-local`` values (no offset) are
read in the server's time zone. Every rule is checked by the schema and the lifecycle, so the
back office shows exactly the API's error codes and messages.
"""

from __future__ import annotations

import types
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Union, get_args, get_origin

from django.http import QueryDict
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from malote.core.errors import MaloteError
from malote.fiscal.tracking import CORREIOS

# Portuguese labels; a (transition, field) entry wins over the field's own.
LABELS: dict[str | tuple[str, str], Any] = {
    "method": _("Forma"),
    "gateway": _("Gateway"),
    "transaction_id": _("ID da transação"),
    "amount": _("Valor (R$)"),
    "paid_at": _("Pago em"),
    "key": _("Chave de acesso (44 posições)"),
    "number": _("Número da NF-e"),
    "series": _("Série"),
    "issued_at": _("Data de emissão"),
    "xml": _("XML da NF-e (nfeProc)"),
    "collection_code": _("Código da ordem de coleta"),
    "carrier": _("Transportadora"),
    "tracking_code": _("Código de rastreio"),
    "tracking_url": _("URL de rastreio"),
    "shipped_at": _("Enviado em"),
    "description": _("Descrição do problema"),
    "delivered_at": _("Entregue em"),
    "reason": _("Motivo"),
    "note": _("Observação"),
    ("approve_payment", "method"): _("Forma de pagamento"),
    ("ship", "method"): _("Forma de envio"),
}
LONG_TEXT = frozenset({"xml", "note", "description"})
KNOWN_CARRIERS = (CORREIOS, "jadlog", "loggi", "total_express", "azul_cargo", "transportadora")


@dataclass
class FormField:
    name: str
    label: str
    widget: str  # text | textarea | select | datetime-local | decimal
    required: bool
    value: str = ""
    choices: list[tuple[str, str]] = field(default_factory=list)
    max_length: int | None = None
    pattern: str | None = None
    help: str = ""
    errors: list[dict[str, str]] = field(default_factory=list)


@dataclass
class TransitionForm:
    transition: str
    label: str
    fields: list[FormField]
    errors: list[dict[str, str]] = field(default_factory=list)

    @property
    def has_fields(self) -> bool:
        return bool(self.fields)


def _unwrap(annotation: Any) -> Any:
    """``X | None`` → ``X``."""
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        return args[0] if len(args) == 1 else annotation
    return annotation


def _constraint(info: FieldInfo, name: str) -> Any:
    for item in info.metadata:
        value = getattr(item, name, None)
        if value is not None:
            return value
    return None


def _widget(name: str, kind: Any) -> str:
    if isinstance(kind, type) and issubclass(kind, Enum):
        return "select"
    if kind is datetime:
        return "datetime-local"
    if kind is Decimal:
        return "decimal"
    if name in LONG_TEXT:
        return "textarea"
    return "text"


def _local_now() -> str:
    return timezone.localtime().strftime("%Y-%m-%dT%H:%M")


def build_form(transition: Any, data: QueryDict | None = None) -> TransitionForm:
    """The form of ``transition`` (a ``lifecycle.Transition``), filled from ``data`` when given."""
    schema: type[BaseModel] = transition.input
    fields = []
    for name, info in schema.model_fields.items():
        kind = _unwrap(info.annotation)
        widget = _widget(name, kind)
        label = LABELS.get((transition.name, name)) or LABELS.get(name) or name
        choices: list[tuple[str, str]] = []
        if widget == "select":
            choices = [(str(member.value), str(getattr(member, "label", member.value))) for member in kind]
        if data is not None:
            value = data.get(name, "")
        elif widget == "datetime-local" and info.is_required():
            value = _local_now()
        else:
            value = ""
        fields.append(
            FormField(
                name=name,
                label=str(label),
                widget=widget,
                required=info.is_required(),
                value=value,
                choices=choices,
                max_length=_constraint(info, "max_length"),
                pattern=_constraint(info, "pattern"),
                help=info.description or "",
            )
        )
    return TransitionForm(transition.name, str(transition.label), fields)


def _aware(value: str) -> str:
    """A ``datetime-local`` value (no offset) read in the current time zone; anything else as is."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return value  # the schema refuses it with its own code
    if parsed.tzinfo is None:
        parsed = timezone.make_aware(parsed, timezone.get_current_timezone())
    return parsed.isoformat()


def payload(form: TransitionForm) -> dict[str, Any]:
    """What the form's values send to ``run_transition`` (empty optional fields left out)."""
    data: dict[str, Any] = {}
    for item in form.fields:
        value = item.value.strip() if item.widget != "textarea" else item.value
        if value == "" and not item.required:
            continue
        if item.widget == "datetime-local" and value:
            value = _aware(value)
        if item.widget == "decimal":
            value = value.replace(",", ".")
        data[item.name] = value
    return data


def attach_error(form: TransitionForm, exc: MaloteError) -> None:
    """Put a coded error where it belongs: on its field, else on the form (same code and text as the API)."""
    by_name = {item.name: item for item in form.fields}
    errors = exc.extra.get("errors") or [{"field": exc.field or "", "code": exc.code, "detail": exc.detail}]
    for error in errors:
        target = by_name.get(str(error.get("field") or "").split(".")[-1])
        entry = {"code": str(error["code"]), "detail": str(error["detail"])}
        if target is not None:
            target.errors.append(entry)
        else:
            form.errors.append(entry)
