"""Tokens from the command line, and the permissions each role grants."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from malote.accounts.models import ApiToken, hash_token
from malote.accounts.roles import assign_role, sync_roles

pytestmark = pytest.mark.django_db


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().strip()


def test_token_create_prints_a_token_stored_only_as_a_hash(db: None) -> None:
    get_user_model().objects.create_user(username="ana")
    raw = _run("token", "create", "--user", "ana", "--name", "erp")
    assert raw.startswith("mlt_") and len(raw) > 40
    token = ApiToken.objects.get()
    assert token.key_hash == hash_token(raw)
    assert raw not in (token.key_hash, token.prefix)
    assert token.prefix == raw[:12] and token.name == "erp"


def test_token_create_for_unknown_user_fails(db: None) -> None:
    with pytest.raises(CommandError, match="No user named"):
        _run("token", "create", "--user", "ghost")


def test_token_revoke(db: None) -> None:
    user = get_user_model().objects.create_user(username="ana")
    token, _ = ApiToken.issue(user)
    assert "revoked 1" in _run("token", "revoke", token.prefix)
    token.refresh_from_db()
    assert token.revoked_at is not None
    with pytest.raises(CommandError):
        _run("token", "revoke", token.prefix)


@pytest.mark.parametrize(
    ("role", "allowed", "denied"),
    [
        (
            "viewer",
            ["orders.view_order", "stock.view_stockitem"],
            ["orders.change_order_status", "orders.add_order"],
        ),
        (
            "operator",
            ["orders.change_order_status", "orders.add_order", "stock.change_stockitem"],
            ["orders.reopen_order"],
        ),
        ("support", ["orders.change_order_status", "orders.reopen_order"], ["auth.add_user"]),
        ("admin", ["orders.reopen_order", "auth.add_user", "orders.change_order_status"], []),
    ],
)
def test_roles_grant_exactly_their_permissions(
    user_with_role: Callable[[str], Any], role: str, allowed: list[str], denied: list[str]
) -> None:
    user = user_with_role(role)
    for permission in allowed:
        assert user.has_perm(permission), permission
    for permission in denied:
        assert not user.has_perm(permission), permission


def test_sync_roles_is_idempotent_and_assign_role_replaces(db: None) -> None:
    sync_roles()
    sync_roles()
    user = get_user_model().objects.create_user(username="bia")
    assign_role(user, "admin")
    assert user.is_staff
    assign_role(user, "viewer")
    assert list(user.groups.values_list("name", flat=True)) == ["viewer"]
    assert not user.is_staff
    with pytest.raises(ValueError, match="Unknown role"):
        assign_role(user, "king")
