"""Outbox and dead letters through the API: list, retry, replay; viewer reads, operator acts."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from malote.conftest import ApiClient
from malote.sync import outbox
from malote.sync.models import OutboxMessage

pytestmark = pytest.mark.django_db


def _dead(n: int = 2) -> list[int]:
    for i in range(n):
        outbox.enqueue("channel:erp", "order.status", {"op": "status"}, key=f"order:{i}")
    OutboxMessage.objects.update(state="dead", attempts=15, last_error="HTTP 400 bad")
    return list(OutboxMessage.objects.order_by("id").values_list("id", flat=True))


def test_dead_letters_are_listed_with_their_error(api_as: Callable[[str], ApiClient]) -> None:
    ids = _dead()
    viewer = api_as("viewer")
    response = viewer.get("/api/v1/outbox")
    assert response.status_code == 200
    assert [m["id"] for m in response.json()] == ids
    assert response.json()[0]["last_error"] == "HTTP 400 bad"
    assert viewer.get("/api/v1/outbox?state=done").json() == []
    assert viewer.get("/api/v1/outbox?state=bogus").status_code == 422


def test_operator_retries_one_and_replays_all(api_as: Callable[[str], ApiClient]) -> None:
    first, second = _dead()
    operator = api_as("operator")
    retried = operator.post(f"/api/v1/outbox/{first}/retry")
    assert retried.status_code == 200
    assert (retried.json()["state"], retried.json()["attempts"]) == ("pending", 0)
    assert operator.post("/api/v1/outbox/replay", {"all": True}).json() == {"replayed": 1}
    assert set(OutboxMessage.objects.values_list("state", flat=True)) == {"pending"}
    assert operator.post(f"/api/v1/outbox/{second + 100}/retry").status_code == 404


def test_viewer_cannot_retry_or_replay(api_as: Callable[[str], ApiClient]) -> None:
    [message_id] = _dead(1)
    viewer = api_as("viewer")
    assert viewer.post(f"/api/v1/outbox/{message_id}/retry").status_code == 403
    assert viewer.post("/api/v1/outbox/replay", {"ids": [message_id]}).status_code == 403
    assert OutboxMessage.objects.get().state == "dead"


def test_done_message_cannot_be_retried(api: ApiClient) -> None:
    [message_id] = _dead(1)
    OutboxMessage.objects.update(state="done")
    response = api.post(f"/api/v1/outbox/{message_id}/retry")
    assert response.status_code == 409 and response.json()["code"] == "message_not_retryable"
