"""The VTEX OMS API: JSON under the account's host, authorized by the app key and token headers."""

from __future__ import annotations

import json
from typing import Any

import httpx

from malote.connectors.http import JsonHttp, decode_json
from malote.sync.errors import DeliveryError

APP_KEY_HEADER = "X-VTEX-API-AppKey"
APP_TOKEN_HEADER = "X-VTEX-API-AppToken"


class VtexClient(JsonHttp):
    """A VTEX account's API; errors name the channel (``label``)."""

    def __init__(
        self, http: httpx.Client, base_url: str, *, label: str, app_key: str, app_token: str
    ) -> None:
        headers = {
            APP_KEY_HEADER: app_key,
            APP_TOKEN_HEADER: app_token,
            "Accept": "application/json",
            "Content-Type": "application/json",
        }
        super().__init__(http, base_url, label=label, headers=headers)

    def call(
        self,
        method: str,
        path: str,
        *,
        what: str,
        body: Any = None,
        params: dict[str, Any] | None = None,
        idempotency_key: str = "",
    ) -> httpx.Response:
        # VTEX ignores an idempotency key; it is sent for tracing only.
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        content = None if body is None else json.dumps(body, ensure_ascii=False).encode()
        return self.send(method, path, what=what, headers=headers, params=params, content=content)

    def decode(self, response: httpx.Response, what: str) -> Any:
        return decode_json(response, what=f"{self.label} {what}")

    def order(self, order_id: str) -> dict[str, Any]:
        what = f"GET order {order_id}"
        order = self.decode(self.call("GET", f"/api/oms/pvt/orders/{order_id}", what=what), what)
        if not isinstance(order, dict) or not order.get("orderId"):
            raise DeliveryError(f"{self.label}: order {order_id} came back without an order.", retryable=True)
        return order
