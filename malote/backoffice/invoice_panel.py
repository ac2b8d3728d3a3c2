"""The order page's invoice section: the NF-e facts plus what the 2026 NF-e adds (purpose, IBS/CBS)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from malote.orders.models import Invoice, InvoiceDirection, InvoicePurpose
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
    }
