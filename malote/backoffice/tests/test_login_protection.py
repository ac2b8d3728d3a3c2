"""Password guessing, as an attacker tries it, against both logins (back office and Django admin):
one budget per (normalised username, client address), shared by every spelling and both logins;
locked-out attempts refused even with the right password; lockouts visible to admins."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.test import Client, RequestFactory, override_settings
from django.utils import timezone

pytestmark = pytest.mark.django_db

BACKOFFICE = "/backoffice/login/"
ADMIN = "/admin/login/"
LOCKED = "Muitas tentativas"


def _post(client: Client, path: str, username: str, password: str, **extra: Any) -> Any:
    return client.post(path, {"username": username, "password": password}, **extra)


def _fail_until_locked(client: Client, path: str, username: str, **extra: Any) -> None:
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = _post(client, path, username, "wrong", **extra)
        assert response.status_code == 200 and LOCKED not in response.content.decode()


def _refused(response: Any, client: Client) -> bool:
    return (
        response.status_code == 200
        and LOCKED in response.content.decode()
        and "_auth_user_id" not in client.session
    )


@pytest.fixture
def viewer(user_with_role: Callable[[str], Any]) -> Any:
    return user_with_role("viewer")  # "viewer-user" / "x"


@pytest.fixture
def root(db: None) -> Any:
    return get_user_model().objects.create_superuser("root", "root@example.com", "root-pass")


@pytest.mark.parametrize("spelling", ["ｖiewer-user", "VIEWER-USER", "ｖｉｅｗｅｒ-user"])
def test_no_spelling_of_a_locked_username_logs_in(client: Client, viewer: Any, spelling: str) -> None:
    _fail_until_locked(client, BACKOFFICE, "viewer-user")
    assert _refused(_post(client, BACKOFFICE, spelling, "x"), client)
    assert _refused(_post(client, BACKOFFICE, "viewer-user", "x"), client)


def test_the_fullwidth_spelling_logs_in_while_not_locked(client: Client, viewer: Any) -> None:
    response = _post(client, BACKOFFICE, "ｖiewer-user", "x")  # Django's NFKC: it is viewer-user
    assert response.status_code == 302 and client.session["_auth_user_id"] == str(viewer.pk)


def test_spellings_share_one_budget(client: Client, viewer: Any) -> None:
    spellings = ["viewer-user", "ｖiewer-user", "Viewer-User", "VIEWER-USER", "ｖｉｅｗｅｒ-ｕｓｅｒ"]
    for n in range(settings.AXES_FAILURE_LIMIT):
        assert (
            LOCKED not in _post(client, BACKOFFICE, spellings[n % len(spellings)], "wrong").content.decode()
        )
    assert _refused(_post(client, BACKOFFICE, "viewer-user", "x"), client)
    assert AccessAttempt.objects.get().username == "viewer-user"


def test_the_admin_login_is_locked_after_the_limit(client: Client, root: Any) -> None:
    _fail_until_locked(client, ADMIN, "root")
    assert _refused(_post(client, ADMIN, "root", "root-pass"), client)
    assert _refused(_post(client, ADMIN, "ＲOOT", "root-pass"), client)


def test_the_admin_login_accepts_the_right_password_below_the_limit(client: Client, root: Any) -> None:
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _post(client, ADMIN, "root", "wrong")
    response = _post(client, ADMIN, "root", "root-pass")
    assert response.status_code == 302 and client.session["_auth_user_id"] == str(root.pk)


def test_both_logins_share_one_budget(client: Client, root: Any) -> None:
    for n in range(settings.AXES_FAILURE_LIMIT):
        _post(client, ADMIN if n % 2 else BACKOFFICE, "root", "wrong")
    assert _refused(_post(client, BACKOFFICE, "root", "root-pass"), client)
    assert _refused(_post(client, ADMIN, "root", "root-pass"), client)


def test_the_backend_refuses_a_locked_out_login_on_any_path(client: Client, viewer: Any) -> None:
    _fail_until_locked(client, BACKOFFICE, "viewer-user")
    request = RequestFactory().post(BACKOFFICE, REMOTE_ADDR="127.0.0.1")
    assert authenticate(request, username="viewer-user", password="x") is None
    other_address = RequestFactory().post(BACKOFFICE, REMOTE_ADDR="10.9.9.9")
    assert authenticate(other_address, username="viewer-user", password="x") == viewer


def test_a_lockout_is_per_address(viewer: Any) -> None:
    attacker, owner = Client(REMOTE_ADDR="10.0.0.66"), Client(REMOTE_ADDR="10.0.0.7")
    _fail_until_locked(attacker, BACKOFFICE, "viewer-user")
    assert _refused(_post(attacker, BACKOFFICE, "viewer-user", "x"), attacker)
    assert _post(owner, BACKOFFICE, "viewer-user", "x").status_code == 302


@override_settings(MALOTE_TRUSTED_PROXY_HEADER="HTTP_X_FORWARDED_FOR", MALOTE_TRUSTED_PROXY_COUNT=1)
def test_behind_a_proxy_the_client_address_counts_and_cannot_be_forged(viewer: Any) -> None:
    proxy = "10.0.0.1"  # every request reaches Malote from the proxy
    attacker, owner = Client(REMOTE_ADDR=proxy), Client(REMOTE_ADDR=proxy)
    # The attacker forges a different left part of X-Forwarded-For each time: still one address.
    for n in range(settings.AXES_FAILURE_LIMIT):
        _post(
            attacker, BACKOFFICE, "viewer-user", "wrong", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}, 198.51.100.66"
        )
    forged = _post(attacker, BACKOFFICE, "viewer-user", "x", HTTP_X_FORWARDED_FOR="192.0.2.99, 198.51.100.66")
    assert _refused(forged, attacker)
    # The owner, through the same proxy, is not locked out by the attacker.
    assert _post(owner, BACKOFFICE, "viewer-user", "x", HTTP_X_FORWARDED_FOR="203.0.113.7").status_code == 302


def test_the_lock_lifts_after_the_cool_off(client: Client, viewer: Any) -> None:
    _fail_until_locked(client, BACKOFFICE, "viewer-user")
    with time_machine.travel(timezone.now() + settings.AXES_COOLOFF_TIME - timedelta(minutes=1)):
        assert _refused(_post(client, BACKOFFICE, "viewer-user", "x"), client)
    with time_machine.travel(timezone.now() + settings.AXES_COOLOFF_TIME + timedelta(minutes=1)):
        assert _post(client, BACKOFFICE, "viewer-user", "x").status_code == 302


def test_lockouts_are_visible_to_admins_who_can_lift_them(client: Client, viewer: Any, root: Any) -> None:
    _fail_until_locked(client, BACKOFFICE, "viewer-user")
    admin = Client()
    admin.force_login(root)
    listing = admin.get("/admin/axes/accessattempt/")
    assert listing.status_code == 200 and "viewer-user" in listing.content.decode()
    viewer_client = Client()
    viewer_client.force_login(viewer)
    assert viewer_client.get("/admin/axes/accessattempt/").status_code == 302  # not staff: to the login
    attempt = AccessAttempt.objects.get(username="viewer-user")
    admin.post(f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"})
    assert _post(client, BACKOFFICE, "viewer-user", "x").status_code == 302


def test_the_lockout_message_follows_the_language(client: Client, viewer: Any) -> None:
    _fail_until_locked(client, BACKOFFICE, "viewer-user")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = _post(client, BACKOFFICE, "viewer-user", "x").content.decode()
    assert "Too many failed sign-in attempts for this user. Wait 15 minutes" in page
    assert LOCKED not in page
