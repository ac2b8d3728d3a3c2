"""Status map presets are data that only name canonical statuses, and drive the webhook connector."""

from __future__ import annotations

import pytest

from malote.channels.models import Channel, ChannelRole
from malote.channels.status_maps import PRESETS, apply_preset, preset
from malote.connectors.registry import connector_for
from malote.orders.statuses import OrderStatus

CANONICAL = {s.value for s in OrderStatus}


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_names_only_canonical_statuses(name: str) -> None:
    mapping = preset(name)
    assert set(mapping["in"].values()) <= CANONICAL | {""}
    assert set(mapping["out"]) <= CANONICAL


def test_unknown_preset_is_refused() -> None:
    with pytest.raises(KeyError, match="known: eccosys"):
        preset("magic")


@pytest.mark.django_db
def test_a_preset_drives_the_generic_webhook_connector_both_ways() -> None:
    channel = Channel.objects.create(code="jet", name="JET", role=ChannelRole.STOREFRONT, kind="webhook")
    apply_preset(channel, "jet")
    connector = connector_for(channel)
    assert connector.status_in("DESPACHADO") == "shipped"
    assert connector.status_in("Não existe") == ""
    assert connector.status_out("delivered") == "CONCLUÍDO"
    hybris = Channel.objects.create(code="hybris", name="Hybris", role=ChannelRole.STOREFRONT, kind="webhook")
    apply_preset(hybris, "hybris")
    assert connector_for(hybris).status_in("NOT_INTEGRATED") == ""
