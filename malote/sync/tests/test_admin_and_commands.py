"""Dead letters in the admin and the ``malote outbox`` command; channel credentials write-only."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client

from malote.channels.models import Channel
from malote.sync import outbox
from malote.sync.models import OutboxMessage

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client() -> Client:
    root = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client = Client()
    # force_login: Client.login() calls authenticate() without a request, which django-axes refuses.
    client.force_login(root)
    return client


def _dead() -> int:
    outbox.enqueue("channel:erp", "order.status", {"op": "status"}, key="order:1")
    OutboxMessage.objects.update(state="dead", last_error="HTTP 400")
    return OutboxMessage.objects.get().pk


def test_admin_lists_and_replays_dead_letters(admin_client: Client) -> None:
    message_id = _dead()
    page = admin_client.get("/admin/sync/outboxmessage/?state__exact=dead")
    assert page.status_code == 200 and "HTTP 400" in page.content.decode()
    admin_client.post(
        "/admin/sync/outboxmessage/", {"action": "replay_selected", "_selected_action": [message_id]}
    )
    assert OutboxMessage.objects.get().state == "pending"


def test_outbox_command_lists_retries_and_replays() -> None:
    message_id = _dead()
    out = io.StringIO()
    call_command("outbox", "list", stdout=out)
    assert f"{message_id}\tchannel:erp" in out.getvalue()
    call_command("outbox", "replay", "--all", stdout=io.StringIO())
    assert OutboxMessage.objects.get().state == "pending"
    call_command("outbox", "retry", str(message_id), stdout=io.StringIO())
    OutboxMessage.objects.update(state="done")
    with pytest.raises(CommandError):
        call_command("outbox", "retry", str(message_id), stdout=io.StringIO())
    with pytest.raises(CommandError):
        call_command("outbox", "replay", stdout=io.StringIO())


def test_channel_credentials_are_write_only_in_the_admin(admin_client: Client) -> None:
    channel = Channel.objects.create(
        code="tiny", name="Tiny", role="erp", kind="tiny", credentials={"token": "SECRET-T"}
    )
    page = admin_client.get(f"/admin/channels/channel/{channel.pk}/change/")
    assert page.status_code == 200 and "SECRET-T" not in page.content.decode()
    assert "SECRET-T" not in repr(channel)
    admin_client.post(
        f"/admin/channels/channel/{channel.pk}/change/",
        {
            "code": "tiny", "name": "Tiny", "role": "erp", "kind": "tiny", "enabled": "on", "base_url": "",
            "options": "{}", "import_policy": "all", "status_map": "{}", "poll_interval_seconds": "300",
            "new_credentials": "",
        },
    )  # fmt: skip
    channel.refresh_from_db()
    assert channel.credentials == {"token": "SECRET-T"}, "an empty field keeps the stored credentials"
