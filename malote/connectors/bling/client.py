"""Bling's API v3: JSON with a ``data`` envelope, OAuth 2 bearer tokens renewed on a 401.

A renewed token pair is stored in the channel's credentials through
``malote.channels.actions.update_credentials`` (actor: the channel; several workers share it: before
renewing, a token another worker already got is adopted). HTTP errors become ``BlingError``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx

from malote.channels.actions import store_refreshed_credentials, stored_credentials
from malote.connectors.bling.mapping import BRASILIA
from malote.connectors.errors import ConnectorErrorCode
from malote.connectors.http import BadAnswer, JsonHttp, decode_json
from malote.sync.errors import RETRYABLE_4XX, DeliveryError, retry_after_seconds


class BlingError(DeliveryError):
    """An HTTP error answered by Bling; ``kind`` is its ``error.type`` (``VALIDATION_ERROR``…)."""

    def __init__(self, what: str, response: httpx.Response) -> None:
        status = response.status_code
        kind, text = "", response.text[:300].replace("\n", " ")
        try:
            error = response.json().get("error") or {}
        except (ValueError, AttributeError):
            error = None
        if isinstance(error, dict) and error:
            kind = str(error.get("type") or "")
            parts = [str(error.get("message") or ""), str(error.get("description") or "")]
            parts += [
                f"{item.get('element', '')}: {item.get('msg', '')}"
                for item in error.get("fields") or []
                if isinstance(item, dict)
            ]
            text = "; ".join(part for part in parts if part)
        super().__init__(
            f"{what}: HTTP {status} {kind} {text}".replace("  ", " ").strip(),
            retryable=status >= 500 or status in RETRYABLE_4XX,
            status=status,
            retry_after=retry_after_seconds(response.headers.get("Retry-After")),
        )
        self.kind = kind


class BlingClient(JsonHttp):
    """Bling's endpoints under ``base_url``, authorized with the channel's access token."""

    def __init__(
        self,
        http: httpx.Client,
        base_url: str,
        *,
        channel: Any,
        credential: Callable[[str], str],
        token_url: str,
    ) -> None:
        super().__init__(http, base_url, label="bling")
        self.channel = channel
        self.credential = credential
        self.token_url = token_url

    def call(self, method: str, path: str, *, params: Any = None, body: Any = None) -> Any:
        """One API call (renewing the token once on 401); returns the parsed JSON or ``None``."""
        what = self.describe(method, path)
        for attempt in (1, 2):
            token = self.credential("access_token")
            headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
            response = self.raw(method, path, params=params, json=body, headers=headers)
            if response.status_code == 401 and attempt == 1:
                self._renew_token(token)
                continue
            break
        if response.status_code == 401:
            raise DeliveryError(
                f"{what}: Bling refused the access token even after renewing it; authorize the app again.",
                retryable=False,
                status=401,
            )
        if not response.is_success:
            raise BlingError(what, response)
        if response.status_code == 204 or not response.content.strip():
            return None
        return decode_json(response, what=what)

    def data(self, method: str, path: str, **kwargs: Any) -> Any:
        """The ``data`` of one call's answer."""
        answer = self.call(method, path, **kwargs)
        if not isinstance(answer, dict) or "data" not in answer:
            raise BadAnswer(
                f"bling {method} {path}: answer has no data envelope",
                code=ConnectorErrorCode.ANSWER_NOT_OBJECT,
            )
        return answer["data"]

    def _renew_token(self, rejected: str) -> None:
        """Get a new access token with the refresh token (or adopt one another worker got)."""
        stored = stored_credentials(self.channel)
        if stored.get("access_token") and stored["access_token"] != rejected:
            self.channel.credentials = stored
            return
        refresh = str(stored.get("refresh_token") or "")
        if not refresh:
            raise DeliveryError(
                "bling: the access token was refused and the channel has no refresh_token;"
                " authorize the app again.",
                retryable=False,
                status=401,
            )
        what = "bling POST /oauth/token"
        response = self.raw(
            "POST",
            self.token_url,
            what="POST /oauth/token",
            data={"grant_type": "refresh_token", "refresh_token": refresh},
            auth=(self.credential("client_id"), self.credential("client_secret")),
            headers={"Accept": "application/json"},
        )
        if response.status_code in (400, 401):
            error = BlingError(what, response)
            raise DeliveryError(
                f"{error.detail}: the refresh token was refused; authorize the app again.",
                retryable=False,
                status=response.status_code,
            )
        if not response.is_success:
            raise BlingError(what, response)
        answer = decode_json(response, what=what)
        try:
            access = str(answer["access_token"])
        except (KeyError, TypeError):
            raise DeliveryError(f"{what}: answer has no access_token", retryable=True) from None
        renewed = {
            "access_token": access,
            "refresh_token": str(answer.get("refresh_token") or refresh),
        }
        if answer.get("expires_in"):
            expires = datetime.now(BRASILIA) + timedelta(seconds=float(answer["expires_in"]))
            renewed["access_token_expires_at"] = expires.replace(microsecond=0).isoformat()
        store_refreshed_credentials(self.channel, renewed)

    def nfe_xml(self, link: str) -> str:
        """The authorized XML behind the NF-e's ``xml`` link (no token sent: it may be another host)."""
        response = self.raw("GET", link, what="NF-e XML", headers={"Accept": "application/xml"})
        if response.status_code >= 500 or response.status_code in RETRYABLE_4XX:
            raise DeliveryError(f"bling NF-e XML: HTTP {response.status_code}", retryable=True)
        text = response.text if response.is_success else ""
        start, end = text.find("<nfeProc"), text.rfind("</nfeProc>")
        if start >= 0 and end > start:
            return text[start : end + len("</nfeProc>")]
        return text.strip() if text.lstrip().startswith("<") else ""
