"""The shop's history at go-live: a sale placed well before a channel went live is never imported
(no ERP copy, no customer e-mail); one placed while the channel was being connected is."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from malote.channels.models import HISTORY_MARGIN, ChannelRole
from malote.orders.models import Order
from malote.relay import intake
from malote.relay.tests.stubs import change, recording_channel
from malote.stock.actions import set_physical
from malote.sync.models import OutboxMessage
from malote_dev.testing.orders import SYSTEM, order_data

pytestmark = pytest.mark.django_db


def _arrives(placed_minutes_before_go_live: int) -> str:
    store = recording_channel("loja", role=ChannelRole.STOREFRONT)
    recording_channel("erp", role=ChannelRole.ERP)
    set_physical("CHINELO-42", 10, actor=SYSTEM)
    placed = store.go_live_at - timedelta(minutes=placed_minutes_before_go_live)
    data = order_data(channel="loja", external_id="L-1", placed_at=placed.isoformat(), status="paid")
    received = intake.take_in(store, change("L-1", "approved", order=data), headers={}, body="")
    return received.result


def test_a_sale_placed_while_the_channel_was_connected_is_imported() -> None:
    assert _arrives(placed_minutes_before_go_live=5) == "already"  # imported paid: nothing to advance
    order = Order.objects.get(external_id="L-1")
    assert OutboxMessage.objects.filter(order=order, destination="channel:erp").exists()


def test_history_placed_before_the_go_live_is_never_imported_nor_sent_on() -> None:
    assert _arrives(placed_minutes_before_go_live=int(HISTORY_MARGIN.total_seconds() // 60) + 60) == "history"
    assert not Order.objects.exists()
    assert not OutboxMessage.objects.exclude(kind="stock.available").exists(), "no ERP copy, no e-mail"


def test_the_margin_is_measured_from_the_go_live_not_from_now() -> None:
    store = recording_channel("loja", role=ChannelRole.STOREFRONT)
    store.go_live_at = timezone.now() - timedelta(days=30)
    assert not store.is_history(timezone.now() - timedelta(days=2))
    assert store.is_history(store.go_live_at - HISTORY_MARGIN - timedelta(seconds=1))
