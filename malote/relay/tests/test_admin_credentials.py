"""The channel admin: credentials are write-only (names shown, values never), typed-in ones replace
the stored ones, unreadable ones are said so (no 500), and no changelist lookup filters on them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.test import Client

from malote.channels.models import Channel, ChannelRole
from malote.core import vault

pytestmark = pytest.mark.django_db

SECRET = "adm1n-V1s1ble-N3ver-7f6e"
NEW_SECRET = "r3placed-T0ken-2d3c"
KEY_A = Fernet.generate_key().decode()
KEY_B = Fernet.generate_key().decode()


@pytest.fixture
def tiny(settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Channel:
    settings.VAR_DIR = tmp_path
    monkeypatch.setenv(vault.ENV_VAR, KEY_A)
    return Channel.objects.create(
        code="tiny", name="Tiny", role=ChannelRole.ERP, kind="tiny",
        credentials={"token": SECRET, "webhook_token": "wh-" + SECRET},
    )  # fmt: skip


def _change_url(channel: Channel) -> str:
    return f"/admin/channels/channel/{channel.pk}/change/"


def _form(**overrides: str) -> dict[str, str]:
    data = {
        "code": "tiny", "name": "Tiny", "role": "erp", "kind": "tiny", "enabled": "on", "base_url": "",
        "options": "{}", "import_policy": "all", "status_map": "{}", "poll_interval_seconds": "300",
        "new_credentials": "",
    }  # fmt: skip
    data.update(overrides)
    return data


def test_the_change_form_shows_the_names_never_the_values(admin_client: Client, tiny: Channel) -> None:
    page = admin_client.get(_change_url(tiny)).content.decode()
    assert "token, webhook_token" in page
    assert SECRET not in page
    assert SECRET not in admin_client.get("/admin/channels/channel/").content.decode()


def test_new_credentials_replace_the_stored_ones_and_are_not_shown_back(
    admin_client: Client, tiny: Channel
) -> None:
    response = admin_client.post(_change_url(tiny), _form(new_credentials=f'{{"token": "{NEW_SECRET}"}}'))
    assert response.status_code == 302
    tiny.refresh_from_db()
    assert tiny.credentials == {"token": NEW_SECRET}
    page = admin_client.get(_change_url(tiny)).content.decode()
    assert NEW_SECRET not in page and "webhook_token" not in page
    history = admin_client.get(f"{_change_url(tiny).removesuffix('change/')}history/").content.decode()
    assert NEW_SECRET not in history


def test_a_refused_form_does_not_echo_the_typed_credentials(admin_client: Client, tiny: Channel) -> None:
    response = admin_client.post(
        _change_url(tiny), _form(options="{broken", new_credentials=f'{{"token": "{NEW_SECRET}"}}')
    )
    assert response.status_code == 200  # the form is shown again, with its error
    assert "errornote" in response.content.decode() and NEW_SECRET not in response.content.decode()
    tiny.refresh_from_db()
    assert tiny.credentials["token"] == SECRET


def test_unreadable_credentials_are_said_so_and_can_be_replaced(
    admin_client: Client, tiny: Channel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(vault.ENV_VAR, KEY_B)  # the key they were written with is lost
    page = admin_client.get(_change_url(tiny))
    assert page.status_code == 200
    assert "credentials_unreadable" in page.content.decode()
    assert admin_client.get("/admin/channels/channel/").status_code == 200
    assert admin_client.post(_change_url(tiny), _form(name="Tiny ERP")).status_code == 302
    monkeypatch.setenv(vault.ENV_VAR, f"{KEY_B},{KEY_A}")
    assert Channel.objects.get(pk=tiny.pk).credentials["token"] == SECRET, "saving kept the stored token"
    monkeypatch.setenv(vault.ENV_VAR, KEY_B)
    admin_client.post(_change_url(tiny), _form(new_credentials=f'{{"token": "{NEW_SECRET}"}}'))
    assert Channel.objects.get(pk=tiny.pk).credentials == {"token": NEW_SECRET}


def test_no_changelist_lookup_filters_on_credentials(admin_client: Client, tiny: Channel) -> None:
    assert admin_client.get("/admin/channels/channel/?kind=tiny").status_code == 200
    assert admin_client.get("/admin/channels/channel/?credentials__contains=adm1n").status_code == 400
    assert admin_client.get("/admin/channels/channel/?credentials=x").status_code == 400
