"""Hostile API input (issue 12): integer bounds, strict types, optional bodies, and an OpenAPI
document that states what the server accepts (patterns, date ranges, every status it answers)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from malote.api.tests.helpers import ORDERS, assert_error, order_data, transition_url
from malote.channels.models import Channel
from malote.conftest import ApiClient
from malote.core.actors import Actor
from malote.orders.lifecycle import TRANSITIONS
from malote.orders.models import Order
from malote.reconcile import actions as reconcile
from malote.reconcile.models import IntegrationIssue, IssueKind
from malote.stock.models import StockItem

pytestmark = pytest.mark.django_db

MAX_ID = 2**63 - 1  # the largest bigint: the last id that can exist
TOO_BIG = 2**63


@pytest.fixture
def issue(make_order: Callable[..., Order], channel: Channel) -> IntegrationIssue:
    return reconcile.report(
        IssueKind.STUCK,
        channel=channel,
        actor=Actor.schedule("reconcile:stuck"),
        order=make_order(),
        evidence={"stage": "paid_not_invoiced"},
        detail="Pago sem nota fiscal",
        recommended_action="investigate",
    ).issue


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    """The OpenAPI document as served."""
    schema: dict[str, Any] = Client().get("/api/v1/openapi.json").json()
    return schema


# --- integer bounds: beyond them 422 with the field, never 500 ------------------------------------


LE, GE = "less_than_equal", "greater_than_equal"


@pytest.mark.parametrize(
    ("method", "path", "body", "field", "code"),
    [
        ("get", f"/api/v1/issues?offset={TOO_BIG}", None, "offset", LE),
        ("get", "/api/v1/issues?offset=-1", None, "offset", GE),
        ("get", f"/api/v1/issues?order_id={TOO_BIG}", None, "order_id", LE),
        ("get", f"/api/v1/outbox?order_id={TOO_BIG}", None, "order_id", LE),
        ("post", "/api/v1/outbox/replay", {"ids": [TOO_BIG]}, "ids.0", LE),
        ("post", "/api/v1/outbox/replay", {"ids": [0]}, "ids.0", GE),
        ("get", f"/api/v1/orders/{TOO_BIG}", None, "order_id", LE),
        ("get", "/api/v1/orders/0", None, "order_id", GE),
        ("get", f"/api/v1/orders/{TOO_BIG}/events", None, "order_id", LE),
        ("post", f"/api/v1/orders/{TOO_BIG}/transitions/approve_payment", None, "order_id", LE),
        ("get", f"/api/v1/issues/{TOO_BIG}", None, "issue_id", LE),
        ("post", f"/api/v1/issues/{TOO_BIG}/actions/accept", None, "issue_id", LE),
        ("post", f"/api/v1/outbox/{TOO_BIG}/retry", None, "message_id", LE),
        ("get", f"/api/v1/stock?offset={TOO_BIG}", None, "offset", LE),
        ("put", "/api/v1/stock/CHINELO-42", {"physical": 100_000_001}, "physical", LE),
    ],
)
def test_an_integer_out_of_bounds_is_422(
    api_as: Callable[[str], ApiClient], method: str, path: str, body: Any, field: str, code: str
) -> None:
    answer = getattr(api_as("admin"), method)(path, *([body] if body is not None else []))
    assert_error(answer, 422, code, field)


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("get", f"/api/v1/issues?offset=10000000&order_id={MAX_ID}", None, 200, None),
        ("get", f"/api/v1/outbox?order_id={MAX_ID}", None, 200, None),
        ("post", "/api/v1/outbox/replay", {"ids": [MAX_ID, 1]}, 200, None),
        ("get", f"/api/v1/orders/{MAX_ID}", None, 404, "order_not_found"),
        ("post", f"/api/v1/orders/{MAX_ID}/transitions/approve_payment", None, 404, "order_not_found"),
        ("get", f"/api/v1/issues/{MAX_ID}", None, 404, "issue_not_found"),
        ("post", f"/api/v1/issues/{MAX_ID}/actions/accept", None, 404, "issue_not_found"),
        ("post", f"/api/v1/outbox/{MAX_ID}/retry", None, 404, "message_not_found"),
        ("put", "/api/v1/stock/CHINELO-42", {"physical": 100_000_000}, 200, None),
    ],
)
def test_an_integer_at_its_bound_is_served(
    api_as: Callable[[str], ApiClient], method: str, path: str, body: Any, status: int, code: str | None
) -> None:
    answer = getattr(api_as("admin"), method)(path, *([body] if body is not None else []))
    if code is None:
        assert answer.status_code == status, answer.content
    else:
        assert_error(answer, status, code)


# --- strict types: no bool or text read as a number, no number read as a date-time -----------------


@pytest.mark.parametrize(
    ("physical", "code"),
    [(False, "int_type"), (True, "int_type"), ("5", "int_type"), (2.5, "int_from_float"), (None, "int_type")],
)
def test_stock_quantity_must_be_a_json_integer(api: ApiClient, physical: Any, code: str) -> None:
    assert_error(api.put("/api/v1/stock/CHINELO-42", {"physical": physical}), 422, code, "physical")
    assert not StockItem.objects.filter(sku="CHINELO-42").exists()


@pytest.mark.parametrize("physical", [5, 5.0])
def test_stock_quantity_as_a_whole_number_is_set(api: ApiClient, physical: Any) -> None:
    answer = api.put("/api/v1/stock/CHINELO-42", {"physical": physical})
    assert answer.status_code == 200, answer.content
    assert answer.json()["physical"] == 5


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"all": 0}, "bool_type", "all"),
        ({"all": "true"}, "bool_type", "all"),
        ({"ids": [True]}, "int_type", "ids.0"),
        ({"ids": ["7"]}, "int_type", "ids.0"),
    ],
)
def test_replay_takes_only_json_booleans_and_integers(
    api: ApiClient, body: dict[str, Any], code: str, field: str
) -> None:
    assert_error(api.post("/api/v1/outbox/replay", body), 422, code, field)


def test_replay_with_json_types_is_served(api: ApiClient) -> None:
    answer = api.post("/api/v1/outbox/replay", {"ids": [1, 2], "all": False})
    assert answer.status_code == 200 and answer.json() == {"replayed": 0}


@pytest.mark.parametrize("quantity", [True, "2", 2.5])
def test_order_quantity_must_be_a_json_integer(
    api: ApiClient, channel: Channel, stock: Callable[..., None], quantity: Any
) -> None:
    stock("CHINELO-42", 10)
    data = order_data()
    data["items"][0]["quantity"] = quantity
    answer = api.post(ORDERS, data)
    code = "int_from_float" if isinstance(quantity, float) else "int_type"
    assert_error(answer, 422, code, "items.0.quantity")
    assert not Order.objects.exists()


def test_order_quantity_as_a_json_integer_is_created(
    api: ApiClient, channel: Channel, stock: Callable[..., None]
) -> None:
    stock("CHINELO-42", 10)
    data = order_data()
    data["items"][0]["quantity"] = 2.0  # JSON Schema's integer: 2.0 is 2
    answer = api.post(ORDERS, data)
    assert answer.status_code == 201, answer.content


@pytest.mark.parametrize("paid_at", [0, 1_763_650_000, "1763650000", True])
def test_a_number_is_not_a_date_time(api: ApiClient, make_order: Callable[..., Order], paid_at: Any) -> None:
    order = make_order()
    answer = api.post(transition_url(order.pk, "approve_payment"), {"paid_at": paid_at})
    assert_error(answer, 422, "datetime_type", "paid_at")


def test_an_iso_date_time_is_a_date_time(api: ApiClient, make_order: Callable[..., Order]) -> None:
    order = make_order()
    answer = api.post(transition_url(order.pk, "approve_payment"), {"paid_at": "2026-11-20T10:00:00-03:00"})
    assert answer.status_code == 200, answer.content


# --- optional bodies may be left out; required ones are documented as required --------------------


def test_an_issue_action_needs_no_body(api: ApiClient, issue: IntegrationIssue) -> None:
    done = api.post(f"/api/v1/issues/{issue.pk}/actions/cancel")
    assert done.status_code == 200, done.content
    assert done.json()["issue"]["state"] == "resolved"


def test_an_issue_action_without_body_is_still_checked(api: ApiClient, issue: IntegrationIssue) -> None:
    assert_error(api.post(f"/api/v1/issues/{issue.pk}/actions/dismiss"), 422, "reason_required", "reason")
    assert_error(
        api.post(f"/api/v1/issues/{issue.pk}/actions/dismiss", {"why": "x"}), 422, "extra_forbidden", "why"
    )
    assert_error(api.post(f"/api/v1/issues/{issue.pk}/actions/dismiss", b"[1]"), 422, "body_not_object")


def test_a_transition_with_an_optional_body_runs_without_one(
    api: ApiClient, make_order: Callable[..., Order]
) -> None:
    order = make_order()
    answer = api.post(transition_url(order.pk, "approve_payment"))
    assert answer.status_code == 200, answer.content
    assert answer.json()["status"] != order.status


def test_a_transition_with_a_required_field_refuses_no_body(
    api: ApiClient, make_order: Callable[..., Order]
) -> None:
    order = make_order()
    assert_error(api.post(transition_url(order.pk, "cancel")), 422, "missing", "reason")


def test_request_bodies_are_documented_required_exactly_when_they_are(document: dict[str, Any]) -> None:
    paths = document["paths"]
    for name, transition in TRANSITIONS.items():
        body = paths[f"/api/v1/orders/{{order_id}}/transitions/{name}"]["post"]["requestBody"]
        needs_a_field = bool(transition.input.model_json_schema().get("required"))
        assert body["required"] is needs_a_field, name
    assert paths["/api/v1/orders/{order_id}/transitions/cancel"]["post"]["requestBody"]["required"] is True
    assert (
        paths["/api/v1/orders/{order_id}/transitions/approve_payment"]["post"]["requestBody"]["required"]
        is False
    )
    action = paths["/api/v1/issues/{issue_id}/actions/{action}"]["post"]["requestBody"]
    assert action["required"] is False
    assert action["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/ActIn"
    assert "ActIn" in document["components"]["schemas"]


# --- the document states the form of CPF/CNPJ, CEP, UF, e-mail, NF-e key and date-times -----------


def _property(document: dict[str, Any], model: str, name: str) -> dict[str, Any]:
    schema: dict[str, Any] = document["components"]["schemas"][model]["properties"][name]
    return schema


@pytest.mark.parametrize(
    ("model", "name", "accepted", "refused"),
    [
        (
            "CustomerIn",
            "document",
            ["529.982.247-25", "52998224725", "11.222.333/0001-81", "12ABC34501DE35"],
            ["529.982.247-2", "529-982-247.25", "abc", ""],
        ),
        ("AddressIn", "postal_code", ["01001-000", "01001000"], ["0100-1000", "01001-00", "CEP"]),
        ("AddressIn", "state", ["SP", "sp", "Rj"], ["XX", "S", "SPA"]),
        ("CustomerIn", "email", ["", "maria@example.com"], ["maria", "maria@example", "a b@c.d"]),
        (
            "InvoiceIn",
            "key",
            [
                "35261111222333000181550010000012341123456780",
                "3526 1111 2223 3300 0181 5500 1000 0012 3411 2345 6780",
            ],
            ["3526111122233300018155001000001234112345678", "x"],
        ),
    ],
)
def test_documented_patterns_match_what_the_server_accepts_in_form(
    document: dict[str, Any], model: str, name: str, accepted: list[str], refused: list[str]
) -> None:
    pattern = re.compile(_property(document, model, name)["pattern"])
    assert all(pattern.search(value) for value in accepted), accepted
    assert not any(pattern.search(value) for value in refused), refused


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("customer.document", "529.982.247-2", "document_length"),
        ("billing_address.postal_code", "0100-1000", "cep_format"),
        ("billing_address.state", "XX", "uf_invalid"),
        ("customer.email", "maria@example", "email_invalid"),
        ("placed_at", "1969-12-31T23:00:00-03:00", "datetime_out_of_range"),
        ("placed_at", "2201-01-01T00:00:00-03:00", "datetime_out_of_range"),
    ],
)
def test_the_server_refuses_what_the_patterns_refuse(
    api: ApiClient, channel: Channel, stock: Callable[..., None], field: str, value: str, code: str
) -> None:
    stock("CHINELO-42", 10)
    data = order_data()
    *parents, last = field.split(".")
    target = data
    for part in parents:
        target = target[part]
    target[last] = value
    assert_error(api.post(ORDERS, data), 422, code, field)


def test_date_times_are_documented_between_1970_and_2200(document: dict[str, Any]) -> None:
    delivered_at = _property(document, "DeliverIn", "delivered_at")
    assert delivered_at["format"] == "date-time"
    year = re.compile(delivered_at["pattern"])
    assert year.search("1970-01-01T00:00:00Z") and year.search("2200-12-31T23:59:59Z")
    assert not year.search("1969-12-31T23:59:59Z") and not year.search("2201-01-01T00:00:00Z")


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("placed_from=1970-01-01", 200),
        ("placed_to=2200-12-31", 200),
        ("placed_to=", 200),
        ("placed_from=2026-11-20T10:00:00-03:00", 200),
        ("placed_from=1969-12-31", 422),
        ("placed_to=2201-01-01T00:00:00Z", 422),
        ("placed_from=0001-01-01", 422),
    ],
)
def test_date_filters_take_the_years_an_order_can_have(
    api: ApiClient, make_order: Callable[..., Order], query: str, status: int
) -> None:
    make_order()
    for path in (ORDERS, f"{ORDERS}/export"):
        answer = api.get(f"{path}?{query}")
        if status == 200:
            assert answer.status_code == 200, answer.content
        else:
            assert_error(answer, 422, "invalid_datetime", query.split("=")[0])


def test_date_filters_are_documented_with_their_range(document: dict[str, Any]) -> None:
    (param,) = [
        p for p in document["paths"]["/api/v1/orders"]["get"]["parameters"] if p["name"] == "placed_from"
    ]
    branches = param["schema"]["anyOf"]
    assert {b.get("format") for b in branches} == {None, "date", "date-time"}
    assert all("pattern" in b for b in branches if b.get("format"))


# --- every operation documents every status it can answer -----------------------------------------


def test_every_operation_documents_its_error_answers(document: dict[str, Any]) -> None:
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            statuses = set(operation["responses"])
            assert {"400", "401", "403", "422"} <= statuses, (method, path)
            if method in ("post", "put"):
                assert "413" in statuses, (method, path)
            if method == "post":
                assert "409" in statuses, (method, path)  # Idempotency-Key still in progress
            if "{" in path:
                assert "404" in statuses, (method, path)


def test_every_integer_parameter_has_bounds(document: dict[str, Any]) -> None:
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for param in operation.get("parameters", []):
                schema = param["schema"]
                if schema.get("type") == "integer":
                    assert "minimum" in schema and "maximum" in schema, (method, path, param["name"])


def test_an_order_id_that_is_no_number_is_404(api: ApiClient) -> None:
    assert_error(api.get(f"{ORDERS}/abc"), 404, "not_found")
    assert_error(api.get(f"{ORDERS}/-1"), 404, "not_found")
