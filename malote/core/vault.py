"""Secrets at rest: Fernet tokens (AES-128-CBC + HMAC-SHA256, ``cryptography``) under a key ring.

The keys, in order of precedence:

- ``MALOTE_CREDENTIALS_KEY``: a comma-separated list of Fernet keys. The first encrypts; every one
  of them decrypts, so a key can be rotated without a moment where stored tokens are unreadable
  (docs/security.md, "Credentials at rest").
- otherwise ``<VAR_DIR>/credentials.key``: one key generated on first use, mode 0600. It is
  written to a private temporary file and hard-linked into place, which never replaces an
  existing file: when two processes start at once, the first link wins and both read its key.

A malformed key is a deployment error (``VaultKeyError``, reported by ``malote check``), never a
reason to store anything in clear. Key material never appears in an error message.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

ENV_VAR = "MALOTE_CREDENTIALS_KEY"
KEY_FILE_NAME = "credentials.key"
# Every Fernet token starts with its version byte 0x80, which is "gAAAAA" in url-safe base64.
TOKEN_PREFIX = "gAAAAA"

_rings: dict[tuple[str, str], MultiFernet] = {}
_lock = threading.Lock()


class VaultKeyError(ImproperlyConfigured):
    """The configured key material is unusable (not a Fernet key, or an unreadable key file)."""


class Undecryptable(Exception):
    """No configured key decrypts the token (the key was lost or replaced, or the token is damaged)."""


def key_file() -> Path:
    return Path(settings.VAR_DIR) / KEY_FILE_NAME


def key_ring() -> MultiFernet:
    """The configured keys, first one encrypting; built once per configuration and process."""
    configured = os.environ.get(ENV_VAR, "").strip()
    cache_key = (configured, "" if configured else str(key_file()))
    ring = _rings.get(cache_key)
    if ring is None:
        with _lock:
            ring = _rings.get(cache_key)
            if ring is None:
                keys = _environment_keys(configured) if configured else [_file_key(key_file())]
                ring = _rings[cache_key] = MultiFernet(keys)
    return ring


def check_environment_keys() -> None:
    """Raise ``VaultKeyError`` when ``MALOTE_CREDENTIALS_KEY`` is set but unusable (a start-up check;
    the key file is left alone: it is created on first use, not by a check)."""
    configured = os.environ.get(ENV_VAR, "").strip()
    if configured:
        _environment_keys(configured)


def encrypt(plain: bytes) -> str:
    """A Fernet token of ``plain`` under the first key (a fresh IV each time: never deterministic)."""
    return key_ring().encrypt(plain).decode("ascii")


def decrypt(token: str) -> bytes:
    """The plain bytes of ``token``; raises ``Undecryptable`` when no configured key opens it."""
    try:
        return key_ring().decrypt(token.encode("ascii"))
    except (InvalidToken, UnicodeEncodeError):
        raise Undecryptable("No configured key decrypts this token.") from None


def looks_encrypted(text: str) -> bool:
    """Whether ``text`` has the shape of a Fernet token (whether it decrypts is another matter)."""
    return text.startswith(TOKEN_PREFIX)


def _environment_keys(configured: str) -> list[Fernet]:
    keys = []
    for position, key in enumerate((part.strip() for part in configured.split(",")), start=1):
        if not key:
            continue
        try:
            keys.append(Fernet(key))
        except ValueError:
            raise VaultKeyError(
                f"{ENV_VAR}: key {position} is not a Fernet key (32 url-safe base64-encoded bytes)."
            ) from None
    if not keys:
        raise VaultKeyError(f"{ENV_VAR} names no key.")
    return keys


def _file_key(path: Path) -> Fernet:
    if not path.exists():
        _create_key_file(path)
    try:
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)  # a copy restored with looser permissions: readable by the owner only
        return Fernet(path.read_bytes().strip())
    except ValueError:
        raise VaultKeyError(f"{path} does not hold a Fernet key.") from None
    except OSError as exc:
        raise VaultKeyError(f"{path} cannot be read: {exc.strerror}.") from None


def _create_key_file(path: Path) -> None:
    """Write a new key to ``path`` unless another process got there first (then keep theirs)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(Fernet.generate_key() + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):  # another process linked first: its key wins
            os.link(temporary, path)
    finally:
        os.unlink(temporary)
