"""Forms for "Processar pedido", generated from each transition's input schema (the lifecycle table).

The schema stays the source of truth for the fields (type, required, choices, limits); the form
adds what Brazilian practice needs on top, and checks everything before the transition runs, so
one submit shows every error at once, each next to its field, as a sentence in the operator's
language with the code in small print (``form_messages``):

- dates typed ``dd/mm/aaaa hh:mm`` (or what a ``datetime-local`` input sends), in the shop's zone;
- invoice: NF-e number and series read from the 44-digit key (typed with or without spaces); when
  given, they must agree with it; the issue date must fall in the key's month; a key another order
  already holds names that order;
- ship (and ready to ship): carrier and service from lists (``carriers``), prefilled from the
  order's shipping method, or "Outra" typed; the tracking code checked by the carrier's rule;
- deliver: not before the shipment left, compared at the minute the form shows, so a delivery
  typed in the minute of the shipment counts from the shipment's own time;
- cancel: an order with an NF-e must say what happens to it (``nfe_action``).

Then the payload goes through the transition's schema (all its errors collected) and only a clean
form runs ``run_transition``; what the command still refuses is shown the same way.
"""

from __future__ import annotations

import types
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any, Union, get_args, get_origin

from django.http import QueryDict
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from malote import fiscal
from malote.backoffice import carriers, form_dates, form_messages
from malote.backoffice.errors import BackofficeErrorCode
from malote.core.errors import MaloteError
from malote.fiscal.nfe_key import compact_nfe_key
from malote.fiscal.tracking import CORREIOS, carrier_key
from malote.orders import parts
from malote.orders.errors import OrdersErrorCode
from malote.orders.lifecycle import Transition
from malote.orders.models import Invoice, Order, Shipment
from malote.orders.schemas import ShipIn
from malote.orders.shipments import SHIPPING
from malote.orders.statuses import ShipmentStatus

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
    "carrier_other": _("Outra transportadora"),
    "method_other": _("Outro serviço"),
    "tracking_code": _("Código de rastreio"),
    "tracking_url": _("URL de rastreio"),
    "shipped_at": _("Enviado em"),
    "description": _("Descrição do problema"),
    "delivered_at": _("Entregue em"),
    "reason": _("Motivo"),
    "note": _("Observação"),
    "nfe_action": _("O que fazer com a NF-e"),
    ("approve_payment", "method"): _("Forma de pagamento"),
    ("ship", "method"): _("Serviço de envio"),
    ("ship_part", "method"): _("Serviço de envio"),
    ("deliver", "tracking_code"): _("Parte entregue"),
}
HELP: dict[str | tuple[str, str], Any] = {
    ("invoice", "key"): _("Pode colar com espaços ou em grupos de 4, como no DANFE."),
    ("invoice", "number"): _("Lido da chave; se preencher, deve conferir com ela."),
    ("invoice", "series"): _("Lida da chave; se preencher, deve conferir com ela."),
    "carrier_other": _("Só se escolheu “Outra” na lista."),
    "method_other": _("Só se escolheu “Outro serviço” na lista."),
}
NFE_ACTIONS = (
    ("cancel_nfe", _("Cancelar a NF-e na SEFAZ (evento 110111, até 24 h após a autorização)")),
    ("return_nfe", _("Emitir uma NF-e de devolução (entrada)")),
)
LONG_TEXT = frozenset({"xml", "note", "description"})
# Fields the form reads from the key when left empty.
FROM_KEY = frozenset({"number", "series"})
# Text fields the form turns into lists of choices; the typed alternative follows each.
CARRIER_FORMS = frozenset({"ship", "ready_to_ship", "ship_part"})
# Forms that send a part of the order (docs/lifecycle.md, "Partial shipments"): one quantity per
# line with units left when more than one unit is left; left as prefilled, everything leaves.
SHIP_FORMS = frozenset({"ship", "ship_part"})
QUANTITY = "qty_"
# A further part of a shipment: a command, not a transition (``orders.shipments.ship_part``), run
# from the same processing page while the order is on its way.
SHIP_PART = Transition("ship_part", _("Enviar outra parte"), frozenset(SHIPPING), None, ShipIn)
COMMANDS = {SHIP_PART.name: SHIP_PART}
NFE_WINDOW = timedelta(hours=24)


@dataclass
class FormField:
    name: str
    label: str
    widget: str  # text | textarea | select | radio | datetime | decimal
    required: bool
    value: str = ""
    choices: list[tuple[str, str]] = field(default_factory=list)
    groups: list[tuple[str, list[tuple[str, str]]]] = field(default_factory=list)
    max_length: int | None = None
    placeholder: str = ""
    help: str = ""
    errors: list[dict[str, str]] = field(default_factory=list)


@dataclass
class TransitionForm:
    transition: str
    label: str
    fields: list[FormField]
    errors: list[dict[str, str]] = field(default_factory=list)
    warning: str = ""

    @property
    def has_fields(self) -> bool:
        return bool(self.fields)

    @property
    def has_errors(self) -> bool:
        return bool(self.errors) or any(item.errors for item in self.fields)

    def get(self, name: str) -> FormField | None:
        return next((item for item in self.fields if item.name == name), None)

    def add_error(self, name: str, code: str, detail: str) -> None:
        """The error on field ``name`` (on the form when it has no such field)."""
        target = self.get(name)
        entry = {"code": str(code), "detail": detail}
        if target is None:
            self.errors.append(entry)
        elif entry not in target.errors:
            target.errors.append(entry)


def _unwrap(annotation: Any) -> Any:
    """``X | None`` → ``X``; ``Annotated[X, …]`` → ``X``."""
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        annotation = args[0] if len(args) == 1 else annotation
    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
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
        return "datetime"
    if kind is Decimal:
        return "decimal"
    if name in LONG_TEXT:
        return "textarea"
    return "text"


def has_invoice(order: Order) -> bool:
    return Invoice.objects.filter(order=order).exists()


def nfe_warning(order: Order) -> str:
    """What cancelling this invoiced order leaves to do with its NF-e ("" without an invoice)."""
    invoice = Invoice.objects.filter(order=order).order_by("-id").first()
    if invoice is None:
        return ""
    deadline = invoice.issued_at + NFE_WINDOW
    values = {
        "number": invoice.number,
        "series": invoice.series,
        "issued": form_dates.display(invoice.issued_at),
        "deadline": form_dates.display(deadline),
    }
    text = _g(
        "Este pedido tem a NF-e nº %(number)s (série %(series)s), emitida em %(issued)s. Cancelar o "
        "pedido não cancela a nota: cancele a NF-e na SEFAZ (evento 110111, até 24 h após a "
        "autorização) ou emita uma NF-e de devolução."
    )
    if timezone.now() > deadline:
        text += " " + _g("O prazo de 24 h terminou em %(deadline)s: o normal agora é a NF-e de devolução.")
    return text % values


def _carrier_fields(name: str, label: str, required: bool, value: str, other: str) -> list[FormField]:
    return [
        FormField(name, label, "select", required, value, choices=carriers.carrier_choices()),
        FormField("carrier_other", str(LABELS["carrier_other"]), "text", False, other, max_length=60,
                  help=str(HELP["carrier_other"])),
    ]  # fmt: skip


def _prefill_carrier(order: Order) -> tuple[str, str]:
    """(carrier code, service name) for a fresh form: the ready shipment's carrier, else the
    order's shipping method as the channel wrote it."""
    code, service = carriers.guess(order.shipping_method)
    ready = Shipment.objects.filter(order=order).exclude(carrier="").order_by("-id").first()
    if ready is not None:
        known = carriers.known_carrier(ready.carrier)
        if known is not None and known.code != code:
            return known.code, ""
    return code, service


def build_form(transition: Any, order: Order, data: QueryDict | None = None) -> TransitionForm:
    """The form of ``transition`` (a ``lifecycle.Transition``) for ``order``, filled from ``data``
    when given, else prefilled (now for required times, the carrier from the shipping method)."""
    schema: type[BaseModel] = transition.input
    name_of = transition.name
    guessed = _prefill_carrier(order) if name_of in CARRIER_FORMS and data is None else ("", "")
    fields: list[FormField] = []
    for name, info in schema.model_fields.items():
        if name == "nfe_action":
            continue  # asked below, only of invoiced orders
        kind = _unwrap(info.annotation)
        widget = _widget(name, kind)
        label = str(LABELS.get((name_of, name)) or LABELS.get(name) or name)
        required = info.is_required() and not (name_of == "invoice" and name in FROM_KEY)
        given = (lambda key: data.get(key, "")) if data is not None else (lambda key: "")
        if name_of in CARRIER_FORMS and name == "carrier":
            value = given(name) if data is not None else guessed[0]
            fields += _carrier_fields(name, label, required, value, given("carrier_other"))
            continue
        if name == "lines":
            continue  # one quantity per line, below
        if name_of == "deliver" and name == "tracking_code":
            fields += _part_choice(order, data)
            continue
        if name_of in SHIP_FORMS and name == "method":
            value = given(name) if data is not None else guessed[1]
            fields.append(FormField(name, label, "select", required, value, groups=carriers.service_groups()))
            fields.append(
                FormField("method_other", str(LABELS["method_other"]), "text", False,
                          given("method_other"), max_length=100, help=str(HELP["method_other"]))
            )  # fmt: skip
            continue
        choices: list[tuple[str, str]] = []
        if widget == "select":
            choices = [(str(member.value), str(getattr(member, "label", member.value))) for member in kind]
        if data is not None:
            value = given(name)
        elif widget == "datetime" and info.is_required():
            value = form_dates.display(timezone.now())
        else:
            value = ""
        help_text = HELP.get((name_of, name)) or HELP.get(name)
        fields.append(
            FormField(
                name=name,
                label=label,
                widget=widget,
                required=required,
                value=value,
                choices=choices,
                max_length=_constraint(info, "max_length"),
                placeholder=str(_("dd/mm/aaaa hh:mm")) if widget == "datetime" else "",
                help=str(help_text or ""),
            )
        )
    form = TransitionForm(name_of, str(transition.label), fields)
    if name_of in SHIP_FORMS:
        form.fields += _quantity_fields(order, data)
    if name_of == "cancel" and has_invoice(order):
        chosen = data.get("nfe_action", "") if data is not None else ""
        choices = [(value, str(text)) for value, text in NFE_ACTIONS]
        form.fields.append(FormField("nfe_action", str(LABELS["nfe_action"]), "radio", True, chosen, choices))
        form.warning = nfe_warning(order)
    return form


def _left_by_position(order: Order) -> dict[int, int]:
    left = parts.remaining_quantities(order)
    return {line.position: left[line.pk] for line in order.lines.all() if line.pk in left}


def _quantity_fields(order: Order, data: QueryDict | None) -> list[FormField]:
    """One quantity per line with units left, prefilled with all of them, when more than one unit
    is left: the operator lowers what does not leave in this part (0: none of the line)."""
    left = _left_by_position(order)
    if sum(left.values()) <= 1:
        return []
    found = []
    for line in order.lines.all():
        if line.position not in left:
            continue
        name = f"{QUANTITY}{line.position}"
        value = data.get(name, "") if data is not None else str(left[line.position])
        help_text = _g("Unidades nesta parte (%(left)s a enviar); 0 para não enviar agora.") % {
            "left": left[line.position]
        }
        found.append(
            FormField(name, f"{line.sku} — {line.name}", "text", False, value, max_length=7, help=help_text)
        )
    return found


def _part_choice(order: Order, data: QueryDict | None) -> list[FormField]:
    """Which part was delivered, when the order left in several: none chosen is the whole order."""
    sent = parts.sent_parts(order)
    if len(sent) < 2:
        return []
    choices = [
        (
            part.tracking_code,
            _g("Parte %(number)s: %(tracking)s") % {"number": n, "tracking": part.tracking_code},
        )
        for n, part in enumerate(sent, start=1)
        if part.status != ShipmentStatus.DELIVERED
    ]
    value = data.get("tracking_code", "") if data is not None else ""
    label = str(LABELS[("deliver", "tracking_code")])
    help_text = _g("Deixe em branco para confirmar a entrega do pedido inteiro.")
    return [FormField("tracking_code", label, "select", False, value, choices=choices, help=help_text)]


# --- reading and checking a submitted form -----------------------------------------------------------


def _money(value: str) -> str:
    """``1.234,56`` or ``49,90`` (Brazilian) → ``1234.56`` / ``49.90``; ``49.90`` stays."""
    if "," in value:
        return value.replace(".", "").replace(",", ".")
    return value


def _check_key(form: TransitionForm, data: dict[str, Any], order: Order) -> None:
    try:
        key = fiscal.parse_nfe_key(data["key"])
    except fiscal.FiscalError as exc:
        params = form_messages.nfe_key_params(exc.code, data["key"])
        form.add_error("key", exc.code, form_messages.text(exc.code, **params))
        return
    data["key"] = key.key
    for name, from_key, code in (
        ("number", key.number, OrdersErrorCode.INVOICE_NUMBER_MISMATCH),
        ("series", key.series, OrdersErrorCode.INVOICE_SERIES_MISMATCH),
    ):
        typed = data.get(name, "")
        if not typed:
            data[name] = str(from_key)
        elif typed.isdigit() and int(typed) != from_key:
            params = {f"key_{name}": from_key, "given": typed}
            form.add_error(name, code, form_messages.text(code, **params))
    issued = data.get("issued_at")
    if isinstance(issued, datetime):
        local = timezone.localtime(issued)
        if (local.year, local.month) != (key.year, key.month):
            code = OrdersErrorCode.INVOICE_ISSUED_AT_MISMATCH
            params = {"key_month": f"{key.month:02d}/{key.year}", "given": f"{local:%m/%Y}"}
            form.add_error("issued_at", code, form_messages.text(code, **params))
    holder = Invoice.objects.filter(key=key.key).exclude(order=order).select_related("order").first()
    if holder is not None:
        form.add_error("key", OrdersErrorCode.INVOICE_KEY_IN_USE, key_in_use_text(holder.order))


def key_in_use_text(other: Order) -> str:
    """ "This key already belongs to order <link>": the other order named and linked."""
    link = format_html('<a href="{}">{}</a>', reverse("backoffice:order", args=[other.pk]), other.number)
    template = escape(_g("Esta chave de NF-e já pertence ao pedido %(order)s."))
    return mark_safe(template % {"order": link})  # both parts escaped above


def _resolve_carrier(form: TransitionForm, data: dict[str, Any]) -> carriers.Carrier | None:
    """Turn the carrier select (and "Outra") into the carrier text the schema takes."""
    other = data.pop("carrier_other", "")
    chosen = data.get("carrier", "")
    if chosen == carriers.OTHER:
        if not other:
            form.add_error("carrier_other", "missing", form_messages.text("missing"))
            data.pop("carrier")
        else:
            data["carrier"] = other
        return None
    if chosen and chosen not in carriers.BY_CODE:
        form.add_error("carrier", "enum", form_messages.text("enum"))
        return None
    return carriers.BY_CODE.get(chosen)


def _resolve_service(form: TransitionForm, data: dict[str, Any], carrier: carriers.Carrier | None) -> None:
    other = data.pop("method_other", "")
    chosen = data.get("method", "")
    if chosen == carriers.OTHER_SERVICE:
        if other:
            data["method"] = other
        else:
            form.add_error("method_other", "missing", form_messages.text("missing"))
            data.pop("method")
        return
    owner = carriers.carrier_of_service(chosen) if chosen else None
    if chosen and owner is None:
        form.add_error("method", "enum", form_messages.text("enum"))
    elif owner is not None and carrier is not None and owner.code != carrier.code:
        code = BackofficeErrorCode.SHIPPING_SERVICE_MISMATCH
        params = {"service": chosen, "owner": owner.name, "carrier": carrier.name}
        form.add_error("method", code, form_messages.text(code, **params))


def _check_tracking(form: TransitionForm, data: dict[str, Any]) -> None:
    if not data.get("carrier") or not data.get("tracking_code"):
        return
    try:
        data["tracking_code"] = fiscal.validate_tracking_code(data["carrier"], data["tracking_code"])
    except fiscal.FiscalError as exc:
        strict = carrier_key(data["carrier"]) == CORREIOS
        params = form_messages.tracking_params(exc.code, data["tracking_code"], strict_s10=strict)
        form.add_error("tracking_code", exc.code, form_messages.text(exc.code, **params))


def _part_lines(form: TransitionForm, data: dict[str, Any], order: Order) -> None:
    """The quantities typed per line → the ``lines`` of the part (none when every unit left leaves:
    the whole order, or the rest of it). An empty quantity is all of the line's units left."""
    typed = {name: data.pop(name) for name in list(data) if name.startswith(QUANTITY)}
    asked = [item for item in form.fields if item.name.startswith(QUANTITY)]
    if not asked:
        return
    left = _left_by_position(order)
    lines = []
    everything = True
    for item in asked:
        position = int(item.name.removeprefix(QUANTITY))
        units_left = left.get(position, 0)
        value = str(typed.get(item.name, "")).strip()
        if value and not value.isdigit():
            form.add_error(item.name, "int_parsing", form_messages.text("int_parsing"))
            continue
        units = int(value) if value else units_left
        if units > units_left:
            code = OrdersErrorCode.SHIPMENT_QUANTITY_EXCEEDS_REMAINING
            form.add_error(item.name, code, form_messages.text(code, remaining=units_left))
            continue
        everything = everything and units == units_left
        if units:
            lines.append({"line": position, "quantity": units})
    if not everything:
        data["lines"] = lines  # none at all: the schema's "at least one line"


def _check_delivery(form: TransitionForm, data: dict[str, Any], order: Order, typed: str) -> None:
    delivered = data.get("delivered_at")
    if not isinstance(delivered, datetime):
        return
    named = data.get("tracking_code")
    shipments = Shipment.objects.filter(order=order, shipped_at__isnull=False)
    if named:
        shipments = shipments.filter(tracking_code=named)
    shipped = shipments.order_by("-shipped_at").values_list("shipped_at", flat=True).first()
    if shipped is None or delivered >= shipped:
        return
    # The form shows minutes: a delivery typed in the shipment's own minute is not before it.
    precise = form_dates.has_seconds(typed)
    shipped_shown = shipped if precise else shipped.replace(second=0, microsecond=0)
    if delivered >= shipped_shown:
        data["delivered_at"] = shipped
        return
    code = OrdersErrorCode.DELIVERED_BEFORE_SHIPPED
    params = {
        "delivered": form_dates.display(delivered, seconds=precise),
        "shipped": form_dates.display(shipped, seconds=precise),
    }
    form.add_error("delivered_at", code, form_messages.text(code, **params))


def clean(form: TransitionForm, order: Order) -> dict[str, Any]:
    """Read and check the submitted form: every error lands on the form (``form.has_errors``);
    the payload returned is what ``run_transition`` gets when there is none."""
    data: dict[str, Any] = {}
    typed: dict[str, str] = {}
    for item in form.fields:
        value = item.value.strip() if item.widget != "textarea" else item.value
        if value == "":
            if item.required:
                choice = item.widget in ("select", "radio")
                detail = str(form_messages.CHOOSE) if choice else form_messages.text("missing")
                form.add_error(item.name, "missing", detail)
            continue
        typed[item.name] = value
        if item.widget == "datetime" and value:
            moment = form_dates.parse(value)
            if moment is None:
                code = OrdersErrorCode.INVALID_DATETIME
                form.add_error(item.name, code, form_messages.text(code))
                continue
            data[item.name] = moment
            continue
        if item.widget == "decimal":
            value = _money(value)
        data[item.name] = value
    if form.transition == "invoice" and data.get("key"):
        _check_key(form, data, order)
    if form.transition in CARRIER_FORMS:
        carrier = _resolve_carrier(form, data)
        if form.transition in SHIP_FORMS:
            _resolve_service(form, data, carrier)
            _check_tracking(form, data)
            _part_lines(form, data, order)
    if form.transition == "deliver":
        _check_delivery(form, data, order, typed.get("delivered_at", ""))
    _check_schema(form, data)
    return data


# A field the form fills from another one: no "fill this in" of its own when that one is wrong.
_FILLED_FROM = {"number": "key", "series": "key", "carrier": "carrier_other", "method": "method_other"}


def _check_schema(form: TransitionForm, data: dict[str, Any]) -> None:
    """Every error of the transition's schema, on the fields that have none from the form yet."""
    already = {item.name for item in form.fields if item.errors}
    already |= {name for name, source in _FILLED_FROM.items() if source in already and name not in data}
    schema = _schema_of(form)
    try:
        schema.model_validate({k: v for k, v in data.items() if k not in already})
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            name = str(err["loc"][0]) if err["loc"] else ""
            if name in already:
                continue
            params = dict(err.get("ctx") or {})
            form.add_error(name, err["type"], form_messages.text(err["type"], **params))


def _schema_of(form: TransitionForm) -> type[BaseModel]:
    from malote.orders.lifecycle import TRANSITIONS

    schema: type[BaseModel] = (COMMANDS.get(form.transition) or TRANSITIONS[form.transition]).input
    return schema


def payload(data: dict[str, Any]) -> dict[str, Any]:
    """The checked values as ``run_transition`` takes them (times as ISO 8601 with offset)."""
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in data.items()}


def attach_error(form: TransitionForm, exc: MaloteError, order: Order, sent: dict[str, Any]) -> None:
    """What the command still refused (``sent``: the payload it got), in the operator's language,
    where it belongs."""
    errors = exc.extra.get("errors") or [{"field": exc.field or "", "code": exc.code, "detail": exc.detail}]
    for error in errors:
        code = str(error["code"])
        name = str(error.get("field") or "").split(".")[-1]
        if code == OrdersErrorCode.INVOICE_KEY_IN_USE:
            name = "key"
        if str(error.get("field") or "").startswith("lines."):
            name = _quantity_field_of(form, sent, str(error["field"]))
        form.add_error(name, code, _command_text(code, exc, order, sent))


def _quantity_field_of(form: TransitionForm, sent: dict[str, Any], field_path: str) -> str:
    """The quantity field of the part's line an error on ``lines.N…`` is about ("" : the form's)."""
    try:
        line = sent["lines"][int(field_path.split(".")[1])]
    except (KeyError, IndexError, ValueError, TypeError):
        return ""
    name = f"{QUANTITY}{line.get('line')}"
    return name if form.get(name) is not None else ""


def _command_text(code: str, exc: MaloteError, order: Order, sent: dict[str, Any]) -> str:
    if code == OrdersErrorCode.TRANSITION_NOT_ALLOWED:
        return exc.detail  # the lifecycle's reason, already in the operator's language
    if code == OrdersErrorCode.INSUFFICIENT_STOCK and exc.extra.get("skus"):
        return form_messages.text(code, skus=", ".join(exc.extra["skus"]))
    if code == OrdersErrorCode.INVOICE_KEY_IN_USE:
        key = compact_nfe_key(str(sent.get("key") or ""))
        holder = Invoice.objects.filter(key=key).exclude(order=order).select_related("order").first()
        if holder is not None:
            return key_in_use_text(holder.order)
    return form_messages.text(code)


# --- NF-e events: the cancellation or a carta de correção of the order's NF-e ------------------------

INVOICE_EVENT_FORM = "invoice_event"
INVOICE_EVENT_TYPES = (
    ("cancellation", _("Cancelamento da NF-e (evento 110111, até 24 h após a autorização)")),
    ("correction", _("Carta de correção (evento 110110): substitui a anterior")),
)
# Without the XML, these say what the event is; with it, the XML says it all.
_EVENT_FIELDS = ("type", "protocol", "registered_at", "text")


def build_invoice_event_form(data: QueryDict | None = None) -> TransitionForm:
    """The form that records an event SEFAZ registered on the order's NF-e: its fields, or the
    event's XML pasted (then the fields are left empty)."""

    def given(name: str) -> str:
        return data.get(name, "") if data is not None else ""

    when = given("registered_at") if data is not None else form_dates.display(timezone.now())
    fields = [
        FormField("type", str(_("Evento")), "radio", False, given("type"),
                  choices=[(value, str(text)) for value, text in INVOICE_EVENT_TYPES]),
        FormField("protocol", str(_("Protocolo do evento")), "text", False, given("protocol"), max_length=20,
                  help=str(_("O número que a SEFAZ devolveu ao registrar o evento (15 dígitos)."))),
        FormField("registered_at", str(_("Registrado na SEFAZ em")), "datetime", False, when,
                  placeholder=str(_("dd/mm/aaaa hh:mm"))),
        FormField("text", str(_("Justificativa ou correção")), "textarea", False, given("text"),
                  max_length=1000, help=str(_("Cancelamento: 15 a 255 caracteres. Correção: 15 a 1000."))),
        FormField("xml", str(_("Ou cole o XML do evento (procEventoNFe)")), "textarea", False, given("xml"),
                  help=str(_("Com o XML, os campos acima não são necessários."))),
    ]  # fmt: skip
    return TransitionForm(INVOICE_EVENT_FORM, str(_("Registrar evento da NF-e")), fields)


def clean_invoice_event(form: TransitionForm, invoice: Invoice) -> dict[str, Any]:
    """The input of ``record_invoice_event`` for the order's latest NF-e; every error on the form.
    The sequence is not asked: a cancellation is 1, a carta de correção the next one."""
    values = {item.name: item.value.strip() for item in form.fields}
    if values["xml"]:
        return {"xml": values["xml"]}
    for name in _EVENT_FIELDS:
        if not values[name]:
            detail = str(form_messages.CHOOSE) if name == "type" else form_messages.text("missing")
            form.add_error(name, "missing", detail)
    if values["type"] and values["type"] not in dict(INVOICE_EVENT_TYPES):
        form.add_error("type", "enum", form_messages.text("enum"))
    moment = form_dates.parse(values["registered_at"]) if values["registered_at"] else None
    if values["registered_at"] and moment is None:
        form.add_error(
            "registered_at", OrdersErrorCode.INVALID_DATETIME, form_messages.text("invalid_datetime")
        )
    if form.has_errors or moment is None:
        return {}
    last = invoice.events.filter(type="correction").order_by("-sequence").values_list("sequence", flat=True)
    sequence = 1 if values["type"] == "cancellation" else (last.first() or 0) + 1
    return {
        "key": invoice.key,
        "type": values["type"],
        "sequence": sequence,
        "protocol": values["protocol"],
        "registered_at": moment.isoformat(),
        "text": values["text"],
    }
