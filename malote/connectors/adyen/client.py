"""Adyen's Checkout API: JSON under ``base_url``, authorized by the ``X-API-Key`` header."""

from __future__ import annotations

from typing import Any

import httpx

from malote.connectors.http import JsonHttp
from malote.sync.errors import DeliveryError


class AdyenClient(JsonHttp):
    """The merchant's Checkout API."""

    def __init__(self, http: httpx.Client, base_url: str, *, api_key: str) -> None:
        headers = {"X-API-Key": api_key, "Accept": "application/json"}
        super().__init__(http, base_url, label="adyen", headers=headers)

    def modify_payment(
        self, psp: str, endpoint: str, body: dict[str, Any], *, idempotency_key: str
    ) -> dict[str, Any]:
        """``POST /payments/{psp}/{endpoint}``; Adyen answers ``status: received`` (the outcome
        arrives later as a webhook) with the modification's own ``pspReference``."""
        path = f"/payments/{psp}/{endpoint}"
        answer = self.json("POST", path, json=body, headers={"Idempotency-Key": idempotency_key})
        if not isinstance(answer, dict) or answer.get("status") != "received":
            raise DeliveryError(f"adyen POST {path}: unexpected answer {str(answer)[:200]}", retryable=True)
        return answer
