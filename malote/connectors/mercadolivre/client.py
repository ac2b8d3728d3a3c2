"""Mercado Livre's API: JSON under ``base_url`` with an OAuth 2 bearer token.

A refused token is refreshed once per call; the new pair is stored in the channel's credentials
(``malote.channels.actions.update_credentials``, actor: the channel), so a restarted worker starts
from it, and kept in memory too (per process, keyed by channel and stored refresh token). Before
spending the (single-use) refresh token, a pair another worker stored meanwhile is adopted.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from malote.channels.actions import store_refreshed_credentials, stored_credentials
from malote.connectors.http import JsonHttp, decode_json
from malote.connectors.values import text_of
from malote.sync.errors import DeliveryError, check_response

log = logging.getLogger(__name__)

# (channel code, stored refresh token) → (access token, refresh token) obtained by a refresh.
_token_lock = threading.Lock()
_refresh_lock = threading.Lock()
_refreshed_tokens: dict[tuple[str, str], tuple[str, str]] = {}


def clear_token_cache() -> None:
    """Forget every refreshed token pair (tests)."""
    with _token_lock:
        _refreshed_tokens.clear()


def _field(data: Any, name: str) -> str:
    return text_of(data.get(name)) if isinstance(data, Mapping) else ""


def error_code(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, Mapping):
        return ""
    code = _field(body, "error_code")
    for cause in body.get("cause") or []:
        code = code or _field(cause, "code")
    return code or _field(body, "error")


class MercadoLivreClient(JsonHttp):
    """A seller's API; errors name the channel (``label``). Holds the token pair in use."""

    def __init__(
        self, http: httpx.Client, base_url: str, *, channel: Any, credential: Callable[[str], str]
    ) -> None:
        super().__init__(http, base_url, label=channel.code, headers={"Accept": "application/json"})
        self.channel = channel
        self.credential = credential
        self._access_token: str | None = None
        self._refresh_token: str | None = None

    def _tokens(self) -> tuple[str, str]:
        if self._access_token is None:
            stored_refresh = text_of((self.channel.credentials or {}).get("refresh_token"))
            with _token_lock:
                cached = _refreshed_tokens.get((self.label, stored_refresh))
            self._access_token, self._refresh_token = cached or (
                self.credential("access_token"),
                stored_refresh,
            )
        return self._access_token, self._refresh_token or ""

    def _refresh(self) -> None:
        """Get a new token pair; one refresh at a time per process, and a pair another connector
        got meanwhile is adopted instead of spending the (assumed single-use) refresh token again."""
        with _refresh_lock:
            refused, refresh = self._tokens()
            stored_refresh = text_of((self.channel.credentials or {}).get("refresh_token"))
            with _token_lock:
                cached = _refreshed_tokens.get((self.label, stored_refresh))
            if cached is not None and cached[0] != refused:
                self._access_token, self._refresh_token = cached
                return
            stored = stored_credentials(self.channel)
            stored_access = text_of(stored.get("access_token"))
            if stored_access and stored_access != refused:  # another worker refreshed it
                self._access_token, self._refresh_token = stored_access, text_of(stored.get("refresh_token"))
                return
            if not refresh:
                raise DeliveryError(f"{self.label}: token refused and no refresh_token.", retryable=False)
            self._exchange(refresh, stored_refresh)

    def _exchange(self, refresh: str, stored_refresh: str) -> None:
        what = f"{self.label} POST /oauth/token"
        response = self.raw(
            "POST",
            "/oauth/token",
            what="POST /oauth/token",
            data={
                "grant_type": "refresh_token",
                "client_id": self.credential("client_id"),
                "client_secret": self.credential("client_secret"),
                "refresh_token": refresh,
            },
        )
        if response.status_code in (400, 401, 403):
            raise DeliveryError(
                f"{what}: Mercado Livre refused the refresh token "
                f"({error_code(response) or response.status_code}); authorize the app again and store "
                "the new tokens in the channel.",
                retryable=False,
                status=response.status_code,
            )
        check_response(response, what=what)
        data = decode_json(response, what=what)
        try:
            access, new_refresh = str(data["access_token"]), str(data.get("refresh_token") or refresh)
        except (KeyError, TypeError):
            raise DeliveryError(f"{what}: the answer has no access_token.", retryable=True) from None
        with _token_lock:
            _refreshed_tokens[(self.label, stored_refresh)] = (access, new_refresh)
        self._access_token, self._refresh_token = access, new_refresh
        store_refreshed_credentials(self.channel, {"access_token": access, "refresh_token": new_refresh})
        log.info("mercadolivre %s: access token refreshed and stored in the channel", self.label)

    def authorized(self, method: str, path: str, *, what: str, **kwargs: Any) -> httpx.Response:
        """One call with the bearer token, unchecked; a 401 refreshes the token once and repeats it."""
        headers = dict(kwargs.pop("headers", None) or {})
        for attempt in (1, 2):
            headers["Authorization"] = f"Bearer {self._tokens()[0]}"
            response = self.raw(method, path, what=what, headers=headers, **kwargs)
            if response.status_code == 401 and attempt == 1:
                self._refresh()
                continue
            return response
        raise AssertionError("unreachable")

    def get_json(
        self, path: str, *, what: str, params: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> Any:
        label = f"{self.label} {what}"
        response = check_response(
            self.authorized("GET", path, what=what, params=params, **kwargs), what=label
        )
        return decode_json(response, what=label)

    @staticmethod
    def id_of(value: Any, what: str) -> int:
        text = text_of(value)
        if not text.isdigit():
            raise DeliveryError(f"{text!r} is not a Mercado Livre {what} id.", retryable=False)
        return int(text)

    def order(self, order_id: Any) -> dict[str, Any]:
        number = self.id_of(order_id, "order")
        data = self.get_json(f"/orders/{number}", what=f"GET order {number}")
        if not isinstance(data, dict) or data.get("id") is None:
            raise DeliveryError(f"{self.label}: order {number} came back empty.", retryable=True)
        return data

    def shipment(self, shipment_id: Any) -> dict[str, Any]:
        number = self.id_of(shipment_id, "shipment")
        data = self.get_json(
            f"/shipments/{number}", what=f"GET shipment {number}", headers={"x-format-new": "true"}
        )
        if not isinstance(data, dict):
            raise DeliveryError(f"{self.label}: shipment {number} came back empty.", retryable=True)
        return data

    def billing(self, shipment_id: Any) -> dict[str, Any] | None:
        number = self.id_of(shipment_id, "shipment")
        response = self.authorized(
            "GET", f"/shipments/{number}/billing_info", what=f"GET billing_info {number}"
        )
        if response.status_code == 404:
            return None
        check_response(response, what=f"{self.label} GET billing_info {number}")
        data = decode_json(response, what=f"{self.label} GET billing_info {number}")
        return data if isinstance(data, dict) else None

    def order_or_none(self, order_id: Any) -> dict[str, Any] | None:
        """The order, or ``None`` when ML has no order of that id (404: it may be a pack's id)."""
        number = self.id_of(order_id, "order")
        response = self.authorized("GET", f"/orders/{number}", what=f"GET order {number}")
        if response.status_code == 404:
            return None
        check_response(response, what=f"{self.label} GET order {number}")
        data = decode_json(response, what=f"{self.label} GET order {number}")
        if not isinstance(data, dict) or data.get("id") is None:
            raise DeliveryError(f"{self.label}: order {number} came back empty.", retryable=True)
        return data

    def pack(self, pack_id: Any) -> dict[str, Any]:
        """``GET /packs/{id}`` (assumed shape: ``{id, status, family_pack_id, orders[{id}],
        shipment{id}, buyer{id}, date_created, last_updated}``)."""
        number = self.id_of(pack_id, "pack")
        data = self.get_json(f"/packs/{number}", what=f"GET pack {number}")
        if not isinstance(data, dict) or not isinstance(data.get("orders"), list) or not data["orders"]:
            raise DeliveryError(f"{self.label}: pack {number} came back without orders.", retryable=True)
        return data

    def claim(self, claim_id: Any) -> dict[str, Any]:
        """``GET /post-purchase/v1/claims/{id}`` (assumed shape, see docs/connectors/mercadolivre.md)."""
        number = self.id_of(claim_id, "claim")
        data = self.get_json(f"/post-purchase/v1/claims/{number}", what=f"GET claim {number}")
        if not isinstance(data, dict) or data.get("id") is None:
            raise DeliveryError(f"{self.label}: claim {number} came back empty.", retryable=True)
        return data
