"""Fixtures shared by the connector tests. Each test module defines its own ``fake`` (the running
sandbox of its kind); ``control`` drives that fake's control API."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from malote.connectors.tests.helpers import Control, control_of
from malote_dev.sandbox.server import RunningFake


@pytest.fixture
def control(fake: RunningFake[Any]) -> Iterator[Control]:
    """The other side of the fake (shopper, operator, back office): ``control("orders/123/cancel")``."""
    with httpx.Client(timeout=5.0, trust_env=False) as http:
        yield control_of(fake, http)
