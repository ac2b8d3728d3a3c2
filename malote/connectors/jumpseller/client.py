"""Jumpseller's API v1: JSON under ``base_url`` with HTTP Basic ``login:authtoken``.

A 429 without ``Retry-After`` waits until the store's ban reset header says. Calls take a token
from the channel's shared bucket first (``DEFAULT_RATE_LIMITS``: the vendor's published limit).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx
from django.utils import timezone

from malote.connectors.http import JsonHttp, RateLimits, decode_json
from malote.connectors.jumpseller.mapping import parse_time
from malote.sync.errors import DeliveryError, retry_after_seconds

RESET_HEADER = "Jumpseller-BannedByRateLimit-Reset"
#: Every call counts against one store's budget.
CALLS = "calls"
#: Jumpseller's published limit is 20 requests per second and 800 per minute per store and IP:
#: 800/min sustained (13.3/s) with a burst of 13 keeps under both.
DEFAULT_RATE_LIMITS: Mapping[str, float] = {CALLS: 800 / 60}


class JumpsellerClient(JsonHttp):
    """A store's API; errors name the channel (``label``)."""

    def __init__(
        self,
        http: httpx.Client,
        base_url: str,
        *,
        label: str,
        login: str,
        authtoken: str,
        rate_limits: RateLimits | None = None,
    ) -> None:
        super().__init__(http, base_url, label=label, auth=(login, authtoken), rate_limits=rate_limits)

    def rate_class(self, method: str, path: str) -> str | None:
        return CALLS

    def check(self, response: httpx.Response, *, what: str) -> httpx.Response:
        try:
            return super().check(response, what=what)
        except DeliveryError as exc:
            if exc.status == 429 and exc.retry_after is None:
                exc.retry_after = _reset_seconds(response.headers.get(RESET_HEADER))
            raise

    def call(
        self,
        method: str,
        path: str,
        *,
        what: str,
        body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        idempotency_key: str = "",
    ) -> Any:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        content = None if body is None else json.dumps(body, ensure_ascii=False).encode()
        response = self.send(method, path, what=what, headers=headers, params=params, content=content)
        return decode_json(response, what=self.describe(method, path, what))

    @staticmethod
    def order_id(external_id: str) -> int:
        if not str(external_id).isdigit():
            raise DeliveryError(f"{external_id!r} is not a Jumpseller order id.", retryable=False)
        return int(external_id)

    def order(self, external_id: str) -> dict[str, Any]:
        order_id = self.order_id(external_id)
        data = self.call("GET", f"/orders/{order_id}.json", what=f"GET order {order_id}")
        order = data.get("order") if isinstance(data, dict) else None
        if not isinstance(order, dict):
            raise DeliveryError(f"{self.label}: order {order_id} came back without an order.", retryable=True)
        return order


def _reset_seconds(value: str | None) -> float | None:
    """``Jumpseller-BannedByRateLimit-Reset`` as seconds from now (an ISO time, an HTTP date or
    seconds; the vendor names the header but not its format)."""
    if not value:
        return None
    moment = parse_time(value)
    if moment is not None:
        return max(0.0, (moment - timezone.now()).total_seconds())
    return retry_after_seconds(value)
