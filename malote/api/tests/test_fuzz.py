"""No malformed request gets a 500: schema-driven fuzzing (schemathesis) and raw hypothesis requests.

Every example runs inside a savepoint that is rolled back afterwards, so nothing one example
writes (orders, stock, idempotency records) is seen by the next; the fixtures (a token, a channel,
stock and one order to aim transitions at) are set up once per test, outside those savepoints.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, settings

from malote.conftest import ApiClient
from malote.orders.models import Order
from malote.wsgi import application

pytestmark = pytest.mark.django_db

FUZZ_SETTINGS = settings(
    max_examples=6,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@dataclass
class FuzzTarget:
    headers: dict[str, str]
    order_id: int


@pytest.fixture
def keep_connection() -> Iterator[None]:
    """The WSGI app (unlike Django's test client) closes 'old' connections around each request,
    which would end the test's transaction; keep the one connection open as the test client does."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def target(api: ApiClient, make_order: Callable[..., Order], keep_connection: None) -> FuzzTarget:
    return FuzzTarget(headers=dict(api.headers), order_id=make_order().pk)


def assert_json_error_or_success(status: int, content_type: str, body: bytes, what: str) -> None:
    assert status < 500, f"{what} → {status}: {body[:300]!r}"
    if status >= 400:
        assert content_type.startswith("application/json"), (
            f"{what} → {status} {content_type}: {body[:300]!r}"
        )
        error = json.loads(body)
        assert isinstance(error, dict), what
        assert isinstance(error.get("code"), str) and error["code"], f"{what} → {error}"
        assert isinstance(error.get("detail"), str), f"{what} → {error}"


# --- (a) schemathesis against the served OpenAPI document -----------------------------------------


# Loaded at import (the lazy ``from_fixture`` loader does not work with this pytest); serving the
# document needs no database.
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)
schema.config.generation.update(modes=["positive", "negative"], deterministic=True)


@schema.parametrize()
@FUZZ_SETTINGS
def test_schemathesis_no_server_errors(case: Any, target: FuzzTarget) -> None:
    params = case.path_parameters or {}
    generated = str(params.get("order_id", ""))
    if generated.isascii() and generated.isdigit() and int(generated) % 2 == 0:
        params["order_id"] = target.order_id  # about half the cases hit a real order
    with transaction.atomic():
        response = case.call(headers=target.headers)
        transaction.set_rollback(True)
    content_type = (response.headers.get("content-type") or [""])[0]
    what = f"{case.method} {case.formatted_path}"
    assert_json_error_or_success(response.status_code, content_type, response.content, what)
