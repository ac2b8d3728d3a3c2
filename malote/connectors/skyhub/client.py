"""SkyHub's API: JSON under ``base_url``, authorized by three headers (user e-mail, API key and
account-manager key). Path segments are URL-quoted one by one.

Rate limits (per account, SkyHub's documentation): order reads (``GET /orders…`` and
``GET /queues/orders``) 1 per second, writes (``POST``/``PUT``/``PATCH``/``DELETE``) 9 per second.
Calls are classed ``orders_get`` and ``write`` accordingly; other reads are not limited.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from malote.connectors.http import JsonHttp, RateLimits, decode_json
from malote.sync.errors import DeliveryError

ORDERS_GET = "orders_get"
WRITE = "write"
# Requests per second per class, as SkyHub publishes them (the channel option ``rate_limits`` overrides).
DEFAULT_RATE_LIMITS: Mapping[str, float] = {ORDERS_GET: 1.0, WRITE: 9.0}
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class SkyHubClient(JsonHttp):
    """A SkyHub account's API; errors name the channel (``label``)."""

    def __init__(
        self,
        http: httpx.Client,
        base_url: str,
        *,
        label: str,
        headers: dict[str, str],
        rate_limits: RateLimits | None = None,
    ) -> None:
        headers = {"Accept": "application/json", **headers}
        super().__init__(http, base_url, label=label, headers=headers, rate_limits=rate_limits)

    def rate_class(self, method: str, path: str) -> str | None:
        """``write`` for every write; ``orders_get`` for reads of orders and of the order queue."""
        if method in WRITE_METHODS:
            return WRITE
        segments = [segment for segment in urlsplit(path).path.split("/") if segment]
        if method == "GET" and (segments[:1] == ["orders"] or segments[:2] == ["queues", "orders"]):
            return ORDERS_GET
        return None

    def call(
        self,
        method: str,
        *segments: str,
        what: str,
        params: Any = None,
        body: Any = None,
        form: dict[str, str] | None = None,
        files: dict[str, tuple[str, bytes, str]] | None = None,
    ) -> httpx.Response:
        """One call to ``/<segment>/<segment>…``: JSON ``body``, or a multipart ``form`` with ``files``."""
        # With files httpx writes multipart/form-data with its boundary.
        headers = {} if files else {"Content-Type": "application/json"}
        path = "".join(f"/{quote(segment, safe='')}" for segment in segments)
        return self.send(
            method, path, what=what, headers=headers, params=params, json=body, data=form, files=files
        )

    def decode(self, response: httpx.Response, what: str) -> Any:
        """The answer's JSON, ``None`` for an empty body."""
        if not response.content.strip():
            return None
        return decode_json(response, what=f"{self.label} {what}")

    def order(self, code: str) -> dict[str, Any]:
        what = f"GET order {code}"
        data = self.decode(self.call("GET", "orders", code, what=what), what)
        if not isinstance(data, dict) or not data.get("code"):
            raise DeliveryError(f"{self.label} {what}: the answer has no order.", retryable=True)
        return data

    def write(
        self,
        code: str,
        endpoint: str,
        body: dict[str, Any],
        files: dict[str, tuple[str, bytes, str]] | None = None,
    ) -> None:
        """``POST /orders/{code}/{endpoint}`` (JSON, or a multipart form when ``files``); a 422
        becomes a permanent error naming the status code sent."""
        what = f"POST /orders/{code}/{endpoint}"
        try:
            if files:
                self.call("POST", "orders", code, endpoint, what=what, form=body, files=files)
            else:
                self.call("POST", "orders", code, endpoint, what=what, body=body)
        except DeliveryError as exc:
            if exc.status == 422:
                raise DeliveryError(
                    f"SkyHub refused {what} with status code {body.get('status')!r} (HTTP 422): "
                    f"{exc.detail}. Check that the SkyHub account has this status (GET /statuses) "
                    "or fix the channel's status map.",
                    retryable=False,
                    status=422,
                ) from exc
            raise
