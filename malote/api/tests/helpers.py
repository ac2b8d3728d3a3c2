"""Assertions and builders shared by the API tests."""

from __future__ import annotations

import copy
from typing import Any

from malote.conftest import ORDER_JSON

ORDERS = "/api/v1/orders"


def order_url(order_id: int, *rest: str) -> str:
    return "/".join([ORDERS, str(order_id), *rest])


def transition_url(order_id: int, name: str) -> str:
    return order_url(order_id, "transitions", name)


def order_data(**overrides: Any) -> dict[str, Any]:
    """The canonical order of DESIGN.md §5 with top-level fields replaced."""
    data = copy.deepcopy(ORDER_JSON)
    data.update(overrides)
    return data


def assert_error(response: Any, status: int, code: str, field: str | None = None) -> dict[str, Any]:
    """The answer is ``status`` with the JSON error body ``{"code", "detail", "field"?}``."""
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert isinstance(body["detail"], str) and body["detail"]
    if field is None:
        assert "field" not in body or body["field"] is None, body
    else:
        assert body.get("field") == field, body
    return body
