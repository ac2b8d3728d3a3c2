"""The 2026 NF-e in the back office: the order page's invoice section (purpose, IBS and CBS totals in
the user's format, IBS/CBS per item) in pt-BR and English, the billing export's columns, and the
DANFE still rendered for an XML with the new groups and for credit and debit notes."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from malote.backoffice.process_views import render_danfe
from malote.backoffice.tests.test_i18n import compiled_catalog  # noqa: F401  (builds the .mo)
from malote.conftest import SYSTEM
from malote.orders import actions
from malote.orders.models import Order
from malote_dev.testing.fiscal import make_nfe_key
from malote_dev.testing.nfe_tax_reform import reform_invoice_input
from malote_dev.testing.orders import bring_to

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(user_with_role: Callable[[str], Any]) -> Client:
    client = Client()
    client.force_login(user_with_role("operator"))
    return client


@pytest.fixture
def english(operator: Client) -> Client:
    assert operator.post("/i18n/setlang/", {"language": "en", "next": "/backoffice/"}).status_code == 302
    return operator


def _invoiced(make_order: Callable[..., Order], **options: Any) -> Order:
    order = bring_to(make_order(), "paid")
    data = reform_invoice_input(order.total, order.customer_document, **options)
    actions.run_transition(order.pk, "invoice", data, actor=SYSTEM)
    return order


def _section(client: Client, order: Order) -> str:
    response = client.get(f"/backoffice/orders/{order.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    start = html.index('id="nota-fiscal"')
    return html[start : html.index("</section>", start)]


def _csv(client: Client, delimiter: str, query: str = "") -> list[dict[str, str]]:
    response: Any = client.get(f"/backoffice/orders/export.csv{query}")
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text), delimiter=delimiter))


def test_the_order_page_shows_purpose_and_ibs_cbs_in_pt_br(
    operator: Client, make_order: Callable[..., Order]
) -> None:
    section = _section(operator, _invoiced(make_order))
    assert "<dt>Finalidade</dt><dd>Normal (saída)</dd>" in section
    assert "<dt>IBS</dt><dd>R$ 0,11</dd>" in section
    assert "<dt>CBS</dt><dd>R$ 0,97</dd>" in section
    assert "IBS e CBS por item" in section
    assert "200032" in section and "000001" in section and "Chinelo" in section
    assert "R$ 0,90" in section and "R$ 0,07" in section


def test_the_order_page_in_english(english: Client, make_order: Callable[..., Order]) -> None:
    section = _section(english, _invoiced(make_order, ide={"finNFe": "5"}))
    assert "<dt>Purpose</dt><dd>Credit note (outbound)</dd>" in section
    assert "<dt>IBS</dt><dd>R$ 0.11</dd>" in section
    assert "<dt>CBS</dt><dd>R$ 0.97</dd>" in section
    assert "IBS and CBS per item" in section


def test_a_debit_note_is_named(operator: Client, make_order: Callable[..., Order]) -> None:
    assert "<dd>Nota de débito (saída)</dd>" in _section(operator, _invoiced(make_order, ide={"finNFe": "6"}))


def test_a_return_is_named_with_its_returned_key(operator: Client, make_order: Callable[..., Order]) -> None:
    original = make_nfe_key(number=77)
    section = _section(
        operator, _invoiced(make_order, ide={"finNFe": "4", "tpNF": "0"}, referenced_keys=[original])
    )
    assert "<dd>Devolução (entrada)</dd>" in section
    assert f'<dt>NF-e devolvida</dt><dd class="mono">{original}</dd>' in section


def test_an_invoice_without_the_groups_shows_no_ibs_cbs(
    operator: Client, make_order: Callable[..., Order]
) -> None:
    section = _section(operator, _invoiced(make_order, groups=False))
    assert "<dd>Normal (saída)</dd>" in section
    assert "<dt>IBS</dt>" not in section and "IBS e CBS por item" not in section


def test_the_billing_export_has_purpose_ibs_and_cbs(
    operator: Client, make_order: Callable[..., Order]
) -> None:
    _invoiced(make_order, ide={"finNFe": "5"})
    [row] = _csv(operator, ";")
    assert (row["Finalidade"], row["IBS"], row["CBS"]) == ("Nota de crédito", "0,11", "0,97")


def test_the_billing_export_in_english(english: Client, make_order: Callable[..., Order]) -> None:
    _invoiced(make_order)
    [row] = _csv(english, ",")
    assert (row["Purpose"], row["IBS"], row["CBS"]) == ("Normal", "0.11", "0.97")


def test_the_billing_export_per_line_counts_the_totals_once(
    operator: Client, make_order: Callable[..., Order]
) -> None:
    shoes = {"sku": "CHINELO-42", "name": "Chinelo", "quantity": 2, "unit_price": "49.90", "discount": "0.00"}
    socks = {"sku": "MEIA-01", "name": "Meia", "quantity": 1, "unit_price": "10.00", "discount": "0.00"}
    _invoiced(lambda: make_order(items=[shoes, socks], total="124.80"))
    rows = _csv(operator, ";", "?rows=lines")
    assert [row["SKU"] for row in rows] == ["CHINELO-42", "MEIA-01"]
    assert [row["CBS"] for row in rows] == ["0,97"] + [""] * (len(rows) - 1)


@pytest.mark.parametrize("fin_nfe", ["1", "5", "6"])
def test_the_danfe_renders_with_the_new_groups(
    operator: Client, make_order: Callable[..., Order], fin_nfe: str
) -> None:
    order = _invoiced(make_order, ide={"finNFe": fin_nfe})
    pdf = operator.get(f"/backoffice/orders/{order.pk}/danfe.pdf")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")


def test_the_danfe_renders_a_return() -> None:
    returned = make_nfe_key(number=77)
    data = reform_invoice_input(
        Decimal("114.80"), "11144477735", ide={"finNFe": "4", "tpNF": "0"}, referenced_keys=[returned]
    )
    assert render_danfe(data["xml"]).startswith(b"%PDF")
