"""Fixtures of the reconciliation tests: the Tiny and Pagar.me fakes over HTTP and their channels, and
an order taken in from the SkyHub fake."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from django.utils import timezone

from malote.channels.models import Channel, ChannelRole
from malote.connectors.tests.helpers import Control, channel_at, control_of, pagarme_gateway
from malote.notify.tests.conftest import smtp  # noqa: F401  (the real SMTP sink fixture)
from malote.orders.models import Order
from malote.relay.tests import e2e
from malote_dev.sandbox import start_fake
from malote_dev.sandbox.server import RunningFake
from malote_dev.testing.orders import bring_to


def went_live() -> datetime:
    """A go-live a month ago: the orders of a test (placed an hour ago) are checked."""
    return timezone.now() - timedelta(days=30)


def live(channel: Channel, at: datetime | None = None) -> Channel:
    """The channel went live at ``at`` (default: a month ago)."""
    channel.go_live_at = at or went_live()
    channel.save(update_fields=["go_live_at"])
    return channel


@pytest.fixture
def channel(db: None) -> Channel:
    """The storefront ``site``, live for a month (the orders of a test are after its go-live)."""
    return Channel.objects.create(
        code="site", name="Loja virtual", role=ChannelRole.STOREFRONT, go_live_at=went_live()
    )


@pytest.fixture
def tiny_fake() -> Iterator[RunningFake[Any]]:
    with start_fake("tiny", seed=False) as running:
        yield running


@pytest.fixture
def pagarme_fake() -> Iterator[RunningFake[Any]]:
    with start_fake("pagarme", seed=False) as running:
        yield running


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0, trust_env=False) as client:
        yield client


@pytest.fixture
def tiny_control(tiny_fake: RunningFake[Any], http: httpx.Client) -> Control:
    return control_of(tiny_fake, http)


@pytest.fixture
def pagarme_control(pagarme_fake: RunningFake[Any], http: httpx.Client) -> Control:
    return control_of(pagarme_fake, http)


@pytest.fixture
def tiny(tiny_fake: RunningFake[Any], channel: Channel) -> Channel:
    """The ERP (the storefront ``site`` comes from ``channel``); no grace, so one run decides."""
    return channel_at(
        tiny_fake,
        "tiny",
        "Tiny ERP",
        ChannelRole.ERP,
        credentials={"token": tiny_fake.credentials["token"], "webhook_token": "tok"},
        options={"integration_grace_minutes": 0},
        go_live_at=went_live(),
    )


@pytest.fixture
def pagarme(pagarme_fake: RunningFake[Any], channel: Channel) -> Iterator[Channel]:
    with pagarme_gateway(pagarme_fake) as gateway:
        yield live(gateway)


@pytest.fixture
def paying_order(
    make_order: Callable[..., Order], pagarme_control: Control, pagarme: Channel
) -> Callable[..., tuple[Order, str]]:
    """A Malote order whose payment is a Pagar.me charge: ``(order, charge id)``."""

    def create(method: str = "boleto", **payment: Any) -> tuple[Order, str]:
        external_id = f"02-{time.monotonic_ns() % 10**9:09d}"
        charge_id = pagarme_control(
            "orders",
            {"code": external_id, "items": [{"sku": "CHINELO-42", "qty": 2}], "payment_method": method},
        )["charge_id"]
        data = {
            "method": method,
            "gateway": "pagarme",
            "transaction_id": charge_id,
            "installments": 1,
            **payment,
        }
        return make_order(external_id=external_id, payment=data), charge_id

    return create


@pytest.fixture
def paid_order(
    paying_order: Callable[..., tuple[Order, str]], pagarme_control: Control
) -> Callable[..., tuple[Order, str]]:
    """A Malote order paid by card, the charge paid at Pagar.me too: ``(order, charge id)``."""

    def create(method: str = "credit_card") -> tuple[Order, str]:
        order, charge = paying_order(method)
        pagarme_control(f"charges/{charge}/pay")
        return bring_to(order, "paid"), charge

    return create


def imported_from_skyhub(skyhub: RunningFake[Any], sku: str) -> tuple[str, Order]:
    """An order for one ``sku`` placed at Lojas Americanas through the SkyHub fake, paid there, and
    taken in by the channel's queue poll: ``(SkyHub code, Malote order)``."""
    placed = e2e.control(
        skyhub,
        "POST",
        "/_sandbox/orders",
        {
            "channel": "Lojas Americanas",
            "shipping_method": "Correios SEDEX",
            "status": "payment_received",
            "items": [{"sku": sku, "qty": 1}],
        },
    )["order"]
    code = placed["code"]
    e2e.poll(e2e.channel_of(skyhub))
    return code, Order.objects.get(channel=e2e.channel_of(skyhub), external_id=code)


def invoiced_from_skyhub(skyhub: RunningFake[Any], sku: str, number: int) -> tuple[str, Order]:
    """``imported_from_skyhub``, then invoiced in Malote with NF-e ``number`` and delivered, so that
    SkyHub has it as ``order_invoiced``."""
    code, order = imported_from_skyhub(skyhub, sku)
    order = e2e.run(order, "invoice", e2e.invoice_input(order, number))
    e2e.deliver_all()
    assert skyhub_status(skyhub, code) == "order_invoiced"
    return code, order


def skyhub_status(skyhub: RunningFake[Any], code: str) -> str:
    """The order's status code as SkyHub has it now."""
    with skyhub.app.lock:
        return str(skyhub.state.orders[code]["status"]["code"])


def changed_by_hand(skyhub: RunningFake[Any], code: str, status: str) -> None:
    """Someone changes the status in SkyHub's panel a minute later: not queued (only a re-read sees it)."""
    e2e.control(skyhub, "POST", "/_sandbox/clock", {"advance": 60})
    e2e.control(skyhub, "POST", f"/_sandbox/orders/{code}/status", {"status": status})
