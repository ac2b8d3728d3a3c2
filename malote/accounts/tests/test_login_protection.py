"""The parts of login protection that are Malote's own: the username every spelling folds to, and the
client address (REMOTE_ADDR, or the configured trusted proxy header)."""

from __future__ import annotations

import pytest
from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpRequest
from django.test import RequestFactory, override_settings

from malote.accounts.login_protection import client_ip, lockout_username, normalize_username


@pytest.mark.parametrize(
    "spelling",
    ["viewer1", "Viewer1", "VIEWER1", "ｖiewer1", "ＶＩＥＷＥＲ１", " viewer1 ", "𝐯iewer1", "ⓥiewer1"],
)
def test_every_spelling_django_logs_in_with_folds_to_one_key(spelling: str) -> None:
    assert normalize_username(spelling) == "viewer1"


def test_the_key_covers_what_django_normalises_at_login() -> None:
    # Django's own login normalisation (NFKC): whatever it maps to one account, so does the key.
    for spelling in ["ｖiewer1", "ｖｉｅｗｅｒ１", "viewer¹"]:
        assert normalize_username(AbstractBaseUser.normalize_username(spelling)) == normalize_username(
            spelling
        )


def test_different_users_keep_different_keys() -> None:
    assert normalize_username("viewer1") != normalize_username("viewer2")
    assert normalize_username("ana") != normalize_username("anna")


def test_lockout_username_reads_credentials_then_the_form() -> None:
    factory = RequestFactory()
    assert lockout_username(None, {"username": "ＶIEWER1"}) == "viewer1"
    assert lockout_username(factory.post("/", {"username": "Ｏperador"}), None) == "operador"
    assert lockout_username(factory.post("/", {}), None) == ""
    assert len(lockout_username(None, {"username": "ß" * 150})) == 255  # fits axes's column


def _request(remote: str = "10.0.0.9", forwarded: str | None = None) -> HttpRequest:
    request = RequestFactory().get("/")
    request.META["REMOTE_ADDR"] = remote
    if forwarded is not None:
        request.META["HTTP_X_FORWARDED_FOR"] = forwarded
    return request


def test_without_a_configured_proxy_a_forwarded_header_is_ignored() -> None:
    request = _request(forwarded="203.0.113.7")
    assert client_ip(request) == "10.0.0.9"


@override_settings(MALOTE_TRUSTED_PROXY_HEADER="HTTP_X_FORWARDED_FOR", MALOTE_TRUSTED_PROXY_COUNT=1)
def test_behind_one_proxy_the_client_is_the_entry_the_proxy_appended() -> None:
    # The client may send its own X-Forwarded-For; the proxy appends the real address last.
    spoofed = _request(forwarded="198.51.100.1, 203.0.113.7")
    assert client_ip(spoofed) == "203.0.113.7"
    assert client_ip(_request(forwarded="203.0.113.7")) == "203.0.113.7"
    # Not through the proxy, or garbage: the connection's address.
    assert client_ip(_request()) == "10.0.0.9"
    assert client_ip(_request(forwarded="not-an-address")) == "10.0.0.9"


@override_settings(MALOTE_TRUSTED_PROXY_HEADER="HTTP_X_FORWARDED_FOR", MALOTE_TRUSTED_PROXY_COUNT=2)
def test_behind_two_proxies_the_client_is_second_from_the_right() -> None:
    request = _request(forwarded="198.51.100.1, 203.0.113.7, 10.1.1.1")
    assert client_ip(request) == "203.0.113.7"
    assert client_ip(_request(forwarded="10.1.1.1")) == "10.0.0.9"
