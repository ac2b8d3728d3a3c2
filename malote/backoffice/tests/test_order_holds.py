"""The order page says which channel rule holds the NF-e or the delivery and what releases it; the
orders list's "Aguardando XML da NF-e" filter lists SkyHub's Mercado Livre orders while they wait."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from malote.channels.models import Channel, ChannelRole
from malote.conftest import SYSTEM
from malote.orders import actions
from malote.orders.models import Order
from malote_dev.testing.fiscal import build_nfe_xml, make_nfe_key
from malote_dev.testing.orders import bring_to

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(user_with_role: Callable[[str], Any]) -> Client:
    client = Client()
    client.force_login(user_with_role("operator"))
    return client


@pytest.fixture
def skyhub(db: None) -> Channel:
    return Channel.objects.create(code="skyhub", name="SkyHub", role=ChannelRole.MARKETPLACE, kind="skyhub")


def _invoiced(make_order: Callable[..., Order], number: int, marketplace: str, method: str) -> Order:
    order = bring_to(
        make_order(channel="skyhub", marketplace=marketplace, shipping={"method": method, "price": "15.00"}),
        "paid",
    )
    now = timezone.localtime()
    key = make_nfe_key(number, year=now.year, month=now.month)
    data = {"key": key, "number": str(number), "series": "1", "issued_at": now.isoformat()}
    actions.run_transition(order.pk, "invoice", data, actor=SYSTEM)
    order.refresh_from_db()
    return order


def _listed(client: Client, **params: str) -> list[int]:
    return [o.pk for o in client.get("/backoffice/", params).context["page"].object_list]


def _page(client: Client, order: Order) -> str:
    return client.get(f"/backoffice/orders/{order.pk}/").content.decode()


def test_a_magalu_order_shows_its_invoice_held_until_shipment(
    operator: Client, skyhub: Channel, make_order: Callable[..., Order]
) -> None:
    order = _invoiced(make_order, 901, "Magalu", "Magalu Entregas")
    html = _page(operator, order)
    assert 'id="retencoes"' in html
    assert 'data-hold="invoice_shipment"' in html and "sub-canal Magalu" in html
    assert "Libera: registrar o envio do pedido" in html
    assert 'data-hold="delivery_from_channel"' in html and "Magalu Entregas" in html
    assert 'id="aguardando-xml"' not in html, "Magalu takes the bare key"


def test_a_storefront_order_shows_no_hold(operator: Client, make_order: Callable[..., Order]) -> None:
    order = bring_to(make_order(), "invoiced")
    assert 'id="retencoes"' not in _page(operator, order)


def test_the_xml_filter_lists_a_skyhub_mercado_livre_order_until_the_xml_arrives(
    operator: Client, skyhub: Channel, make_order: Callable[..., Order]
) -> None:
    waiting = _invoiced(make_order, 902, "Mercado Livre", "Mercado Envios Coleta")
    _invoiced(make_order, 903, "Magalu", "Correios SEDEX")
    assert _listed(operator, xml_pending="on") == [waiting.pk], "Magalu takes the bare key"
    page = _page(operator, waiting)
    assert 'data-hold="invoice_xml"' in page and "sub-canal Mercado Livre" in page
    key = waiting.invoices.get().key
    xml = build_nfe_xml(key, total=waiting.total, recipient_cpf=waiting.customer_document)
    actions.attach_invoice_xml(waiting.pk, xml, actor=SYSTEM)
    assert _listed(operator, xml_pending="on") == []
    assert 'data-hold="invoice_xml"' not in _page(operator, waiting)


def test_the_held_invoice_filter_lists_a_skyhub_magalu_order_until_it_ships(
    operator: Client, skyhub: Channel, make_order: Callable[..., Order]
) -> None:
    held = _invoiced(make_order, 904, "Magalu", "Correios SEDEX")
    assert _listed(operator, invoice_held="on") == [held.pk]
    html = operator.get("/backoffice/").content.decode()
    assert 'name="invoice_held"' in html and "NF-e retida até o envio" in html
    ship = {"carrier": "correios", "method": "SEDEX", "tracking_code": "AA123456785BR"}
    actions.run_transition(held.pk, "ship", ship, actor=SYSTEM)
    assert _listed(operator, invoice_held="on") == [], "shipped: the invoice went with the shipment"


def test_the_held_invoice_filter_skips_channels_and_methods_without_the_rule(
    operator: Client, skyhub: Channel, make_order: Callable[..., Order]
) -> None:
    _invoiced(make_order, 905, "Mercado Livre", "Mercado Envios Coleta")  # the documented exception
    bring_to(make_order(), "invoiced")  # the storefront takes the NF-e at once
    assert _listed(operator, invoice_held="on") == []
    assert len(_listed(operator)) == 2
