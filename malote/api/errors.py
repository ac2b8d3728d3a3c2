"""Every API error is JSON ``{"code", "detail", "field"?}`` with a stable code."""

from __future__ import annotations

import logging
from collections.abc import Callable
from enum import StrEnum
from typing import Any, get_args

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from pydantic_core.core_schema import ErrorType

from malote.core.errors import CoreErrorCode, MaloteError
from malote.fiscal.errors import FiscalErrorCode
from malote.orders.errors import OrdersErrorCode
from malote.reconcile.errors import ReconcileErrorCode
from malote.relay.errors import DIVERGENCE_CODES
from malote.returns.errors import ReturnsErrorCode
from malote.stock.errors import StockErrorCode
from malote.sync.errors import SyncErrorCode

log = logging.getLogger(__name__)

# ninja prefixes locations with the parameter source and, for bodies, the parameter name.
_SOURCES = {"body", "query", "path", "header", "cookie", "form", "file"}


class ApiErrorCode(StrEnum):
    """The codes the API layer answers itself (handlers, middleware, routers)."""

    # Requests the API cannot read (errors.py, middleware.py, bodies.py)
    MALFORMED_REQUEST = "malformed_request"
    MALFORMED_JSON = "malformed_json"
    BODY_NOT_OBJECT = "body_not_object"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    CSRF_FAILED = "http_403"  # ninja's HttpError(403): a session-cookie request without its CSRF token
    INVALID_CURSOR = "invalid_cursor"
    # Idempotency-Key (middleware.py)
    IDEMPOTENCY_KEY_TOO_LONG = "idempotency_key_too_long"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    IDEMPOTENCY_IN_PROGRESS = "idempotency_in_progress"
    # Lookups of the API's own resources (stock.py, outbox.py)
    STOCK_ITEM_NOT_FOUND = "stock_item_not_found"
    MESSAGE_NOT_FOUND = "message_not_found"
    # Anything else
    INTERNAL_ERROR = "internal_error"
    ERROR = "error"  # a non-JSON error answered outside the API's handlers, other than 404 and 405


# ninja's HttpError: 400 for a body or parameters it cannot parse, 403 for a failed CSRF check.
HTTP_ERROR_CODES: dict[int, str] = {400: ApiErrorCode.MALFORMED_REQUEST, 403: ApiErrorCode.CSRF_FAILED}

# The reconciliation codes the issue endpoints answer; its other members name noted events and
# outcomes, never an error answer.
RECONCILE_API_CODES = (
    ReconcileErrorCode.ISSUE_NOT_FOUND,
    ReconcileErrorCode.ISSUE_CLOSED,
    ReconcileErrorCode.ISSUE_NOT_REPAIRABLE,
    ReconcileErrorCode.HELPDESK_MISSING,
    ReconcileErrorCode.UNKNOWN_ACTION,
    ReconcileErrorCode.REASON_REQUIRED,
)

# Every Malote code the API can answer (docs/error-codes.md). Fiscal codes arrive through the input
# schemas and the invoice and ship commands, except tracking_pattern_invalid (a settings error at
# start-up); relay's through the issue actions that resolve a divergent link.
API_ERROR_CODES: tuple[str, ...] = tuple(
    dict.fromkeys(
        [
            *CoreErrorCode,
            *ApiErrorCode,
            *OrdersErrorCode,
            *StockErrorCode,
            *SyncErrorCode,
            *(code for code in FiscalErrorCode if code != FiscalErrorCode.TRACKING_PATTERN_INVALID),
            *DIVERGENCE_CODES,
            *RECONCILE_API_CODES,
            *ReturnsErrorCode,
        ]
    )
)
# A request that fails schema validation (422) carries pydantic's error type as its code
# (``missing``, ``extra_forbidden``, ``string_too_long``…) where no Malote rule names it.
PYDANTIC_ERROR_TYPES: tuple[str, ...] = get_args(ErrorType)


# Rules the OpenAPI document cannot express: check digits and other content of a well-formed
# CPF/CNPJ, CEP, NF-e key or XML, sums and comparisons across fields, what the database holds,
# blanks-only and NUL inside text, a money number's decimals, an opaque cursor. A request the
# document allows may still be refused with 422 and one of these codes; refused with any other
# code, the document is wrong (malote/api/tests/test_contract.py; docs/security.md, "API input").
RULES_BEYOND_SCHEMA: frozenset[str] = frozenset(
    {
        # Check digits and content (the document gives the form: pattern, length)
        FiscalErrorCode.CPF_REPEATED_DIGITS,
        FiscalErrorCode.CPF_CHECK_DIGIT,
        FiscalErrorCode.CNPJ_FORBIDDEN_LETTER,
        FiscalErrorCode.CNPJ_REPEATED_DIGITS,
        FiscalErrorCode.CNPJ_CHECK_DIGIT,
        FiscalErrorCode.CEP_ZERO,
        FiscalErrorCode.NFE_KEY_CHECK_DIGIT,
        FiscalErrorCode.NFE_KEY_UF,
        FiscalErrorCode.NFE_KEY_MONTH,
        FiscalErrorCode.NFE_KEY_MODEL,
        FiscalErrorCode.NFE_KEY_EMISSION_TYPE,
        FiscalErrorCode.NFE_KEY_NUMBER,
        FiscalErrorCode.NFE_KEY_EMITTER,
        FiscalErrorCode.TRACKING_CODE_FORMAT,
        FiscalErrorCode.TRACKING_CODE_CHECK_DIGIT,
        OrdersErrorCode.INVOICE_NUMBER_ZERO,
        *(code for code in FiscalErrorCode if code.startswith("nfe_xml_")),
        # NF-e events: rules that depend on the type, the file's content or the order's invoice
        *(code for code in FiscalErrorCode if code.startswith("nfe_event_")),
        OrdersErrorCode.INVOICE_EVENT_KEY_NOT_OF_ORDER,
        OrdersErrorCode.INVOICE_EVENT_PROTOCOL_MISMATCH,
        OrdersErrorCode.NFE_XML_TOTAL_MISMATCH,
        OrdersErrorCode.NFE_XML_RECIPIENT_MISMATCH,
        OrdersErrorCode.NFE_XML_NOT_AUTHORIZED,
        # Across fields, or against the order and the configuration
        OrdersErrorCode.TOTALS_MISMATCH,
        OrdersErrorCode.LINE_DISCOUNT_EXCEEDS_VALUE,
        OrdersErrorCode.UNKNOWN_CHANNEL,
        OrdersErrorCode.DELIVERED_BEFORE_SHIPPED,
        OrdersErrorCode.INVOICE_NUMBER_MISMATCH,
        OrdersErrorCode.INVOICE_SERIES_MISMATCH,
        OrdersErrorCode.INVOICE_ISSUED_AT_MISMATCH,
        # Shipments in parts: against the order's lines and what already left (docs/lifecycle.md)
        OrdersErrorCode.SHIPMENT_LINE_UNKNOWN,
        OrdersErrorCode.SHIPMENT_LINE_AMBIGUOUS,
        OrdersErrorCode.SHIPMENT_LINE_REPEATED,
        OrdersErrorCode.SHIPMENT_QUANTITY_EXCEEDS_REMAINING,
        OrdersErrorCode.SHIPMENT_UNKNOWN,
        ApiErrorCode.INVALID_CURSOR,
        # Returns: against the order's lines, payments and NF-e (docs/returns.md)
        ReturnsErrorCode.RETURN_CHANNEL_UNKNOWN,
        ReturnsErrorCode.RETURN_LINE_UNKNOWN,
        ReturnsErrorCode.RETURN_LINE_REPEATED,
        ReturnsErrorCode.RETURN_QUANTITY_EXCEEDS_ORDERED,
        ReturnsErrorCode.RECEIVED_EXCEEDS_REQUESTED,
        ReturnsErrorCode.RECEIVED_CONDITION_MISSING,
        ReturnsErrorCode.REFUND_NOT_POSITIVE,
        ReturnsErrorCode.REFUND_EXCEEDS_PAID,
        ReturnsErrorCode.REFUND_AMOUNT_MISMATCH,
        ReturnsErrorCode.RETURN_NFE_NOT_A_RETURN,
        ReturnsErrorCode.RETURN_NFE_WRONG_REFERENCE,
        ReturnsErrorCode.RETURN_NFE_KEY_IS_ORDERS,
        ReturnsErrorCode.RETURN_NFE_XML_TOO_LARGE,
        # Text: NUL anywhere, or only blanks where text is required (stripped, then too short)
        OrdersErrorCode.NUL_CHARACTER,
        "string_too_short",
        # A money number with more than 2 decimals (a JSON number has no decimal places to limit)
        "decimal_max_places",
        "decimal_max_digits",
    }
)


def openapi_codes() -> list[str]:
    """The ``enum`` of ``ErrorOut.code`` in the OpenAPI document: every code the API can answer."""
    return sorted({*API_ERROR_CODES, *PYDANTIC_ERROR_TYPES})


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
                str(e.get("type", CoreErrorCode.INVALID)),
                str(e.get("msg", "Invalid value.")),
                _field(e.get("loc", []), body_params),
            )
            for e in exc.errors
        ]
        first = errors[0] if errors else error_body(CoreErrorCode.INVALID, "Invalid request.")
        return JsonResponse({**first, "errors": errors}, status=422)

    def on_auth(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        return JsonResponse(
            error_body(CoreErrorCode.NOT_AUTHENTICATED, "Send a valid token: Authorization: Bearer <token>."),
            status=401,
        )

    def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        # Any other status ninja might raise keeps the old dynamic form, http_<status>.
        code = HTTP_ERROR_CODES.get(exc.status_code, f"http_{exc.status_code}")
        return JsonResponse(error_body(code, str(exc)), status=exc.status_code)

    def on_404(request: HttpRequest, exc: Http404) -> HttpResponse:
        return JsonResponse(error_body(CoreErrorCode.NOT_FOUND, "Not found."), status=404)

    def on_too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
        return JsonResponse(
            error_body(ApiErrorCode.PAYLOAD_TOO_LARGE, "The request body is too large."), status=413
        )

    def on_unparsable(request: HttpRequest, exc: Exception) -> HttpResponse:
        # A multipart body without a boundary, too many form or query fields, and the like.
        return JsonResponse(
            error_body(ApiErrorCode.MALFORMED_REQUEST, "The request cannot be parsed."), status=400
        )

    def on_unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
        log.exception("unexpected error in %s %s", request.method, request.path)
        return JsonResponse(
            error_body(ApiErrorCode.INTERNAL_ERROR, "Unexpected error; it has been logged."), status=500
        )

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
