"""One SKU sold on three sales channels at once with one unit left: the unit is reserved once, the
other orders wait in ``out_of_stock``, and every channel that takes stock pushes is told 0."""

from __future__ import annotations

from typing import Any

import pytest

from malote.channels.models import Channel, ChannelRole
from malote.connectors.base import InboundChange
from malote.orders import actions
from malote.orders.models import Order
from malote.relay import intake
from malote.relay.tests.stubs import Push, recording_channel
from malote.stock.actions import set_physical
from malote.stock.models import StockItem
from malote.sync.worker import drain
from malote_dev.testing.orders import SYSTEM, order_data, valid_input

pytestmark = pytest.mark.django_db

SKU = "CHINELO-42"
CHANNELS = ("loja", "skyhub", "mercadolivre")


def _paid_order(channel: str, external_id: str) -> dict[str, Any]:
    data = order_data()
    data.update(channel=channel, external_id=external_id, status="paid", total="64.90")
    data["items"] = [{"sku": SKU, "name": "Chinelo de praia 42", "quantity": 1, "unit_price": "49.90"}]
    return data


def _sold(channel: Channel, external_id: str) -> str:
    sale = InboundChange(
        event_id=f"{channel.code}:{external_id}",
        external_id=external_id,
        remote_status="approved",
        status="paid",
        order=_paid_order(channel.code, external_id),
    )
    return intake.take_in(channel, sale, headers={}, body="").result


@pytest.fixture
def sales_channels(db: None) -> list[Channel]:
    return [
        recording_channel("loja", role=ChannelRole.STOREFRONT, options={"push_stock": True}),
        recording_channel("skyhub", options={"push_stock": True}),
        recording_channel("mercadolivre", options={"push_stock": True}),
    ]


def _stock_pushes(pushes: list[Push], channel: str) -> list[int | None]:
    return [p.available for p in pushes if p.channel == channel and p.op == "stock" and p.sku == SKU]


def test_the_last_unit_is_sold_once_and_every_channel_hears_zero(
    sales_channels: list[Channel], pushes: list[Push]
) -> None:
    set_physical(SKU, 1, actor=SYSTEM)
    drain(prefix="channel:")
    assert {c: _stock_pushes(pushes, c) for c in CHANNELS} == {c: [1] for c in CHANNELS}
    for number, channel in enumerate(sales_channels):
        assert _sold(channel, f"V-{number}") == "already"  # created paid: nothing to walk
    orders = list(Order.objects.order_by("id"))
    assert [o.status for o in orders] == ["paid", "out_of_stock", "out_of_stock"]
    assert [o.stock_state for o in orders] == ["reserved", "unreserved", "unreserved"]
    item = StockItem.objects.get(sku=SKU)
    assert (item.physical, item.reserved) == (1, 1)
    drain(prefix="channel:")
    assert {c: _stock_pushes(pushes, c)[-1] for c in CHANNELS} == dict.fromkeys(CHANNELS, 0)


def test_a_cancel_gives_the_unit_back_to_every_channel_but_not_to_one_without_push_stock(
    sales_channels: list[Channel], pushes: list[Push]
) -> None:
    quiet = recording_channel("semestoque", options={"push_stock": False})
    set_physical(SKU, 1, actor=SYSTEM)
    assert _sold(sales_channels[0], "V-1") == "already"
    assert _sold(sales_channels[1], "V-2") == "already"
    drain(prefix="channel:")
    first = Order.objects.get(external_id="V-1")
    actions.run_transition(first.pk, "cancel", valid_input(first, "cancel"), actor=SYSTEM)
    drain(prefix="channel:")
    assert {c: _stock_pushes(pushes, c)[-1] for c in CHANNELS} == dict.fromkeys(CHANNELS, 1)
    assert _stock_pushes(pushes, quiet.code) == []
    resumed = actions.resume_out_of_stock_orders([SKU], actor=SYSTEM)
    assert [o.external_id for o in resumed] == ["V-2"]
    drain(prefix="channel:")
    assert {c: _stock_pushes(pushes, c)[-1] for c in CHANNELS} == dict.fromkeys(CHANNELS, 0)
