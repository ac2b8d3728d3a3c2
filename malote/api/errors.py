"""Every API error is JSON ``{"code", "detail", "field"?}`` with a stable code."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from malote.core.errors import MaloteError

log = logging.getLogger(__name__)

# ninja prefixes locations with the parameter source and, for bodies, the parameter name.
_SOURCES = {"body", "query", "path", "header", "cookie", "form", "file"}


def error_body(code: str, detail: str, field: str | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "detail": detail}
    if field:
        body["field"] = field
    body.update(extra)
    return body


def _field(loc: list[Any], body_params: set[str]) -> str:
    parts = list(loc)
    if parts and parts[0] in _SOURCES:
        source = parts.pop(0)
        if source == "body" and parts and parts[0] in body_params:
            parts.pop(0)
    return ".".join(str(p) for p in parts)


def install(api: NinjaAPI, *, body_params: set[str]) -> None:
    def on_malote_error(request: HttpRequest, exc: MaloteError) -> HttpResponse:
        return JsonResponse(exc.as_dict(), status=exc.status)

    def on_validation(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        errors = [
            error_body(
                str(e.get("type", "invalid")),
                str(e.get("msg", "Invalid value.")),
                _field(e.get("loc", []), body_params),
            )
            for e in exc.errors
        ]
        first = errors[0] if errors else error_body("invalid", "Invalid request.")
        return JsonResponse({**first, "errors": errors}, status=422)

    def on_auth(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        return JsonResponse(
            error_body("not_authenticated", "Send a valid token: Authorization: Bearer <token>."), status=401
        )

    def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        code = "malformed_request" if exc.status_code == 400 else f"http_{exc.status_code}"
        return JsonResponse(error_body(code, str(exc)), status=exc.status_code)

    def on_404(request: HttpRequest, exc: Http404) -> HttpResponse:
        return JsonResponse(error_body("not_found", "Not found."), status=404)

    def on_too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
        return JsonResponse(error_body("payload_too_large", "The request body is too large."), status=413)

    def on_unparsable(request: HttpRequest, exc: Exception) -> HttpResponse:
        # A multipart body without a boundary, too many form or query fields, and the like.
        return JsonResponse(error_body("malformed_request", "The request cannot be parsed."), status=400)

    def on_unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
        log.exception("unexpected error in %s %s", request.method, request.path)
        return JsonResponse(error_body("internal_error", "Unexpected error; it has been logged."), status=500)

    handlers: list[tuple[type[Exception], Callable[..., HttpResponse]]] = [
        (MaloteError, on_malote_error),
        (ValidationError, on_validation),
        (AuthenticationError, on_auth),
        (HttpError, on_http_error),
        (Http404, on_404),
        (RequestDataTooBig, on_too_big),
        (SuspiciousOperation, on_unparsable),
        (MultiPartParserError, on_unparsable),
        (Exception, on_unexpected),
    ]
    for exc_class, handler in handlers:
        api.add_exception_handler(exc_class, handler)
