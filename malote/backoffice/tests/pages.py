"""Fixtures shared by the channels, stock, dashboard and users page tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import Client

ROLES = ["viewer", "operator", "support", "admin"]


@pytest.fixture(autouse=True)
def clear_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def client_as(user_with_role: Callable[[str], Any]) -> Callable[[str], Client]:
    """A logged-in client for a role (one user per role per test)."""
    clients: dict[str, Client] = {}

    def login(role: str) -> Client:
        if role not in clients:
            client = Client()
            client.force_login(user_with_role(role))
            clients[role] = client
        return clients[role]

    return login


@pytest.fixture
def nobody(db: None) -> Client:
    """Logged in, but with no role."""
    client = Client()
    client.force_login(get_user_model().objects.create_user(username="nobody", password="x"))
    return client


def html(response: Any) -> str:
    return str(response.content.decode())
