"""/metrics: who may read it, and what each family says of a crafted database state."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from malote.channels.models import Channel, ChannelRole
from malote.ops.errors import OpsErrorCode
from malote.reconcile.models import IntegrationIssue, IssueKind, IssueState
from malote.sync.models import InboxEvent, MessageState, OutboxMessage, Schedule, WorkerHeartbeat

pytestmark = pytest.mark.django_db

TOKEN = "metrics-" + "s3cret" * 4
AGE_SLACK = 30  # seconds between building the state and the scrape, generously


@pytest.fixture
def token(settings: Any) -> str:
    settings.MALOTE_METRICS_TOKEN = TOKEN
    return TOKEN


def scrape(client: Client, token: str = TOKEN) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200, response.content
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def message(destination: str, state: str, *, created: datetime, **fields: Any) -> OutboxMessage:
    return OutboxMessage.objects.create(
        destination=destination,
        key=f"order:{uuid.uuid4().hex[:8]}",
        kind="test",
        idempotency_key=uuid.uuid4().hex,
        state=state,
        created_at=created,
        **fields,
    )


# --- who may read it -------------------------------------------------------------------------


def test_without_a_configured_token_the_endpoint_does_not_exist(client: Client, settings: Any) -> None:
    settings.MALOTE_METRICS_TOKEN = ""
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer ")
    assert response.status_code == 404
    assert response.json()["code"] == OpsErrorCode.METRICS_DISABLED


@pytest.mark.parametrize(
    "header",
    [None, "", "Bearer", "Bearer wrong", f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", f"Basic {TOKEN}", TOKEN],
    ids=["absent", "empty", "no-token", "wrong", "longer", "shorter", "basic-scheme", "no-scheme"],
)
def test_a_missing_or_wrong_token_is_refused(client: Client, token: str, header: str | None) -> None:
    response = client.get("/metrics") if header is None else client.get("/metrics", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response.json()["code"] == OpsErrorCode.METRICS_TOKEN_INVALID
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert b"malote_" not in response.content


def test_the_right_token_reads_the_metrics(client: Client, token: str) -> None:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"bearer  {TOKEN}")  # scheme is case-blind
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
    assert b"# TYPE malote_outbox_depth gauge" in response.content


def test_openmetrics_is_answered_to_a_scraper_that_asks_for_it(client: Client, token: str) -> None:
    response = client.get(
        "/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}", HTTP_ACCEPT="application/openmetrics-text"
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/openmetrics-text")
    assert response.content.rstrip().endswith(b"# EOF")


def test_only_reads_are_allowed(client: Client, token: str) -> None:
    assert client.post("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 405


# --- what it says ----------------------------------------------------------------------------


@pytest.fixture
def state() -> datetime:
    """A crafted state; returns the moment it was built."""
    now = timezone.now()
    tiny, email = "channel:tiny", "email:customer"
    message(tiny, MessageState.PENDING, created=now - timedelta(minutes=10), attempts=2)
    message(tiny, MessageState.PENDING, created=now - timedelta(minutes=1))
    message(tiny, MessageState.IN_FLIGHT, created=now - timedelta(minutes=3), attempts=1)
    message(
        tiny, MessageState.DEAD, created=now - timedelta(hours=1), next_attempt_at=now - timedelta(minutes=5)
    )
    message(tiny, MessageState.DEAD, created=now - timedelta(days=2), next_attempt_at=now - timedelta(days=1))
    for minutes in (1, 5, 30):
        message(
            tiny,
            MessageState.DONE,
            created=now - timedelta(hours=2),
            delivered_at=now - timedelta(minutes=minutes),
        )
    message(tiny, MessageState.DONE, created=now - timedelta(hours=3), delivered_at=now - timedelta(hours=2))
    message(email, MessageState.DONE, created=now, delivered_at=now)

    site = Channel.objects.create(code="site", name="Loja", role=ChannelRole.STOREFRONT)
    erp = Channel.objects.create(code="tiny", name="Tiny", role=ChannelRole.ERP)
    for n, (kind, channel, issue_state) in enumerate(
        [
            (IssueKind.NOT_INTEGRATED, site, IssueState.OPEN),
            (IssueKind.NOT_INTEGRATED, site, IssueState.OPEN),
            (IssueKind.NOT_INTEGRATED, site, IssueState.RESOLVED),
            (IssueKind.DIVERGENT, erp, IssueState.RESOLVING),
            (IssueKind.STUCK, erp, IssueState.DISMISSED),
        ]
    ):
        IntegrationIssue.objects.create(kind=kind, subject=f"ref:{n}", channel=channel, state=issue_state)

    Schedule.objects.create(
        name="on-time", job="x", interval_seconds=60, last_slot=now - timedelta(seconds=90)
    )
    Schedule.objects.create(name="late", job="x", interval_seconds=300, last_slot=now - timedelta(hours=1))
    Schedule.objects.create(name="never-ran", job="x", interval_seconds=60)
    Schedule.objects.create(
        name="off", job="x", interval_seconds=60, enabled=False, last_slot=now - timedelta(days=1)
    )

    WorkerHeartbeat.objects.create(name="host-a:1:aaaaaa", beat_at=now - timedelta(seconds=10))
    WorkerHeartbeat.objects.create(name="host-b:2:bbbbbb", beat_at=now - timedelta(minutes=10))

    for n, (result, received) in enumerate(
        [
            ("applied", now),
            ("applied", now - timedelta(minutes=30)),
            ("", now),
            ("duplicate_x", now),
            ("applied", now - timedelta(hours=2)),
        ]
    ):
        InboxEvent.objects.create(source="site", event_id=f"e{n}", result=result, received_at=received)
    InboxEvent.objects.create(source="tiny", event_id="t1", result="applied", received_at=now)
    return now


def test_outbox_families_per_destination(client: Client, token: str, state: datetime) -> None:
    samples = scrape(client)
    tiny = {"destination": "channel:tiny"}
    assert value(samples, "malote_outbox_depth", **tiny) == 3  # 2 pending + 1 in flight
    assert value(samples, "malote_outbox_in_flight", **tiny) == 1
    assert value(samples, "malote_outbox_retrying", **tiny) == 1  # pending after a failed attempt
    assert value(samples, "malote_outbox_dead_letters", **tiny) == 2
    assert value(samples, "malote_outbox_dead_lettered_last_hour", **tiny) == 1
    assert value(samples, "malote_outbox_delivered_last_hour", **tiny) == 3
    assert value(samples, "malote_outbox_oldest_pending_age_seconds", **tiny) == pytest.approx(
        600, abs=AGE_SLACK
    )
    # A destination with only deliveries still has every family, at zero where nothing waits.
    email = {"destination": "email:customer"}
    assert value(samples, "malote_outbox_delivered_last_hour", **email) == 1
    assert value(samples, "malote_outbox_depth", **email) == 0
    assert value(samples, "malote_outbox_oldest_pending_age_seconds", **email) == 0


def test_open_issues_per_kind_and_channel(client: Client, token: str, state: datetime) -> None:
    samples = scrape(client)
    issues = {labels: v for (name, labels), v in samples.items() if name == "malote_integration_issues_open"}
    assert issues == {
        (("channel", "site"), ("kind", "not_integrated")): 2,
        (("channel", "tiny"), ("kind", "divergent")): 1,  # resolving still needs attention
    }


def test_schedule_lag_per_enabled_schedule(client: Client, token: str, state: datetime) -> None:
    samples = scrape(client)
    assert value(samples, "malote_schedule_lag_seconds", schedule="on-time") == pytest.approx(
        30, abs=AGE_SLACK
    )
    assert value(samples, "malote_schedule_lag_seconds", schedule="late") == pytest.approx(
        3300, abs=AGE_SLACK
    )
    assert value(samples, "malote_schedule_late", schedule="on-time") == 0
    assert value(samples, "malote_schedule_late", schedule="late") == 1
    assert value(samples, "malote_schedule_interval_seconds", schedule="late") == 300
    # Never ran: no lag to tell, not late; disabled: not reported at all.
    assert ("malote_schedule_lag_seconds", (("schedule", "never-ran"),)) not in samples
    assert value(samples, "malote_schedule_late", schedule="never-ran") == 0
    assert not [key for key in samples if ("schedule", "off") in key[1]]


def test_worker_heartbeat_ages(client: Client, token: str, state: datetime) -> None:
    samples = scrape(client)
    age = "malote_worker_heartbeat_age_seconds"
    assert value(samples, age, worker="host-a:1:aaaaaa") == pytest.approx(10, abs=AGE_SLACK)
    assert value(samples, age, worker="host-b:2:bbbbbb") == pytest.approx(600, abs=AGE_SLACK)
    assert value(samples, "malote_workers_alive") == 1


def test_webhook_intake_per_source_and_result_in_the_last_hour(
    client: Client, token: str, state: datetime
) -> None:
    samples = scrape(client)
    intake = {labels: v for (name, labels), v in samples.items() if name == "malote_inbox_events_last_hour"}
    assert intake == {
        (("result", "applied"), ("source", "site")): 2,  # the one two hours old is outside the window
        (("result", "none"), ("source", "site")): 1,
        (("result", "duplicate_x"), ("source", "site")): 1,
        (("result", "applied"), ("source", "tiny")): 1,
    }


def test_an_empty_database_gives_every_family_without_samples(client: Client, token: str) -> None:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    families = {f.name: f for f in text_string_to_metric_families(response.content.decode())}
    assert {
        "malote_outbox_depth",
        "malote_outbox_oldest_pending_age_seconds",
        "malote_outbox_delivered_last_hour",
        "malote_outbox_dead_letters",
        "malote_integration_issues_open",
        "malote_schedule_lag_seconds",
        "malote_worker_heartbeat_age_seconds",
        "malote_inbox_events_last_hour",
    } <= set(families)
    assert families["malote_workers_alive"].samples[0].value == 0
    assert families["malote_outbox_depth"].samples == []


def test_a_scrape_costs_six_queries_however_much_there_is(
    client: Client, token: str, state: datetime, django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(6):
        scrape(client)
    now = timezone.now()
    for n in range(20):  # more destinations, schedules, workers, sources: still six
        message(f"channel:extra{n}", MessageState.PENDING, created=now)
        Schedule.objects.create(name=f"extra{n}", job="x", interval_seconds=60, last_slot=now)
        WorkerHeartbeat.objects.create(name=f"extra{n}", beat_at=now)
        InboxEvent.objects.create(source=f"extra{n}", event_id="e", result="applied", received_at=now)
    with django_assert_num_queries(6):
        samples = scrape(client)
    assert value(samples, "malote_outbox_depth", destination="channel:extra19") == 1


def test_every_ops_code_is_in_the_catalogue() -> None:
    catalogue = (Path(settings.BASE_DIR) / "docs" / "error-codes.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([a-z0-9_]+)` \|", catalogue, re.MULTILINE))
    assert {code.value for code in OpsErrorCode} <= documented
