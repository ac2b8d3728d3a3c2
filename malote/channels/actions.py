"""Channel configuration commands (docs/channel-rules.md).

``update_credentials`` is the one way to change a channel's stored credentials outside a form that
replaces them whole: the connectors' OAuth refresh (Mercado Livre, Bling) stores the new token pair
through it, so a restarted worker, or another one, starts from the refreshed token.

Audit: who (the actor), when and which credential *names* changed go to the ``malote.audit``
logger, and, when the actor is a user, to Django's admin log (the channel's history). Credential
values never reach either, nor the channel's ``options``, nor any exception message.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from django.contrib.admin.models import CHANGE, LogEntry
from django.db import transaction
from django.utils import timezone

from malote.channels.models import Channel
from malote.core.actors import Actor
from malote.core.errors import InvalidInput, NotFound

log = logging.getLogger("malote.audit")


def update_credentials(channel_id: int, changes: Mapping[str, Any], *, actor: Actor) -> Channel:
    """Merge ``changes`` into the channel's credentials under a row lock and return the channel.

    A key set to ``None`` is removed; every other key is set to its value; keys not named keep
    theirs. Nothing is written (and nothing audited) when no value changes. Runs in its own short
    transaction (or the caller's), never around a remote call: callers make the call first."""
    if not isinstance(changes, Mapping) or not all(isinstance(k, str) and k for k in changes):
        raise InvalidInput("Credential changes must be an object with non-empty names.", field="credentials")
    with transaction.atomic():
        channel = Channel.objects.select_for_update().filter(pk=channel_id).first()
        if channel is None:
            raise NotFound(f"No channel with id {channel_id}.")
        current = dict(channel.credentials or {})
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


def stored_credentials(channel: Any) -> dict[str, Any]:
    """The channel's credentials as stored now (another worker may have refreshed a token since
    ``channel`` was read); a channel object that is not a saved ``Channel`` answers its own."""
    if isinstance(channel, Channel) and channel.pk is not None:
        stored = Channel.objects.filter(pk=channel.pk).values_list("credentials", flat=True).first()
        if isinstance(stored, dict):
            return dict(stored)
    return dict(getattr(channel, "credentials", None) or {})


def store_refreshed_credentials(channel: Any, changes: Mapping[str, Any]) -> None:
    """Store what a connector's token refresh obtained (actor: the channel itself) and update the
    connector's ``channel`` object; a channel object that is not a saved ``Channel`` is only updated."""
    if isinstance(channel, Channel) and channel.pk is not None:
        saved = update_credentials(channel.pk, changes, actor=Actor.channel(channel.code))
        channel.credentials = saved.credentials
        return
    merged = {**(getattr(channel, "credentials", None) or {}), **changes}
    channel.credentials = {name: value for name, value in merged.items() if value is not None}
