"""How a channel's credentials are stored: a JSON object encrypted at rest (``malote.core.vault``).

``EncryptedJSONField`` keeps a Fernet token of the object's JSON in a text column and gives callers
the ``dict``, whatever wrote or reads it: model saves, ``QuerySet.update()``, ``bulk_update``,
``values_list`` and fixtures (``dumpdata`` writes the token, ``loaddata`` takes a token or a
plain object). A row written before encryption (plain JSON text) still reads as its object until
migration ``0005`` encrypts it. No form renders the field: forms take new values through inputs
of their own and never show the stored ones.

A token that no configured key decrypts reads as ``UnreadableCredentials``: using a value raises
``CredentialsUnreadable`` (code ``credentials_unreadable``), loading the channel does not.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from django.core import checks
from django.core.exceptions import ValidationError
from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.expressions import Expression

from malote.channels.errors import CredentialsUnreadable
from malote.core import vault

UNREADABLE_DETAIL = (
    "The channel's credentials cannot be decrypted with any configured key "
    f"({vault.ENV_VAR} or var/{vault.KEY_FILE_NAME}): restore the key, or enter the credentials again."
)


class UnreadableCredentials(Mapping[str, Any]):
    """Stands in for stored credentials that no configured key decrypts.

    Reading a value (``[name]``, ``get``, ``in``, ``values``, ``items``) raises
    ``CredentialsUnreadable``, so a connector fails with that code instead of calling out without
    its credentials. The names are inside the token, so it lists none (``iter`` and ``len`` see
    nothing) and it equals only an empty mapping or the same token: a page that lists credential
    names shows none and a form that replaces the credentials works. It is truthy (there are
    credentials, they just cannot be read), so ``credentials or {}`` keeps it. Saving the channel
    writes ``token`` back unchanged: nothing is lost until new credentials replace it.
    """

    __slots__ = ("token",)

    def __init__(self, token: str) -> None:
        self.token = token

    def __getitem__(self, name: str) -> Any:
        raise CredentialsUnreadable(UNREADABLE_DETAIL)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0

    def __bool__(self) -> bool:
        return True

    def values(self) -> Any:
        raise CredentialsUnreadable(UNREADABLE_DETAIL)

    def items(self) -> Any:
        raise CredentialsUnreadable(UNREADABLE_DETAIL)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, UnreadableCredentials):
            return other.token == self.token
        return isinstance(other, Mapping) and len(other) == 0

    __hash__ = None  # type: ignore[assignment]  # mutable-mapping semantics: never a dict key

    def __repr__(self) -> str:
        return "<UnreadableCredentials>"


def is_readable(credentials: Any) -> bool:
    """Whether stored credentials could be decrypted (``False`` for ``UnreadableCredentials``)."""
    return not isinstance(credentials, UnreadableCredentials)


def read_stored(text: str) -> dict[str, Any] | UnreadableCredentials:
    """The object a stored column value stands for: a token decrypted, a legacy plain JSON object
    as it is, and anything no key decrypts (or no JSON object) as ``UnreadableCredentials``."""
    stored = text.strip()
    if not stored:
        return {}
    if stored.startswith("{"):  # written before encryption: plain JSON (migration 0005 encrypts it)
        plain = stored.encode("utf-8")
    else:
        try:
            plain = vault.decrypt(stored)
        except vault.Undecryptable:
            return UnreadableCredentials(stored)
    try:
        value = json.loads(plain)
    except ValueError:
        return UnreadableCredentials(stored)
    return value if isinstance(value, dict) else UnreadableCredentials(stored)


def encrypt_object(value: Mapping[str, Any]) -> str:
    """The token stored for ``value`` (under the first configured key)."""
    return vault.encrypt(json.dumps(dict(value), ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


class EncryptedJSONField(models.Field):
    """A JSON object, stored as a Fernet token in a text column (see the module docstring)."""

    description = "JSON object, encrypted at rest"
    empty_strings_allowed = False

    def get_internal_type(self) -> str:
        return "TextField"

    def from_db_value(self, value: Any, expression: Expression, connection: BaseDatabaseWrapper) -> Any:
        return self.to_python(value)

    def to_python(self, value: Any) -> Any:
        if value is None or isinstance(value, (dict, UnreadableCredentials)):
            return value
        if isinstance(value, Mapping):
            return dict(value)
        if isinstance(value, str):
            return read_stored(value)
        raise ValidationError("Credentials must be a JSON object.", code="invalid")

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None:
            return None
        if isinstance(value, UnreadableCredentials):
            return value.token
        if isinstance(value, Mapping):
            return encrypt_object(value)
        raise TypeError(f"Credentials must be a JSON object, not {type(value).__name__}.")

    def value_to_string(self, obj: models.Model) -> str:
        # Serialised (dumpdata) as the token: a fixture file holds no secret in clear.
        return str(self.get_prep_value(self.value_from_object(obj)))

    def formfield(self, **kwargs: Any) -> None:
        # Write-only: no form renders the stored values (forms declare their own inputs).
        return None


@checks.register(checks.Tags.security)
def check_credentials_key(**kwargs: Any) -> list[checks.CheckMessage]:
    """``malote check`` (and every command that runs the checks) refuses a malformed key list."""
    try:
        vault.check_environment_keys()
    except vault.VaultKeyError as exc:
        return [
            checks.Error(
                str(exc),
                hint="Generate a key with Fernet.generate_key(); see docs/security.md, Credentials at rest.",
                id="channels.E001",
            )
        ]
    return []
