"""The OpenAPI document at /api/v1/openapi.json and the docs page at /api/docs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from django.conf import settings
from django.test import Client

from malote.orders.lifecycle import TRANSITIONS
from malote.orders.schemas import ORDER_EXAMPLE, OrderIn
from malote_dev.testing.fiscal import SAMPLE_NFE_KEY

OPENAPI = "/api/v1/openapi.json"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    response = Client().get(OPENAPI)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    doc: dict[str, Any] = json.loads(response.content)
    return doc


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = doc
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def _validator(doc: dict[str, Any], name: str) -> Any:
    schema = {"$ref": f"#/components/schemas/{name}", "components": doc["components"]}
    return jsonschema_rs.validator_for(schema)


def test_document_basics(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.")
    assert document["info"]["title"] == "Malote API"
    assert document["components"]["securitySchemes"]["BearerToken"] == {"type": "http", "scheme": "bearer"}


def test_every_endpoint_is_documented(document: dict[str, Any]) -> None:
    paths = document["paths"]
    expected = {
        "/api/v1/orders": {"get", "post"},
        "/api/v1/orders/export": {"get"},
        "/api/v1/orders/{order_id}": {"get"},
        "/api/v1/orders/{order_id}/events": {"get"},
        "/api/v1/orders/{order_id}/transitions": {"get"},
        "/api/v1/stock": {"get"},
        "/api/v1/stock/{sku}": {"get", "put"},
        "/api/v1/stock/{sku}/movements": {"get"},
    }
    for path, methods in expected.items():
        assert set(paths[path]) == methods, path
    # The catch-all by name (404 unknown_transition) is served but not documented.
    assert "/api/v1/orders/{order_id}/transitions/{name}" not in paths


def test_every_ref_in_the_document_resolves(document: dict[str, Any]) -> None:
    refs = set(_refs(document))
    assert refs
    for ref in refs:
        assert isinstance(_resolve(document, ref), dict), ref


def test_order_create_schema_and_its_example(document: dict[str, Any]) -> None:
    post = document["paths"]["/api/v1/orders"]["post"]
    assert post["requestBody"]["required"] is True
    schema_ref = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert schema_ref == "#/components/schemas/OrderIn"
    order_in = _resolve(document, schema_ref)
    assert order_in["additionalProperties"] is False
    assert {
        "channel",
        "external_id",
        "placed_at",
        "customer",
        "billing_address",
        "items",
        "total",
        "payment",
    } <= set(order_in["required"])
    [example] = order_in["examples"]
    assert example == ORDER_EXAMPLE
    OrderIn.model_validate(example)  # the documented example is a valid order
    validator = _validator(document, "OrderIn")
    assert validator.is_valid(example)
    assert not validator.is_valid({**example, "unknown": 1})
    assert not validator.is_valid({k: v for k, v in example.items() if k != "items"})
    assert set(post["responses"]) == {"200", "201", "400", "401", "403", "404", "409", "413", "422"}
    for status in ("200", "201"):
        assert post["responses"][status]["content"]["application/json"]["schema"]["$ref"].endswith(
            "/OrderOut"
        )


def test_every_transition_endpoint_is_documented_with_its_input(document: dict[str, Any]) -> None:
    for name, transition in TRANSITIONS.items():
        path = f"/api/v1/orders/{{order_id}}/transitions/{name}"
        assert path in document["paths"], name
        post = document["paths"][path]["post"]
        assert post["operationId"] == f"transition_{name}"
        ref = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        assert ref == f"#/components/schemas/{transition.input.__name__}"
        schema = _resolve(document, ref)
        assert schema["type"] == "object"
        assert set(schema.get("properties", {})) == set(transition.input.model_fields), name
        assert {"200", "403", "404", "409", "422"} <= set(post["responses"])
        assert post["responses"]["409"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorOut")


@pytest.mark.parametrize(
    ("name", "valid", "invalid"),
    [
        (
            "ShipIn",
            {"carrier": "correios", "method": "SEDEX", "tracking_code": "AA123456785BR"},
            {"carrier": "correios", "method": "SEDEX"},
        ),
        ("CancelIn", {"reason": "customer_gave_up"}, {"reason": "bored"}),
        ("NoInput", {}, {"anything": 1}),
        (
            "InvoiceIn",
            {"key": SAMPLE_NFE_KEY, "number": "1", "series": "1", "issued_at": "2026-11-20T10:00:00Z"},
            {"key": "x", "number": "1", "series": "1", "issued_at": "2026-11-20T10:00:00Z"},
        ),
    ],
)
def test_transition_input_schemas_are_usable(
    document: dict[str, Any], name: str, valid: dict[str, Any], invalid: dict[str, Any]
) -> None:
    validator = _validator(document, name)
    assert validator.is_valid(valid)
    assert not validator.is_valid(invalid)


def test_error_schema(document: dict[str, Any]) -> None:
    error = document["components"]["schemas"]["ErrorOut"]
    assert set(error["required"]) == {"code", "detail"}
    assert set(error["properties"]) == {"code", "detail", "field"}


@pytest.mark.django_db
def test_docs_redirect_and_page() -> None:
    client = Client()
    redirect = client.get("/api/docs")
    assert redirect.status_code == 302
    assert redirect["Location"] == "/api/v1/docs"
    page = client.get("/api/docs", follow=True)
    assert page.status_code == 200
    assert page.redirect_chain == [("/api/v1/docs", 302)]
    html = page.content.decode()
    assert "swagger-ui" in html
    assert OPENAPI in html
    assert "Malote API" in html


@pytest.mark.django_db
def test_first_request_works_before_collectstatic(recwarn: pytest.WarningsRecorder) -> None:
    """The settings create STATIC_ROOT, so WhiteNoise starts without a warning on a fresh clone."""
    assert Path(settings.STATIC_ROOT).is_dir()
    response = Client().get(OPENAPI)
    assert response.status_code == 200
    assert not [w for w in recwarn if "No directory at" in str(w.message)]
