"""The codes connectors attach to the errors they raise, one vocabulary for every vendor.

``WebhookRejected.code`` and ``BadAnswer.code`` carry a member; being a ``StrEnum``, it compares
equal to (and serializes as) its string value, which is what the inbox and the API report.
"""

from __future__ import annotations

from enum import StrEnum


class ConnectorErrorCode(StrEnum):
    # Inbound: why a webhook request was refused (answered 401).
    WEBHOOKS_NOT_SUPPORTED = "webhooks_not_supported"
    WEBHOOK_SIGNATURE_MISSING = "webhook_signature_missing"
    WEBHOOK_SIGNATURE_INVALID = "webhook_signature_invalid"
    WEBHOOK_SIGNATURE_CONFIG = "webhook_signature_config"
    WEBHOOK_REPLAY_WINDOW = "webhook_replay_window"
    WEBHOOK_AUTH_INVALID = "webhook_auth_invalid"
    WEBHOOK_SECRET_MISSING = "webhook_secret_missing"
    WEBHOOK_SECRET_NOT_CONFIGURED = "webhook_secret_not_configured"
    WEBHOOK_TOKEN_NOT_CONFIGURED = "webhook_token_not_configured"
    WEBHOOK_TOKEN_MISSING = "webhook_token_missing"
    WEBHOOK_TOKEN_INVALID = "webhook_token_invalid"
    WEBHOOK_NOT_RECOGNIZED = "webhook_not_recognized"
    WEBHOOK_NOT_OURS = "webhook_not_ours"
    WEBHOOK_ORIGIN_MISMATCH = "webhook_origin_mismatch"
    # Inbound: the body cannot be read safely (``payload.load_json``; answered 400).
    WEBHOOK_BODY_NOT_JSON = "webhook_body_not_json"
    WEBHOOK_BODY_TOO_DEEP = "webhook_body_too_deep"
    # Outbound: a 2xx answer that is not what a JSON API sends (a proxy or maintenance page).
    ANSWER_NOT_JSON = "answer_not_json"
    ANSWER_NOT_OBJECT = "answer_not_object"
    # Outbound: Malote's own per-channel rate limit (``rate_limits``) made the call wait too long;
    # retryable, no remote call made. The channel's option is not a valid limits object.
    RATE_LIMITED = "rate_limited"
    RATE_LIMITS_INVALID = "rate_limits_invalid"
