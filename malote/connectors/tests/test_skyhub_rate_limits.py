"""SkyHub's rate limits respected up front, against the SkyHub fake: order reads 1/s and writes 9/s
per account by default, the channel option ``rate_limits`` over them, one bucket per channel and
class shared by every connector instance (every worker and poll), a short wait slept, a long one a
retryable error whose ``retry_after`` the outbox honours without spending an attempt.

The clock stands still (``time_machine``, no tick) and waiting for a token moves it instead of
sleeping, so nothing here sleeps for real.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import time_machine
from django.utils import timezone

import malote.connectors.http
from malote.channels.models import Channel, ChannelRole, OrderLink
from malote.conftest import SYSTEM
from malote.connectors.errors import ConnectorErrorCode
from malote.connectors.http import RateLimited, RateLimitsInvalid
from malote.connectors.registry import connector_for
from malote.connectors.skyhub import SkyHubConnector
from malote.connectors.skyhub.client import SkyHubClient
from malote.connectors.tests.helpers import channel_at, configure
from malote.orders import actions
from malote.orders.models import Order
from malote.relay.polling import poll_channel
from malote.sync.models import OutboxMessage, RateBucket, Schedule
from malote.sync.worker import drain
from malote_dev.sandbox import start_fake
from malote_dev.sandbox.server import RunningFake
from malote_dev.testing.orders import valid_input

pytestmark = pytest.mark.django_db

Fake = RunningFake[Any]
READS = "rate:skyhub:orders_get"


@dataclass
class Clock:
    """The stopped clock and what was slept (each sleep moved the clock that far)."""

    traveller: Any
    slept: list[float] = field(default_factory=list)

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.traveller.shift(seconds)


@pytest.fixture
def fake() -> Iterator[Fake]:
    with start_fake("skyhub", seed=False) as running:
        yield running


@pytest.fixture
def skyhub(fake: Fake) -> Channel:
    """A SkyHub channel with the connector's default limits (no ``rate_limits`` option)."""
    channel = channel_at(
        fake, "skyhub", "SkyHub", ChannelRole.MARKETPLACE, credentials=dict(fake.credentials)
    )
    return configure(channel, options={"push_stock": False})


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        stopped = Clock(traveller)
        monkeypatch.setattr(malote.connectors.http, "sleep", stopped.sleep)
        yield stopped


@pytest.fixture
def code(control: Callable[..., dict[str, Any]]) -> str:
    """A paid order waiting in the fake."""
    order = control("orders", {"status": "payment_received", "channel": "Submarino"})["order"]
    return str(order["code"])


def _reads(fake: Fake) -> int:
    return len(fake.calls.filter("GET"))


def _limits(channel: Channel, **rates: Any) -> Channel:
    return configure(channel, options={"push_stock": False, "rate_limits": rates})


# ----------------------------------------------------------------- classes and defaults


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/orders/Submarino-1", "orders_get"),
        ("GET", "/orders?page=1&per_page=30", "orders_get"),
        ("GET", "/queues/orders", "orders_get"),
        ("DELETE", "/queues/orders/Submarino-1", "write"),
        ("POST", "/orders/Submarino-1/invoice", "write"),
        ("PUT", "/variations/CHINELO-42", "write"),
        ("GET", "/variations/CHINELO-42", None),
        ("GET", "/statuses", None),
    ],
)
def test_calls_are_classed_as_order_reads_writes_or_unlimited(
    method: str, path: str, expected: str | None
) -> None:
    client = SkyHubClient(None, "https://api.skyhub.com.br", label="skyhub", headers={})  # type: ignore[arg-type]
    assert client.rate_class(method, path) == expected


def test_skyhub_publishes_its_vendor_limits(skyhub: Channel) -> None:
    assert SkyHubConnector.default_rate_limits == {"orders_get": 1.0, "write": 9.0}
    with connector_for(skyhub) as connector:
        limits = connector.rate_limits
    assert limits is not None and limits.rates == {"orders_get": 1.0, "write": 9.0}
    assert limits.key("write") == "rate:skyhub:write"


# ----------------------------------------------------------------- within and over the limit


def test_a_read_within_the_limit_goes_at_once(fake: Fake, skyhub: Channel, code: str, clock: Clock) -> None:
    with connector_for(skyhub) as connector:
        assert isinstance(connector, SkyHubConnector)
        connector.fetch_order(code)
        connector.api.call("GET", "statuses", what="GET /statuses")  # unclassed: no bucket
    assert clock.slept == []
    assert list(RateBucket.objects.values_list("key", flat=True)) == [READS]
    assert _reads(fake) == 2


def test_a_second_read_in_the_same_second_sleeps_for_its_token(
    fake: Fake, skyhub: Channel, code: str, clock: Clock
) -> None:
    with connector_for(skyhub) as connector:
        connector.fetch_order(code)
        connector.fetch_order(code)
    assert clock.slept == [pytest.approx(1.0, abs=1e-6)], "1 order read a second"
    assert _reads(fake) == 2


def test_a_wait_over_two_seconds_is_a_retryable_error_with_retry_after_and_no_call(
    fake: Fake, skyhub: Channel, code: str, clock: Clock
) -> None:
    _limits(skyhub, orders_get=0.25)
    with connector_for(skyhub) as connector:
        connector.fetch_order(code)
        with pytest.raises(RateLimited) as limited:
            connector.fetch_order(code)
    error = limited.value
    assert error.retryable and error.retry_after == pytest.approx(4.0)
    assert error.code == ConnectorErrorCode.RATE_LIMITED and error.status is None
    assert "rate limit" in error.detail and "orders_get" in error.detail
    assert clock.slept == [] and _reads(fake) == 1, "the remote was not called"


def test_two_connector_instances_share_the_channels_bucket(
    fake: Fake, skyhub: Channel, code: str, clock: Clock
) -> None:
    """Two connectors on their own HTTP clients, as two workers (or a worker and a poll) would be."""
    with connector_for(skyhub) as first, connector_for(skyhub) as second:
        assert first.http is not second.http
        first.fetch_order(code)
        change = second.fetch_order(code)
        assert clock.slept == [pytest.approx(1.0, abs=1e-6)], "the second waited for the first one's second"
        second.confirm_pulled(change)  # a write: its own bucket, a full one
    assert clock.slept == [pytest.approx(1.0, abs=1e-6)]
    assert RateBucket.objects.filter(key__startswith="rate:skyhub:").count() == 2


def test_buckets_are_per_channel(fake: Fake, skyhub: Channel, code: str, clock: Clock) -> None:
    other = Channel.objects.create(
        code="skyhub-2",
        name="SkyHub 2",
        role=ChannelRole.MARKETPLACE,
        kind="skyhub",
        base_url=fake.api_url,
        credentials=dict(fake.credentials),
    )
    with connector_for(skyhub) as one, connector_for(other) as two:
        one.fetch_order(code)
        two.fetch_order(code)
    assert clock.slept == [], "another account, another bucket"


# ----------------------------------------------------------------- the option and refills


def test_the_channel_option_overrides_the_default(
    fake: Fake, skyhub: Channel, code: str, clock: Clock
) -> None:
    _limits(skyhub, orders_get=5)
    with connector_for(skyhub) as connector:
        for _ in range(5):
            connector.fetch_order(code)
    assert clock.slept == [], "5/s: five reads at once"

    _limits(skyhub, orders_get=None)
    with connector_for(skyhub) as connector:
        for _ in range(10):
            connector.fetch_order(code)
        assert connector.rate_limits is not None and "orders_get" not in connector.rate_limits.rates
    assert clock.slept == [], "null: order reads not limited; writes keep their default"
    assert _reads(fake) == 15


def test_the_burst_refills_after_time_passes(fake: Fake, skyhub: Channel, code: str, clock: Clock) -> None:
    _limits(skyhub, orders_get=3)
    with connector_for(skyhub) as connector:
        for _ in range(3):
            connector.fetch_order(code)
        assert clock.slept == []
        clock.traveller.shift(1.0)
        for _ in range(3):
            connector.fetch_order(code)
        assert clock.slept == [], "a second later the burst is back"
        connector.fetch_order(code)
    assert clock.slept == [pytest.approx(1 / 3, abs=1e-6)]
    assert _reads(fake) == 7


@pytest.mark.parametrize("option", [{"write": "fast"}, {"orders_get": -1}, {"write": True}, [1, 9]])
def test_a_bad_rate_limits_option_is_a_permanent_error(skyhub: Channel, code: str, option: Any) -> None:
    configure(skyhub, options={"rate_limits": option})
    with connector_for(skyhub) as connector, pytest.raises(RateLimitsInvalid) as invalid:
        connector.fetch_order(code)
    assert not invalid.value.retryable and invalid.value.code == ConnectorErrorCode.RATE_LIMITS_INVALID
    assert "rate_limits" in invalid.value.detail


# ----------------------------------------------------------------- through the outbox


def test_a_push_over_the_limit_waits_in_the_outbox_without_spending_an_attempt(
    fake: Fake, skyhub: Channel, code: str, clock: Clock
) -> None:
    schedule = Schedule.objects.create(name="poll:skyhub", job="channel.poll", channel=skyhub)
    _limits(skyhub, orders_get=1000)
    poll_channel(schedule, timezone.now())
    order = Order.objects.get(channel=skyhub, external_id=code)
    _limits(skyhub, orders_get=0.2)
    with connector_for(skyhub) as connector:
        connector.fetch_order(code)  # another process's read took this second's token

    actions.run_transition(order.pk, "cancel", valid_input(order, "cancel"), actor=SYSTEM)
    drain(prefix="channel:")
    message = OutboxMessage.objects.get(destination="channel:skyhub", order=order)
    assert (message.state, message.attempts) == ("pending", 0)
    assert (message.next_attempt_at - timezone.now()).total_seconds() == pytest.approx(5.0), "retry_after"
    assert "rate limit" in message.last_error and message.last_status is None
    assert fake.state.orders[code]["status"]["type"] != "CANCELED"
    # Nothing was called, so nothing failed: the link keeps its state (no "error" on the order page).
    assert OrderLink.objects.get(order=order, channel=skyhub).state == "linked"

    clock.traveller.shift(5.0)
    drain(prefix="channel:")
    message.refresh_from_db()
    assert (message.state, message.attempts) == ("done", 1)
    assert fake.state.orders[code]["status"]["type"] == "CANCELED"
    assert OrderLink.objects.get(order=order, channel=skyhub).external_id == code
