"""Password-guessing protection: the callables django-axes is configured with, and the check the
login forms run first.

One mechanism guards every login (the back office's and the Django admin's): django-axes, its
``AxesStandaloneBackend`` first in ``AUTHENTICATION_BACKENDS`` and its database handler (shared by
every worker, on SQLite and PostgreSQL). Failures are counted per *(normalised username, client
address)*; after ``AXES_FAILURE_LIMIT`` of them the pair is locked for ``AXES_COOLOFF_TIME``.
Lockouts are rows of ``axes.AccessAttempt``, which admins see (and delete, to unlock) in the Django
admin.

The username is normalised the way Django resolves it at login, and further: NFKC (what
``AbstractBaseUser.normalize_username`` and the login form apply, so ``ｖiewer1`` logs in as
``viewer1``), then case-folded. Every spelling that could reach an account therefore shares that
account's budget. The client address is ``REMOTE_ADDR`` unless a trusted proxy header is configured
(see :func:`client_ip`).
"""

from __future__ import annotations

import ipaddress
import unicodedata
from collections.abc import Mapping
from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.http import HttpRequest, HttpResponse

# axes.AccessAttempt.username is a varchar(255); case folding may lengthen a 150-character name.
USERNAME_MAX_LENGTH = 255


def normalize_username(raw: str) -> str:
    """NFKC, case-folded, NFKC again (folding can leave non-normalised text), surrounding blanks
    removed (the login form strips them too): ``" ｖiewer1"``, ``"Viewer1"`` → ``"viewer1"``."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", raw).casefold()).strip()
    return folded[:USERNAME_MAX_LENGTH]


def lockout_username(request: HttpRequest | None, credentials: Mapping[str, Any] | None) -> str:
    """``AXES_USERNAME_CALLABLE``: the normalised username of a login attempt, from the credentials
    passed to ``authenticate`` or, failing those, from the posted form."""
    raw: Any = None
    if credentials:
        raw = credentials.get("username")
    elif request is not None:
        raw = request.POST.get("username")
    return normalize_username(raw) if isinstance(raw, str) else ""


def client_ip(request: HttpRequest) -> str | None:
    """``AXES_CLIENT_IP_CALLABLE``: the address a login attempt comes from.

    ``REMOTE_ADDR`` by default. Behind reverse proxies, ``MALOTE_TRUSTED_PROXY_HEADER`` names the
    header they set (e.g. ``X-Forwarded-For``) and ``MALOTE_TRUSTED_PROXY_COUNT`` how many there
    are: each proxy appends the address it received the request from, so the client is the entry
    that many places from the right — entries further left are whatever the client sent, and are
    ignored. Without the header (or with a malformed one) the request did not come through the
    proxies: ``REMOTE_ADDR``.
    """
    remote = request.META.get("REMOTE_ADDR") or None
    meta_key = settings.MALOTE_TRUSTED_PROXY_HEADER
    if not meta_key:
        return remote
    entries = [e.strip() for e in str(request.META.get(meta_key, "")).split(",") if e.strip()]
    count = settings.MALOTE_TRUSTED_PROXY_COUNT
    if len(entries) < count:
        return remote
    candidate = entries[-count]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote


def is_locked_out(request: HttpRequest, username: str) -> bool:
    """Whether ``username`` may not try a password from this request's address now (checked by the
    login forms before authenticating, so they can say why; the backend enforces it regardless)."""
    return not AxesProxyHandler.is_allowed(request, {"username": username})


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: Any = None
) -> HttpResponse:
    """``AXES_LOCKOUT_CALLABLE``: the page the login view rendered, unchanged.

    The login forms already show why an attempt was refused (the failure that reaches the limit
    shows the usual wrong-credentials error; every attempt after it, the lockout message). axes's
    default would replace that page with a bare English text.
    """
    if isinstance(original_response, HttpResponse):
        return original_response
    return HttpResponse(status=429)  # no page to keep (axes's async path passes none)
