"""The back-office channel pages when no configured key decrypts a channel's credentials: they still
answer (no 500), saving other settings keeps the stored credentials, and new ones replace them."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.test import Client

from malote.backoffice.tests import pages
from malote.backoffice.tests.channel_form import unchanged_post
from malote.backoffice.tests.pages import ROLES, html
from malote.channels.models import Channel, ChannelRole
from malote.core import vault

pytestmark = pytest.mark.django_db

client_as = pages.client_as

SECRET = "b4ck0ffice-S3cret-4e5f"
KEY_A = Fernet.generate_key().decode()
KEY_B = Fernet.generate_key().decode()


@pytest.fixture
def store(settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Channel:
    settings.VAR_DIR = tmp_path
    monkeypatch.setenv(vault.ENV_VAR, KEY_A)
    channel = Channel.objects.create(
        code="loja", name="Loja", role=ChannelRole.STOREFRONT, kind="jumpseller",
        base_url="https://api.jumpseller.com/v1", credentials={"login": "l", "authtoken": SECRET},
        options={"push_stock": False},
    )  # fmt: skip
    monkeypatch.setenv(vault.ENV_VAR, KEY_B)  # the key they were written with is lost
    return channel


def _config(channel: Channel, **overrides: Any) -> dict[str, Any]:
    return unchanged_post(channel, **overrides)


def test_the_channel_pages_answer_for_every_role(client_as: Callable[[str], Client], store: Channel) -> None:
    for role in ROLES:
        assert client_as(role).get("/backoffice/channels/").status_code == 200
        assert client_as(role).get("/backoffice/channels/loja/").status_code == 200


def test_saving_other_settings_keeps_them_and_replacing_makes_them_readable(
    client_as: Callable[[str], Client], store: Channel, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = client_as("admin")
    response = admin.post("/backoffice/channels/loja/", _config(store, name="Loja nova"))
    assert response.status_code == 302
    monkeypatch.setenv(vault.ENV_VAR, f"{KEY_B},{KEY_A}")
    assert Channel.objects.get(pk=store.pk).credentials["authtoken"] == SECRET
    monkeypatch.setenv(vault.ENV_VAR, KEY_B)
    replacement = json.dumps({"login": "l", "authtoken": "novo"})
    response = admin.post("/backoffice/channels/loja/", _config(store, replace_credentials=replacement))
    assert response.status_code == 302
    assert Channel.objects.get(pk=store.pk).credentials == {"login": "l", "authtoken": "novo"}
    assert "novo" not in html(admin.get("/backoffice/channels/loja/"))
