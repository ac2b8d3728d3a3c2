"""Holds as the order list and the order page see them (docs/channel-rules.md): "waiting for the NF-e
XML" for the whole-channel flag (Mercado Livre) and the per-sub-channel policy (SkyHub's Mercado Livre
orders), "invoice held until shipment" (SkyHub's Magalu orders) and "delivery from the channel"."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone

from malote.channels.models import Channel, ChannelRole
from malote.conftest import SYSTEM
from malote.orders import actions, selectors
from malote.orders.models import Order
from malote_dev.testing.fiscal import build_nfe_xml, make_nfe_key
from malote_dev.testing.orders import bring_to, valid_input

pytestmark = pytest.mark.django_db


@pytest.fixture
def skyhub(db: None) -> Channel:
    return Channel.objects.create(code="skyhub", name="SkyHub", role=ChannelRole.MARKETPLACE, kind="skyhub")


def _invoiced(order: Order, number: int, *, with_xml: bool = False) -> Order:
    order = bring_to(order, "paid")
    now = timezone.localtime()
    key = make_nfe_key(number, year=now.year, month=now.month)
    data: dict[str, Any] = {"key": key, "number": str(number), "series": "1", "issued_at": now.isoformat()}
    if with_xml:
        data["xml"] = _xml(order, key)
    actions.run_transition(order.pk, "invoice", data, actor=SYSTEM)
    order.refresh_from_db()
    return order


def _xml(order: Order, key: str) -> str:
    return build_nfe_xml(key, total=order.total, recipient_cpf=order.customer_document)


def _sub_order(make_order: Callable[..., Order], marketplace: str, method: str = "Correios SEDEX") -> Order:
    shipping = {"method": method, "price": "15.00"}
    return make_order(channel="skyhub", marketplace=marketplace, shipping=shipping)


def _waiting_xml() -> set[int]:
    return set(selectors.orders_awaiting_invoice_xml().values_list("pk", flat=True))


def _held_for_shipment() -> set[int]:
    return set(selectors.orders_invoice_held_for_shipment().values_list("pk", flat=True))


def _kinds(order: Order) -> list[tuple[str, str, str]]:
    return [(h.kind, h.channel_code, h.scope) for h in selectors.order_holds(order)]


def test_a_skyhub_mercado_livre_order_is_listed_while_it_waits_for_the_xml(
    skyhub: Channel, make_order: Callable[..., Order]
) -> None:
    order = _invoiced(_sub_order(make_order, "MERCADO  livre"), 801)  # names compare loosely
    assert selectors.awaiting_invoice_xml(order)
    assert order.pk in _waiting_xml(), "the per-sub-channel rule counts, not only the channel flag"
    assert ("invoice_xml", "skyhub", "marketplace") in _kinds(order)
    actions.attach_invoice_xml(order.pk, _xml(order, order.invoices.get().key), actor=SYSTEM)
    order.refresh_from_db()
    assert order.pk not in _waiting_xml(), "the XML is attached: nothing waits"
    assert not [k for k in _kinds(order) if k[0] == "invoice_xml"]


def test_a_mercado_livre_order_is_listed_until_its_xml_is_attached(
    xml_channel: Channel, make_order: Callable[..., Order]
) -> None:
    waiting = _invoiced(make_order(channel="mercadolivre"), 802)
    with_xml = _invoiced(make_order(channel="mercadolivre"), 803, with_xml=True)
    assert _waiting_xml() == {waiting.pk}
    assert _kinds(waiting) == [("invoice_xml", "mercadolivre", "channel")]
    assert _kinds(with_xml) == []


def test_channels_that_take_the_bare_key_hold_nothing(
    skyhub: Channel, make_order: Callable[..., Order]
) -> None:
    storefront = _invoiced(make_order(), 804)
    magalu = _invoiced(_sub_order(make_order, "Magalu"), 805)
    assert _waiting_xml() == set(), "neither the storefront nor SkyHub's Magalu needs the XML"
    assert _kinds(storefront) == []
    assert _kinds(magalu) == [("invoice_shipment", "skyhub", "marketplace")]


def test_a_magalu_invoice_is_held_until_the_shipment(
    skyhub: Channel, make_order: Callable[..., Order]
) -> None:
    magalu = _invoiced(_sub_order(make_order, "Magazine Luiza"), 806)
    coleta = _invoiced(_sub_order(make_order, "Mercado Livre", "Mercado Envios Coleta"), 807, with_xml=True)
    assert _held_for_shipment() == {magalu.pk}, "ML shipped by Coleta takes the invoice at once"
    actions.run_transition(magalu.pk, "ship", valid_input(magalu, "ship"), actor=SYSTEM)
    shipped = Order.objects.get(pk=magalu.pk)
    assert _held_for_shipment() == set()
    assert _kinds(shipped) == [] and _kinds(coleta) == []


def test_delivery_from_the_channel_is_shown_until_delivered(
    skyhub: Channel, make_order: Callable[..., Order]
) -> None:
    own_logistics = _invoiced(_sub_order(make_order, "Americanas", "B2W Entregas"), 808)
    correios = _invoiced(_sub_order(make_order, "Americanas"), 809)
    assert _kinds(own_logistics) == [("delivery_from_channel", "skyhub", "shipping_method")]
    assert _kinds(correios) == []
