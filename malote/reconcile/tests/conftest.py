"""Fixtures of the reconciliation tests: the Tiny and Pagar.me fakes over HTTP and their channels."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from malote.channels.models import Channel, ChannelRole
from malote.connectors.pagarme import clear_jwks_cache
from malote.notify.tests.conftest import smtp  # noqa: F401  (the real SMTP sink fixture)
from malote.orders.models import Order
from malote.sandbox import start_fake
from malote.sandbox.server import RunningFake

Control = Callable[..., dict[str, Any]]


def _control(fake: RunningFake[Any], http: httpx.Client) -> Control:
    def post(path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = http.post(f"{fake.url}/_sandbox/{path}", json=body or {})
        assert response.status_code in (200, 201), response.text
        answer: dict[str, Any] = response.json()
        return answer

    return post


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
    return _control(tiny_fake, http)


@pytest.fixture
def pagarme_control(pagarme_fake: RunningFake[Any], http: httpx.Client) -> Control:
    return _control(pagarme_fake, http)


@pytest.fixture
def tiny(tiny_fake: RunningFake[Any], channel: Channel) -> Channel:
    """The ERP (the storefront ``site`` comes from ``channel``); no grace, so one run decides."""
    return Channel.objects.create(
        code="tiny",
        name="Tiny ERP",
        role=ChannelRole.ERP,
        kind="tiny",
        base_url=tiny_fake.api_url,
        credentials={"token": tiny_fake.credentials["token"], "webhook_token": "tok"},
        options={"integration_grace_minutes": 0},
    )


@pytest.fixture
def pagarme(pagarme_fake: RunningFake[Any], channel: Channel) -> Iterator[Channel]:
    clear_jwks_cache()
    yield Channel.objects.create(
        code="pagarme",
        name="Pagar.me",
        role=ChannelRole.GATEWAY,
        kind="pagarme",
        base_url=pagarme_fake.api_url,
        credentials={"secret_key": pagarme_fake.credentials["secret_key"]},
        options={"jwks_url": pagarme_fake.credentials["jwks_url"]},
    )
    clear_jwks_cache()


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
