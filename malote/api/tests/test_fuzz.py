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
from urllib.parse import quote, quote_from_bytes, urlencode

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from malote.accounts.models import IdempotencyRecord
from malote.api.tests.helpers import ORDERS, assert_error, order_data, transition_url
from malote.conftest import ApiClient
from malote.orders.lifecycle import TRANSITIONS
from malote.orders.models import Order
from malote.wsgi import application
from malote_dev.testing.orders import bring_to

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
schema.config.generation.update(modes=list(schemathesis.GenerationMode), deterministic=True)


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


# --- (b) hypothesis-driven raw requests -----------------------------------------------------------

RAW_SETTINGS = settings(
    max_examples=75,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
TRANSITION_NAMES = sorted(TRANSITIONS)
CONTENT_TYPES = [
    "application/json",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data",
    "multipart/form-data; boundary=xyz",
    "application/octet-stream",
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)


@dataclass
class Raw:
    """Sends raw requests with the operator token; each inside a savepoint that is rolled back."""

    api: ApiClient
    order_id: int

    def send(self, method: str, path: str, body: bytes = b"", content_type: str = "application/json") -> Any:
        with transaction.atomic():
            response = self.api.client.generic(
                method, path, body, content_type=content_type, headers=self.api.headers
            )
            transaction.set_rollback(True)
        content = response.getvalue() if response.streaming else response.content
        assert_json_error_or_success(
            response.status_code, response.get("Content-Type", ""), content, f"{method} {path} {body[:80]!r}"
        )
        return response


@pytest.fixture
def raw(api: ApiClient, make_order: Callable[..., Order]) -> Raw:
    return Raw(api, make_order().pk)


def _paths(order_id: int) -> list[str]:
    return [ORDERS] + [transition_url(order_id, name) for name in TRANSITION_NAMES]


@RAW_SETTINGS
@given(data=st.data(), body=st.binary(max_size=300), content_type=st.sampled_from(CONTENT_TYPES))
def test_random_bytes_bodies(raw: Raw, data: st.DataObject, body: bytes, content_type: str) -> None:
    path = data.draw(st.sampled_from(_paths(raw.order_id)))
    raw.send("POST", path, body, content_type)


@RAW_SETTINGS
@given(data=st.data(), value=json_values)
def test_random_json_bodies(raw: Raw, data: st.DataObject, value: Any) -> None:
    path = data.draw(st.sampled_from(_paths(raw.order_id)))
    raw.send("POST", path, json.dumps(value).encode())


def _with(data: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    node: Any = data
    for part in path[:-1]:
        node = node[part] if not isinstance(node, list) else node[int(part)]
    if isinstance(node, list):
        node[int(path[-1])] = value
    else:
        node[path[-1]] = value
    return data


ORDER_FIELDS = [
    ("channel",),
    ("external_id",),
    ("placed_at",),
    ("currency",),
    ("status",),
    ("customer",),
    ("customer", "name"),
    ("customer", "email"),
    ("customer", "document"),
    ("billing_address",),
    ("billing_address", "state"),
    ("billing_address", "postal_code"),
    ("shipping_address",),
    ("items",),
    ("items", "0"),
    ("items", "0", "sku"),
    ("items", "0", "quantity"),
    ("items", "0", "unit_price"),
    ("items", "0", "discount"),
    ("shipping", "price"),
    ("discount",),
    ("total",),
    ("payment",),
    ("payment", "method"),
    ("payment", "installments"),
    ("payment", "due_date"),
    ("payment", "expires_at"),
]


@RAW_SETTINGS
@given(field=st.sampled_from(ORDER_FIELDS), value=json_values)
def test_order_with_one_field_replaced_by_a_random_value(
    raw: Raw, field: tuple[str, ...], value: Any
) -> None:
    raw.send("POST", ORDERS, json.dumps(_with(order_data(), field, value)).encode())


@RAW_SETTINGS
@given(
    field=st.sampled_from(ORDER_FIELDS),
    size=st.sampled_from([1_000, 100_000, 1_500_000]),
    char=st.sampled_from(["x", "9", "é", "\x00", "-"]),
)
def test_order_with_a_huge_string(raw: Raw, field: tuple[str, ...], size: int, char: str) -> None:
    raw.send("POST", ORDERS, json.dumps(_with(order_data(), field, char * size)).encode())


@RAW_SETTINGS
@given(
    data=st.data(),
    depth=st.sampled_from([50, 1_000, 100_000]),
    shape=st.sampled_from(["list", "object"]),
)
def test_deeply_nested_json(raw: Raw, data: st.DataObject, depth: int, shape: str) -> None:
    path = data.draw(st.sampled_from(_paths(raw.order_id)))
    body = "[" * depth + "]" * depth if shape == "list" else '{"a":' * depth + "1" + "}" * depth
    raw.send("POST", path, body.encode())


@RAW_SETTINGS
@given(
    name=st.sampled_from(TRANSITION_NAMES),
    field=st.text(min_size=1, max_size=15),
    value=json_values,
)
def test_transition_inputs_with_random_fields(raw: Raw, name: str, field: str, value: Any) -> None:
    body = {**valid_input_for(name), field: value}
    raw.send("POST", transition_url(raw.order_id, name), json.dumps(body).encode())


def valid_input_for(name: str) -> dict[str, Any]:
    return {
        "invoice": {"key": "35261111222333000181550010000012341123456780", "number": "1234", "series": "1"},
        "ship": {"carrier": "correios", "method": "SEDEX", "tracking_code": "AA123456785BR"},
        "report_delivery_problem": {"description": "x"},
        "deliver": {"delivered_at": "2026-11-25T10:00:00-03:00"},
        "cancel": {"reason": "other"},
        "reopen": {"reason": "x"},
    }.get(name, {})


@RAW_SETTINGS
@given(query=st.binary(max_size=120), export=st.booleans())
def test_random_query_strings(raw: Raw, query: bytes, export: bool) -> None:
    path = f"{ORDERS}/export" if export else ORDERS
    raw.send("GET", f"{path}?{quote_from_bytes(query, safe='=&')}")


QUERY_KEYS = ["status", "channel", "placed_from", "placed_to", "q", "cursor", "limit", "format", "low", "sku"]


@RAW_SETTINGS
@given(
    params=st.lists(st.tuples(st.sampled_from(QUERY_KEYS), st.text(max_size=40)), max_size=5),
    path=st.sampled_from([ORDERS, f"{ORDERS}/export", "/api/v1/stock"]),
)
def test_random_filter_values(raw: Raw, params: list[tuple[str, str]], path: str) -> None:
    raw.send("GET", f"{path}?{urlencode(params)}")


@RAW_SETTINGS
@given(name=st.text(min_size=1, max_size=40), method=st.sampled_from(["POST", "GET", "PUT"]))
def test_unknown_transition_names(raw: Raw, name: str, method: str) -> None:
    path = transition_url(raw.order_id, quote(name, safe=""))
    response = raw.send(method, path, b"{}")
    if method == "POST" and name not in TRANSITIONS and "/" not in name:
        assert response.status_code == 404
        assert response.json()["code"] in {"unknown_transition", "not_found"}


@RAW_SETTINGS
@given(sku=st.text(min_size=1, max_size=80), value=json_values)
def test_random_stock_requests(raw: Raw, sku: str, value: Any) -> None:
    path = f"/api/v1/stock/{quote(sku, safe='')}"
    raw.send("PUT", path, json.dumps(value).encode())
    raw.send("PUT", path, json.dumps({"physical": value}).encode())
    raw.send("GET", path)
    raw.send("GET", f"{path}/movements")


# --- deterministic edges ------------------------------------------------------------------------


@pytest.mark.parametrize("with_key", [False, True])
def test_body_over_the_upload_limit_is_413(raw: Raw, with_key: bool) -> None:
    big = json.dumps({"external_id": "x" * (2 * 1024 * 1024 + 1)}).encode()
    headers = {**raw.api.headers, **({"Idempotency-Key": "big-1"} if with_key else {})}
    # (reopen is left out: the operator lacks its permission, which is checked before the body is read)
    for path in _paths(raw.order_id):
        if path.endswith("/reopen"):
            continue
        response = raw.api.client.generic("POST", path, big, content_type="application/json", headers=headers)
        assert_error(response, 413, "payload_too_large")
    response = raw.api.client.generic(
        "PUT", "/api/v1/stock/X", big, content_type="application/json", headers=raw.api.headers
    )
    assert_error(response, 413, "payload_too_large")
    assert IdempotencyRecord.objects.count() == 0


def test_body_just_under_the_limit_is_not_413(raw: Raw) -> None:
    body = json.dumps({"reason": "other", "note": "x" * (2 * 1024 * 1024 - 100)}).encode()
    response = raw.send("POST", transition_url(raw.order_id, "cancel"), body)
    assert_error(response, 422, "string_too_long", "note")


@pytest.mark.parametrize(
    ("content_type", "body", "status", "code"),
    [
        ("multipart/form-data", b"reason=other", 400, "malformed_request"),
        ("application/x-www-form-urlencoded", b"a=1&" * 1100, 400, "malformed_request"),
        ("application/json", b"[" * 100_000 + b"]" * 100_000, 422, "malformed_json"),
        ("application/json", b"\xff\xfe", 422, "malformed_json"),
        ("application/json", b'{"reason": "other"} trailing', 422, "malformed_json"),
    ],
)
def test_unparsable_transition_bodies(
    raw: Raw, content_type: str, body: bytes, status: int, code: str
) -> None:
    response = raw.send("POST", transition_url(raw.order_id, "cancel"), body, content_type)
    assert_error(response, status, code)


def test_form_encoded_transition_body_is_accepted(raw: Raw) -> None:
    response = raw.send(
        "POST", transition_url(raw.order_id, "cancel"), b"reason=other", "application/x-www-form-urlencoded"
    )
    assert response.status_code == 200


def test_too_many_query_fields_is_400(raw: Raw) -> None:
    assert_error(raw.send("GET", f"{ORDERS}?{'status=paid&' * 1100}"), 400, "malformed_request")


@pytest.mark.parametrize(
    ("body", "status"),
    [(b"[" * 100_000 + b"]" * 100_000, 400), (b"{bad", 400), (b"\xff", 400), (b"[]", 422), (b"null", 422)],
)
def test_unparsable_order_bodies(raw: Raw, body: bytes, status: int) -> None:
    response = raw.send("POST", ORDERS, body)
    assert response.status_code == status


# --- date-times outside the UTC range and NUL characters: 422, never 500 ---------------------------

FAR_FUTURE = "9999-12-31T23:59:59-05:00"  # a valid ISO date-time that is year 10000 in UTC


@pytest.mark.parametrize(
    "data",
    [
        order_data(placed_at=FAR_FUTURE),
        order_data(placed_at="0001-01-01T00:00:00+05:00"),
        order_data(payment={"method": "pix", "expires_at": FAR_FUTURE}),
    ],
    ids=["placed_at-future", "placed_at-past", "payment.expires_at"],
)
def test_create_with_a_date_time_outside_the_utc_range_is_422(raw: Raw, data: dict[str, Any]) -> None:
    response = raw.api.client.generic(
        "POST", ORDERS, json.dumps(data).encode(), content_type="application/json", headers=raw.api.headers
    )
    assert response.status_code == 422


@pytest.mark.parametrize(
    ("status", "name", "body"),
    [
        ("pending_payment", "approve_payment", {"paid_at": FAR_FUTURE}),
        ("invoiced", "ship", {**valid_input_for("ship"), "shipped_at": FAR_FUTURE}),
        ("shipped", "deliver", {"delivered_at": FAR_FUTURE}),
    ],
)
def test_transition_with_a_date_time_outside_the_utc_range_is_422(
    api: ApiClient, make_order: Callable[..., Order], status: str, name: str, body: dict[str, Any]
) -> None:
    order = bring_to(make_order(), status)
    assert api.post(transition_url(order.pk, name), body).status_code == 422


def test_nul_character_in_order_text_is_422(raw: Raw) -> None:
    response = raw.api.client.generic(
        "POST",
        ORDERS,
        json.dumps(order_data(external_id="02-7043\x0019102")).encode(),
        content_type="application/json",
        headers=raw.api.headers,
    )
    assert response.status_code == 422


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/orders?q=70431%00",
        "/api/v1/orders?channel=si%00te",
        "/api/v1/orders/export?q=%00",
        "/api/v1/stock/SKU%00X",
        "/api/v1/stock/SKU%00X/movements",
        "/api/v1/stock?sku=A%00",
    ],
)
def test_nul_character_in_query_or_path_is_refused_not_500(api: ApiClient, path: str) -> None:
    response = api.get(path)
    assert response.status_code in (404, 422)
    assert response.json()["code"] in ("nul_character", "stock_item_not_found")
