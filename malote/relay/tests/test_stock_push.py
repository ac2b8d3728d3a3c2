"""Available stock reaches every sales channel that can take it, by default, after every movement,
coalesced per SKU; what each channel took is recorded (``ChannelStock``) once it took it."""

from __future__ import annotations

from typing import Any

import pytest

from malote.channels.models import Channel, ChannelRole
from malote.connectors.base import Capability, InboundChange
from malote.connectors.registry import register
from malote.orders import actions
from malote.orders.models import Order
from malote.relay import intake
from malote.relay.routing import push_all_stock, takes_stock
from malote.relay.tests.stubs import Push, RecordingConnector, recording_channel
from malote.stock.actions import set_physical
from malote.stock.models import ChannelStock
from malote.sync.errors import DeliveryError
from malote.sync.models import OutboxMessage
from malote.sync.worker import drain
from malote_dev.testing.orders import SYSTEM, order_data, valid_input

pytestmark = pytest.mark.django_db

SKU = "CHINELO-42"


@register
class StockDownConnector(RecordingConnector):
    """Kind ``recording_stock_down``: takes orders, but every stock push fails (retryable)."""

    kind = "recording_stock_down"

    def push_stock(self, sku: str, available: int, *, idempotency_key: str) -> None:
        raise DeliveryError("stock endpoint down", retryable=True)


@register
class NoStockConnector(RecordingConnector):
    """Kind ``recording_no_stock``: a system that has no stock operation."""

    kind = "recording_no_stock"
    capabilities = RecordingConnector.capabilities - {Capability.PUSH_STOCK}


def _stock_messages(channel: str) -> list[str]:
    return list(
        OutboxMessage.objects.filter(destination=f"channel:{channel}", kind="stock.available")
        .order_by("id")
        .values_list("key", flat=True)
    )


def _sold(channel: Channel, external_id: str, quantity: int = 1, status: str = "paid") -> Order:
    data = order_data(channel=channel.code, external_id=external_id, status=status)
    data["items"] = [{"sku": SKU, "name": "Chinelo", "quantity": quantity, "unit_price": "49.90"}]
    data["total"] = str(49.90 * quantity + 15)
    change = InboundChange(
        event_id=f"{channel.code}:{external_id}",
        external_id=external_id,
        remote_status="approved" if status == "paid" else "new",
        status=status,
        order=data,
    )
    intake.take_in(channel, change, headers={}, body="")
    return Order.objects.get(channel=channel, external_id=external_id)


def test_sales_channels_that_can_take_stock_get_it_by_default(pushes: list[Push]) -> None:
    store = recording_channel("loja", role=ChannelRole.STOREFRONT)
    market = recording_channel("market")
    off = recording_channel("off", options={"push_stock": False})
    typed_off = recording_channel("typed_off", options={"push_stock": "false"})
    erp = recording_channel("erp", role=ChannelRole.ERP)
    no_stock = Channel.objects.create(
        code="semop", name="Sem op", role=ChannelRole.MARKETPLACE, kind="recording_no_stock"
    )
    manual = Channel.objects.create(code="balcao", name="Balcão", role=ChannelRole.STOREFRONT)
    assert [takes_stock(c) for c in (store, market, off, typed_off, erp, no_stock, manual)] == [
        True, True, False, False, False, False, False,
    ]  # fmt: skip
    set_physical(SKU, 7, actor=SYSTEM)
    assert _stock_messages("loja") == _stock_messages("market") == [f"sku:{SKU}"]
    for code in ("off", "typed_off", "erp", "semop", "balcao"):
        assert _stock_messages(code) == [], code
    drain(prefix="channel:")
    assert sorted((p.channel, p.sku, p.available) for p in pushes if p.op == "stock") == [
        ("loja", SKU, 7),
        ("market", SKU, 7),
    ]


def test_every_movement_of_an_order_queues_one_push_per_sku(pushes: list[Push]) -> None:
    store = recording_channel("loja", role=ChannelRole.STOREFRONT)
    set_physical(SKU, 5, actor=SYSTEM)
    drain(prefix="channel:")

    def pushed_after(step: Any) -> list[int | None]:
        pushes.clear()
        step()
        assert len(_pending()) == 1, "one pending message per SKU and channel"
        drain(prefix="channel:")
        return [p.available for p in pushes if p.op == "stock"]

    def _pending() -> list[str]:
        pending = OutboxMessage.objects.filter(kind="stock.available", state="pending")
        return list(pending.values_list("key", flat=True))

    order: dict[str, Order] = {}
    assert pushed_after(lambda: order.update(o=_sold(store, "V-1", 2, status="pending_payment"))) == [3]
    o = order["o"]
    assert o.stock_state == "reserved"
    assert pushed_after(
        lambda: actions.run_transition(o.pk, "cancel", {"reason": "other"}, actor=SYSTEM)
    ) == [5]
    assert pushed_after(
        lambda: actions.run_transition(o.pk, "reopen", {"reason": "engano"}, actor=SYSTEM)
    ) == [3]
    actions.run_transition(o.pk, "approve_payment", {}, actor=SYSTEM)  # already reserved: nothing moves
    assert _pending() == []
    assert pushed_after(
        lambda: actions.run_transition(o.pk, "invoice", valid_input(o, "invoice"), actor=SYSTEM)
    ) == [3]  # consumed: physical 3, reserved 0
    assert pushed_after(lambda: set_physical(SKU, 9, actor=SYSTEM)) == [9]


def test_a_sale_malote_cannot_cover_tells_the_channel_it_has_none(pushes: list[Push]) -> None:
    store = recording_channel("loja", role=ChannelRole.STOREFRONT)
    order = _sold(store, "V-9")  # no stock at all in Malote: the store sold what is not there
    assert order.status == "out_of_stock"
    assert _stock_messages("loja") == [f"sku:{SKU}"]
    drain(prefix="channel:")
    assert [(p.sku, p.available) for p in pushes if p.op == "stock"] == [(SKU, 0)]


def test_what_a_channel_took_is_recorded_after_the_push_and_not_when_it_failed(
    pushes: list[Push],
) -> None:
    recording_channel("loja", role=ChannelRole.STOREFRONT)
    Channel.objects.create(
        code="fora", name="Fora do ar", role=ChannelRole.MARKETPLACE, kind="recording_stock_down"
    )
    set_physical(SKU, 4, actor=SYSTEM)
    assert not ChannelStock.objects.exists(), "nothing is recorded before the push"
    drain(prefix="channel:")
    [row] = ChannelStock.objects.all()
    assert (row.channel_code, row.sku, row.available_pushed) == ("loja", SKU, 4)
    assert row.pushed_at is not None
    failed = OutboxMessage.objects.get(destination="channel:fora")
    assert failed.state == "pending" and "stock endpoint down" in failed.last_error
    first_push = row.pushed_at
    set_physical(SKU, 2, actor=SYSTEM)
    drain(prefix="channel:")
    row.refresh_from_db()
    assert (row.available_pushed, ChannelStock.objects.count()) == (2, 1)
    assert row.pushed_at >= first_push


def test_push_all_stock_aligns_a_channel_with_every_sku(pushes: list[Push]) -> None:
    set_physical(SKU, 3, actor=SYSTEM)
    set_physical("BONE-AZUL", 0, actor=SYSTEM)
    recording_channel("loja", role=ChannelRole.STOREFRONT)
    recording_channel("off", options={"push_stock": False})
    # Connecting the channel queued every SKU for it already; pushing all again adds nothing.
    assert sorted(_stock_messages("loja")) == ["sku:BONE-AZUL", f"sku:{SKU}"]
    assert _stock_messages("off") == [], "push_stock off: the new channel is told nothing"
    assert push_all_stock() == 0, "coalesced with the waiting ones"
    drain(prefix="channel:")
    assert sorted((p.channel, p.sku, p.available) for p in pushes if p.op == "stock") == [
        ("loja", "BONE-AZUL", 0),
        ("loja", SKU, 3),
    ]


def test_a_channel_saved_again_after_its_pushes_went_out_is_aligned_again(pushes: list[Push]) -> None:
    set_physical(SKU, 3, actor=SYSTEM)
    loja = recording_channel("loja", role=ChannelRole.STOREFRONT)
    drain(prefix="channel:")
    assert [(p.sku, p.available) for p in pushes if p.op == "stock"] == [(SKU, 3)]
    loja.enabled = False
    loja.save()
    assert _stock_messages("loja") == [f"sku:{SKU}"], "a disabled channel is told nothing more"
    loja.enabled = True
    loja.save()
    assert _stock_messages("loja") == [f"sku:{SKU}", f"sku:{SKU}"]


def test_a_token_refresh_saving_only_credentials_queues_no_catalogue_push(pushes: list[Push]) -> None:
    set_physical(SKU, 3, actor=SYSTEM)
    loja = recording_channel("loja", role=ChannelRole.STOREFRONT)
    drain(prefix="channel:")
    loja.credentials = {"access_token": "renovado"}
    loja.save(update_fields=["credentials"])
    assert _stock_messages("loja") == [f"sku:{SKU}"], "only the push of the connection"
    loja.save(update_fields=["options"])
    assert _stock_messages("loja") == [f"sku:{SKU}", f"sku:{SKU}"], "a configuration change aligns it"
