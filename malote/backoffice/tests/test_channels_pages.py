"""Channels pages: access per role, health figures, configuration (credentials write-only),
status map editor, enable/disable, "sincronizar agora", query ceiling."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.admin.models import LogEntry
from django.test import Client
from django.utils import timezone

from malote.backoffice.tests import pages
from malote.backoffice.tests.channel_form import unchanged_post
from malote.backoffice.tests.pages import ROLES, html
from malote.channels.models import Channel, ChannelRole, LinkState, OrderLink
from malote.core.actors import Actor
from malote.reconcile import stalls
from malote.reconcile.models import IntegrationIssue, IssueKind
from malote.relay.polling import sync_poll_schedule
from malote.sync.models import MessageState, OutboxMessage, Schedule, ScheduleRun
from malote.sync.schedules import run_due

pytestmark = pytest.mark.django_db

# Shared fixtures (pytest finds them as module attributes).
client_as, nobody, clear_cache = pages.client_as, pages.nobody, pages.clear_cache

SECRET = "s3cr3t-Jumpseller-token-9f8e7d"
NEW_SECRET = "n3w-s3cr3t-authtoken-0a1b2c"


@pytest.fixture
def store(db: None) -> Channel:
    channel = Channel.objects.create(
        code="loja",
        name="Loja Jumpseller",
        role=ChannelRole.STOREFRONT,
        kind="jumpseller",
        base_url="https://api.jumpseller.com/v1",
        credentials={"login": "malote-login", "authtoken": SECRET},
        # The health figures below count this test's own messages: no stock pushes beside them.
        options={"timeout_seconds": 10, "push_stock": False},
    )
    sync_poll_schedule(channel)
    return channel


def _message(channel: Channel, n: int, **fields: Any) -> OutboxMessage:
    return OutboxMessage.objects.create(
        destination=f"channel:{channel.code}",
        key=f"sku:X{n}",
        kind="stock.available",
        idempotency_key=f"{channel.code}-{n}",
        **fields,
    )


def _url(channel: Channel, suffix: str = "") -> str:
    return f"/backoffice/channels/{channel.code}/{suffix}"


def _config(channel: Channel, **overrides: Any) -> dict[str, Any]:
    return unchanged_post(channel, **overrides)


# --- access --------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_every_role_sees_the_list_and_the_channel(
    client_as: Callable[[str], Client], store: Channel, role: str
) -> None:
    client = client_as(role)
    assert client.get("/backoffice/channels/").status_code == 200
    page = html(client.get(_url(store)))
    assert "Loja Jumpseller" in page
    assert ("Salvar configuração" in page) == (role == "admin")
    assert ("Salvar mapa de status" in page) == (role == "admin")
    assert ("Desativar canal" in page) == (role == "admin")
    assert ("Sincronizar agora" in page) == (role != "viewer")


@pytest.mark.parametrize("path", ["/backoffice/channels/", "/backoffice/channels/loja/"])
def test_anonymous_goes_to_login_and_no_role_is_forbidden(
    client: Client, nobody: Client, store: Channel, path: str
) -> None:
    response = client.get(path)
    assert response.status_code == 302 and response["Location"].startswith("/backoffice/login/?next=")
    assert nobody.get(path).status_code == 403


def test_unknown_channel_is_404(client_as: Callable[[str], Client]) -> None:
    assert client_as("viewer").get("/backoffice/channels/nope/").status_code == 404


def test_nav_links_follow_permissions(client_as: Callable[[str], Client]) -> None:
    viewer = html(client_as("viewer").get("/backoffice/channels/"))
    admin = html(client_as("admin").get("/backoffice/channels/"))
    for page in (viewer, admin):
        assert 'href="/backoffice/channels/"' in page and 'href="/backoffice/stock/"' in page
        assert 'href="/backoffice/dashboard/"' in page
    assert 'href="/backoffice/users/"' not in viewer
    assert 'href="/backoffice/users/"' in admin


# --- health --------------------------------------------------------------------------------------


def test_list_shows_lag_failures_link_errors_and_last_sync(
    client_as: Callable[[str], Client], store: Channel, make_order: Any
) -> None:
    now = timezone.now()
    _message(store, 1, state=MessageState.PENDING, created_at=now - timedelta(minutes=30))
    _message(
        store, 2, state=MessageState.DEAD, last_error="HTTP 422", next_attempt_at=now - timedelta(minutes=5)
    )
    _message(
        store,
        3,
        state=MessageState.PENDING,
        last_error="timeout",
        next_attempt_at=now + timedelta(seconds=30),
    )
    # Failed two hours ago: a dead letter, but not a failure of the last hour.
    _message(
        store, 4, state=MessageState.DEAD, last_error="HTTP 400", next_attempt_at=now - timedelta(hours=2)
    )
    delivered_at = now - timedelta(minutes=3)
    _message(store, 5, state=MessageState.DONE, delivered_at=delivered_at)
    OrderLink.objects.create(order=make_order(), channel=store, state=LinkState.DIVERGENT, external_id="1")

    response = client_as("viewer").get("/backoffice/channels/")
    [health] = [h for h in response.context["health"] if h.channel == store]
    assert health.failed_last_hour == 2
    assert health.dead == 2
    assert health.undelivered == 2
    assert health.link_errors == 1
    assert health.last_sync_at == delivered_at
    assert timedelta(minutes=29) < health.lag < timedelta(minutes=31)
    assert health.status == "failing"
    page = html(response)
    assert 'data-health="failing"' in page and "Com falhas" in page
    assert 'data-failures="2"' in page and 'data-link-errors="1"' in page


def test_health_reads_the_last_day_of_deliveries_not_the_history(
    client_as: Callable[[str], Client], store: Channel
) -> None:
    now = timezone.now()
    _message(store, 1, state=MessageState.DONE, delivered_at=now - timedelta(hours=2))
    _message(store, 2, state=MessageState.DONE, delivered_at=now - timedelta(days=3))
    schedule = Schedule.objects.get(channel=store, job="channel.poll")
    ok_at = now - timedelta(days=2)
    ScheduleRun.objects.create(schedule=schedule, slot=ok_at, worker="w", finished_at=ok_at, ok=True)
    [health] = client_as("viewer").get("/backoffice/channels/").context["health"]
    assert health.delivered_in_window == 1  # the delivery of three days ago is history
    assert health.last_sync_at == now - timedelta(hours=2)

    OutboxMessage.objects.filter(delivered_at__gte=now - timedelta(hours=3)).delete()
    [health] = client_as("viewer").get("/backoffice/channels/").context["health"]
    assert health.delivered_in_window == 0
    assert health.last_sync_at == ok_at  # nothing delivered in the day: the poll's last good run


def test_healthy_and_lagging_and_disabled_channels(
    client_as: Callable[[str], Client], store: Channel
) -> None:
    quiet = Channel.objects.create(code="quiet", name="Quieto", role=ChannelRole.ERP)
    slow = Channel.objects.create(code="slow", name="Lento", role=ChannelRole.ERP)
    Channel.objects.create(code="off", name="Desligado", role=ChannelRole.ERP, enabled=False)
    _message(slow, 1, created_at=timezone.now() - timedelta(minutes=45))
    _message(quiet, 2, created_at=timezone.now() - timedelta(minutes=1))
    health = {
        h.channel.code: h.status for h in client_as("viewer").get("/backoffice/channels/").context["health"]
    }
    assert health == {"loja": "ok", "quiet": "ok", "slow": "lagging", "off": "disabled"}


def test_last_successful_schedule_run_counts_as_a_sync(
    client_as: Callable[[str], Client], store: Channel
) -> None:
    schedule = Schedule.objects.get(channel=store, job="channel.poll")
    ok_at = timezone.now() - timedelta(minutes=7)
    ScheduleRun.objects.create(schedule=schedule, slot=ok_at, worker="w", finished_at=ok_at, ok=True)
    failed_at = timezone.now() - timedelta(minutes=1)
    ScheduleRun.objects.create(schedule=schedule, slot=failed_at, worker="w", finished_at=failed_at, ok=False)
    [health] = client_as("viewer").get("/backoffice/channels/").context["health"]
    assert health.last_sync_at == ok_at


def _channels(count: int) -> None:
    for n in range(count):
        channel = Channel.objects.create(code=f"c{n}", name=f"Canal {n}", role=ChannelRole.MARKETPLACE)
        sync_poll_schedule(channel)
        _message(channel, n, state=MessageState.DEAD, last_error="x")


# --- stalled channels (docs/reconciliation.md, "Channel stalled") ---------------------------------


def _refused(channel: Channel) -> IntegrationIssue:
    """The channel's token was refused an hour ago and nothing worked since: ``reconcile:stalled``
    opens its ``channel_stalled`` issue."""
    _message(
        channel,
        90,
        state=MessageState.DEAD,
        last_status=401,
        last_error="loja PUT: HTTP 401 invalid token",
        next_attempt_at=timezone.now() - timedelta(hours=1),
    )
    stalls.detect(actor=Actor.schedule("reconcile:stalled"))
    return IntegrationIssue.objects.get(kind=IssueKind.CHANNEL_STALLED, channel=channel)


def test_a_stalled_channel_shows_the_cause_the_action_and_the_issue(
    client_as: Callable[[str], Client], store: Channel
) -> None:
    issue = _refused(store)
    assert issue.subject == "channel:loja"
    page = html(client_as("viewer").get("/backoffice/channels/"))
    assert 'data-stalled="loja"' in page and "Canal parado" in page
    assert 'data-stalled-channel="loja"' in page and 'data-cause="auth"' in page
    assert "Credenciais recusadas" in page and "O canal recusou a autenticação" in page
    assert "Ação recomendada: Renovar as credenciais do canal" in page
    assert f'href="/backoffice/integracoes/{issue.pk}/"' in page
    detail = html(client_as("viewer").get(_url(store)))
    assert f'data-stall="{issue.pk}"' in detail and "Renovar as credenciais do canal" in detail
    assert f'href="/backoffice/integracoes/{issue.pk}/"' in detail


def test_a_healthy_channel_shows_no_stall(client_as: Callable[[str], Client], store: Channel) -> None:
    quiet = Channel.objects.create(code="quiet", name="Quieto", role=ChannelRole.ERP, kind="tiny")
    _refused(store)
    _message(quiet, 91, state=MessageState.DONE, delivered_at=timezone.now())
    page = html(client_as("viewer").get("/backoffice/channels/"))
    assert 'data-stalled="quiet"' not in page and 'data-stalled-channel="quiet"' not in page
    assert page.count("data-stall=") == 1, "only the stalled channel"
    detail = html(client_as("viewer").get(_url(quiet)))
    assert "data-stall=" not in detail and "Canal parado" not in detail


def test_a_cleared_stall_is_no_longer_shown(client_as: Callable[[str], Client], store: Channel) -> None:
    _refused(store)
    _message(store, 92, state=MessageState.DONE, delivered_at=timezone.now())  # a successful call
    stalls.detect(actor=Actor.schedule("reconcile:stalled"))
    assert "data-stall=" not in html(client_as("viewer").get("/backoffice/channels/"))


@pytest.mark.parametrize("count", [3, 30])
def test_channel_list_query_count_does_not_grow_with_channels(
    client_as: Callable[[str], Client], django_assert_max_num_queries: Any, count: int
) -> None:
    _channels(count)
    client = client_as("viewer")
    with django_assert_max_num_queries(11):  # 9, the stalled channels' issues, the day's deliveries
        response = client.get("/backoffice/channels/")
    assert len(response.context["health"]) == count


# --- configuration -------------------------------------------------------------------------------


def test_admin_saves_the_configuration_and_it_is_audited(
    client_as: Callable[[str], Client], store: Channel
) -> None:
    admin = client_as("admin")
    data = _config(
        store,
        name="Loja Nova",
        import_policy="paid_only",
        invoice_needs_xml="on",
        poll_interval_seconds=600,
        opt__timeout_seconds=20,
        opt__pull_after_id=5,
    )
    response = admin.post(_url(store), data)
    assert response.status_code == 302
    store.refresh_from_db()
    assert store.name == "Loja Nova"
    assert store.import_policy == "paid_only"
    assert store.invoice_needs_xml is True
    assert store.options == {"timeout_seconds": 20, "push_stock": False, "pull_after_id": 5}
    assert store.credentials == {"login": "malote-login", "authtoken": SECRET}  # empty fields keep them
    assert Schedule.objects.get(name="poll:loja").interval_seconds == 600
    entry = LogEntry.objects.get(object_id=str(store.pk))
    assert entry.user.username == "admin-user"
    assert "import_policy" in entry.change_message and SECRET not in entry.change_message


@pytest.mark.parametrize("role", ["viewer", "operator", "support"])
def test_other_roles_cannot_change_the_configuration(
    client_as: Callable[[str], Client], store: Channel, role: str
) -> None:
    response = client_as(role).post(
        _url(store), _config(store, name="Hack", replace_credentials='{"a": "b"}')
    )
    assert response.status_code == 403
    store.refresh_from_db()
    assert store.name == "Loja Jumpseller" and store.credentials["authtoken"] == SECRET


def test_configuration_needs_the_csrf_token(user_with_role: Callable[[str], Any], store: Channel) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user_with_role("admin"))
    assert "csrfmiddlewaretoken" in html(client.get(_url(store)))
    assert client.post(_url(store), _config(store, name="Sem CSRF")).status_code == 403
    store.refresh_from_db()
    assert store.name == "Loja Jumpseller"


def test_get_does_not_change_anything(client_as: Callable[[str], Client], store: Channel) -> None:
    assert client_as("admin").get(_url(store, "enabled/"), {"enabled": "0"}).status_code == 405
    assert client_as("operator").get(_url(store, "sync/")).status_code == 405


@pytest.mark.parametrize(
    ("options", "message"),
    [("{not json", "JSON inválido"), ("[1, 2]", "Informe um objeto JSON")],
)
def test_invalid_options_are_refused_inline(
    client_as: Callable[[str], Client], store: Channel, options: str, message: str
) -> None:
    saved = dict(store.options)
    response = client_as("admin").post(_url(store), _config(store, name="Outro", options_json=options))
    assert response.status_code == 422
    assert message in html(response)
    store.refresh_from_db()
    assert store.name == "Loja Jumpseller" and store.options == saved


def test_poll_interval_has_a_floor(client_as: Callable[[str], Client], store: Channel) -> None:
    response = client_as("admin").post(_url(store), _config(store, poll_interval_seconds=1))
    assert response.status_code == 422
    store.refresh_from_db()
    assert store.poll_interval_seconds == 300


def test_credentials_are_never_rendered(client_as: Callable[[str], Client], store: Channel) -> None:
    admin = client_as("admin")
    page = html(admin.get(_url(store)))
    assert SECRET not in page and "malote-login" not in page
    assert 'name="credential__authtoken"' in page  # one write-only input per stored credential
    for role in ROLES:
        assert SECRET not in html(client_as(role).get(_url(store)))
        assert SECRET not in html(client_as(role).get("/backoffice/channels/"))


def test_a_typed_credential_replaces_only_that_one(
    client_as: Callable[[str], Client], store: Channel
) -> None:
    admin = client_as("admin")
    response = admin.post(_url(store), _config(store, credential__authtoken=NEW_SECRET), follow=True)
    assert NEW_SECRET not in html(response) and SECRET not in html(response)
    store.refresh_from_db()
    assert store.credentials == {"login": "malote-login", "authtoken": NEW_SECRET}
    assert "credentials" in LogEntry.objects.get(object_id=str(store.pk)).change_message


def test_replace_credentials_sets_the_whole_set(client_as: Callable[[str], Client], store: Channel) -> None:
    admin = client_as("admin")
    replacement = json.dumps({"login": "outro", "authtoken": NEW_SECRET})
    response = admin.post(_url(store), _config(store, replace_credentials=replacement), follow=True)
    assert NEW_SECRET not in html(response)
    store.refresh_from_db()
    assert store.credentials == {"login": "outro", "authtoken": NEW_SECRET}


def test_a_refused_form_does_not_echo_the_typed_credentials(
    client_as: Callable[[str], Client], store: Channel
) -> None:
    data = _config(
        store,
        options_json="{broken",
        credential__authtoken=NEW_SECRET,
        replace_credentials=json.dumps({"authtoken": NEW_SECRET}),
    )
    response = client_as("admin").post(_url(store), data)
    assert response.status_code == 422
    assert NEW_SECRET not in html(response) and SECRET not in html(response)
    store.refresh_from_db()
    assert store.credentials["authtoken"] == SECRET


def test_replace_credentials_must_be_an_object(client_as: Callable[[str], Client], store: Channel) -> None:
    response = client_as("admin").post(_url(store), _config(store, replace_credentials='"just-a-string"'))
    assert response.status_code == 422
    store.refresh_from_db()
    assert store.credentials["authtoken"] == SECRET


def test_policies_are_offered_only_for_sales_channels(client_as: Callable[[str], Client]) -> None:
    erp = Channel.objects.create(code="erp", name="ERP", role=ChannelRole.ERP, kind="tiny")
    page = html(client_as("admin").get(_url(erp)))
    assert 'name="import_policy"' not in page and 'name="poll_interval_seconds"' in page
    response = client_as("admin").post(_url(erp), _config(erp, poll_interval_seconds=120))
    assert response.status_code == 302
    erp.refresh_from_db()
    assert erp.poll_interval_seconds == 120


# --- status map ----------------------------------------------------------------------------------


def test_status_map_shows_the_connector_defaults_as_placeholders(
    client_as: Callable[[str], Client], store: Channel
) -> None:
    page = html(client_as("admin").get(_url(store)))
    assert 'name="out__paid"' in page and 'placeholder="Paid"' in page
    assert 'name="in__shipped"' in page and 'placeholder="in_transit"' in page
    assert 'placeholder="abandoned"' in page  # maps to no canonical status


def test_admin_edits_the_status_map_both_ways(client_as: Callable[[str], Client], store: Channel) -> None:
    data = {
        "out__paid": "Pago",
        "in__paid": "paid, authorized",
        "in____none__": "abandoned",
        "out__canceled": "",
    }
    assert client_as("admin").post(_url(store, "status-map/"), data).status_code == 302
    store.refresh_from_db()
    assert store.status_map == {
        "out": {"paid": "Pago"},
        "in": {"paid": "paid", "authorized": "paid", "abandoned": ""},
    }
    page = html(client_as("admin").get(_url(store)))
    assert 'value="Pago"' in page and 'value="authorized, paid"' in page


def test_a_remote_status_cannot_mean_two_canonical_statuses(
    client_as: Callable[[str], Client], store: Channel
) -> None:
    data = {"in__paid": "paid", "in__canceled": "paid"}
    response = client_as("admin").post(_url(store, "status-map/"), data)
    assert response.status_code == 422
    assert "aparece em mais de uma linha" in html(response)
    store.refresh_from_db()
    assert store.status_map == {}


@pytest.mark.parametrize("role", ["viewer", "operator", "support"])
def test_only_admins_edit_the_status_map(
    client_as: Callable[[str], Client], store: Channel, role: str
) -> None:
    assert client_as(role).post(_url(store, "status-map/"), {"out__paid": "X"}).status_code == 403
    store.refresh_from_db()
    assert store.status_map == {}
    Channel.objects.filter(pk=store.pk).update(status_map={"out": {"canceled": "Cancelado"}})
    page = html(client_as(role).get(_url(store)))
    assert 'name="out__paid"' not in page
    # The channel's own entry and the connector's default: the system's words, never translated.
    assert '<span data-own="1" translate="no">Cancelado</span>' in page
    assert 'translate="no" title="Padrão do conector">Paid</span>' in page


# --- enable / disable ----------------------------------------------------------------------------


def test_admin_disables_and_enables_the_channel(client_as: Callable[[str], Client], store: Channel) -> None:
    admin = client_as("admin")
    assert admin.post(_url(store, "enabled/"), {"enabled": "0"}).status_code == 302
    store.refresh_from_db()
    assert store.enabled is False
    assert Schedule.objects.get(name="poll:loja").enabled is False
    assert admin.post(_url(store, "enabled/"), {"enabled": "1"}).status_code == 302
    store.refresh_from_db()
    assert store.enabled is True and Schedule.objects.get(name="poll:loja").enabled is True
    assert LogEntry.objects.filter(object_id=str(store.pk)).count() == 2


@pytest.mark.parametrize("role", ["viewer", "operator", "support"])
def test_other_roles_cannot_disable(client_as: Callable[[str], Client], store: Channel, role: str) -> None:
    assert client_as(role).post(_url(store, "enabled/"), {"enabled": "0"}).status_code == 403
    store.refresh_from_db()
    assert store.enabled is True


# --- sync now ------------------------------------------------------------------------------------


def test_sync_now_makes_the_poll_due_again_in_the_same_slot(
    client_as: Callable[[str], Client], store: Channel
) -> None:
    # Day-long slots: a loaded machine must not carry the test across a slot boundary (a new slot
    # would make every schedule due again, sync or not).
    Schedule.objects.update(interval_seconds=86400)
    # The channel's reconciliation schedules run in the slot too; only the poll matters here.
    assert [r.schedule.name for r in run_due("w1") if r.schedule.name == "poll:loja"] == ["poll:loja"]
    assert run_due("w1") == []  # nothing more in this slot
    response = client_as("operator").post(_url(store, "sync/"), follow=True)
    assert "Sincronização agendada" in html(response)
    runs = run_due("w2")
    assert [r.schedule.name for r in runs] == ["poll:loja"]
    assert run_due("w2") == []
    assert LogEntry.objects.get(object_id=str(store.pk)).change_message == "Sincronização solicitada"


def test_sync_now_leaves_a_running_poll_alone(client_as: Callable[[str], Client], store: Channel) -> None:
    from malote.sync.schedules import current_slot

    schedule = Schedule.objects.get(name="poll:loja")
    ScheduleRun.objects.create(schedule=schedule, slot=current_slot(schedule, timezone.now()), worker="busy")
    response = client_as("operator").post(_url(store, "sync/"), follow=True)
    assert "sync_in_progress" in html(response)
    assert ScheduleRun.objects.filter(schedule=schedule, worker="busy").exists()


def test_sync_now_refuses_a_disabled_channel(client_as: Callable[[str], Client], store: Channel) -> None:
    Channel.objects.filter(pk=store.pk).update(enabled=False)
    response = client_as("operator").post(_url(store, "sync/"), follow=True)
    assert "channel_disabled" in html(response)
    assert not LogEntry.objects.exists()


def test_sync_now_is_not_offered_for_connectors_that_do_not_poll(
    client_as: Callable[[str], Client], channel: Channel
) -> None:
    operator = client_as("operator")
    assert "Sincronizar agora" not in html(operator.get(_url(channel)))  # kind "manual"
    response = operator.post(_url(channel, "sync/"), follow=True)
    assert "poll_unsupported" in html(response)
    assert not LogEntry.objects.exists()


def test_viewer_cannot_sync(client_as: Callable[[str], Client], store: Channel) -> None:
    run_due("w1")
    assert client_as("viewer").post(_url(store, "sync/")).status_code == 403
    assert run_due("w2") == []


def test_channel_page_shows_its_rules_with_the_kind_defaults(client_as: Callable[[str], Client]) -> None:
    skyhub = Channel.objects.create(
        code="skyhub", name="SkyHub", role=ChannelRole.MARKETPLACE, kind="skyhub",
        options={"delivery_from_channel_methods": ["B2W Entregas"]},
    )  # fmt: skip
    page = client_as("viewer").get(f"/backoffice/channels/{skyhub.code}/")
    policies = {p["name"]: p for p in page.context["policies"]}
    assert policies["delivery_from_channel_methods"]["overridden"] is True
    assert policies["delivery_from_channel_methods"]["value"] == ["B2W Entregas"]
    assert policies["invoice_after_shipment_marketplaces"]["overridden"] is False
    assert "Magazine Luiza" in policies["invoice_after_shipment_marketplaces"]["value"]
    assert 'data-policy="invoice_after_shipment_marketplaces"' in page.content.decode()
