"""The codes relay answers with (see docs/error-codes.md).

Webhooks (``POST /hooks/<channel>``) also answer ``ConnectorErrorCode`` members: a connector's
``WebhookRejected.code`` (401) and ``webhooks_not_supported`` (404).
"""

from __future__ import annotations

from enum import StrEnum


class RelayErrorCode(StrEnum):
    # Inbound webhooks (views.py)
    UNKNOWN_CHANNEL = "unknown_channel"
    MALFORMED_WEBHOOK = "malformed_webhook"
    UPSTREAM_UNAVAILABLE = "upstream_unavailable"
    WEBHOOK_TOO_LARGE = "webhook_too_large"
    WEBHOOK_QUERY_INVALID = "webhook_query_invalid"
    # Resolving a divergent order link (divergence.py)
    UNKNOWN_RESOLUTION = "unknown_resolution"
    LINK_NOT_FOUND = "link_not_found"
    LINK_NOT_DIVERGENT = "link_not_divergent"
    ACCEPT_REMOTE_NOT_ALLOWED = "accept_remote_not_allowed"


# The codes of resolve_divergence, which the issues API (accept, dismiss) can answer.
DIVERGENCE_CODES = (
    RelayErrorCode.UNKNOWN_RESOLUTION,
    RelayErrorCode.LINK_NOT_FOUND,
    RelayErrorCode.LINK_NOT_DIVERGENT,
    RelayErrorCode.ACCEPT_REMOTE_NOT_ALLOWED,
)
