"""Django's ``SECRET_KEY``: from ``MALOTE_SECRET_KEY``, else generated once and kept in ``var/``.

The key signs sessions, CSRF tokens, password-reset links and the ``messages`` cookie: whoever knows
it can forge them. So it is never a literal in the source: without ``MALOTE_SECRET_KEY`` the first
start writes a random key to ``<var>/secret_key`` (mode 0600) and every later start — and every
other process on the same ``var/`` — reuses it. In production mode (``DEBUG`` off) a key that was
ever published is refused outright.

Imported by ``malote.settings`` before Django is set up: standard library and
``django.core.exceptions`` only.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

FILE_NAME = "secret_key"
ENV_VAR = "MALOTE_SECRET_KEY"
# SHA-256 of keys that were printed in Malote's source (the development default before issue 12):
# anyone can sign with them, so production mode refuses them. Hashes, not the keys themselves.
PUBLISHED_KEY_SHA256 = frozenset({"530de0110f9de9655e351692d50adeaa99c7db0174fb6eedea6a56cec20225c5"})
# Django's own placeholder (``startproject``); its check --deploy calls such keys insecure.
DJANGO_PLACEHOLDER_PREFIX = "django-insecure-"


def is_published(key: str) -> bool:
    """Whether ``key`` is one anybody can read: a key Malote's source once shipped, or Django's
    ``django-insecure-`` placeholder."""
    digest = hashlib.sha256(key.encode()).hexdigest()
    return digest in PUBLISHED_KEY_SHA256 or key.startswith(DJANGO_PLACEHOLDER_PREFIX)


def generate() -> str:
    """A fresh key: 64 URL-safe characters from the OS's CSPRNG (Django wants ≥ 50, varied)."""
    return secrets.token_urlsafe(48)


def load_or_create(var_dir: Path) -> str:
    """The key kept in ``var_dir/secret_key``, created there first if missing.

    Creation is atomic and race-free: the key is written and fsynced to a private temporary file
    (mode 0600 from the start), then hard-linked to its final name, which fails if another process
    got there first — the loser discards its own key and reads the winner's. A reader therefore
    never sees a partial file, and concurrent first starts (gunicorn workers, the delivery worker)
    all end up with the same key.
    """
    var_dir.mkdir(parents=True, exist_ok=True)
    path = var_dir / FILE_NAME
    if not path.exists():
        _create(path)
    return _read(path)


def _create(path: Path) -> None:
    temporary = path.with_name(f".{FILE_NAME}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(generate() + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):  # another process created it first: its key wins
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _read(path: Path) -> str:
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)  # a copy restored with looser permissions: readable by the owner only
    key = path.read_text(encoding="ascii").strip()
    if not key:
        raise ImproperlyConfigured(
            f"{path} is empty. Delete it to have a new secret key generated, or set {ENV_VAR}."
        )
    return key


def configured_secret_key(environ: Mapping[str, str], var_dir: Path, *, debug: bool) -> str:
    """The key for this process: ``MALOTE_SECRET_KEY`` if set, else the one kept in ``var_dir``.

    Raises ``ImproperlyConfigured`` in production mode (``debug`` False) when the key is published.
    """
    configured = environ.get(ENV_VAR, "").strip()
    key = configured or load_or_create(var_dir)
    if not debug and is_published(key):
        source = ENV_VAR if configured else str(var_dir / FILE_NAME)
        raise ImproperlyConfigured(
            f"The secret key from {source} is publicly known (it was printed in Malote's source or "
            f"is Django's placeholder): anyone could forge sessions and signed cookies with it. "
            f"Refusing to start with MALOTE_DEBUG off. Unset {ENV_VAR} to have a random key kept in "
            f"{var_dir / FILE_NAME}, or set it to a new random value, e.g. "
            f"`python -c 'import secrets; print(secrets.token_urlsafe(48))'`."
        )
    return key
