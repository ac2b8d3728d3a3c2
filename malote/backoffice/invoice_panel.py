"""The order page's invoice section: the NF-e facts plus what the 2026 NF-e adds (purpose, IBS/CBS)
and the events SEFAZ registered on it (cancellation, cartas de correção), in the operator's words."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from malote.orders.models import Invoice, InvoiceDirection, InvoiceEventType, InvoicePurpose
from malote.orders.serializers import invoice_dict


def _label(choices: type[InvoicePurpose] | type[InvoiceDirection], code: str) -> str:
    return str(choices(code).label) if code in choices.values else ""


def _money(value: Any) -> Decimal | None:
    """A stored decimal string as a ``Decimal`` (the template shows it in the user's format)."""
    try:
        return None if value is None else Decimal(str(value))
    except InvalidOperation:
        return None


def _tax_row(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "code": item.get("code", ""),
        "description": item.get("description", ""),
        "class_code": item.get("class_code", ""),
        "cst": item.get("cst", ""),
        "ibs": _money(item.get("ibs_value")),
        "cbs": _money(item.get("cbs_value")),
    }


def event_words(
    kind: str, sequence: int, protocol: str, registered_at: datetime | str, text: str
) -> tuple[str, str]:
    """An NF-e event in the operator's words: ("Cancelada em 15/03/2025 12:00, protocolo …",
    "Justificativa: …") or ("Carta de correção nº 2: “…”", "Registrada em …, protocolo …")."""
    moment = datetime.fromisoformat(registered_at) if isinstance(registered_at, str) else registered_at
    when = timezone.localtime(moment).strftime("%d/%m/%Y %H:%M")
    if kind == InvoiceEventType.CANCELLATION:
        title = _("Cancelada em %(when)s, protocolo %(protocol)s") % {"when": when, "protocol": protocol}
        return title, _("Justificativa: %(text)s") % {"text": text}
    title = _("Carta de correção nº %(sequence)s: “%(text)s”") % {"sequence": sequence, "text": text}
    return title, _("Registrada em %(when)s, protocolo %(protocol)s") % {"when": when, "protocol": protocol}


def _events(invoice: Invoice) -> list[dict[str, Any]]:
    recorded = list(invoice.events.all())
    latest = max((e.sequence for e in recorded if e.type == InvoiceEventType.CORRECTION), default=None)
    rows = []
    for event in recorded:
        title, detail = event_words(
            event.type, event.sequence, event.protocol, event.registered_at, event.text
        )
        # The latest CC-e holds; earlier ones stay listed, replaced.
        replaced = event.type == InvoiceEventType.CORRECTION and event.sequence != latest
        rows.append({"type": event.type, "title": title, "detail": detail, "replaced": replaced})
    return rows


def invoice_panel(invoice: Invoice) -> dict[str, Any]:
    """``invoice_dict`` with the purpose and direction in the user's language and, when the XML
    carried them, the IBS and CBS totals and one row per item with an IBSCBS group."""
    return {
        **invoice_dict(invoice),
        "purpose": invoice.purpose,
        "purpose_label": _label(InvoicePurpose, invoice.purpose),
        "direction_label": _label(InvoiceDirection, invoice.direction),
        "referenced_key": invoice.referenced_key,
        "ibs_total": invoice.ibs_total,
        "cbs_total": invoice.cbs_total,
        "ibs_cbs_base": invoice.ibs_cbs_base,
        "tax_items": [_tax_row(item) for item in invoice.tax_reform_items or []],
        "event_rows": _events(invoice),
    }
