"""JSON over HTTP, shared by every connector's vendor client.

``JsonHttp`` sends one call to ``base_url + path`` with the vendor's default headers and auth,
always under a timeout. A transport failure becomes a retryable ``DeliveryError``; a non-2xx
answer goes through ``check`` (``malote.sync.errors.check_response`` unless a vendor overrides it);
a 2xx body that is not JSON raises ``BadAnswer`` (retryable, coded). ``what`` names the call in
every error message: ``"<label> <what>"``, ``what`` defaulting to ``"<METHOD> <path>"``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from malote.connectors.errors import ConnectorErrorCode
from malote.sync.errors import DeliveryError, check_response, transport_error

DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
NO_TIMEOUT = httpx.Timeout(None)


class BadAnswer(DeliveryError):
    """A 2xx answer a JSON API would not send (not JSON, not an object): retryable."""

    def __init__(self, detail: str, *, code: ConnectorErrorCode, status: int | None = None) -> None:
        super().__init__(detail, retryable=True, status=status)
        self.code = code


def decode_json(response: httpx.Response, *, what: str) -> Any:
    """The answer's JSON; ``BadAnswer`` when it is not JSON."""
    try:
        return response.json()
    except ValueError:
        raise BadAnswer(
            f"{what}: answer is not JSON: {response.text[:200]!r}",
            code=ConnectorErrorCode.ANSWER_NOT_JSON,
            status=response.status_code,
        ) from None


def json_object(response: httpx.Response, *, what: str) -> dict[str, Any]:
    """The answer's JSON object; ``BadAnswer`` when it is not one."""
    answer = decode_json(response, what=what)
    if not isinstance(answer, dict):
        raise BadAnswer(
            f"{what}: answer is not an object: {str(answer)[:200]}",
            code=ConnectorErrorCode.ANSWER_NOT_OBJECT,
            status=response.status_code,
        )
    return answer


class JsonHttp:
    """One vendor's HTTP API on top of a connector's ``httpx.Client``."""

    def __init__(
        self,
        http: httpx.Client,
        base_url: str = "",
        *,
        label: str,
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | tuple[str, str] | None = None,
    ) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.label = label
        self.headers = dict(headers or {})
        self.auth = auth

    def url(self, path: str) -> str:
        """``path`` under ``base_url``; an absolute URL is taken as it is."""
        return path if path.startswith(("http://", "https://")) else f"{self.base_url}{path}"

    def describe(self, method: str, path: str, what: str = "") -> str:
        """``"<label> <what>"``; ``what`` defaults to the method and the path without its query."""
        return f"{self.label} {what or method + ' ' + path.split('?')[0]}"

    def raw(self, method: str, path: str, *, what: str = "", **kwargs: Any) -> httpx.Response:
        """The answer whatever its status; only transport failures raise."""
        headers = {**self.headers, **(kwargs.pop("headers", None) or {})}
        if self.auth is not None:
            kwargs.setdefault("auth", self.auth)
        if "timeout" not in kwargs and self.http.timeout == NO_TIMEOUT:
            kwargs["timeout"] = DEFAULT_TIMEOUT
        try:
            return self.http.request(method, self.url(path), headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            raise transport_error(exc, what=self.describe(method, path, what)) from exc

    def check(self, response: httpx.Response, *, what: str) -> httpx.Response:
        """Raise ``DeliveryError`` for a non-2xx answer (vendors may refine the classification)."""
        return check_response(response, what=what)

    def send(self, method: str, path: str, *, what: str = "", **kwargs: Any) -> httpx.Response:
        """The checked answer of one call."""
        response = self.raw(method, path, what=what, **kwargs)
        return self.check(response, what=self.describe(method, path, what))

    def json(self, method: str, path: str, *, what: str = "", **kwargs: Any) -> Any:
        """The JSON of one call's checked answer."""
        return decode_json(
            self.send(method, path, what=what, **kwargs), what=self.describe(method, path, what)
        )

    def object(self, method: str, path: str, *, what: str = "", **kwargs: Any) -> dict[str, Any]:
        """The JSON object of one call's checked answer."""
        return json_object(
            self.send(method, path, what=what, **kwargs), what=self.describe(method, path, what)
        )
