"""Fixtures shared by every app's tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from malote.accounts.models import ApiToken
from malote.accounts.roles import assign_role, sync_roles
from malote.channels.models import Channel, ChannelRole
from malote.orders import actions
from malote.orders.models import Order
from malote.orders.schemas import OrderIn
from malote.stock.actions import set_physical
from malote_dev.testing.orders import SYSTEM, order_data

# A key consistent with the order above: SP, issued 2026-11, emitter 11.222.333/0001-81, série 1, nNF 1234.
VALID_KEY = "35261111222333000181550010000012341123456780"


@pytest.fixture
def order_json() -> dict[str, Any]:
    return order_data()


@pytest.fixture
def channel(db: None) -> Channel:
    return Channel.objects.create(code="site", name="Loja virtual", role=ChannelRole.STOREFRONT)


@pytest.fixture
def xml_channel(db: None) -> Channel:
    return Channel.objects.create(
        code="mercadolivre", name="Mercado Livre", role=ChannelRole.MARKETPLACE, invoice_needs_xml=True
    )


@pytest.fixture
def stock(db: None) -> Callable[..., None]:
    def put(sku: str = "CHINELO-42", physical: int = 10) -> None:
        set_physical(sku, physical, actor=SYSTEM)

    return put


@pytest.fixture
def make_order(channel: Channel, stock: Callable[..., None]) -> Callable[..., Order]:
    """Create an order through the command; stock for its SKUs is set up first unless told not to."""
    counter = {"n": 0}

    def make(*, physical: int | None = 10, **overrides: Any) -> Order:
        counter["n"] += 1
        data = order_data()
        data["external_id"] = f"02-7043191{counter['n']:02d}"
        data.update(overrides)
        if physical is not None:
            for item in data["items"]:
                stock(item["sku"], physical)
        order, _ = actions.create_order(OrderIn.model_validate(data), actor=SYSTEM)
        return order

    return make


@pytest.fixture
def user_with_role(db: None) -> Callable[[str], Any]:
    def create(role: str) -> Any:
        sync_roles()
        user = get_user_model().objects.create_user(username=f"{role}-user", password="x")
        assign_role(user, role)
        return user

    return create


class ApiClient:
    """A Django test client that sends a Bearer token and JSON bodies."""

    def __init__(self, token: str | None) -> None:
        self.client = Client()
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def _send(self, method: str, path: str, body: Any = None, **headers: str) -> Any:
        data = body if isinstance(body, (bytes, str)) else (json.dumps(body) if body is not None else None)
        kwargs: dict[str, Any] = {"headers": {**self.headers, **headers}}
        if data is not None:
            kwargs.update(data=data, content_type="application/json")
        return getattr(self.client, method)(path, **kwargs)

    def get(self, path: str, **headers: str) -> Any:
        return self._send("get", path, **headers)

    def post(self, path: str, body: Any = None, **headers: str) -> Any:
        return self._send("post", path, body, **headers)

    def put(self, path: str, body: Any = None, **headers: str) -> Any:
        return self._send("put", path, body, **headers)


@pytest.fixture
def api_as(user_with_role: Callable[[str], Any]) -> Callable[[str], ApiClient]:
    def for_role(role: str) -> ApiClient:
        _, raw = ApiToken.issue(user_with_role(role), "test")
        return ApiClient(raw)

    return for_role


@pytest.fixture
def api(api_as: Callable[[str], ApiClient]) -> ApiClient:
    return api_as("operator")
