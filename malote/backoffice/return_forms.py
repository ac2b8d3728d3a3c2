"""The back-office forms of returns (devoluções): open one, each transition of the return table,
the return NF-e. They reuse the transition forms' shape (``TransitionForm``), so the same template
shows them: every error of a submit at once, next to its field, in the operator's language."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.http import QueryDict
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from malote.backoffice import form_messages
from malote.backoffice.transition_forms import FormField, TransitionForm
from malote.core.errors import MaloteError
from malote.orders.models import Order
from malote.returns import selectors
from malote.returns.lifecycle import RETURN_TRANSITIONS
from malote.returns.models import Return
from malote.returns.statuses import LineCondition, RequestedBy, ReturnReason

OPEN = "open_return"
NFE = "return_nfe"

MESSAGES: dict[str, Promise] = {
    "order_not_shipped": _("Só um pedido já enviado pode ter devolução; antes do envio, cancele o pedido."),
    "return_channel_unknown": _("Canal desconhecido."),
    "return_line_unknown": _("Esta linha não faz parte do pedido."),
    "return_line_repeated": _("Linha repetida."),
    "return_quantity_exceeds_ordered": _(
        "Quantidade maior que a pedida menos a que já está em outras devoluções."
    ),
    "received_exceeds_requested": _("Recebido mais do que a devolução pediu."),
    "received_condition_missing": _("Diga se volta ao estoque ou se está avariado."),
    "refund_not_positive": _("O reembolso deve ser maior que zero."),
    "refund_exceeds_paid": _("Maior que o valor pago menos o que já foi reembolsado."),
    "refund_amount_mismatch": _("Valor diferente do reembolso solicitado."),
    "return_transition_not_allowed": _("Esta ação não é permitida no status atual da devolução."),
    "return_nfe_not_a_return": _("O XML não é de uma NF-e de devolução (finalidade 4)."),
    "return_nfe_wrong_reference": _("A NF-e de devolução não referencia a NF-e deste pedido."),
    "return_nfe_order_without_invoice": _("O pedido não tem NF-e para a devolução referenciar."),
    "return_nfe_key_is_orders": _("Esta é a chave da NF-e do próprio pedido, não a da devolução."),
    "return_nfe_conflict": _("Esta devolução já tem outra NF-e."),
    "return_nfe_xml_too_large": _("O XML é grande demais para uma NF-e."),
    "too_short": _("Informe a quantidade de ao menos uma linha."),
    "int_parsing": _("Informe um número inteiro."),
    "less_than_equal": _("Valor grande demais."),
}


def text(code: str) -> str:
    return str(MESSAGES[code]) if code in MESSAGES else form_messages.text(code)


def _given(data: QueryDict | None, name: str, default: str = "") -> str:
    return str(data.get(name, default)) if data is not None else default


def _choices(choices: Any) -> list[tuple[str, str]]:
    return [(str(value), str(label)) for value, label in choices]


def _quantity(form: TransitionForm, name: str, raw: str) -> int | None:
    raw = raw.strip()
    if not raw:
        return 0
    if not raw.isdigit():
        form.add_error(name, "int_parsing", text("int_parsing"))
        return None
    return int(raw)


def _money(raw: str) -> str:
    raw = raw.strip()
    return raw.replace(".", "").replace(",", ".") if "," in raw else raw


def _brl(value: Decimal) -> str:
    return f"{value:.2f}".replace(".", ",")


# --- opening a return ------------------------------------------------------------------------------


def build_open_form(order: Order, data: QueryDict | None = None) -> TransitionForm:
    returnable = selectors.returnable_quantities(order)
    fields = [
        FormField(
            "reason", str(_("Motivo")), "select", True, _given(data, "reason"), _choices(ReturnReason.choices)
        ),
        FormField(
            "requested_by",
            str(_("Pedida por")),
            "select",
            True,
            _given(data, "requested_by", RequestedBy.OPERATOR),
            _choices(RequestedBy.choices),
        ),
    ]
    for line in order.lines.all():
        left = returnable.get(line.pk, 0)
        if left > 0:
            label = _("Quantidade a devolver: %(sku)s — %(name)s (até %(left)s)") % {
                "sku": line.sku,
                "name": line.name,
                "left": left,
            }
            fields.append(
                FormField(
                    f"qty_{line.position}", str(label), "text", False, _given(data, f"qty_{line.position}")
                )
            )
    fields.append(
        FormField("note", str(_("Observação")), "textarea", False, _given(data, "note"), max_length=2000)
    )
    return TransitionForm(OPEN, str(_("Abrir devolução")), fields)


def open_payload(form: TransitionForm, order: Order, data: QueryDict) -> dict[str, Any]:
    lines = []
    for line in order.lines.all():
        name = f"qty_{line.position}"
        if form.get(name) is None:
            continue
        quantity = _quantity(form, name, _given(data, name))
        if quantity:
            lines.append({"position": line.position, "quantity": quantity})
    return {
        "reason": _given(data, "reason"),
        "requested_by": _given(data, "requested_by") or RequestedBy.OPERATOR,
        "note": _given(data, "note"),
        "lines": lines,
    }


# --- transitions of a return ---------------------------------------------------------------------


def build_transition_form(ret: Return, name: str, data: QueryDict | None = None) -> TransitionForm:
    transition = RETURN_TRANSITIONS[name]
    fields: list[FormField] = []
    if name == "receive":
        for line in ret.lines.select_related("order_line"):
            sku = line.order_line.sku
            fields.append(
                FormField(
                    f"qty_{line.pk}",
                    str(_("Recebido: %(sku)s (de %(quantity)s)") % {"sku": sku, "quantity": line.quantity}),
                    "text",
                    True,
                    _given(data, f"qty_{line.pk}", str(line.quantity)),
                )
            )
            fields.append(
                FormField(
                    f"cond_{line.pk}",
                    str(_("Condição: %(sku)s") % {"sku": sku}),
                    "select",
                    False,
                    _given(data, f"cond_{line.pk}"),
                    _choices(LineCondition.choices),
                )
            )
    elif name == "refuse":
        fields.append(
            FormField(
                "note", str(_("Motivo da recusa")), "textarea", True, _given(data, "note"), max_length=2000
            )
        )
    elif name == "cancel":
        fields.append(
            FormField("note", str(_("Observação")), "textarea", False, _given(data, "note"), max_length=2000)
        )
    elif name == "request_refund":
        suggested = _brl(selectors.suggested_refund(ret))
        fields.append(
            FormField(
                "amount",
                str(_("Valor a reembolsar (R$)")),
                "decimal",
                True,
                _given(data, "amount", suggested),
                help=str(_("Sugerido: o valor das unidades recebidas, até o que resta do pagamento.")),
            )
        )
    elif name == "confirm_refund":
        fields.append(
            FormField(
                "reference",
                str(_("Identificador do reembolso")),
                "text",
                False,
                _given(data, "reference"),
                max_length=100,
                help=str(_("Para um reembolso feito fora do Malote (Pix, transferência).")),
            )
        )
    return TransitionForm(name, str(transition.label), fields)


def transition_payload(form: TransitionForm, ret: Return, data: QueryDict) -> dict[str, Any]:
    name = form.transition
    if name == "receive":
        lines = []
        for line in ret.lines.all():
            quantity = _quantity(form, f"qty_{line.pk}", _given(data, f"qty_{line.pk}"))
            item: dict[str, Any] = {"line": line.pk, "quantity": quantity or 0}
            condition = _given(data, f"cond_{line.pk}")
            if condition:
                item["condition"] = condition
            lines.append(item)
        return {"lines": lines}
    if name in ("refuse", "cancel"):
        return {"note": _given(data, "note")}
    if name == "request_refund":
        return {"amount": _money(_given(data, "amount"))}
    if name == "confirm_refund":
        return {"reference": _given(data, "reference")}
    return {}


# --- the return NF-e -------------------------------------------------------------------------------


def build_nfe_form(data: QueryDict | None = None) -> TransitionForm:
    return TransitionForm(
        NFE,
        str(_("Anexar NF-e de devolução")),
        [
            FormField("key", str(_("Chave de acesso")), "text", True, _given(data, "key"), max_length=60),
            FormField(
                "xml",
                str(_("XML da NF-e (opcional)")),
                "textarea",
                False,
                _given(data, "xml"),
                help=str(_("Se colado, deve ser uma devolução (finalidade 4) da NF-e deste pedido.")),
            ),
        ],
    )


def nfe_payload(data: QueryDict) -> dict[str, Any]:
    xml = _given(data, "xml").strip()
    return {"key": _given(data, "key"), **({"xml": xml} if xml else {})}


# --- errors of the commands, where they belong ---------------------------------------------------


def attach_error(form: TransitionForm, exc: MaloteError, sent: dict[str, Any]) -> None:
    """Every error the command reported, on its field (``lines.2.quantity`` is the form's field of
    that line), as a sentence in the operator's language."""
    errors = exc.extra.get("errors") or [{"field": exc.field or "", "code": exc.code, "detail": exc.detail}]
    for error in errors:
        code = str(error["code"])
        form.add_error(
            _field_name(form, str(error.get("field") or ""), sent), code, _sentence(code, exc, sent)
        )


def _field_name(form: TransitionForm, field: str, sent: dict[str, Any]) -> str:
    parts = field.split(".")
    if parts[0] == "lines" and len(parts) == 3 and parts[1].isdigit():
        lines = sent.get("lines") or []
        index = int(parts[1])
        if index < len(lines):
            line = lines[index]
            if form.transition == OPEN:
                return f"qty_{line['position']}"
            return f"{'cond' if parts[2] == 'condition' else 'qty'}_{line['line']}"
    return parts[-1] if parts else ""


def _sentence(code: str, exc: MaloteError, sent: dict[str, Any]) -> str:
    if code == "refund_exceeds_paid" and exc.extra.get("refundable"):
        left = _brl(Decimal(str(exc.extra["refundable"])))
        return str(_("Maior que o que resta a reembolsar (R$ %(left)s).") % {"left": left})
    if code.startswith("nfe_key_") and sent.get("key"):
        return form_messages.text(code, **form_messages.nfe_key_params(code, str(sent["key"])))
    return text(code)
