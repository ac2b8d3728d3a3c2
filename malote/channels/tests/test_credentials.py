"""Channel credentials at rest: encrypted in the column, a dict to every caller, a coded error when
no configured key decrypts them, key rotation, plain rows from before encryption."""

from __future__ import annotations

import importlib
import io
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core import serializers
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import Client

from malote.channels.actions import store_refreshed_credentials, stored_credentials, update_credentials
from malote.channels.credentials import UnreadableCredentials, check_credentials_key, is_readable
from malote.channels.errors import ChannelsErrorCode, CredentialsUnreadable
from malote.channels.models import Channel, ChannelRole
from malote.connectors.registry import connector_for
from malote.core import vault
from malote.core.actors import Actor
from malote.relay.delivery import deliver_to_channel
from malote.sync.errors import DeliveryError
from malote.sync.models import OutboxMessage

pytestmark = pytest.mark.django_db

SECRET = "hmac-S3CR3T-9a8b7c6d5e"
KEY_A = Fernet.generate_key().decode()
KEY_B = Fernet.generate_key().decode()
MIGRATION = importlib.import_module("malote.channels.migrations.0005_encrypt_credentials")


@pytest.fixture
def keys(settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Configure ``MALOTE_CREDENTIALS_KEY`` (KEY_A to start with); ``keys(...)`` changes it."""
    settings.VAR_DIR = tmp_path

    def use(*configured: str) -> None:
        monkeypatch.setenv(vault.ENV_VAR, ",".join(configured))

    use(KEY_A)
    return use


@pytest.fixture
def hub(keys: Any) -> Channel:
    return Channel.objects.create(
        code="hub",
        name="Hub",
        role=ChannelRole.ERP,
        kind="webhook",
        base_url="http://127.0.0.1:9/hooks",
        credentials={"secret": SECRET, "client_id": "hub-app"},
        options={"push_stock": False},
    )


def raw_column(channel: Channel) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT credentials FROM channels_channel WHERE id = %s", [channel.pk])
        (value,) = cursor.fetchone()
    return str(value)


def set_raw_column(channel: Channel, text: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("UPDATE channels_channel SET credentials = %s WHERE id = %s", [text, channel.pk])


def fresh(channel: Channel) -> Channel:
    return Channel.objects.get(pk=channel.pk)


def test_credentials_round_trip_through_every_way_of_writing_and_reading(hub: Channel) -> None:
    assert fresh(hub).credentials == {"secret": SECRET, "client_id": "hub-app"}
    assert list(Channel.objects.filter(pk=hub.pk).values_list("credentials", flat=True)) == [
        {"secret": SECRET, "client_id": "hub-app"}
    ]
    Channel.objects.filter(pk=hub.pk).update(credentials={"secret": "via-update", "ç": "ã"})
    assert fresh(hub).credentials == {"secret": "via-update", "ç": "ã"}
    hub.credentials = {"secret": "via-bulk-update"}
    Channel.objects.bulk_update([hub], ["credentials"])
    assert fresh(hub).credentials == {"secret": "via-bulk-update"}
    assert SECRET not in raw_column(hub) and "via-bulk-update" not in raw_column(hub)
    empty = Channel.objects.create(code="empty", name="Empty", role=ChannelRole.ERP)
    assert fresh(empty).credentials == {}
    with pytest.raises(TypeError):
        Channel.objects.filter(pk=hub.pk).update(credentials=["not", "an", "object"])


def test_the_column_holds_a_token_never_the_secret(hub: Channel) -> None:
    stored = raw_column(hub)
    assert vault.looks_encrypted(stored)
    assert SECRET not in stored and "secret" not in stored and "hub-app" not in stored
    assert json.loads(Fernet(KEY_A).decrypt(stored.encode())) == {"secret": SECRET, "client_id": "hub-app"}
    # The same query does see a secret stored in clear, as rows were before encryption.
    set_raw_column(hub, json.dumps({"secret": SECRET}))
    assert SECRET in raw_column(hub)


def test_each_save_writes_a_fresh_token(hub: Channel) -> None:
    before = raw_column(hub)
    hub.save()
    assert raw_column(hub) != before and fresh(hub).credentials["secret"] == SECRET


def test_a_legacy_plain_row_is_read_and_the_migration_encrypts_it(hub: Channel) -> None:
    set_raw_column(hub, json.dumps({"secret": SECRET, "client_id": "legado"}))
    assert fresh(hub).credentials == {"secret": SECRET, "client_id": "legado"}
    untouched = Channel.objects.create(
        code="already", name="Already", role=ChannelRole.ERP, credentials={"k": "v"}
    )
    token = raw_column(untouched)
    MIGRATION.encrypt_plain_rows(None, SimpleNamespace(connection=connection))
    assert vault.looks_encrypted(raw_column(hub)) and SECRET not in raw_column(hub)
    assert fresh(hub).credentials == {"secret": SECRET, "client_id": "legado"}
    assert raw_column(untouched) == token, "rows already encrypted are left as they are"
    MIGRATION.decrypt_rows(None, SimpleNamespace(connection=connection))
    assert json.loads(raw_column(hub)) == {"secret": SECRET, "client_id": "legado"}


def test_credentials_no_configured_key_decrypts_fail_with_a_code_not_a_crash(hub: Channel, keys: Any) -> None:
    keys(KEY_B)  # the key the credentials were written with is lost
    channel = fresh(hub)  # loading the channel still works
    assert not is_readable(channel.credentials)
    with pytest.raises(CredentialsUnreadable) as raised:
        channel.credentials.get("secret")
    assert raised.value.code == ChannelsErrorCode.CREDENTIALS_UNREADABLE == "credentials_unreadable"
    assert raised.value.status == 503 and SECRET not in raised.value.detail
    for read in (
        lambda c: c["secret"],
        lambda c: "secret" in c,
        lambda c: list(c.values()),
        lambda c: c.items(),
    ):
        with pytest.raises(CredentialsUnreadable):
            read(channel.credentials)
    with connector_for(channel) as connector, pytest.raises(CredentialsUnreadable):
        connector.credential("secret")
    # Saving the channel keeps the stored token: restoring the key makes the credentials readable again.
    channel.name = "Hub renamed"
    channel.save()
    keys(KEY_B, KEY_A)
    assert fresh(hub).credentials == {"secret": SECRET, "client_id": "hub-app"}


def test_unreadable_credentials_list_no_names_and_stand_in_for_none() -> None:
    unreadable = UnreadableCredentials("gAAAAAdamaged")
    assert bool(unreadable) and len(unreadable) == 0 and list(unreadable) == []
    assert (
        unreadable == {} and unreadable != {"a": 1} and unreadable == UnreadableCredentials("gAAAAAdamaged")
    )
    assert "gAAAAA" not in repr(unreadable)
    assert (unreadable or {}) is unreadable  # connectors' ``credentials or {}`` still reaches the error


def test_a_delivery_to_a_channel_with_unreadable_credentials_is_a_coded_retryable_failure(
    hub: Channel, keys: Any
) -> None:
    message = OutboxMessage.objects.create(
        destination="channel:hub", key="sku:X", kind="stock.available", idempotency_key="k1",
        payload={"op": "stock", "sku": "X"},
    )  # fmt: skip
    keys(KEY_B)
    with pytest.raises(DeliveryError) as raised:
        deliver_to_channel(message)
    assert raised.value.detail.startswith("credentials_unreadable: ") and raised.value.retryable


def test_a_webhook_to_a_channel_with_unreadable_credentials_answers_503_coded(
    hub: Channel, keys: Any
) -> None:
    client = Client()
    assert client.post("/hooks/hub", b"{}", content_type="application/json").status_code == 401  # readable
    keys(KEY_B)
    response = client.post("/hooks/hub", b"{}", content_type="application/json")
    assert response.status_code == 503
    assert response.json()["code"] == "credentials_unreadable" and SECRET not in response.content.decode()


def test_credential_commands_refuse_to_merge_into_unreadable_credentials(hub: Channel, keys: Any) -> None:
    update_credentials(hub.pk, {"access_token": "t1"}, actor=Actor.system())
    assert stored_credentials(hub)["access_token"] == "t1"
    keys(KEY_B)
    channel = fresh(hub)
    with pytest.raises(CredentialsUnreadable):
        update_credentials(hub.pk, {"access_token": "t2"}, actor=Actor.system())
    with pytest.raises(CredentialsUnreadable):
        stored_credentials(channel)
    with pytest.raises(CredentialsUnreadable):
        store_refreshed_credentials(SimpleNamespace(credentials=channel.credentials), {"access_token": "t2"})
    keys(KEY_A)
    assert fresh(hub).credentials["access_token"] == "t1", "nothing was overwritten"


def test_rotation_re_encrypts_under_the_new_key_and_the_old_key_can_go(hub: Channel, keys: Any) -> None:
    keys(KEY_B, KEY_A)  # step 1: the new key first, the old one still decrypts
    assert fresh(hub).credentials["secret"] == SECRET
    with pytest.raises(InvalidToken):
        Fernet(KEY_B).decrypt(raw_column(hub).encode())
    out = io.StringIO()
    call_command("rotate_credentials_key", stdout=out)
    assert "1 channel(s) re-encrypted" in out.getvalue()
    stored = raw_column(hub)
    assert json.loads(Fernet(KEY_B).decrypt(stored.encode()))["secret"] == SECRET
    with pytest.raises(InvalidToken):
        Fernet(KEY_A).decrypt(stored.encode())
    keys(KEY_B)  # step 2: the old key is dropped
    call_command("rotate_credentials_key", "--check", stdout=io.StringIO())
    assert fresh(hub).credentials == {"secret": SECRET, "client_id": "hub-app"}


def test_rotation_encrypts_plain_rows_and_reports_unreadable_ones_untouched(hub: Channel, keys: Any) -> None:
    plain = Channel.objects.create(code="plain", name="Plain", role=ChannelRole.ERP)
    set_raw_column(plain, json.dumps({"token": SECRET}))
    keys(KEY_B)  # hub's key is lost
    lost = raw_column(hub)
    with pytest.raises(CommandError) as raised:
        call_command("rotate_credentials_key", "--check", stdout=io.StringIO())
    assert "credentials_unreadable" in str(raised.value) and "hub" in str(raised.value)
    assert SECRET in raw_column(plain), "--check writes nothing"
    with pytest.raises(CommandError):
        call_command("rotate_credentials_key", stdout=io.StringIO())
    assert raw_column(hub) == lost
    assert SECRET not in raw_column(plain) and fresh(plain).credentials == {"token": SECRET}


def test_fixtures_carry_the_token_and_load_it_back(hub: Channel) -> None:
    dumped = serializers.serialize("json", [hub])
    assert SECRET not in dumped
    Channel.objects.filter(pk=hub.pk).update(credentials={})
    for loaded in serializers.deserialize("json", dumped):
        loaded.save()
    assert fresh(hub).credentials == {"secret": SECRET, "client_id": "hub-app"}
    plain_fixture = json.dumps(
        [
            {
                "model": "channels.channel",
                "pk": hub.pk,
                "fields": {**json.loads(dumped)[0]["fields"], "credentials": {"token": "t"}},
            }
        ]
    )
    for loaded in serializers.deserialize("json", plain_fixture):
        loaded.save()
    assert fresh(hub).credentials == {"token": "t"} and "token" not in raw_column(hub)


def test_the_channel_never_prints_its_credentials(hub: Channel) -> None:
    assert SECRET not in repr(hub) and SECRET not in str(hub)


def test_a_malformed_key_list_fails_the_system_check(keys: Any) -> None:
    assert check_credentials_key() == []
    keys("not-a-fernet-key")
    [error] = check_credentials_key()
    assert error.id == "channels.E001" and vault.ENV_VAR in error.msg
