"""Request bodies the endpoints read themselves: optional JSON objects (transition and issue inputs)."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from django.http import HttpRequest
from pydantic import BaseModel, ValidationError

from malote.api.errors import ApiErrorCode
from malote.core.errors import InvalidInput
from malote.orders.actions import invalid_input_from

FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")
Model = TypeVar("Model", bound=BaseModel)


def read_object(request: HttpRequest) -> dict[str, Any]:
    """The body as a JSON object; an empty body (or an empty form) means ``{}``.

    Raises 422 ``malformed_json`` for text that is not JSON and ``body_not_object`` for JSON
    that is not an object."""
    if not request.body.strip():
        return {}
    if request.content_type in FORM_TYPES:
        return {key: value for key, value in request.POST.items() if key != "csrfmiddlewaretoken"}
    try:
        data = json.loads(request.body)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: absurdly deep nesting
        raise InvalidInput("The body is not valid JSON.", code=ApiErrorCode.MALFORMED_JSON) from None
    if not isinstance(data, dict):
        raise InvalidInput("The body must be a JSON object.", code=ApiErrorCode.BODY_NOT_OBJECT)
    return data


def optional_body(request: HttpRequest, model: type[Model]) -> Model:
    """``model`` validated from an optional JSON body; its errors answer 422 with their codes."""
    try:
        return model.model_validate(read_object(request))
    except ValidationError as exc:
        raise invalid_input_from(exc) from None


# The models named by request_body(): the OpenAPI document adds their schemas (malote/api/main.py).
BODY_MODELS: set[type[BaseModel]] = set()


def request_body(model: type[BaseModel], *, required: bool) -> dict[str, Any]:
    """The OpenAPI ``requestBody`` of an endpoint that reads ``model`` with :func:`read_object`."""
    BODY_MODELS.add(model)
    return {
        "required": required,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}},
    }
