"""Errors with stable codes, shared by every part of Malote.

Every error a caller can act on carries a ``code`` (stable snake_case, documented in the API),
a readable ``detail`` and, for invalid input, the ``field`` at fault. The API and the back office
render them the same way: ``{"code", "detail", "field"?}``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class CoreErrorCode(StrEnum):
    """The default codes of the error classes below; each app names its own codes (``<App>ErrorCode``)
    and the catalogue of all of them is docs/error-codes.md."""

    BAD_REQUEST = "bad_request"
    INVALID = "invalid"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    PERMISSION_DENIED = "permission_denied"
    NOT_AUTHENTICATED = "not_authenticated"


class MaloteError(Exception):
    """Base of all coded errors; ``status`` is the HTTP status the API answers with."""

    status = 400
    default_code: str = CoreErrorCode.BAD_REQUEST

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        field: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code or self.default_code
        self.field = field
        self.extra = extra or {}

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "detail": self.detail}
        if self.field:
            body["field"] = self.field
        body.update(self.extra)
        return body


class InvalidInput(MaloteError):
    """The request is well-formed but a value breaks a rule (422)."""

    status = 422
    default_code = CoreErrorCode.INVALID


class NotFound(MaloteError):
    status = 404
    default_code = CoreErrorCode.NOT_FOUND


class Conflict(MaloteError):
    """The request conflicts with the current state of the resource (409)."""

    status = 409
    default_code = CoreErrorCode.CONFLICT


class Forbidden(MaloteError):
    status = 403
    default_code = CoreErrorCode.PERMISSION_DENIED


class Unauthorized(MaloteError):
    status = 401
    default_code = CoreErrorCode.NOT_AUTHENTICATED
