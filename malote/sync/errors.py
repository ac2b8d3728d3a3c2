"""How a delivery failed, and whether trying again can help."""

from __future__ import annotations

from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import ClassVar

import httpx
from django.utils import timezone

# 4xx answers that are worth retrying: timeout, locked, too early, too many requests.
RETRYABLE_4XX = frozenset({408, 423, 425, 429})


class SyncErrorCode(StrEnum):
    """Codes of the outbox commands' errors (see docs/error-codes.md)."""

    MESSAGE_NOT_RETRYABLE = "message_not_retryable"


class DeliveryError(Exception):
    """Raised by a handler. ``retryable`` False sends the message to the dead letters at once.

    ``counts_as_attempt`` False (a subclass's class attribute) marks a failure that made no remote
    call — Malote's own rate limit deferred it — so the outbox gives the attempt back."""

    counts_as_attempt: ClassVar[bool] = True

    def __init__(
        self, detail: str, *, retryable: bool, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds: either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (moment - timezone.now()).total_seconds())


def check_response(response: httpx.Response, *, what: str) -> httpx.Response:
    """Raise ``DeliveryError`` for a non-2xx answer, classified by status code."""
    if response.is_success:
        return response
    status = response.status_code
    retryable = status >= 500 or status in RETRYABLE_4XX
    body = response.text[:300].replace("\n", " ")
    raise DeliveryError(
        f"{what}: HTTP {status} {body}",
        retryable=retryable,
        status=status,
        retry_after=retry_after_seconds(response.headers.get("Retry-After")),
    )


def transport_error(exc: httpx.HTTPError, *, what: str) -> DeliveryError:
    """Timeouts, refused and dropped connections: the remote may or may not have acted; retry."""
    return DeliveryError(f"{what}: {type(exc).__name__}: {exc}", retryable=True)
