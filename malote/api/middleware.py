"""API middleware: ``Idempotency-Key`` on every POST, and JSON bodies on every API error."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

from malote.accounts import idempotency
from malote.accounts.models import IdempotencyRecord
from malote.api.auth import authenticates
from malote.api.errors import ApiErrorCode, error_body
from malote.core.errors import CoreErrorCode

API_PREFIX = "/api/"
IN_PROGRESS = idempotency.IN_PROGRESS
# Answers that say nothing about the request itself are not remembered: the client may retry.
NOT_STORED = {401, 403, 413, 429}


def _principal(request: HttpRequest) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer ") and len(header) > 7:
        return "t:" + hashlib.sha256(header[7:].strip().encode()).hexdigest()[:40]
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    return f"s:{session_key}" if session_key else None


class IdempotencyKeyMiddleware:
    """Replays the stored answer to a POST repeated with the same ``Idempotency-Key``.

    The key is scoped to the caller (token or session), and honoured only for a caller the API's
    authentication accepts right now: any other request goes straight to the routers, which answer
    401 (or 403 for a failed CSRF check), so a revoked token never gets a stored answer. The same
    key with a different request is refused with 422 ``idempotency_key_reused``; a repeat while the
    first is still running gets 409 ``idempotency_in_progress``, until the first has held the key
    longer than the lease (it died): then the repeat takes the key over and runs. A key is bound
    for 24 hours; after that it is new again. 5xx answers are not stored, so such a request can be
    retried. The rows are handled by ``malote.accounts.idempotency``.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        key = request.headers.get("Idempotency-Key")
        if request.method != "POST" or not key or not request.path.startswith(API_PREFIX):
            return self.get_response(request)
        principal = _principal(request)
        if principal is None:
            return self.get_response(request)
        if len(key) > 255:
            return JsonResponse(
                error_body(
                    ApiErrorCode.IDEMPOTENCY_KEY_TOO_LONG, "Idempotency-Key is limited to 255 characters."
                ),
                status=422,
            )
        try:
            body = request.body
        except Exception:  # RequestDataTooBig and the like: let the view answer it.
            return self.get_response(request)
        if not authenticates(request):  # read after the body: the CSRF check may read the form
            return self.get_response(request)
        digest = hashlib.sha256(request.method.encode() + request.path.encode() + b"\n" + body).hexdigest()
        claim = idempotency.claim(
            principal, key, method=request.method, path=request.path, request_hash=digest
        )
        if not claim.owned:
            return self._replay(claim.record, digest)
        response = self.get_response(request)
        if response.status_code >= 500 or response.status_code in NOT_STORED or response.streaming:
            idempotency.drop(claim)
            return response
        idempotency.store(claim, response.status_code, response.content)
        return response

    def _replay(self, record: IdempotencyRecord | None, digest: str) -> HttpResponse:
        if record is None:  # deleted after a failure in between: ask for a retry
            return JsonResponse(
                error_body(ApiErrorCode.IDEMPOTENCY_IN_PROGRESS, "Retry the request."), status=409
            )
        if record.request_hash != digest:
            return JsonResponse(
                error_body(
                    ApiErrorCode.IDEMPOTENCY_KEY_REUSED,
                    "This Idempotency-Key was already used for a different request.",
                ),
                status=422,
            )
        if record.status == IN_PROGRESS:
            return JsonResponse(
                error_body(
                    ApiErrorCode.IDEMPOTENCY_IN_PROGRESS,
                    "A request with this Idempotency-Key is still running.",
                ),
                status=409,
            )
        response = HttpResponse(bytes(record.body), status=record.status, content_type="application/json")
        response["Idempotent-Replayed"] = "true"
        return response


class ApiJsonErrorsMiddleware:
    """Gives API errors answered outside the API's handlers (unknown path, wrong method) a JSON body."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            request.path.startswith(API_PREFIX)
            and response.status_code >= 400
            and not response.streaming
            and "json" not in response.get("Content-Type", "")
        ):
            code = {404: CoreErrorCode.NOT_FOUND, 405: ApiErrorCode.METHOD_NOT_ALLOWED}.get(
                response.status_code, ApiErrorCode.ERROR
            )
            detail = {404: "No such API path.", 405: "Method not allowed on this path."}.get(
                response.status_code, "Request failed."
            )
            replaced = JsonResponse(error_body(code, detail), status=response.status_code)
            if response.has_header("Allow"):
                replaced["Allow"] = response["Allow"]
            return replaced
        return response
