"""Every error code the API can answer is documented: in the OpenAPI document (the ``enum`` of
``ErrorOut.code``) and in the catalogue, docs/error-codes.md."""

from __future__ import annotations

import json
import re
from enum import StrEnum
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from django.conf import settings
from django.test import Client

from malote.api.errors import API_ERROR_CODES, PYDANTIC_ERROR_TYPES, RECONCILE_API_CODES, ApiErrorCode
from malote.api.tests.helpers import ORDERS, assert_error
from malote.backoffice.errors import BackofficeErrorCode
from malote.channels.errors import ChannelsErrorCode
from malote.conftest import ApiClient
from malote.connectors.errors import ConnectorErrorCode
from malote.core.errors import CoreErrorCode
from malote.fiscal.errors import FiscalErrorCode
from malote.orders.errors import OrdersErrorCode
from malote.reconcile.errors import ReconcileErrorCode
from malote.relay.errors import DIVERGENCE_CODES, RelayErrorCode
from malote.returns.errors import ReturnsErrorCode
from malote.stock.errors import StockErrorCode
from malote.sync.errors import SyncErrorCode

OPENAPI = "/api/v1/openapi.json"
CATALOGUE = Path(settings.BASE_DIR) / "docs" / "error-codes.md"

# The enums whose every member the API can answer.
WHOLE_ENUMS: list[type[StrEnum]] = [
    CoreErrorCode,
    ApiErrorCode,
    OrdersErrorCode,
    StockErrorCode,
    SyncErrorCode,
    ReturnsErrorCode,
]
# The enums of which the API answers a part, and that part.
PARTS: dict[type[StrEnum], tuple[StrEnum, ...]] = {
    FiscalErrorCode: tuple(c for c in FiscalErrorCode if c != FiscalErrorCode.TRACKING_PATTERN_INVALID),
    RelayErrorCode: DIVERGENCE_CODES,
    ReconcileErrorCode: RECONCILE_API_CODES,
}
# Every product enum: all of them are in the catalogue.
ALL_ENUMS: list[type[StrEnum]] = [
    *WHOLE_ENUMS,
    *PARTS,
    BackofficeErrorCode,
    ChannelsErrorCode,
    ConnectorErrorCode,
]
# Codes that exist but that the API never answers: webhooks, the back office, reconciliation's
# notes and outcomes, a settings error.
NOT_API_CODES = [
    RelayErrorCode.MALFORMED_WEBHOOK,
    RelayErrorCode.UPSTREAM_UNAVAILABLE,
    ConnectorErrorCode.WEBHOOK_SIGNATURE_INVALID,
    BackofficeErrorCode.USERNAME_TAKEN,
    BackofficeErrorCode.THROTTLED,
    ReconcileErrorCode.NEEDS_PERSON,
    FiscalErrorCode.TRACKING_PATTERN_INVALID,
]


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    response = Client().get(OPENAPI)
    assert response.status_code == 200
    doc: dict[str, Any] = json.loads(response.content)
    return doc


@pytest.fixture(scope="module")
def documented(document: dict[str, Any]) -> set[str]:
    codes = document["components"]["schemas"]["ErrorOut"]["properties"]["code"]["enum"]
    assert len(codes) == len(set(codes))
    return set(codes)


@pytest.fixture(scope="module")
def catalogue() -> set[str]:
    """The codes of docs/error-codes.md: the first cell of each table row, in backticks."""
    return set(re.findall(r"^\| `([a-z0-9_]+)` \|", CATALOGUE.read_text(encoding="utf-8"), re.MULTILINE))


def _members(enum: type[StrEnum]) -> list[str]:
    return [member.value for member in enum]


@pytest.mark.parametrize("enum", WHOLE_ENUMS, ids=lambda e: e.__name__)
def test_every_member_of_an_api_enum_is_in_the_openapi_document(
    enum: type[StrEnum], documented: set[str]
) -> None:
    assert set(_members(enum)) <= documented, set(_members(enum)) - documented


@pytest.mark.parametrize("enum", list(PARTS), ids=lambda e: e.__name__)
def test_the_api_part_of_an_enum_is_in_the_openapi_document(
    enum: type[StrEnum], documented: set[str]
) -> None:
    part = PARTS[enum]
    assert part and all(isinstance(code, enum) for code in part)
    assert set(part) <= documented, set(part) - documented


def test_the_document_lists_exactly_the_api_codes_and_pydantic_types(documented: set[str]) -> None:
    assert documented == {*API_ERROR_CODES, *PYDANTIC_ERROR_TYPES}
    assert {*API_ERROR_CODES} == {code for enum in WHOLE_ENUMS for code in _members(enum)} | {
        code for part in PARTS.values() for code in part
    }
    # Schema validation's own vocabulary is there too, so the enum is true of every 422.
    assert {"missing", "extra_forbidden", "string_too_long"} <= documented


def test_a_known_code_is_documented_and_a_made_up_one_is_not(documented: set[str]) -> None:
    assert "order_not_found" in documented
    assert OrdersErrorCode.ORDER_NOT_FOUND in documented
    assert "order_lost_in_transit" not in documented
    assert "" not in documented


@pytest.mark.parametrize("code", NOT_API_CODES, ids=str)
def test_codes_the_api_never_answers_are_not_in_the_document(code: StrEnum, documented: set[str]) -> None:
    assert code not in documented


def test_every_error_answer_of_every_operation_is_an_error_out(document: dict[str, Any]) -> None:
    seen = 0
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, answer in operation["responses"].items():
                if int(status) >= 400:
                    seen += 1
                    ref = answer["content"]["application/json"]["schema"]["$ref"]
                    assert ref == "#/components/schemas/ErrorOut", (method, path, status)
    assert seen


@pytest.mark.django_db
def test_answered_codes_are_in_the_document_and_fit_error_out(
    document: dict[str, Any], documented: set[str], api: ApiClient
) -> None:
    validator = jsonschema_rs.validator_for(
        {"$ref": "#/components/schemas/ErrorOut", "components": document["components"]}
    )
    client = Client()
    answers = [
        (api.get(f"{ORDERS}/999999"), 404, OrdersErrorCode.ORDER_NOT_FOUND),
        (api.get("/api/v1/stock/NO-SUCH-SKU"), 404, ApiErrorCode.STOCK_ITEM_NOT_FOUND),
        (api.get(f"{ORDERS}?cursor=not-ours"), 422, ApiErrorCode.INVALID_CURSOR),
        (client.get(ORDERS), 401, CoreErrorCode.NOT_AUTHENTICATED),
        (client.get("/api/v1/no-such-path"), 404, CoreErrorCode.NOT_FOUND),
        (client.delete(ORDERS), 405, ApiErrorCode.METHOD_NOT_ALLOWED),
    ]
    for response, status, code in answers:
        body = assert_error(response, status, code, field=response.json().get("field"))
        assert body["code"] in documented
        assert validator.is_valid(body), body
    made_up = {"code": "order_lost_in_transit", "detail": "Gone."}
    assert not validator.is_valid(made_up)


def test_the_catalogue_names_every_code_of_every_app(catalogue: set[str]) -> None:
    assert CATALOGUE.is_file()
    for enum in ALL_ENUMS:
        missing = set(_members(enum)) - catalogue
        assert not missing, f"{enum.__name__}: {sorted(missing)} not in docs/error-codes.md"
    assert "order_lost_in_transit" not in catalogue
