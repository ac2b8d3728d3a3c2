"""The OpenAPI document is the contract: schemathesis runs every operation with all its checks.

Every check schemathesis has (no server error, documented status codes, content types and
response schemas, schema-violating requests refused, schema-valid requests accepted, auth, …)
runs against every operation of ``/api/v1/openapi.json``, authenticated with an admin token. One
check is narrowed: a schema-valid request may still be refused with 422 for a rule the document
cannot express, but only with a code of ``RULES_BEYOND_SCHEMA`` (malote/api/errors.py).

``MALOTE_FUZZ_EXAMPLES`` sets the examples per operation: a few in the suite, 50 in ``make fuzz``.
Generation is derandomized (the same cases every run) and every case runs inside a savepoint that
is rolled back, so cases neither see one another's writes nor depend on the day or the database.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, settings
from schemathesis.checks import CheckContext
from schemathesis.core.failures import Failure
from schemathesis.specs.openapi.checks import positive_data_acceptance

from malote.api.errors import RULES_BEYOND_SCHEMA
from malote.api.schemas import MAX_ID
from malote.conftest import ApiClient
from malote.orders.models import Order
from malote.wsgi import application

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("MALOTE_FUZZ_EXAMPLES", "3"))
CONTRACT_SETTINGS = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)

# Loaded at import (serving the document needs no database), as in test_fuzz.py.
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)
schema.config.generation.update(modes=list(schemathesis.GenerationMode), deterministic=True)
# A body over Django's upload limit (a string beyond maxLength can be megabytes) is refused with
# 413 before it is read: a correct refusal of schema-violating data, as documented.
_negative = schema.config.checks.negative_data_rejection
_negative.expected_statuses = [*_negative.expected_statuses, "413"]


def refusal_codes(body: bytes) -> set[str]:
    """The codes of a 422 answer: the first error's and every one in ``errors``."""
    try:
        answer = json.loads(body)
    except ValueError:
        return set()
    if not isinstance(answer, dict):
        return set()
    codes = {answer.get("code")} | {e.get("code") for e in answer.get("errors", []) if isinstance(e, dict)}
    return {code for code in codes if isinstance(code, str)}


def positive_data_within_documented_rules(ctx: CheckContext, response: Any, case: Any) -> bool | None:
    """schemathesis' ``positive_data_acceptance``, except a 422 whose every code is a rule the
    document cannot express (``RULES_BEYOND_SCHEMA``)."""
    try:
        return positive_data_acceptance(ctx, response, case)
    except Failure:
        codes = refusal_codes(response.content)
        if response.status_code == 422 and codes and codes <= RULES_BEYOND_SCHEMA:
            return None
        raise


@dataclass
class Caller:
    headers: dict[str, str]
    order_id: int


@pytest.fixture
def keep_connection() -> Iterator[None]:
    """The WSGI app closes 'old' connections around each request, which would end the test's
    transaction; keep the one connection open as Django's test client does."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def caller(
    api_as: Callable[[str], ApiClient], make_order: Callable[..., Order], keep_connection: None
) -> Caller:
    return Caller(headers=dict(api_as("admin").headers), order_id=make_order().pk)


@schema.parametrize()
@CONTRACT_SETTINGS
def test_every_operation_keeps_its_contract(case: Any, caller: Caller) -> None:
    params = case.path_parameters or {}
    generated = params.get("order_id")
    # About half the valid ids are swapped for a real order (an invalid one stays invalid).
    if isinstance(generated, int) and 1 <= generated <= MAX_ID and generated % 2 == 0:
        params["order_id"] = caller.order_id
    with transaction.atomic():
        try:
            case.call_and_validate(
                headers=caller.headers,
                excluded_checks=[positive_data_acceptance],
                additional_checks=[positive_data_within_documented_rules],
            )
        finally:
            transaction.set_rollback(True)


# --- the narrowed check itself ---------------------------------------------------------------------


def test_refusal_codes_reads_the_first_code_and_the_list() -> None:
    body = b'{"code": "cpf_check_digit", "detail": "x", "errors": [{"code": "totals_mismatch"}]}'
    assert refusal_codes(body) == {"cpf_check_digit", "totals_mismatch"}
    assert refusal_codes(b"not json") == set()
    assert refusal_codes(b"[1]") == set()


@dataclass
class _Answer:
    status_code: int
    content: bytes


def _failing_check(*args: Any) -> None:
    raise Failure(operation="POST /x", message="Valid data should have been accepted")


@pytest.mark.parametrize(
    ("status", "body", "tolerated"),
    [
        (422, b'{"code": "cpf_check_digit", "detail": "x"}', True),
        (422, b'{"code": "totals_mismatch", "detail": "x", "errors": [{"code": "totals_mismatch"}]}', True),
        # A rule the document could express, or a mix with one: the document is wrong.
        (422, b'{"code": "missing", "detail": "x"}', False),
        (422, b'{"code": "cpf_check_digit", "detail": "x", "errors": [{"code": "int_type"}]}', False),
        # Only 422 is a rule's refusal; 400 means the request could not even be read.
        (400, b'{"code": "cpf_check_digit", "detail": "x"}', False),
    ],
)
def test_positive_data_is_refused_only_for_rules_beyond_the_schema(
    monkeypatch: pytest.MonkeyPatch, status: int, body: bytes, tolerated: bool
) -> None:
    monkeypatch.setattr(f"{__name__}.positive_data_acceptance", _failing_check)
    answer = _Answer(status, body)
    if tolerated:
        assert positive_data_within_documented_rules(None, answer, None) is None  # type: ignore[arg-type]
    else:
        with pytest.raises(Failure):
            positive_data_within_documented_rules(None, answer, None)  # type: ignore[arg-type]
