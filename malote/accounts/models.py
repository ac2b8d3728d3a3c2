"""API tokens: ``Authorization: Bearer <token>``. Only a SHA-256 of the token is stored."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

TOKEN_PREFIX = "mlt_"


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiToken(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, default="default")
    prefix = models.CharField(
        max_length=12, help_text=_("Primeiros caracteres, para reconhecer o token nas listas.")
    )
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"

    @classmethod
    def issue(cls, user: object, name: str = "default") -> tuple[ApiToken, str]:
        """Create a token; the raw value is returned once and never stored."""
        raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = cls.objects.create(user=user, name=name, prefix=raw[:12], key_hash=hash_token(raw))
        return token, raw


class IdempotencyRecord(models.Model):
    """The stored answer to a POST sent with an ``Idempotency-Key``, replayed on a repeat.

    ``status`` 0 means the request is still running. ``started_at`` is when the current attempt
    began: it is the lease of a running attempt (a retry takes over a record still running past
    the lease, its request being dead) and the start of the record's lifetime (past it the key is
    new again and the row is pruned). ``attempt`` grows with every takeover; a takeover is a
    conditional UPDATE on it, so of two retries only one wins, and a dead attempt that wakes up
    cannot overwrite its successor's answer. See ``malote.accounts.idempotency``.
    """

    principal = models.CharField(max_length=64)
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    request_hash = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField()
    body = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(default=timezone.now, db_index=True)
    attempt = models.PositiveIntegerField(default=1)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["principal", "key"], name="idempotency_key_once")]

    def __str__(self) -> str:
        return f"{self.method} {self.path} ({self.key})"
