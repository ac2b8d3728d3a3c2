"""The ``Idempotency-Key`` header on every POST: replay, reuse with another request, scoping."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from malote.accounts.models import ApiToken, IdempotencyRecord
from malote.accounts.roles import assign_role
from malote.api.tests.helpers import ORDERS, assert_error, order_data, transition_url
from malote.channels.models import Channel
from malote.conftest import ApiClient
from malote.orders.models import Order, OrderEvent

pytestmark = pytest.mark.django_db

KEY = "7b0f4c1e-order-create-1"


@pytest.fixture
def ready(channel: Channel, stock: Callable[..., None]) -> None:
    stock("CHINELO-42", 10)


def _second_operator(user_with_role: Callable[[str], Any]) -> ApiClient:
    user = get_user_model().objects.create_user(username="operator-2", password="x")
    assign_role(user, "operator")
    _, raw = ApiToken.issue(user, "second")
    return ApiClient(raw)


def test_repeated_create_with_the_key_replays_the_first_answer(api: ApiClient, ready: None) -> None:
    body = order_data()  # the same body twice (its dates are read from the clock once)
    first = api.post(ORDERS, body, **{"Idempotency-Key": KEY})
    second = api.post(ORDERS, body, **{"Idempotency-Key": KEY})
    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first
    # Without the key a repeat answers 200; with it, the very first answer comes back.
    assert second.status_code == 201
    assert second["Idempotent-Replayed"] == "true"
    assert second.content == first.content
    assert Order.objects.count() == 1
    assert IdempotencyRecord.objects.count() == 1


def test_without_the_key_a_repeat_is_not_a_replay(api: ApiClient, ready: None) -> None:
    assert api.post(ORDERS, order_data()).status_code == 201
    again = api.post(ORDERS, order_data())
    assert again.status_code == 200
    assert "Idempotent-Replayed" not in again
    assert IdempotencyRecord.objects.count() == 0


def test_same_key_with_another_body_is_422(api: ApiClient, ready: None) -> None:
    assert api.post(ORDERS, order_data(), **{"Idempotency-Key": KEY}).status_code == 201
    other = api.post(ORDERS, order_data(external_id="02-999"), **{"Idempotency-Key": KEY})
    assert_error(other, 422, "idempotency_key_reused")
    assert Order.objects.count() == 1


def test_same_key_on_another_path_is_422(api: ApiClient, ready: None) -> None:
    order_id = api.post(ORDERS, {**order_data()}, **{"Idempotency-Key": KEY}).json()["id"]
    response = api.post(transition_url(order_id, "start_review"), order_data(), **{"Idempotency-Key": KEY})
    assert_error(response, 422, "idempotency_key_reused")
    assert Order.objects.get().status == "pending_payment"


def test_the_key_is_scoped_to_the_token(
    api: ApiClient, ready: None, user_with_role: Callable[[str], Any]
) -> None:
    other = _second_operator(user_with_role)
    assert api.post(ORDERS, order_data(), **{"Idempotency-Key": KEY}).status_code == 201
    # The other caller's request with the same key is processed on its own (and finds the order).
    theirs = other.post(ORDERS, order_data(), **{"Idempotency-Key": KEY})
    assert theirs.status_code == 200
    assert "Idempotent-Replayed" not in theirs
    # Another body under the same key is no reuse for them either.
    body = order_data(external_id="02-555")  # once: its dates are read from the clock
    created = other.post(ORDERS, body, **{"Idempotency-Key": "k2"})
    assert created.status_code == 201
    again = other.post(ORDERS, body, **{"Idempotency-Key": "k2"})
    assert again["Idempotent-Replayed"] == "true"
    assert IdempotencyRecord.objects.count() == 3


def test_transition_with_the_key_replays(api: ApiClient, make_order: Callable[..., Order]) -> None:
    order = make_order()
    url = transition_url(order.pk, "approve_payment")
    first = api.post(url, {"transaction_id": "ch_1"}, **{"Idempotency-Key": "pay-1"})
    second = api.post(url, {"transaction_id": "ch_1"}, **{"Idempotency-Key": "pay-1"})
    assert (first.status_code, second.status_code) == (200, 200)
    assert second["Idempotent-Replayed"] == "true"
    assert second.content == first.content
    assert OrderEvent.objects.filter(order=order, transition="approve_payment").count() == 1
    conflicting = api.post(url, {"transaction_id": "ch_2"}, **{"Idempotency-Key": "pay-1"})
    assert_error(conflicting, 422, "idempotency_key_reused")


def test_replay_answers_the_stored_result_even_after_the_order_moved_on(
    api: ApiClient, make_order: Callable[..., Order]
) -> None:
    order = make_order()
    url = transition_url(order.pk, "cancel")
    first = api.post(url, {"reason": "customer_gave_up"}, **{"Idempotency-Key": "cancel-1"})
    assert first.json()["status"] == "canceled"
    Order.objects.filter(pk=order.pk).update(status="pending_payment", status_path=["pending_payment"])
    replay = api.post(url, {"reason": "customer_gave_up"}, **{"Idempotency-Key": "cancel-1"})
    assert replay.json()["status"] == "canceled"
    assert OrderEvent.objects.filter(order=order, transition="cancel").count() == 1


def test_a_refused_401_is_not_stored(
    api: ApiClient, ready: None, user_with_role: Callable[[str], Any]
) -> None:
    token, raw = ApiToken.issue(user_with_role("admin"), "late")
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
    client = ApiClient(raw)
    assert_error(client.post(ORDERS, order_data(), **{"Idempotency-Key": KEY}), 401, "not_authenticated")
    assert IdempotencyRecord.objects.count() == 0
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=None)
    retried = client.post(ORDERS, order_data(), **{"Idempotency-Key": KEY})
    assert retried.status_code == 201
    assert "Idempotent-Replayed" not in retried
    assert IdempotencyRecord.objects.count() == 1


def test_a_refused_403_is_not_stored(api_as: Callable[[str], ApiClient], ready: None) -> None:
    viewer = api_as("viewer")
    assert_error(viewer.post(ORDERS, order_data(), **{"Idempotency-Key": KEY}), 403, "permission_denied")
    assert IdempotencyRecord.objects.count() == 0
    assign_role(get_user_model().objects.get(username="viewer-user"), "operator")
    assert viewer.post(ORDERS, order_data(), **{"Idempotency-Key": KEY}).status_code == 201


def test_a_validation_error_is_stored_and_replayed(api: ApiClient, ready: None) -> None:
    bad = order_data(total="1.00")
    first = api.post(ORDERS, bad, **{"Idempotency-Key": KEY})
    assert_error(first, 422, "totals_mismatch", "total")
    second = api.post(ORDERS, bad, **{"Idempotency-Key": KEY})
    assert second["Idempotent-Replayed"] == "true"
    assert second.content == first.content


def test_a_server_error_is_not_stored(api: ApiClient, ready: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from malote.api import orders as api_orders

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("database went away")

    real = api_orders.actions.create_order
    monkeypatch.setattr(api_orders.actions, "create_order", broken)
    failed = api.post(ORDERS, order_data(), **{"Idempotency-Key": KEY})
    assert_error(failed, 500, "internal_error")
    assert IdempotencyRecord.objects.count() == 0
    monkeypatch.setattr(api_orders.actions, "create_order", real)
    assert api.post(ORDERS, order_data(), **{"Idempotency-Key": KEY}).status_code == 201


def test_a_request_still_running_is_409(api: ApiClient, ready: None) -> None:
    body = json.dumps(order_data())
    token = api.headers["Authorization"].removeprefix("Bearer ")
    IdempotencyRecord.objects.create(
        principal="t:" + hashlib.sha256(token.encode()).hexdigest()[:40],
        key=KEY,
        method="POST",
        path=ORDERS,
        request_hash=hashlib.sha256(f"POST{ORDERS}\n{body}".encode()).hexdigest(),
        status=0,
        body=b"",
    )
    assert_error(api.post(ORDERS, body, **{"Idempotency-Key": KEY}), 409, "idempotency_in_progress")
    assert Order.objects.count() == 0


def test_key_longer_than_255_is_422(api: ApiClient, ready: None) -> None:
    assert_error(
        api.post(ORDERS, order_data(), **{"Idempotency-Key": "k" * 256}), 422, "idempotency_key_too_long"
    )
    assert api.post(ORDERS, order_data(), **{"Idempotency-Key": "k" * 255}).status_code == 201


def test_the_key_is_ignored_on_reads(api: ApiClient, ready: None) -> None:
    api.get(ORDERS, **{"Idempotency-Key": KEY})
    response = api.get(ORDERS, **{"Idempotency-Key": KEY})
    assert response.status_code == 200
    assert "Idempotent-Replayed" not in response
    assert IdempotencyRecord.objects.count() == 0
