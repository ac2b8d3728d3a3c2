"""VTEX's OpenAPI file (OpenAPI 3.0) as JSON Schema validators for the fake's answers and the
connector's requests."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest

from malote_dev.sandbox.tests.specs import not_found, vendor_spec

VTEX_OPENAPI = vendor_spec("vtex-orders-openapi.json", "MALOTE_VTEX_OPENAPI")


def _json_schema(node: Any) -> Any:
    """OpenAPI 3.0's ``nullable: true`` as JSON Schema (``type: [t, "null"]``), recursively."""
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {
        key: _json_schema(value) for key, value in node.items() if key not in ("example", "examples")
    }
    if converted.pop("nullable", False):
        if "$ref" in converted:
            return {"anyOf": [{"$ref": converted["$ref"]}, {"type": "null"}]}
        if isinstance(converted.get("type"), str):
            converted["type"] = [converted["type"], "null"]
        if isinstance(converted.get("enum"), list):
            converted["enum"] = [*converted["enum"], None]
    return converted


@cache
def _spec() -> dict[str, Any]:
    if not VTEX_OPENAPI.is_file():
        pytest.skip(not_found("vtex-orders-openapi.json", "MALOTE_VTEX_OPENAPI"))
    spec: dict[str, Any] = json.loads(VTEX_OPENAPI.read_text())
    return spec


@cache
def _components() -> dict[str, Any]:
    return {"schemas": _json_schema(_spec()["components"]["schemas"])}


def response_schema(path: str, method: str, status: int = 200) -> dict[str, Any]:
    """The spec's schema of one answer (any media type it declares)."""
    response = _spec()["paths"][path][method.lower()]["responses"][str(status)]
    [content] = response["content"].values()
    schema: dict[str, Any] = _json_schema(content["schema"])
    return schema


def request_schema(path: str, method: str) -> dict[str, Any]:
    body = _spec()["paths"][path][method.lower()]["requestBody"]
    [content] = body["content"].values()
    schema: dict[str, Any] = _json_schema(content["schema"])
    return schema


def _validate(instance: Any, schema: dict[str, Any]) -> None:
    jsonschema.Draft7Validator({**schema, "components": _components()}).validate(instance)


def validate_response(instance: Any, path: str, method: str, status: int = 200) -> None:
    """Validate an answer against ``paths[path][method].responses[status]``."""
    _validate(instance, response_schema(path, method, status))


def validate_request(instance: Any, path: str, method: str) -> None:
    """Validate a request body against ``paths[path][method].requestBody``."""
    _validate(instance, request_schema(path, method))


def schema_properties(path: str, method: str, status: int = 200) -> set[str]:
    """The top-level property names an answer's schema declares (for "every field is there")."""
    schema = response_schema(path, method, status)
    if "$ref" in schema:
        schema = _components()["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return set(schema.get("properties", {}))
