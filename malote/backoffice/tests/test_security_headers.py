"""What every page sends the browser (CSP, framing, sniffing, referrer, cookie flags), and the
``messages`` cookie forged with a key the server does not have."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from django.contrib.messages import constants
from django.contrib.messages.storage.cookie import CookieStorage
from django.http import HttpRequest, HttpResponse
from django.test import Client, override_settings
from django.utils.safestring import mark_safe

from malote.core.tests.test_secret_key import PUBLISHED_DEFAULT

pytestmark = pytest.mark.django_db

PAYLOAD = "<script>alert('forged')</script>"
EXCEPTIONS = "/backoffice/pendencias/"  # the inbox (the old /backoffice/excecoes/ redirects here)


def _policy(response: Any) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return dict(d.strip().split(" ", 1) for d in header.split(";"))


@pytest.mark.parametrize("path", ["/backoffice/login/", "/admin/login/", "/api/v1/docs", "/healthz"])
def test_every_page_gets_the_policy_and_the_hardening_headers(client: Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    policy = _policy(response)
    assert policy["script-src"].split()[0] == "'self'" and "unsafe" not in policy["script-src"]
    assert policy["object-src"] == "'none'" and policy["frame-ancestors"] == "'none'"
    assert policy["base-uri"] == "'none'" and policy["form-action"] == "'self'"
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


def test_an_inline_script_gets_the_request_nonce(rf: Any) -> None:
    from csp.middleware import CSPMiddleware
    from django.template import engines

    request: HttpRequest = rf.get("/")
    middleware = CSPMiddleware(lambda r: HttpResponse())
    middleware.process_request(request)
    template = engines["django"].from_string('<script nonce="{{ CSP_NONCE }}">x()</script>')
    html = template.render({}, request)
    response = middleware.process_response(request, HttpResponse(html))
    nonce = str(request.csp_nonce)  # type: ignore[attr-defined]
    assert f'nonce="{nonce}"' in html and f"'nonce-{nonce}'" in _policy(response)["script-src"]


def test_session_and_csrf_cookies(user_with_role: Callable[[str], Any]) -> None:
    user_with_role("viewer")
    plain = Client()
    plain.get("/backoffice/login/")
    plain.post("/backoffice/login/", {"username": "viewer-user", "password": "x"})
    assert plain.cookies["sessionid"]["httponly"] and not plain.cookies["sessionid"]["secure"]
    assert plain.cookies["csrftoken"]["httponly"]
    with override_settings(SESSION_COOKIE_SECURE=True, CSRF_COOKIE_SECURE=True):  # MALOTE_SECURE_COOKIES=1
        secure = Client()
        secure.get("/backoffice/login/")
        secure.post("/backoffice/login/", {"username": "viewer-user", "password": "x"}, secure=True)
        assert secure.cookies["sessionid"]["secure"] and secure.cookies["csrftoken"]["secure"]


def _messages_cookie(key: str) -> str:
    """A ``messages`` cookie as Django writes it, signed with ``key``, holding a message marked as
    safe HTML (the cookie keeps that mark, so the page renders it unescaped)."""
    with override_settings(SECRET_KEY=key):
        storage = CookieStorage(HttpRequest())
        storage.add(constants.SUCCESS, mark_safe(PAYLOAD))
        response = HttpResponse()
        storage.update(response)
    return str(response.cookies["messages"].value)


def _exceptions_page_with(cookie: str, user_with_role: Callable[[str], Any]) -> str:
    client = Client()
    client.force_login(user_with_role("operator"))
    client.cookies["messages"] = cookie
    response = client.get(EXCEPTIONS)
    assert response.status_code == 200
    return response.content.decode()


def test_a_messages_cookie_signed_with_another_key_is_ignored(user_with_role: Callable[[str], Any]) -> None:
    # The key earlier versions printed in their source (any key but the server's would do).
    forged = _messages_cookie(PUBLISHED_DEFAULT)
    assert PAYLOAD not in _exceptions_page_with(forged, user_with_role)


def test_a_messages_cookie_signed_with_the_server_key_is_shown(user_with_role: Callable[[str], Any]) -> None:
    # Only the key stands between a cookie and the page: why it must be secret.
    genuine = _messages_cookie(settings.SECRET_KEY)
    assert PAYLOAD in _exceptions_page_with(genuine, user_with_role)
