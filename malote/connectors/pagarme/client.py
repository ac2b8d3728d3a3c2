"""Pagar.me's core API v5: JSON under ``base_url``, HTTP Basic with the secret key as user.

Also the JWKS that signs webhooks: fetched without credentials, cached per process and URL.
"""

from __future__ import annotations

import base64
import binascii
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa

from malote.connectors.http import JsonHttp

JWKS_TTL_SECONDS = 3600.0
JWKS_REFETCH_SECONDS = 5.0


class PagarmeClient(JsonHttp):
    """The gateway's API; every answer is a JSON object."""

    def __init__(self, http: httpx.Client, base_url: str, *, secret_key: str) -> None:
        auth = httpx.BasicAuth(secret_key, "")
        super().__init__(http, base_url, label="pagarme", headers={"Accept": "application/json"}, auth=auth)

    def call(
        self,
        method: str,
        path: str,
        *,
        idempotency_key: str | None = None,
        body: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        headers = {} if idempotency_key is None else {"idempotency-key": idempotency_key}
        if body is None:
            return self.object(method, path, headers=headers)
        return self.object(method, path, headers=headers, json=body)

    def charge(self, charge_id: str) -> dict[str, Any]:
        return self.call("GET", f"/charges/{charge_id}")

    def order(self, order_id: str) -> dict[str, Any]:
        return self.call("GET", f"/orders/{order_id}")


# --- the JWKS cache (per process, per URL) -----------------------------------------------------


@dataclass
class _Jwks:
    fetched_at: float
    keys: dict[str, rsa.RSAPublicKey] = field(default_factory=dict)


_jwks_lock = threading.Lock()
_jwks_cache: dict[str, _Jwks] = {}


def clear_jwks_cache() -> None:
    """Forget every fetched JWKS (tests; a rotated key is otherwise picked up on its own)."""
    with _jwks_lock:
        _jwks_cache.clear()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _rsa_keys(document: Any) -> dict[str, rsa.RSAPublicKey]:
    """The RSA signing keys of a JWKS document by kid; malformed entries are skipped."""
    keys: dict[str, rsa.RSAPublicKey] = {}
    entries = document.get("keys") if isinstance(document, dict) else None
    for jwk in entries if isinstance(entries, list) else []:
        if not isinstance(jwk, dict) or jwk.get("kty") != "RSA" or jwk.get("use", "sig") != "sig":
            continue
        try:
            n = int.from_bytes(b64url_decode(str(jwk["n"])), "big")
            e = int.from_bytes(b64url_decode(str(jwk["e"])), "big")
            keys[str(jwk["kid"])] = rsa.RSAPublicNumbers(e, n).public_key()
        except (KeyError, ValueError, binascii.Error):
            continue
    return keys


def signing_key(http: httpx.Client, url: str, kid: str) -> rsa.RSAPublicKey | None:
    """The JWKS key ``kid``: cached for ``JWKS_TTL_SECONDS``; an unknown kid refetches the JWKS
    (a key rotation) unless it was fetched less than ``JWKS_REFETCH_SECONDS`` ago."""
    now = time.monotonic()
    with _jwks_lock:
        cached = _jwks_cache.get(url)
    if cached is not None and now - cached.fetched_at < JWKS_TTL_SECONDS:
        if kid in cached.keys:
            return cached.keys[kid]
        if now - cached.fetched_at < JWKS_REFETCH_SECONDS:
            return None  # just fetched: an unknown kid now is not a rotation
    # Public: never send the secret key there.
    keys = _rsa_keys(JsonHttp(http, label="pagarme").json("GET", url, what="jwks"))
    with _jwks_lock:
        _jwks_cache[url] = _Jwks(time.monotonic(), keys)
    return keys.get(kid)
