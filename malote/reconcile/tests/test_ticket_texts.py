"""The help-desk ticket and its PDF name the store's order number (what the customer and the finance
team know) next to Malote's, show money as R$ 1.234,56 and times as dd/mm/aaaa hh:mm local."""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from django.utils import translation

from malote.channels.models import Channel, ChannelRole
from malote.orders.models import Order
from malote.reconcile import tickets
from malote.reconcile.models import IntegrationIssue, IssueKind

pytestmark = pytest.mark.django_db

MakeOrder = Callable[..., Order]


@pytest.fixture
def erp(db: None) -> Channel:
    return Channel.objects.create(code="tiny", name="Tiny ERP", role=ChannelRole.ERP, kind="tiny")


def _issue(order: Order, erp: Channel) -> IntegrationIssue:
    return IntegrationIssue.objects.create(
        kind=IssueKind.NOT_INTEGRATED,
        order=order,
        subject="faltando no ERP",
        channel=erp,
        first_seen=datetime(2026, 11, 30, 2, 21, tzinfo=UTC),  # 29/11 23:21 in São Paulo
    )


def pdf_text(content: bytes) -> str:
    """The text drawn on the PDF's pages (fpdf2 deflates each content stream)."""
    streams = re.findall(rb"stream\r?\n(.*?)\r?\nendstream", content, re.S)
    text = []
    for stream in streams:
        try:
            text.append(zlib.decompress(stream).decode("latin-1"))
        except zlib.error:
            continue
    # PDF string literals escape their parentheses.
    return "\n".join(text).replace("\\(", "(").replace("\\)", ")")


def test_the_subject_names_the_store_number_then_malotes(make_order: MakeOrder, erp: Channel) -> None:
    order = make_order(external_id="10016")
    assert tickets.subject(_issue(order, erp), order) == (
        f"Favor corrigir o problema de integração no pedido 10016 (Malote {order.number})"
    )


def test_a_marketplace_sale_is_named_with_its_marketplace(make_order: MakeOrder, erp: Channel) -> None:
    order = make_order(external_id="123456", marketplace="Magalu")
    subject = tickets.subject(_issue(order, erp), order)
    assert subject.endswith(f"no pedido Magalu 123456 (Malote {order.number})")


def test_the_channel_template_may_use_every_field(make_order: MakeOrder, erp: Channel) -> None:
    erp.options = {"helpdesk_template": "{store_number} / {number} / {external_id} / {marketplace}"}
    erp.save()
    order = make_order(external_id="123456", marketplace="Magalu")
    assert tickets.subject(_issue(order, erp), order) == f"Magalu 123456 / {order.number} / 123456 / Magalu"


def test_the_old_template_keeps_working(make_order: MakeOrder, erp: Channel) -> None:
    erp.options = {"helpdesk_template": "Corrigir {number} ({external_id})"}
    erp.save()
    order = make_order(external_id="10016")
    assert tickets.subject(_issue(order, erp), order) == f"Corrigir {order.number} (10016)"


def test_a_template_naming_an_unknown_field_falls_back_to_the_default(
    make_order: MakeOrder, erp: Channel
) -> None:
    erp.options = {"helpdesk_template": "Pedido {pedido} {0}"}
    erp.save()
    order = make_order(external_id="10016")
    assert tickets.subject(_issue(order, erp), order) == (
        f"Favor corrigir o problema de integração no pedido 10016 (Malote {order.number})"
    )


def test_the_body_has_both_numbers_brazilian_money_and_local_time(
    make_order: MakeOrder, erp: Channel
) -> None:
    order = make_order(external_id="10016")
    with translation.override("pt-br"):
        body = tickets.body(_issue(order, erp), order)
    assert f"Pedido na loja: 10016 ({order.channel.name})\n" in body
    assert f"Pedido no Malote: {order.number}\n" in body
    assert "Total: R$ 114,80\n" in body and "114.80" not in body
    assert "Detectado em: 29/11/2026 23:21\n" in body


def test_the_pdf_shows_money_the_brazilian_way(make_order: MakeOrder, erp: Channel) -> None:
    order = make_order(external_id="10016", marketplace="Magalu")
    with translation.override("pt-br"):
        text = pdf_text(tickets.order_pdf(order, _issue(order, erp)))
    assert f"Pedido Magalu 10016 (Malote {order.number})" in text
    assert "R$ 114,80" in text and "R$ 99,80" in text and "R$ 15,00" in text
    assert not re.search(r"R\$ \d+\.\d{2}\b", text), "no dot decimals"
    assert "Pix" in text or "Boleto" in text or "Cart" in text, "the payment method by its name"


def test_the_pdf_reader_sees_a_dot_decimal_if_there_was_one() -> None:
    # The check above can fail: a PDF drawn with "R$ 94.90" is read back as such.
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=10)
    pdf.cell(0, 7, "Total R$ 94.90")
    assert re.search(r"R\$ \d+\.\d{2}\b", pdf_text(bytes(pdf.output())))


def test_english_installation_gets_english_ticket_lines(make_order: MakeOrder, erp: Channel) -> None:
    order = make_order(external_id="10016")
    with translation.override("en"):
        body = tickets.body(_issue(order, erp), order)
    assert f"Order in the store: 10016 ({order.channel.name})\n" in body
    assert "Pedido na loja" not in body
