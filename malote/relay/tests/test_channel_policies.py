"""Per-order channel policies (docs/channel-rules.md) as data: "invoice waits for shipment" per sub-channel
and shipping method, "delivery comes from the channel" per shipping method, with per-kind
defaults (SkyHub, Mercado Livre) an operator can override."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.utils import timezone

from malote.channels.models import Channel, ChannelRole, OrderLink, names_match
from malote.channels.status_maps import POLICY_PRESETS, apply_policy_preset, policy_options
from malote.conftest import SYSTEM
from malote.orders import actions
from malote.orders.models import Order
from malote.relay import intake
from malote.relay.tests.stubs import Push, change, ops, recording_channel
from malote.sync.models import OutboxMessage
from malote.sync.worker import drain
from malote_dev.testing.orders import bring_to, valid_input

pytestmark = pytest.mark.django_db


def _ops(destination: str, order: Order) -> list[str]:
    return [
        str(p["op"])
        for p in OutboxMessage.objects.filter(destination=destination, order=order)
        .order_by("id")
        .values_list("payload", flat=True)
    ]


@pytest.fixture
def skyhub(db: None) -> Channel:
    return Channel.objects.create(code="skyhub", name="SkyHub", role=ChannelRole.MARKETPLACE, kind="skyhub")


def _order(make_order: Callable[..., Order], marketplace: str, method: str, channel: str = "skyhub") -> Order:
    return make_order(channel=channel, marketplace=marketplace, shipping={"method": method, "price": "15.00"})


# --- the policy options ------------------------------------------------------------------------


def test_skyhub_channels_get_the_articles_lists_unless_overridden(skyhub: Channel) -> None:
    assert names_match("Magazine Luiza", skyhub.policy("invoice_after_shipment_marketplaces"))
    assert skyhub.policy("invoice_at_once_shipping_methods") == ["Mercado Envios Coleta"]
    assert skyhub.invoice_waits_for_shipment_of("MAGAZINE  luiza", "Correios SEDEX")
    assert not skyhub.invoice_waits_for_shipment_of("Mercado Livre", "Mercado Envios Coleta")
    assert skyhub.reports_delivery_of("B2W Entregas Direct") and not skyhub.reports_delivery_of("SEDEX")
    skyhub.options = {"invoice_after_shipment_marketplaces": [], "delivery_from_channel_methods": ["Loggi"]}
    assert not skyhub.invoice_waits_for_shipment_of("Magalu", "Correios SEDEX"), "an empty list: rule off"
    assert skyhub.reports_delivery_of("loggi") and not skyhub.reports_delivery_of("B2W Entregas")
    shown = policy_options(skyhub)
    assert shown["delivery_from_channel_methods"]["overridden"] is True
    assert "B2W Entregas" in shown["delivery_from_channel_methods"]["default"]


def test_other_kinds_have_no_per_order_rules_and_a_preset_can_be_written_down(channel: Channel) -> None:
    assert not channel.invoice_waits_for_shipment_of("Magalu", "SEDEX")
    assert not channel.reports_delivery_of("Mercado Envios 2")
    apply_policy_preset(channel, "mercadolivre")
    channel.refresh_from_db()
    assert (
        channel.options["delivery_from_channel_methods"]
        == POLICY_PRESETS["mercadolivre"]["delivery_from_channel_methods"]
    )
    assert channel.reports_delivery_of("Mercado Envios 2")
    assert not names_match("", ["", "x"]), "an empty value never matches"


# --- invoice waits for shipment, per sub-channel -------------------------------------------------


@pytest.mark.parametrize(
    "marketplace", ["Magazine Luiza", "Magalu", "Carrefour", "Amazon", "Zoom", "Mercado Livre"]
)
def test_these_sub_channels_get_the_key_only_with_the_shipment(
    skyhub: Channel, make_order: Callable[..., Order], marketplace: str
) -> None:
    Channel.objects.filter(pk=skyhub.pk).update(options={"invoice_needs_xml_marketplaces": []})
    order = bring_to(_order(make_order, marketplace, "Correios SEDEX"), "invoiced")
    assert "invoice" not in _ops("channel:skyhub", order)
    actions.run_transition(order.pk, "ship", valid_input(order, "ship"), actor=SYSTEM)
    assert _ops("channel:skyhub", order)[-2:] == ["shipment", "invoice"], "the key right after the shipment"
    assert _ops("channel:skyhub", order).count("invoice") == 1


@pytest.mark.parametrize(
    ("marketplace", "method"),
    [("Mercado Livre", "Mercado Envios Coleta"), ("Lojas Americanas", "Correios SEDEX"), ("", "SEDEX")],
)
def test_other_orders_get_the_key_at_once(
    skyhub: Channel, make_order: Callable[..., Order], marketplace: str, method: str
) -> None:
    Channel.objects.filter(pk=skyhub.pk).update(options={"invoice_needs_xml_marketplaces": []})
    order = bring_to(_order(make_order, marketplace, method), "invoiced")
    assert _ops("channel:skyhub", order)[-1] == "invoice"
    actions.run_transition(order.pk, "ship", valid_input(order, "ship"), actor=SYSTEM)
    assert _ops("channel:skyhub", order).count("invoice") == 1


def test_an_operator_can_switch_the_wait_off_for_a_channel(
    skyhub: Channel, make_order: Callable[..., Order]
) -> None:
    Channel.objects.filter(pk=skyhub.pk).update(options={"invoice_after_shipment_marketplaces": []})
    order = bring_to(_order(make_order, "Magazine Luiza", "Correios SEDEX"), "invoiced")
    assert _ops("channel:skyhub", order)[-1] == "invoice"


def test_mercado_livre_at_skyhub_waits_for_the_xml_and_the_shipment(
    skyhub: Channel, make_order: Callable[..., Order]
) -> None:
    from malote_dev.testing.fiscal import build_nfe_xml

    order = bring_to(_order(make_order, "Mercado Livre", "Mercado Envios"), "invoiced")
    actions.run_transition(order.pk, "ship", valid_input(order, "ship"), actor=SYSTEM)
    assert "invoice" not in _ops("channel:skyhub", order), "shipped, but the XML is missing"
    key = order.invoices.get().key
    actions.attach_invoice_xml(
        order.pk, build_nfe_xml(key, total="114.80", recipient_cpf="52998224725"), actor=SYSTEM
    )
    assert _ops("channel:skyhub", order).count("invoice") == 1


# --- delivery comes from the channel, per shipping method ------------------------------------------


@pytest.mark.parametrize(
    ("kind", "method", "pushed"),
    [
        ("skyhub", "B2W Entregas", False),
        ("skyhub", "B2W Entregas Direct", False),
        ("skyhub", "Magalu Entregas", False),
        ("mercadolivre", "Mercado Envios 2", False),
        ("skyhub", "Correios SEDEX", True),
        ("mercadolivre", "Mercado Envios Coleta", True),
    ],
)
def test_malote_never_pushes_a_delivery_the_channel_reports(
    make_order: Callable[..., Order], kind: str, method: str, pushed: bool
) -> None:
    Channel.objects.create(code="mkt", name="Marketplace", role=ChannelRole.MARKETPLACE, kind=kind)
    order = bring_to(_order(make_order, "", method, channel="mkt"), "delivered")
    assert ("delivery" in _ops("channel:mkt", order)) is pushed


def test_a_delivery_the_channel_reports_reaches_the_erp_the_storefront_and_the_customer(
    make_order: Callable[..., Order], pushes: list[Push]
) -> None:
    marketplace = recording_channel("mkt", options={"delivery_from_channel_methods": ["B2W Entregas"]})
    recording_channel("erp", role=ChannelRole.ERP)
    storefront = recording_channel("loja", role=ChannelRole.STOREFRONT)
    order = bring_to(_order(make_order, "Lojas Americanas", "B2W Entregas", channel="mkt"), "shipped")
    OrderLink.objects.create(order=order, channel=storefront, external_id="LOJA-1", state="linked")
    drain(prefix="channel:")
    pushes.clear()
    delivered_at = (timezone.now() + timedelta(days=1)).isoformat()
    received = intake.take_in(
        marketplace,
        change(order.external_id, "delivered", facts={"delivered_at": delivered_at}),
        headers={},
        body="",
    )
    assert received.result == "applied"
    order.refresh_from_db()
    assert order.status == "delivered"
    drain(prefix="channel:")
    assert ops(pushes, "erp") == ["delivery"]
    assert ops(pushes, "loja") == ["delivery"]
    assert ops(pushes, "mkt") == []
    emails = OutboxMessage.objects.filter(destination="email:customer", order=order)
    assert {"status": "delivered"} in list(emails.values_list("payload", flat=True))


def test_the_whole_channel_flag_still_means_every_order(make_order: Callable[..., Order]) -> None:
    recording_channel("mkt", delivery_from_channel=True)
    order = bring_to(_order(make_order, "", "Correios SEDEX", channel="mkt"), "delivered")
    assert "delivery" not in _ops("channel:mkt", order)


def test_a_delivery_reported_without_its_date_takes_the_time_of_the_change(
    make_order: Callable[..., Order],
) -> None:
    marketplace = recording_channel("mkt", options={"delivery_from_channel_methods": ["Mercado Envios 2"]})
    order = bring_to(_order(make_order, "", "Mercado Envios 2", channel="mkt"), "shipped")
    undated = change(order.external_id, "delivered")
    assert intake.take_in(marketplace, undated, headers={}, body="").result == "waiting:deliver"
    when = (timezone.now() + timedelta(hours=2)).isoformat()
    dated = change(order.external_id, "delivered", occurred_at=when)
    assert intake.take_in(marketplace, dated, headers={}, body="").result == "applied"
    assert order.shipments.get().delivered_at is not None
