"""Fixtures: fresh fakes per test, wired to a webhook receiver started by the test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from malote_dev.sandbox import start_fake
from malote_dev.sandbox.jumpseller import JumpsellerState
from malote_dev.sandbox.pagarme import PagarmeState
from malote_dev.sandbox.server import RunningFake
from malote_dev.sandbox.tests.helpers import WebhookReceiver, client
from malote_dev.sandbox.tiny import TinyState


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    server = WebhookReceiver()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def http() -> Iterator[httpx.Client]:
    """One client for the session: building one costs an SSL context. No connection is reused
    across tests anyway (the fakes close every connection after answering)."""
    with client() as session:
        yield session


@pytest.fixture
def jumpseller(receiver: WebhookReceiver) -> Iterator[RunningFake[JumpsellerState]]:
    with start_fake("jumpseller", webhook_url=f"{receiver.url}/hooks/jumpseller") as fake:
        yield fake


@pytest.fixture
def tiny(receiver: WebhookReceiver) -> Iterator[RunningFake[TinyState]]:
    with start_fake("tiny", webhook_url=f"{receiver.url}/hooks/tiny") as fake:
        yield fake


@pytest.fixture
def pagarme(receiver: WebhookReceiver) -> Iterator[RunningFake[PagarmeState]]:
    with start_fake("pagarme", webhook_url=f"{receiver.url}/hooks/pagarme") as fake:
        yield fake


@pytest.fixture
def any_fake(request: pytest.FixtureRequest) -> RunningFake[Any]:
    """Indirectly parametrized by fake kind."""
    fake: RunningFake[Any] = request.getfixturevalue(request.param)
    return fake
