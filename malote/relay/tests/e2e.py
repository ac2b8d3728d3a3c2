"""Helpers of the end-to-end channel-rule tests: Malote in this process (test database, outbox
drained by ``malote.sync.worker.drain``), every connector talking to a sandbox fake over real
HTTP on loopback, and what the fakes report taken in through the real intake: the channel's poll
job (``malote.relay.polling.poll_channel``: SkyHub's queue, Mercado Livre's order search,
Jumpseller's new orders) or a fetch taken in like the reconciliation's repair does.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import httpx
from django.utils import timezone

from malote.channels.models import Channel, ChannelRole
from malote.conftest import SYSTEM
from malote.orders import actions
from malote.orders.models import Order
from malote.relay.polling import poll_channel, sync_poll_schedule
from malote.sync.models import Schedule
from malote.sync.worker import drain
from malote_dev.sandbox.server import RunningFake, start_fake
from malote_dev.testing.fiscal import build_nfe_xml, make_nfe_key

ROLES = {
    "skyhub": ChannelRole.MARKETPLACE,
    "mercadolivre": ChannelRole.MARKETPLACE,
    "jumpseller": ChannelRole.STOREFRONT,
    "tiny": ChannelRole.ERP,
}
# A rate_limits option high enough that no call waits (requests per second per class).
FAST = {"orders_get": 1000, "write": 1000, "calls": 1000}


@contextmanager
def running(kind: str, *, seed: bool = False, **config: Any) -> Iterator[RunningFake[Any]]:
    """A fake (without demo data unless ``seed``), stopped afterwards."""
    fake = start_fake(kind, seed=seed, **config)  # type: ignore[call-overload]
    try:
        yield fake
    finally:
        fake.stop()


def connect(fake: RunningFake[Any], code: str, **fields: Any) -> Channel:
    """A Malote channel driven by the fake's connector (its kind's policy presets apply). Its calls
    take tokens at a high rate unless ``options`` sets ``rate_limits``: the vendor limits (SkyHub: 1
    order read a second) would only make these flows sleep; they have tests of their own."""
    options = fields.pop("options", None) or {}
    fields["options"] = {"rate_limits": FAST, **options}
    channel = Channel.objects.create(
        code=code,
        name=code,
        kind=fake.kind,
        role=fields.pop("role", ROLES[fake.kind]),
        base_url=fake.api_url,
        credentials=fake.credentials,
        **fields,
    )
    sync_poll_schedule(channel)
    return channel


def channel_of(fake: RunningFake[Any]) -> Channel:
    """The Malote channel connected to the fake."""
    return Channel.objects.get(base_url=fake.api_url)


def poll(channel: Channel) -> str:
    """One run of the channel's poll schedule (what the worker's scheduler runs)."""
    schedule = Schedule.objects.select_related("channel").get(name=f"poll:{channel.code}")
    return poll_channel(schedule, timezone.now())


def control(fake: RunningFake[Any], method: str, path: str, body: Any = None) -> Any:
    """A call to the fake's control API (``/_sandbox/...``); returns the JSON answer."""
    response = httpx.request(method, f"{fake.url}{path}", json=body, timeout=10)
    assert response.status_code < 300, (path, response.status_code, response.text)
    return response.json()


def deliver_all() -> int:
    """Deliver everything due now (channel pushes, ERP, e-mails), as a worker would."""
    return drain()


def order_of(channel: Channel, external_id: str) -> Order:
    return Order.objects.get(channel=channel, external_id=external_id)


def invoice_input(order: Order, number: int, *, with_xml: bool = False) -> dict[str, Any]:
    """Input of the ``invoice`` transition: a valid key of this month (NF-e issued now), and the
    authorized XML for this order (total, recipient) when ``with_xml``."""
    now = timezone.localtime()
    key = make_nfe_key(number, year=now.year, month=now.month)
    data: dict[str, Any] = {"key": key, "number": str(number), "series": "1", "issued_at": now.isoformat()}
    if with_xml:
        data["xml"] = invoice_xml(order, key)
    return data


def invoice_xml(order: Order, key: str) -> str:
    document = order.customer_document
    recipient: dict[str, Any] = (
        {"recipient_cnpj": document, "recipient_cpf": None}
        if len(document) == 14
        else {"recipient_cpf": document}
    )
    return build_nfe_xml(
        key,
        total=Decimal(order.total),
        recipient_name=order.customer_name,
        issued_at=timezone.localtime(),
        **recipient,
    )


def run(order: Order, name: str, data: dict[str, Any]) -> Order:
    actions.run_transition(order.pk, name, data, actor=SYSTEM)
    order.refresh_from_db()
    return order


def paths(fake: RunningFake[Any], method: str, prefix: str) -> list[str]:
    """Paths of the API calls the fake received with ``method`` under ``prefix``, in order."""
    return [call.path for call in fake.calls.filter(method, prefix)]


def tiny_pedido(tiny: RunningFake[Any], number: str | None) -> dict[str, Any]:
    """The ERP's one copy of the order (Tiny's pedido with Malote's number as e-commerce number)."""
    with tiny.app.lock:
        found = [dict(p) for p in tiny.state.pedidos.values() if p.get("numero_ecommerce") == number]
    assert len(found) == 1, f"{len(found)} copies of order {number} in Tiny"
    return found[0]


def fetch(channel: Channel, external_id: str) -> str:
    """Read one order from the channel and take it in, as the reconciliation's repair does."""
    from malote.connectors.registry import connector_for
    from malote.relay import intake

    with connector_for(channel) as connector:
        change = connector.fetch_order(external_id)
    return intake.take_in(channel, change, headers={"x-malote-test": "fetch"}, body="").result


def skyhub_headers(fake: RunningFake[Any]) -> dict[str, str]:
    """The three headers of a SkyHub API call, for the fake's account."""
    credentials = fake.credentials
    return {
        "X-User-Email": credentials["user_email"],
        "X-Api-Key": credentials["api_key"],
        "X-Accountmanager-Key": credentials["accountmanager_key"],
    }
