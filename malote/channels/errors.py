"""The codes of the channels app (see docs/error-codes.md)."""

from __future__ import annotations

from enum import StrEnum

from malote.core.errors import MaloteError


class ChannelsErrorCode(StrEnum):
    # Stored credentials that no configured key decrypts (credentials.py)
    CREDENTIALS_UNREADABLE = "credentials_unreadable"


class CredentialsUnreadable(MaloteError):
    """A channel's stored credentials cannot be decrypted with any configured key (the key was lost
    or replaced). 503: the deployment, not the request, is at fault, and the sender of a webhook
    should retry once an operator has restored the key or entered the credentials again."""

    status = 503
    default_code = ChannelsErrorCode.CREDENTIALS_UNREADABLE
