"""Channel configuration commands (docs/channel-rules.md).

``update_credentials`` is the one way to change a channel's stored credentials outside a form that
replaces them whole: the connectors' OAuth refresh (Mercado Livre, Bling) stores the new token pair
through it, so a restarted worker, or another one, starts from the refreshed token.

Audit: who (the actor), when and which credential *names* changed go to the ``malote.audit``
logger, and, when the actor is a user, to Django's admin log (the channel's history). Credential
values never reach either, nor the channel's ``options``, nor any exception message.

Credentials are stored encrypted (``malote.channels.credentials``). Stored credentials that no
configured key decrypts are never merged into nor copied: these functions raise
``CredentialsUnreadable`` (``credentials_unreadable``) instead of carrying on as if there were none.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.contrib.admin.models import CHANGE, LogEntry
from django.db import transaction
from django.utils import timezone

from malote.channels.credentials import UNREADABLE_DETAIL, is_readable
from malote.channels.errors import CredentialsUnreadable
from malote.channels.models import Channel
from malote.core.actors import Actor
from malote.core.errors import InvalidInput, NotFound

log = logging.getLogger("malote.audit")


def update_credentials(channel_id: int, changes: Mapping[str, Any], *, actor: Actor) -> Channel:
    """Merge ``changes`` into the channel's credentials under a row lock and return the channel.

    A key set to ``None`` is removed; every other key is set to its value; keys not named keep
    theirs. Nothing is written (and nothing audited) when no value changes. Runs in its own short
    transaction (or the caller's), never around a remote call: callers make the call first.
    Raises ``CredentialsUnreadable`` when the stored credentials cannot be decrypted (a merge would
    silently drop them)."""
    if not isinstance(changes, Mapping) or not all(isinstance(k, str) and k for k in changes):
        raise InvalidInput("Credential changes must be an object with non-empty names.", field="credentials")
    with transaction.atomic():
        channel = Channel.objects.select_for_update().filter(pk=channel_id).first()
        if channel is None:
            raise NotFound(f"No channel with id {channel_id}.")
        current = _readable(channel.credentials)
        merged = dict(current)
        for name, value in changes.items():
            if value is None:
                merged.pop(name, None)
            else:
                merged[name] = value
        changed = sorted(name for name in changes if current.get(name) != merged.get(name))
        if changed:
            channel.credentials = merged
            channel.save(update_fields=["credentials"])
            _audit(channel, changed, actor)
    return channel


def _audit(channel: Channel, names: list[str], actor: Actor) -> None:
    """Who changed which credentials of the channel, and when: names only, never values."""
    message = f"Credenciais alteradas: {', '.join(names)}"
    if actor.kind == "user" and actor.user_id is not None:
        LogEntry.objects.log_actions(
            actor.user_id,
            Channel.objects.filter(pk=channel.pk),
            CHANGE,
            change_message=message,
            single_object=True,
        )
    log.info(
        "%s %s: channels.Channel %s (%s): %s at %s",
        actor.kind,
        actor.label,
        channel.pk,
        channel.code,
        message,
        timezone.now().isoformat(),
    )


def _readable(credentials: Any) -> dict[str, Any]:
    """A copy of decrypted credentials; ``CredentialsUnreadable`` when they could not be decrypted."""
    if not is_readable(credentials):
        raise CredentialsUnreadable(UNREADABLE_DETAIL)
    return dict(credentials or {})


def stored_credentials(channel: Any) -> dict[str, Any]:
    """The channel's credentials as stored now (another worker may have refreshed a token since
    ``channel`` was read); a channel object that is not a saved ``Channel`` answers its own.
    Raises ``CredentialsUnreadable`` when the stored ones cannot be decrypted."""
    if isinstance(channel, Channel) and channel.pk is not None:
        found = Channel.objects.filter(pk=channel.pk).values_list("credentials", flat=True)
        if found:
            return _readable(found[0])
    return _readable(getattr(channel, "credentials", None))


def store_refreshed_credentials(channel: Any, changes: Mapping[str, Any]) -> None:
    """Store what a connector's token refresh obtained (actor: the channel itself) and update the
    connector's ``channel`` object; a channel object that is not a saved ``Channel`` is only updated."""
    if isinstance(channel, Channel) and channel.pk is not None:
        saved = update_credentials(channel.pk, changes, actor=Actor.channel(channel.code))
        channel.credentials = saved.credentials
        return
    merged = {**_readable(getattr(channel, "credentials", None)), **changes}
    channel.credentials = {name: value for name, value in merged.items() if value is not None}


@dataclass(frozen=True)
class KeyRotation:
    """What ``reencrypt_credentials`` did: the channels whose credentials were re-encrypted (or,
    checking only, that read fine) and those no configured key decrypts (left untouched)."""

    done: list[str]
    unreadable: list[str]


def reencrypt_credentials(*, check_only: bool = False) -> KeyRotation:
    """Re-encrypt every channel's credentials under the first configured key (key rotation: the
    other keys need only decrypt). Each row is locked, re-read and rewritten in its own short
    transaction, so a token refresh running meanwhile is neither lost nor blocked for long; plain
    rows left from before encryption are encrypted too. ``check_only`` writes nothing."""
    done: list[str] = []
    unreadable: list[str] = []
    for pk, code in Channel.objects.order_by("pk").values_list("pk", "code"):
        with transaction.atomic():
            found = Channel.objects.select_for_update().filter(pk=pk).values_list("credentials", flat=True)
            if not found:
                continue  # deleted meanwhile
            if not is_readable(found[0]):
                unreadable.append(code)
                continue
            if not check_only:
                Channel.objects.filter(pk=pk).update(credentials=found[0])
            done.append(code)
    if not check_only:
        log.info(
            "system: credentials re-encrypted under the first key: %d channel(s), %d unreadable (%s) at %s",
            len(done),
            len(unreadable),
            ", ".join(unreadable) or "none",
            timezone.now().isoformat(),
        )
    return KeyRotation(done, unreadable)
