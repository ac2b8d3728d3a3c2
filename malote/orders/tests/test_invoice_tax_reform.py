"""The 2026 NF-e on the invoice: purpose, direction, returned key and IBS/CBS read from the XML,
through the ``invoice`` transition and the later XML upload; a bad group writes nothing."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal

import pytest

from malote.conftest import SYSTEM
from malote.core.errors import InvalidInput
from malote.orders import actions
from malote.orders.models import Invoice, InvoiceDirection, InvoicePurpose, Order
from malote_dev.testing.fiscal import make_nfe_key
from malote_dev.testing.nfe_tax_reform import reform_invoice_input
from malote_dev.testing.orders import bring_to

pytestmark = pytest.mark.django_db


def _paid(make_order: Callable[..., Order]) -> Order:
    return bring_to(make_order(), "paid")


def _invoice(
    order: Order,
    *,
    ide: dict[str, str] | None = None,
    referenced_keys: Sequence[str] = (),
    groups: bool = True,
) -> Invoice:
    data = reform_invoice_input(
        order.total, order.customer_document, ide=ide, referenced_keys=referenced_keys, groups=groups
    )
    actions.run_transition(order.pk, "invoice", data, actor=SYSTEM)
    return Invoice.objects.get(order=order)


def test_the_invoice_keeps_the_ibs_cbs_totals_and_items(make_order: Callable[..., Order]) -> None:
    invoice = _invoice(_paid(make_order))
    assert (invoice.purpose, invoice.direction, invoice.referenced_key) == ("1", "1", "")
    assert invoice.ibs_cbs_base == Decimal("120.00")
    assert (invoice.ibs_state_total, invoice.ibs_municipal_total) == (Decimal("0.11"), Decimal("0.00"))
    assert (invoice.ibs_total, invoice.cbs_total) == (Decimal("0.11"), Decimal("0.97"))
    first, second = invoice.tax_reform_items
    assert first == {
        "item_number": 1,
        "code": "CHINELO-42",
        "description": "Chinelo",
        "cst": "000",
        "class_code": "000001",
        "base": "100.00",
        "ibs_state_rate": "0.1000",
        "ibs_state_value": "0.10",
        "ibs_municipal_rate": "0.0000",
        "ibs_municipal_value": "0.00",
        "ibs_value": "0.10",
        "cbs_rate": "0.9000",
        "cbs_value": "0.90",
    }
    assert (second["code"], second["class_code"], second["cst"], second["cbs_value"]) == (
        "MEIA-01",
        "200032",
        "200",
        "0.07",
    )


def test_an_xml_without_the_groups_leaves_them_empty(make_order: Callable[..., Order]) -> None:
    invoice = _invoice(_paid(make_order), groups=False)
    assert (invoice.purpose, invoice.direction) == (InvoicePurpose.NORMAL, InvoiceDirection.OUTBOUND)
    assert invoice.ibs_total is None and invoice.cbs_total is None and invoice.ibs_cbs_base is None
    assert invoice.tax_reform_items == []


def test_an_invoice_without_xml_has_no_purpose(make_order: Callable[..., Order]) -> None:
    order = bring_to(make_order(), "invoiced")
    invoice = Invoice.objects.get(order=order)
    assert (invoice.purpose, invoice.direction, invoice.tax_reform_items) == ("", "", [])
    assert invoice.get_purpose_display() == ""


def test_the_xml_attached_later_fills_the_fields(make_order: Callable[..., Order]) -> None:
    order = _paid(make_order)
    data = reform_invoice_input(order.total, order.customer_document)
    xml = data.pop("xml")
    actions.run_transition(order.pk, "invoice", data, actor=SYSTEM)
    assert Invoice.objects.get(order=order).cbs_total is None
    actions.attach_invoice_xml(order.pk, xml, actor=SYSTEM)
    invoice = Invoice.objects.get(order=order)
    assert (invoice.purpose, invoice.cbs_total, len(invoice.tax_reform_items)) == ("1", Decimal("0.97"), 2)


def test_a_non_numeric_ibscbs_value_writes_nothing(make_order: Callable[..., Order]) -> None:
    order = _paid(make_order)
    data = reform_invoice_input(order.total, order.customer_document)
    data["xml"] = data["xml"].replace("<vCBS>0.97</vCBS>", "<vCBS>zero</vCBS>")
    with pytest.raises(InvalidInput) as raised:
        actions.run_transition(order.pk, "invoice", data, actor=SYSTEM)
    assert (raised.value.code, raised.value.field) == ("nfe_xml_ibscbs_invalid", "xml")
    assert "total/IBSCBSTot/gCBS/vCBS" in str(raised.value)
    order.refresh_from_db()
    assert order.status == "paid" and not order.invoices.exists()


def test_a_return_with_a_bad_referenced_key_is_refused(make_order: Callable[..., Order]) -> None:
    original = make_nfe_key(number=77)
    wrong = original[:43] + str((int(original[43]) + 1) % 10)
    order = _paid(make_order)
    data = reform_invoice_input(
        order.total, order.customer_document, ide={"finNFe": "4", "tpNF": "0"}, referenced_keys=[wrong]
    )
    with pytest.raises(InvalidInput) as raised:
        actions.run_transition(order.pk, "invoice", data, actor=SYSTEM)
    assert raised.value.code == "nfe_xml_referenced_key_invalid"
    assert "nfe_key_check_digit" in str(raised.value)
    order.refresh_from_db()
    assert order.status == "paid" and not order.invoices.exists()


def test_a_return_keeps_the_returned_key(make_order: Callable[..., Order]) -> None:
    original = make_nfe_key(number=77)
    invoice = _invoice(_paid(make_order), ide={"finNFe": "4", "tpNF": "0"}, referenced_keys=[original])
    assert (invoice.purpose, invoice.direction, invoice.referenced_key) == ("4", "0", original)
    assert invoice.get_purpose_display() == "Devolução"
    assert invoice.get_direction_display() == "Entrada"


@pytest.mark.parametrize(("fin_nfe", "label"), [("5", "Nota de crédito"), ("6", "Nota de débito")])
def test_credit_and_debit_notes_are_labelled(
    make_order: Callable[..., Order], fin_nfe: str, label: str
) -> None:
    # English labels: malote/backoffice/tests/test_invoice_section.py (it compiles the catalog).
    invoice = _invoice(_paid(make_order), ide={"finNFe": fin_nfe})
    assert invoice.purpose == fin_nfe
    assert invoice.get_purpose_display() == label
    assert invoice.cbs_total == Decimal("0.97")
