"""Assertions and builders shared by the API tests."""

from __future__ import annotations

from typing import Any

from malote_dev.testing.orders import order_data

__all__ = ["ORDERS", "assert_error", "order_data", "order_url", "transition_url"]

ORDERS = "/api/v1/orders"


def order_url(order_id: int, *rest: str) -> str:
    return "/".join([ORDERS, str(order_id), *rest])


def transition_url(order_id: int, name: str) -> str:
    return order_url(order_id, "transitions", name)


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
