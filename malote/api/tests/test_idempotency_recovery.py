"""``Idempotency-Key`` after the unhappy paths: a request that died holding its key, a caller whose
access was withdrawn, a key past its 24 hours, and the pruning of old records."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from malote.accounts import idempotency
from malote.accounts.models import ApiToken, IdempotencyRecord
from malote.api.jobs import PRUNE_JOB, PRUNE_SCHEDULE, ensure_prune_schedule
from malote.api.tests.helpers import ORDERS, assert_error, order_data
from malote.channels.models import Channel
from malote.conftest import ApiClient
from malote.orders import actions
from malote.orders.models import Order
from malote.orders.schemas import OrderIn
from malote.sync import schedules
from malote.sync.models import Schedule, ScheduleRun
from malote_dev.testing.orders import SYSTEM

pytestmark = pytest.mark.django_db

KEY = "3f1c-order-create-dead"
LEASE = timedelta(seconds=idempotency.DEFAULT_LEASE_SECONDS)
DAY = timedelta(seconds=idempotency.DEFAULT_TTL_SECONDS)


@pytest.fixture
def ready(channel: Channel, stock: Callable[..., None]) -> None:
    stock("CHINELO-42", 10)


def _principal(api: ApiClient) -> str:
    token = api.headers["Authorization"].removeprefix("Bearer ")
    return "t:" + hashlib.sha256(token.encode()).hexdigest()[:40]


def _left_running(api: ApiClient, body: str, *, age: timedelta, key: str = KEY) -> IdempotencyRecord:
    """The record a request leaves when its process is killed after claiming the key."""
    return IdempotencyRecord.objects.create(
        principal=_principal(api),
        key=key,
        method="POST",
        path=ORDERS,
        request_hash=hashlib.sha256(f"POST{ORDERS}\n{body}".encode()).hexdigest(),
        status=idempotency.IN_PROGRESS,
        body=b"",
        started_at=timezone.now() - age,
    )


# --- a request that died holding its key -------------------------------------------------------


def test_a_record_left_running_past_the_lease_is_taken_over(api: ApiClient, ready: None) -> None:
    body = json.dumps(order_data())
    _left_running(api, body, age=LEASE + timedelta(seconds=1))
    retried = api.post(ORDERS, body, **{"Idempotency-Key": KEY})
    assert retried.status_code == 201, retried.content[:300]
    assert "Idempotent-Replayed" not in retried
    assert Order.objects.count() == 1
    record = IdempotencyRecord.objects.get()
    assert (record.status, record.attempt) == (201, 2)
    assert bytes(record.body) == retried.content
    replay = api.post(ORDERS, body, **{"Idempotency-Key": KEY})
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.content == retried.content


def test_a_record_still_within_the_lease_is_409(api: ApiClient, ready: None) -> None:
    body = json.dumps(order_data())
    _left_running(api, body, age=LEASE - timedelta(seconds=5))
    assert_error(api.post(ORDERS, body, **{"Idempotency-Key": KEY}), 409, "idempotency_in_progress")
    assert Order.objects.count() == 0
    assert IdempotencyRecord.objects.get().attempt == 1


def test_the_lease_is_a_setting(api: ApiClient, ready: None, settings: Any) -> None:
    settings.MALOTE_IDEMPOTENCY_LEASE_SECONDS = 5
    body = json.dumps(order_data())
    _left_running(api, body, age=timedelta(seconds=6))
    assert api.post(ORDERS, body, **{"Idempotency-Key": KEY}).status_code == 201


def test_a_dead_record_is_not_taken_over_by_another_request(api: ApiClient, ready: None) -> None:
    _left_running(api, json.dumps(order_data()), age=LEASE * 10)
    other = api.post(ORDERS, order_data(external_id="02-999"), **{"Idempotency-Key": KEY})
    assert_error(other, 422, "idempotency_key_reused")
    assert Order.objects.count() == 0


def test_a_retry_after_the_dead_request_created_the_order_answers_that_order(
    api: ApiClient, ready: None
) -> None:
    data = order_data()
    body = json.dumps(data)
    # The killed request got as far as committing the order, then died before storing its answer.
    created, _ = actions.create_order(OrderIn.model_validate(data), actor=SYSTEM)
    _left_running(api, body, age=LEASE + timedelta(seconds=1))
    retried = api.post(ORDERS, body, **{"Idempotency-Key": KEY})
    assert retried.status_code == 200, retried.content[:300]  # the existing order, not a new one
    assert retried.json()["id"] == created.pk
    assert Order.objects.count() == 1
    assert IdempotencyRecord.objects.get().status == 200


# --- replay only to a caller still authorised -------------------------------------------------


def _stored(api: ApiClient) -> Any:
    first = api.post(ORDERS, order_data(), **{"Idempotency-Key": KEY})
    assert first.status_code == 201
    return first


def test_a_live_token_gets_the_replay(api: ApiClient, ready: None) -> None:
    body = order_data()
    first = api.post(ORDERS, body, **{"Idempotency-Key": KEY})
    again = api.post(ORDERS, body, **{"Idempotency-Key": KEY})
    assert again["Idempotent-Replayed"] == "true"
    assert again.content == first.content


@pytest.mark.parametrize("withdrawn", ["revoked", "deleted", "user_deactivated"])
def test_a_withdrawn_token_gets_401_and_no_stored_answer(api: ApiClient, ready: None, withdrawn: str) -> None:
    body = order_data()
    first = api.post(ORDERS, body, **{"Idempotency-Key": KEY})
    assert first.status_code == 201
    token = ApiToken.objects.get()
    if withdrawn == "revoked":
        ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
    elif withdrawn == "deleted":
        token.delete()
    else:
        get_user_model().objects.filter(pk=token.user_id).update(is_active=False)
    refused = api.post(ORDERS, body, **{"Idempotency-Key": KEY})
    assert_error(refused, 401, "not_authenticated")
    assert "Idempotent-Replayed" not in refused
    assert first.json()["number"].encode() not in refused.content


def _session_client(user_with_role: Callable[[str], Any]) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user_with_role("operator"))
    client.cookies["csrftoken"] = "c" * 32
    return client


def _session_post(client: Client, body: str, *, csrf: bool = True) -> Any:
    headers = {"Idempotency-Key": KEY, **({"X-CSRFToken": "c" * 32} if csrf else {})}
    return client.post(ORDERS, data=body, content_type="application/json", headers=headers)


def test_a_session_gets_the_replay_only_with_its_csrf_token(
    user_with_role: Callable[[str], Any], ready: None
) -> None:
    client = _session_client(user_with_role)
    body = json.dumps(order_data())
    first = _session_post(client, body)
    assert first.status_code == 201, first.content[:300]
    assert _session_post(client, body)["Idempotent-Replayed"] == "true"
    forged = _session_post(client, body, csrf=False)  # a cross-site form riding on the cookie
    assert forged.status_code == 403
    assert "Idempotent-Replayed" not in forged


def test_a_logged_out_session_cookie_gets_401_and_no_stored_answer(
    user_with_role: Callable[[str], Any], ready: None
) -> None:
    client = _session_client(user_with_role)
    body = json.dumps(order_data())
    assert _session_post(client, body).status_code == 201
    old_cookie = client.cookies["sessionid"].value
    client.logout()  # the session row is gone
    client.cookies["sessionid"] = old_cookie
    client.cookies["csrftoken"] = "c" * 32
    refused = _session_post(client, body)
    assert_error(refused, 401, "not_authenticated")
    assert "Idempotent-Replayed" not in refused


# --- 24 hours, then the key is new; pruning ------------------------------------------------------


def test_a_key_within_its_24_hours_is_still_bound(api: ApiClient, ready: None) -> None:
    _stored(api)
    IdempotencyRecord.objects.update(started_at=timezone.now() - DAY + timedelta(minutes=1))
    other = api.post(ORDERS, order_data(external_id="02-999"), **{"Idempotency-Key": KEY})
    assert_error(other, 422, "idempotency_key_reused")


def test_a_key_past_its_24_hours_is_new_again(api: ApiClient, ready: None) -> None:
    _stored(api)
    IdempotencyRecord.objects.update(started_at=timezone.now() - DAY - timedelta(seconds=1))
    fresh = api.post(ORDERS, order_data(external_id="02-999"), **{"Idempotency-Key": KEY})
    assert fresh.status_code == 201
    assert "Idempotent-Replayed" not in fresh
    record = IdempotencyRecord.objects.get()
    assert (record.status, bytes(record.body)) == (201, fresh.content)
    assert Order.objects.count() == 2


def test_prune_deletes_only_expired_records(api: ApiClient, ready: None) -> None:
    now = timezone.now()
    for key, age in (("old", DAY + timedelta(seconds=1)), ("recent", DAY - timedelta(minutes=1))):
        _left_running(api, "{}", age=age, key=key)
    _stored(api)
    assert idempotency.prune(now) == 1
    assert set(IdempotencyRecord.objects.values_list("key", flat=True)) == {"recent", KEY}


def test_issuing_a_token_creates_the_prune_schedule_which_prunes(
    user_with_role: Callable[[str], Any],
) -> None:
    assert not Schedule.objects.filter(name=PRUNE_SCHEDULE).exists()  # no token yet: nothing to prune
    ApiToken.issue(user_with_role("operator"))
    schedule = Schedule.objects.get(name=PRUNE_SCHEDULE)
    assert (schedule.job, schedule.interval_seconds, schedule.enabled) == (PRUNE_JOB, 3600, True)
    IdempotencyRecord.objects.create(
        principal="t:x",
        key="k",
        method="POST",
        path=ORDERS,
        request_hash="h",
        status=201,
        body=b"{}",
        started_at=timezone.now() - DAY - timedelta(hours=1),
    )
    schedules.run_due("w")
    run = ScheduleRun.objects.get(schedule=schedule)
    assert (run.ok, run.detail) == (True, "pruned 1 expired idempotency records")
    assert not IdempotencyRecord.objects.exists()


def test_an_operator_change_to_the_prune_schedule_stays(user_with_role: Callable[[str], Any]) -> None:
    ApiToken.issue(user_with_role("operator"))
    Schedule.objects.filter(name=PRUNE_SCHEDULE).update(interval_seconds=600, enabled=False)
    ensure_prune_schedule()
    ApiToken.issue(user_with_role("admin"))
    assert Schedule.objects.filter(name=PRUNE_SCHEDULE).values_list("interval_seconds", "enabled").get() == (
        600,
        False,
    )
