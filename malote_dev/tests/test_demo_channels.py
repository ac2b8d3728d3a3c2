"""The demo's sandbox channels (``malote demo``) and the fakes ``malote up`` serves them with."""

from __future__ import annotations

import io
import random
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from malote.channels.models import Channel, ChannelRole
from malote.connectors.registry import connector_for
from malote.orders.models import Order
from malote.relay.polling import poll_channel
from malote.stock.models import ChannelStock, StockItem
from malote.sync.models import OutboxMessage, Schedule
from malote.sync.worker import drain
from malote_dev.management.commands import demo, up
from malote_dev.sandbox.cli import DEFAULT_PORTS
from malote_dev.sandbox.server import FakeKind, RunningFake

pytestmark = pytest.mark.django_db

SANDBOX_CODES = {spec.code for spec in demo.SANDBOX_CHANNELS}
ANY_FREE_PORT: dict[FakeKind, int] = dict.fromkeys(DEFAULT_PORTS, 0)


def _demo(orders: int = 14) -> str:
    out = io.StringIO()
    call_command("demo", orders=orders, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def _channel_rows() -> list[tuple[Any, ...]]:
    return list(
        Channel.objects.order_by("code").values_list(
            "pk", "code", "kind", "role", "enabled", "base_url", "credentials", "options",
            "invoice_needs_xml", "poll_interval_seconds",
        )
    )  # fmt: skip


@pytest.fixture
def all_fakes() -> Iterator[dict[FakeKind, RunningFake[Any]]]:
    fakes = up.start_sandbox("http://127.0.0.1:9", ANY_FREE_PORT)
    try:
        yield fakes
    finally:
        for fake in fakes.values():
            fake.stop()


def test_demo_creates_a_real_channel_per_fake_at_its_default_port() -> None:
    text = _demo()
    channels = {channel.code: channel for channel in Channel.objects.filter(code__in=SANDBOX_CODES)}
    assert {code: channel.kind for code, channel in channels.items()} == {
        "loja": "jumpseller", "tiny": "tiny", "pagarme": "pagarme",
        "skyhub": "skyhub", "mercadolivre": "mercadolivre", "bling": "bling",
        "vtex": "vtex", "adyen": "adyen", "zendesk": "zendesk",
    }  # fmt: skip
    assert channels["skyhub"].base_url == f"http://127.0.0.1:{DEFAULT_PORTS['skyhub']}"
    assert channels["mercadolivre"].base_url == f"http://127.0.0.1:{DEFAULT_PORTS['mercadolivre']}"
    assert channels["bling"].base_url == f"http://127.0.0.1:{DEFAULT_PORTS['bling']}/Api/v3"
    assert channels["tiny"].base_url == f"http://127.0.0.1:{DEFAULT_PORTS['tiny']}/api2"
    assert all(channel.enabled for channel in channels.values())
    assert {channels[code].role for code in ("skyhub", "mercadolivre")} == {ChannelRole.MARKETPLACE}
    assert {channels[code].role for code in ("tiny", "bling")} == {ChannelRole.ERP}
    # Mercado Livre takes the NF-e only as XML; SkyHub only for its Mercado Livre sub-channel (preset).
    assert channels["mercadolivre"].invoice_needs_xml is True
    assert channels["skyhub"].invoice_needs_xml is False
    assert channels["skyhub"].invoice_needs_xml_for("Mercado Livre") is True
    assert channels["skyhub"].invoice_needs_xml_for("Lojas Americanas") is False
    assert channels["skyhub"].reports_delivery_of("B2W Entregas") is True
    assert channels["skyhub"].reports_delivery_of("Correios SEDEX") is False
    assert channels["mercadolivre"].reports_delivery_of("Mercado Envios 2") is True
    # SkyHub pushes nothing: it is polled often; every sandbox channel has an enabled poll schedule.
    schedules = {s.name: s for s in Schedule.objects.filter(name__startswith="poll:")}
    assert schedules["poll:skyhub"].interval_seconds == 15
    assert all(schedules[f"poll:{code}"].enabled for code in SANDBOX_CODES)
    assert "skyhub (skyhub)" in text and "bling (bling)" in text


def test_demo_is_idempotent_same_channels_and_orders_twice() -> None:
    _demo()
    channels, orders = _channel_rows(), Order.objects.count()
    _demo()
    assert _channel_rows() == channels
    assert Order.objects.count() == orders == 14
    assert Schedule.objects.filter(name__startswith="poll:").count() == len(SANDBOX_CODES)


def test_demo_history_stays_on_manual_channels_and_never_reaches_the_fakes() -> None:
    _demo()
    assert set(Order.objects.values_list("channel__kind", flat=True)) == {"manual"}
    # Only the history's orders are kept from the fakes; stock pushes (keyed by SKU) are meant for them.
    destinations = set(
        OutboxMessage.objects.filter(order__isnull=False).values_list("destination", flat=True)
    )
    assert not {f"channel:{code}" for code in SANDBOX_CODES} & destinations


def test_history_loaded_while_sandbox_channels_exist_is_not_pushed_and_they_end_enabled() -> None:
    """``malote up`` ran before ``malote demo`` on a fresh database: the channels exist, no orders."""
    demo.configure_sandbox_channels(demo.default_fake_endpoints())
    _demo()
    assert Order.objects.count() == 14
    destinations = set(
        OutboxMessage.objects.filter(order__isnull=False).values_list("destination", flat=True)
    )
    assert not {f"channel:{code}" for code in SANDBOX_CODES} & destinations
    assert set(Channel.objects.filter(code__in=SANDBOX_CODES).values_list("enabled", flat=True)) == {True}


def test_without_the_pause_the_history_would_reach_the_erps() -> None:
    """What the pause prevents (so the test above can fail): orders created while the sandbox's
    ERPs are enabled are sent to them."""
    demo.configure_sandbox_channels(demo.default_fake_endpoints())
    Channel.objects.create(code="site", name="Loja", role=ChannelRole.STOREFRONT, kind="manual")
    command = demo.Command(stdout=io.StringIO(), stderr=io.StringIO())
    command._orders(2, random.Random(1))
    destinations = set(OutboxMessage.objects.values_list("destination", flat=True))
    assert {"channel:tiny", "channel:bling"} <= destinations


def test_default_endpoints_are_what_the_fakes_start_with(all_fakes: dict[FakeKind, RunningFake[Any]]) -> None:
    """``malote demo`` alone points the channels at fakes ``malote up`` would start on the defaults."""
    defaults = demo.default_fake_endpoints()
    assert set(defaults) == set(DEFAULT_PORTS)
    for kind, fake in all_fakes.items():
        assert defaults[kind].credentials == fake.credentials | (
            {"jwks_url": f"http://127.0.0.1:{DEFAULT_PORTS[kind]}/.well-known/jwks.json"}
            if kind == "pagarme"
            else {}
        )
        port = DEFAULT_PORTS[kind]
        assert defaults[kind].api_url == fake.api_url.replace(f":{fake.port}", f":{port}")


def test_start_sandbox_serves_every_fake_with_webhooks_to_malote(
    all_fakes: dict[FakeKind, RunningFake[Any]],
) -> None:
    assert set(all_fakes) == set(DEFAULT_PORTS)
    with httpx.Client(trust_env=False, timeout=5) as client:
        for kind, fake in all_fakes.items():
            answer = client.get(f"{fake.url}/_sandbox").json()
            assert answer["kind"] == kind
            spec = demo.SANDBOX_BY_KIND[kind]
            expected = f"http://127.0.0.1:9/hooks/{spec.code}" if spec.webhooks else None
            assert answer["config"]["webhook_url"] == expected
    assert all_fakes["tiny"].config["webhook_token"] == demo.TINY_WEBHOOK_TOKEN


def test_start_sandbox_fails_on_a_busy_port_and_stops_what_it_started(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started: list[RunningFake[Any]] = []
    real_start = up.start_fake

    def recording_start(kind: Any, **kwargs: Any) -> RunningFake[Any]:
        fake = real_start(kind, **kwargs)
        started.append(fake)
        return fake

    monkeypatch.setattr(up, "start_fake", recording_start)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        last = list(DEFAULT_PORTS)[-1]
        ports: dict[FakeKind, int] = {**ANY_FREE_PORT, last: busy.getsockname()[1]}
        with pytest.raises(CommandError, match=f"cannot start the {last} fake"):
            up.start_sandbox("http://127.0.0.1:9", ports)
    assert len(started) == len(DEFAULT_PORTS) - 1
    with httpx.Client(trust_env=False, timeout=2) as client:
        for fake in started:
            with pytest.raises(httpx.ConnectError):
                client.get(f"{fake.url}/_sandbox")


def test_sandbox_channels_work_against_the_running_fakes(all_fakes: dict[FakeKind, RunningFake[Any]]) -> None:
    """The credentials and URLs written to each channel are accepted by its fake: SkyHub's queue is
    polled into Malote orders with their sub-channel; Mercado Livre, Bling and VTEX answer listings;
    Zendesk opens a ticket in the default group."""
    demo.configure_sandbox_channels(all_fakes)
    skyhub = Channel.objects.get(code="skyhub")
    # The fake's seeded orders (placed days ago) are the shop's history at go-live; two buyers order now.
    with httpx.Client(trust_env=False, timeout=5) as client:
        for sub_channel in ("Lojas Americanas", "Submarino"):
            placed = client.post(
                f"{all_fakes['skyhub'].url}/_sandbox/orders",
                json={"channel": sub_channel, "status": "payment_received"},
            )
            assert placed.status_code == 201, placed.text
    result = poll_channel(Schedule.objects.get(name="poll:skyhub"), timezone.now())
    imported = Order.objects.filter(channel=skyhub)
    assert imported.count() == 2, result  # the new sales only: no history imported
    assert set(imported.values_list("marketplace", flat=True)) == {"Lojas Americanas", "Submarino"}
    assert all_fakes["skyhub"].calls.filter("DELETE", "/queues/orders/")  # acknowledged after commit
    since = (timezone.now() - timedelta(days=30)).isoformat()
    for code in ("mercadolivre", "bling", "vtex"):
        with connector_for(Channel.objects.get(code=code)) as connector:
            assert connector.list_orders(since).orders, code
    with connector_for(Channel.objects.get(code="zendesk")) as helpdesk:
        ticket = helpdesk.create_ticket(
            subject="Pedido 1001", body="Conferir o repasse.", group="", idempotency_key="demo-1"
        )
    assert ticket.id and ticket.group  # the agent's credentials and the default group are accepted


def test_configure_points_existing_channels_at_the_fakes_actually_started(
    all_fakes: dict[FakeKind, RunningFake[Any]],
) -> None:
    _demo()
    pks = dict(Channel.objects.values_list("code", "pk"))
    demo.configure_sandbox_channels(all_fakes)
    for spec in demo.SANDBOX_CHANNELS:
        channel = Channel.objects.get(code=spec.code)
        assert channel.pk == pks[spec.code]
        assert channel.base_url == all_fakes[spec.kind].api_url  # a free port, not the default


def test_up_starts_every_fake_configures_channels_and_stops_everything(
    settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``malote up`` with its children replaced by a stand-in that checks the running sandbox
    and exits at once: the command then stops everything and returns."""
    settings.VAR_DIR = tmp_path
    seen: dict[str, Any] = {}

    def fake_spawn(self: up.Command, program: str, *args: str) -> subprocess.Popen[bytes]:
        if "worker" in args:
            with httpx.Client(trust_env=False, timeout=5) as client:
                for channel in Channel.objects.filter(code__in=SANDBOX_CODES):
                    root = channel.base_url.split("/", 3)[:3]
                    seen[channel.code] = client.get("/".join(root) + "/_sandbox").json()["kind"]
        return subprocess.Popen([sys.executable, "-c", "pass"])

    monkeypatch.setattr(up.Command, "_spawn", fake_spawn)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        smtp_port = probe.getsockname()[1]
    out, err = io.StringIO(), io.StringIO()
    ports = [arg for kind in DEFAULT_PORTS for arg in (f"--{kind}-port", "0")]
    call_command("up", "--no-driver", "--smtp-port", str(smtp_port), *ports, stdout=out, stderr=err)
    assert seen == {spec.code: spec.kind for spec in demo.SANDBOX_CHANNELS}
    text = out.getvalue()
    for title in ("SkyHub (Americanas Marketplace):", "Mercado Livre:", "Bling ERP:", "Tiny ERP:"):
        assert title in text
    assert "exited with 0; stopping" in err.getvalue()
    with httpx.Client(trust_env=False, timeout=2) as client:
        for channel in Channel.objects.filter(code__in=SANDBOX_CODES):
            root = "/".join(channel.base_url.split("/", 3)[:3])
            with pytest.raises(httpx.ConnectError):
                client.get(f"{root}/_sandbox")
    assert (tmp_path / "mailbox" / "new").is_dir()


def test_demo_sales_channels_take_the_catalogue_stock_by_default() -> None:
    _demo()
    stock_to = set(OutboxMessage.objects.filter(kind="stock.available").values_list("destination", flat=True))
    # Jumpseller, SkyHub and Mercado Livre can take stock; VTEX cannot (no such capability); the
    # ERPs, gateways and the help desk are no sales channels; the history's site is manual.
    assert stock_to == {"channel:loja", "channel:skyhub", "channel:mercadolivre"}
    skus = set(StockItem.objects.values_list("sku", flat=True))
    for code in ("loja", "skyhub", "mercadolivre"):
        keys = OutboxMessage.objects.filter(destination=f"channel:{code}", kind="stock.available")
        assert {key.removeprefix("sku:") for key in keys.values_list("key", flat=True)} == skus
    assert all("push_stock" not in (c.options or {}) for c in Channel.objects.filter(code__in=SANDBOX_CODES))


def test_demo_stock_becomes_visible_on_the_fakes(all_fakes: dict[FakeKind, RunningFake[Any]]) -> None:
    _demo()
    demo.configure_sandbox_channels(all_fakes)  # as ``malote up`` does with the fakes it started
    drain(prefix="channel:loja")
    drain(prefix="channel:skyhub")
    drain(prefix="channel:mercadolivre")
    chinelo = StockItem.objects.get(sku="CHINELO-42")
    told = dict(ChannelStock.objects.filter(sku="CHINELO-42").values_list("channel_code", "available_pushed"))
    assert told == dict.fromkeys(("loja", "skyhub", "mercadolivre"), chinelo.available)
    assert all_fakes["jumpseller"].calls.filter("PUT"), "the store's product stock was set"
    assert all_fakes["mercadolivre"].calls.filter("PUT"), "the listings' quantity was set"
