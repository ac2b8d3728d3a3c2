"""API authentication (Bearer tokens, or the Django session) and the permission check at the edge."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja.errors import HttpError
from ninja.security import HttpBearer, SessionAuth

from malote.accounts.models import ApiToken, hash_token
from malote.core.actors import Actor
from malote.core.errors import Forbidden

# last_used_at is written at most this often per token, so reads do not turn into writes.
TOUCH_INTERVAL = timedelta(minutes=1)


class BearerToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> ApiToken | None:
        if not token or len(token) > 200:
            return None
        found = (
            ApiToken.objects.select_related("user")
            .filter(key_hash=hash_token(token), revoked_at=None, user__is_active=True)
            .first()
        )
        if found is None:
            return None
        now = timezone.now()
        if found.last_used_at is None or now - found.last_used_at > TOUCH_INTERVAL:
            ApiToken.objects.filter(pk=found.pk).update(last_used_at=now)
        request.user = found.user
        return found


class SessionCookie(SessionAuth):
    """The Django session (docs page, back office). Only a request carrying a session cookie is
    checked, CSRF token included; without one the request is simply not authenticated, so a
    token client with a missing or bad token gets 401 rather than a CSRF 403."""

    def __call__(self, request: HttpRequest) -> Any:
        if not request.COOKIES.get(self.param_name):
            return None
        return super().__call__(request)


AUTH = [BearerToken(), SessionCookie()]


def authenticates(request: HttpRequest) -> bool:
    """Whether the API's own authentication (``AUTH``, as the routers run it) accepts ``request``
    now: a live token, or a session with its CSRF token. Middleware that answers before the
    routers (the ``Idempotency-Key`` replay) asks this first, so a revoked token, a logged-out
    session or a forged cross-site request never gets a stored answer."""
    for method in AUTH:
        try:
            if method(request):
                return True
        except HttpError:  # the session's CSRF check failed
            return False
    return False


def actor_for(request: HttpRequest) -> Actor:
    auth: Any = getattr(request, "auth", None)
    if isinstance(auth, ApiToken):
        return Actor.token(auth)
    return Actor.user(request.user)


def require(request: HttpRequest, permission: str) -> None:
    """Raise 403 ``permission_denied`` unless the caller's role grants ``permission``."""
    if not request.user.has_perm(permission):
        raise Forbidden(f"Your role does not allow this ({permission}).", extra={"permission": permission})
