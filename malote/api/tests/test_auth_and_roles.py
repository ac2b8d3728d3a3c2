"""Authentication (Bearer tokens) and the role check at the edge: viewer, operator, support, admin."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from malote.accounts.models import ApiToken
from malote.accounts.roles import assign_role, sync_roles
from malote.api.tests.helpers import ORDERS, assert_error, order_data, order_url, transition_url
from malote.conftest import ApiClient
from malote.orders.models import Order
from malote.stock.models import StockItem
from malote_dev.testing.orders import bring_to

pytestmark = pytest.mark.django_db

ROLES = ("viewer", "operator", "support", "admin")


@pytest.fixture
def real_client() -> Client:
    """A client that, like curl or a connector, gets no CSRF exemption from the test framework."""
    return Client(enforce_csrf_checks=True)


def _token(role: str, *, username: str | None = None) -> tuple[ApiToken, str]:
    sync_roles()
    user = get_user_model().objects.create_user(username=username or f"{role}-tok", password="x")
    assign_role(user, role)
    return ApiToken.issue(user, "test")


# --- 401 -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", ORDERS),
        ("get", f"{ORDERS}/1"),
        ("get", "/api/v1/stock"),
        ("get", f"{ORDERS}/export"),
        ("post", ORDERS),
        ("post", transition_url(1, "cancel")),
        ("put", "/api/v1/stock/CHINELO-42"),
    ],
)
@pytest.mark.parametrize(
    "authorization", [None, "Bearer", "Bearer not-a-token", "Basic dXNlcjpwYXNz", "Bearer " + "x" * 300]
)
def test_missing_or_bad_token_is_401_json(
    real_client: Client, method: str, path: str, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    kwargs: dict[str, Any] = {"headers": headers}
    if method != "get":
        kwargs.update(data=json.dumps({"physical": 1}), content_type="application/json")
    response = getattr(real_client, method)(path, **kwargs)
    body = assert_error(response, 401, "not_authenticated")
    assert set(body) == {"code", "detail"}


def test_valid_token_is_accepted_and_touches_last_used(real_client: Client) -> None:
    token, raw = _token("viewer")
    assert token.last_used_at is None
    response = real_client.get(ORDERS, headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 200
    assert response.json() == {"items": [], "next_cursor": None}
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_revoked_token_is_401(real_client: Client) -> None:
    token, raw = _token("admin")
    headers = {"Authorization": f"Bearer {raw}"}
    assert real_client.get(ORDERS, headers=headers).status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
    assert_error(real_client.get(ORDERS, headers=headers), 401, "not_authenticated")
    assert_error(real_client.post(ORDERS, headers=headers), 401, "not_authenticated")


def test_token_of_an_inactive_user_is_401(real_client: Client) -> None:
    token, raw = _token("admin")
    headers = {"Authorization": f"Bearer {raw}"}
    assert real_client.get(ORDERS, headers=headers).status_code == 200
    get_user_model().objects.filter(pk=token.user_id).update(is_active=False)
    assert_error(real_client.get(ORDERS, headers=headers), 401, "not_authenticated")


def test_unauthenticated_post_is_401_not_a_csrf_403(real_client: Client, channel: Any) -> None:
    """A token client without a session cookie must never be answered with a CSRF failure."""
    response = real_client.post(ORDERS, data=json.dumps(order_data()), content_type="application/json")
    assert_error(response, 401, "not_authenticated")
    assert Order.objects.count() == 0


def test_session_login_still_needs_csrf_on_post(real_client: Client, channel: Any) -> None:
    """The session (browser) path keeps its CSRF protection: 403 without the token."""
    token, _ = _token("admin")
    real_client.force_login(token.user)
    assert real_client.get(ORDERS).status_code == 200
    response = real_client.post(ORDERS, data=json.dumps(order_data()), content_type="application/json")
    assert response.status_code == 403
    assert Order.objects.count() == 0


# --- role matrix ---------------------------------------------------------------------------------

# (endpoint, roles allowed); every other role gets 403 permission_denied.
MATRIX: dict[str, set[str]] = {
    "list": set(ROLES),
    "detail": set(ROLES),
    "events": set(ROLES),
    "transitions": set(ROLES),
    "stock_get": set(ROLES),
    "create": {"operator", "support", "admin"},
    "transition": {"operator", "support", "admin"},
    "reopen": {"support", "admin"},
    "stock_put": {"operator", "support", "admin"},
    "export": {"operator", "support", "admin"},
}


def _call(client: ApiClient, endpoint: str, order: Order) -> Any:
    if endpoint == "list":
        return client.get(ORDERS)
    if endpoint == "detail":
        return client.get(order_url(order.pk))
    if endpoint == "events":
        return client.get(order_url(order.pk, "events"))
    if endpoint == "transitions":
        return client.get(order_url(order.pk, "transitions"))
    if endpoint == "stock_get":
        return client.get("/api/v1/stock/CHINELO-42")
    if endpoint == "create":
        return client.post(ORDERS, order_data(external_id="NEW-1"))
    if endpoint == "transition":
        return client.post(transition_url(order.pk, "approve_payment"), {})
    if endpoint == "reopen":
        bring_to(order, "canceled")
        return client.post(transition_url(order.pk, "reopen"), {"reason": "cliente voltou atrás"})
    if endpoint == "stock_put":
        return client.put("/api/v1/stock/CHINELO-42", {"physical": 50, "reason": "inventory_count"})
    if endpoint == "export":
        return client.get(f"{ORDERS}/export?format=csv")
    raise AssertionError(endpoint)


def _effect(endpoint: str, order: Order) -> Any:
    """The state the endpoint would change, to prove a 403 changed nothing."""
    order.refresh_from_db()
    return {
        "create": lambda: Order.objects.count(),
        "transition": lambda: order.status,
        "reopen": lambda: order.status,
        "stock_put": lambda: StockItem.objects.get(sku="CHINELO-42").physical,
    }.get(endpoint, lambda: None)()


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", list(MATRIX))
def test_role_matrix(
    api_as: Callable[[str], ApiClient], make_order: Callable[..., Order], role: str, endpoint: str
) -> None:
    order = make_order()
    client = api_as(role)
    response = _call(client, endpoint, order)
    if role in MATRIX[endpoint]:
        expected = 201 if endpoint == "create" else 200
        assert response.status_code == expected, response.content[:300]
        if endpoint == "reopen":
            order.refresh_from_db()
            assert order.status == "pending_payment"
        if endpoint == "stock_put":
            assert response.json()["physical"] == 50
    else:
        before = _effect(endpoint, order)
        body = assert_error(response, 403, "permission_denied")
        assert body["permission"].startswith(("orders.", "stock."))
        assert _effect(endpoint, order) == before


def test_operator_may_run_every_transition_but_reopen(
    api_as: Callable[[str], ApiClient], make_order: Callable[..., Order]
) -> None:
    client = api_as("operator")
    order = make_order()
    steps = [
        ("approve_payment", {}),
        ("start_preparing", {}),
        ("cancel", {"reason": "customer_gave_up"}),
    ]
    for name, body in steps:
        assert client.post(transition_url(order.pk, name), body).status_code == 200, name
    response = client.post(transition_url(order.pk, "reopen"), {"reason": "engano"})
    body = assert_error(response, 403, "permission_denied")
    assert body["permission"] == "orders.reopen_order"
    order.refresh_from_db()
    assert order.status == "canceled"


def test_viewer_transition_is_403_before_validating_the_body(
    api_as: Callable[[str], ApiClient], make_order: Callable[..., Order]
) -> None:
    order = make_order()
    response = api_as("viewer").post(transition_url(order.pk, "ship"), {"tracking_code": 1})
    assert_error(response, 403, "permission_denied")


# --- what the caller may do now ------------------------------------------------------------------


def _by_name(transitions: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in transitions}


def test_transitions_show_reopen_forbidden_for_operator_and_allowed_for_support(
    api_as: Callable[[str], ApiClient], make_order: Callable[..., Order]
) -> None:
    order = bring_to(make_order(), "canceled")
    operator = _by_name(api_as("operator").get(order_url(order.pk, "transitions")).json())
    assert operator["reopen"]["allowed"] is False
    assert "orders.reopen_order" in operator["reopen"]["reason"]
    assert operator["reopen"]["target"] == "pending_payment"
    assert not [n for n, t in operator.items() if t["allowed"]]
    support = _by_name(api_as("support").get(order_url(order.pk, "transitions")).json())
    assert support["reopen"] == {
        "name": "reopen",
        "label": support["reopen"]["label"],
        "target": "pending_payment",
        "allowed": True,
        "reason": None,
    }
    assert support["cancel"]["allowed"] is False
    assert support["cancel"]["reason"]  # terminal: the table forbids it, with a reason


def test_viewer_sees_every_transition_with_a_reason_and_none_allowed(
    api_as: Callable[[str], ApiClient], make_order: Callable[..., Order]
) -> None:
    order = make_order()
    transitions = api_as("viewer").get(order_url(order.pk, "transitions")).json()
    assert len(transitions) == 13
    for t in transitions:
        assert t["allowed"] is False
        assert isinstance(t["reason"], str) and t["reason"]


def test_operator_transitions_for_a_pending_order(
    api_as: Callable[[str], ApiClient], make_order: Callable[..., Order]
) -> None:
    order = make_order()
    transitions = _by_name(api_as("operator").get(order_url(order.pk, "transitions")).json())
    allowed = {n for n, t in transitions.items() if t["allowed"]}
    assert allowed == {"start_review", "mark_overdue", "approve_payment", "cancel"}
    assert transitions["ship"]["reason"]
    assert all(t["reason"] is None for n, t in transitions.items() if n in allowed)


@pytest.mark.parametrize(
    ("role", "status", "expected"),
    [
        ("viewer", "pending_payment", []),
        ("operator", "pending_payment", ["start_review", "mark_overdue", "approve_payment", "cancel"]),
        ("admin", "pending_payment", ["start_review", "mark_overdue", "approve_payment", "cancel"]),
        ("viewer", "canceled", []),
        ("operator", "canceled", []),
        ("support", "canceled", ["reopen"]),
        ("admin", "delivered", ["reopen"]),
        ("operator", "delivered", []),
    ],
)
def test_available_transitions_in_detail_respect_the_role(
    api_as: Callable[[str], ApiClient],
    make_order: Callable[..., Order],
    role: str,
    status: str,
    expected: list[str],
) -> None:
    order = bring_to(make_order(), status)
    detail = api_as(role).get(order_url(order.pk)).json()
    assert detail["available_transitions"] == expected
