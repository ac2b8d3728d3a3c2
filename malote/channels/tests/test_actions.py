"""``update_credentials``: merged under a row lock, audited by name only, never by value."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.admin.models import LogEntry

from malote.channels.actions import update_credentials
from malote.channels.models import Channel, ChannelRole
from malote.core.actors import Actor
from malote.core.errors import InvalidInput, NotFound

pytestmark = pytest.mark.django_db

SECRET = "s3cr3t-refresh-value"


@pytest.fixture
def ml(db: None) -> Channel:
    return Channel.objects.create(
        code="ml",
        name="Mercado Livre",
        role=ChannelRole.MARKETPLACE,
        kind="mercadolivre",
        credentials={"client_id": "1", "client_secret": "x", "access_token": "old", "refresh_token": "r0"},
        options={"poll": True},
    )


def test_changes_are_merged_and_audited_without_values(ml: Channel, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="malote.audit"):
        saved = update_credentials(
            ml.pk, {"access_token": "new", "refresh_token": SECRET}, actor=Actor.channel("ml")
        )
    ml.refresh_from_db()
    assert (
        ml.credentials
        == saved.credentials
        == {
            "client_id": "1",
            "client_secret": "x",
            "access_token": "new",
            "refresh_token": SECRET,
        }
    )
    assert ml.options == {"poll": True}, "no metadata in the options"
    [record] = [r for r in caplog.records if r.name == "malote.audit"]
    line = record.getMessage()
    assert "channel ml" in line and "access_token, refresh_token" in line
    assert all(value not in line for value in (SECRET, "new", "old"))


def test_a_none_value_removes_the_credential(ml: Channel) -> None:
    update_credentials(ml.pk, {"client_secret": None}, actor=Actor.system())
    ml.refresh_from_db()
    assert "client_secret" not in ml.credentials and ml.credentials["client_id"] == "1"


def test_unchanged_values_write_and_audit_nothing(ml: Channel, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="malote.audit"):
        update_credentials(ml.pk, {"access_token": "old"}, actor=Actor.channel("ml"))
    assert not [r for r in caplog.records if r.name == "malote.audit"]


def test_a_user_change_is_in_the_admin_history(ml: Channel, user_with_role: Callable[[str], Any]) -> None:
    user = user_with_role("admin")
    update_credentials(ml.pk, {"access_token": SECRET}, actor=Actor.user(user))
    entry = LogEntry.objects.get(object_id=str(ml.pk))
    assert entry.user_id == user.pk and "access_token" in entry.change_message
    assert SECRET not in entry.change_message


@pytest.mark.parametrize("changes", [["access_token"], {"": "x"}], ids=["not-an-object", "empty-name"])
def test_malformed_changes_are_refused(ml: Channel, changes: Any) -> None:
    with pytest.raises(InvalidInput):
        update_credentials(ml.pk, changes, actor=Actor.system())
    ml.refresh_from_db()
    assert ml.credentials["access_token"] == "old"


def test_an_unknown_channel_is_not_found(db: None) -> None:
    with pytest.raises(NotFound):
        update_credentials(999, {"access_token": "x"}, actor=Actor.system())
