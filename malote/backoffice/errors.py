"""The codes of the back office's own errors: management commands (manage_actions.py) and form
validation (``ValidationError.code``). See docs/error-codes.md."""

from __future__ import annotations

from enum import StrEnum


class BackofficeErrorCode(StrEnum):
    # Channels (manage_actions.py)
    CHANNEL_DISABLED = "channel_disabled"
    POLL_UNSUPPORTED = "poll_unsupported"
    POLL_DISABLED = "poll_disabled"
    SYNC_IN_PROGRESS = "sync_in_progress"
    # Stock (manage_actions.py)
    SKU_NOT_FOUND = "sku_not_found"
    # Users and tokens (manage_actions.py)
    CANNOT_CHANGE_SELF = "cannot_change_self"
    USER_INACTIVE = "user_inactive"
    TOKEN_REVOKED = "token_revoked"
    # Form validation (manage_forms.py, forms.py)
    INVALID_JSON = "invalid_json"
    NOT_AN_OBJECT = "not_an_object"
    DUPLICATE_REMOTE_STATUS = "duplicate_remote_status"
    # A channel option's value that its spec refuses (malote.channels.option_specs): a list item, a
    # placeholder, a mapping value, a key the "avançado" JSON repeats from a field
    INVALID_OPTION = "invalid_option"
    USERNAME_TAKEN = "username_taken"
    THROTTLED = "throttled"
    # Transition forms (transition_forms.py): a listed service of another carrier than the one chosen
    SHIPPING_SERVICE_MISMATCH = "shipping_service_mismatch"
