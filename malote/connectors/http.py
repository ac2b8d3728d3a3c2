"""JSON over HTTP, shared by every connector's vendor client.

``JsonHttp`` sends one call to ``base_url + path`` with the vendor's default headers and auth,
always under a timeout. A transport failure becomes a retryable ``DeliveryError``; a non-2xx
answer goes through ``check`` (``malote.sync.errors.check_response`` unless a vendor overrides it);
a 2xx body that is not JSON raises ``BadAnswer`` (retryable, coded). ``what`` names the call in
every error message: ``"<label> <what>"``, ``what`` defaulting to ``"<METHOD> <path>"``.

Rate limits: a vendor client classes its calls (``rate_class``: SkyHub's order reads are
``orders_get``, its writes ``write``); given the channel's ``RateLimits``, each classed call first
takes a token from the shared bucket ``rate:<channel code>:<class>`` (``malote.sync.rate_buckets``,
in the database, so every worker, thread and poll shares it). A wait of up to ``RATE_WAIT_BUDGET``
seconds in all is slept here; a longer one raises ``RateLimited`` (retryable, ``retry_after`` set)
without calling the remote, so the outbox backs off as for a 429. Like every remote call, this must
happen outside any transaction (the bucket's own transaction is durable).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from malote.connectors.errors import ConnectorErrorCode
from malote.sync.errors import DeliveryError, check_response, transport_error

DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
NO_TIMEOUT = httpx.Timeout(None)
# Seconds a call may sleep in all for its rate-limit token; a longer wait is a retryable error.
RATE_WAIT_BUDGET = 2.0
# The least ``retry_after`` of that error: the message comes back once the bucket has refilled.
MIN_RATE_RETRY_AFTER = 1.0
# Slept while waiting for a token (tests replace it to move a travelling clock instead).
sleep = time.sleep


class BadAnswer(DeliveryError):
    """A 2xx answer a JSON API would not send (not JSON, not an object): retryable."""

    def __init__(self, detail: str, *, code: ConnectorErrorCode, status: int | None = None) -> None:
        super().__init__(detail, retryable=True, status=status)
        self.code = code


class RateLimited(DeliveryError):
    """Malote's own rate limit for the channel would have made the call wait too long: retryable,
    with ``retry_after``; the remote was not called."""

    code = ConnectorErrorCode.RATE_LIMITED
    counts_as_attempt = False  # deferred before any remote call: the outbox gives the attempt back

    def __init__(self, detail: str, *, retry_after: float) -> None:
        super().__init__(detail, retryable=True, retry_after=retry_after)


class RateLimitsInvalid(DeliveryError):
    """The channel's ``rate_limits`` option is not an object of non-negative numbers: permanent."""

    code = ConnectorErrorCode.RATE_LIMITS_INVALID

    def __init__(self, detail: str) -> None:
        super().__init__(detail, retryable=False)


def shared_take(key: str, rate_per_second: float, burst: float) -> float:
    """``malote.sync.rate_buckets.take``: the database bucket every process shares."""
    from malote.sync.rate_buckets import take  # a model module: imported once apps are ready

    return take(key, rate_per_second, burst)


@dataclass(frozen=True)
class RateLimits:
    """One channel's limits: requests per second per call class, over buckets named
    ``rate:<scope>:<class>`` (``scope`` is the channel code). A bucket's burst is its rate, at
    least 1 (9/s: nine at once, then one every 1/9 s)."""

    scope: str
    rates: Mapping[str, float]
    take: Callable[[str, float, float], float] = field(default=shared_take)

    @classmethod
    def of(cls, scope: str, defaults: Mapping[str, float], option: Any) -> RateLimits | None:
        """The channel option ``option`` (``{"<class>": <requests per second>}``) over the
        connector's ``defaults``; a class set to 0 or null is not limited. ``None`` when no class
        is limited; ``RateLimitsInvalid`` for anything but an object of non-negative numbers."""
        if option is None:
            option = {}
        if not isinstance(option, Mapping):
            raise RateLimitsInvalid(
                f"Channel {scope}: the option rate_limits must be an object, not {option!r}"
            )
        rates: dict[str, float] = {}
        for name, value in {**defaults, **option}.items():
            if value is None:
                continue
            rate = float(value) if isinstance(value, int | float) and not isinstance(value, bool) else -1.0
            if not math.isfinite(rate) or rate < 0:
                raise RateLimitsInvalid(
                    f"Channel {scope}: rate_limits[{name!r}] must be a number of requests per second "
                    f"(0 or null: no limit), not {value!r}."
                )
            if rate > 0:
                rates[str(name)] = rate
        return cls(scope, rates) if rates else None

    @staticmethod
    def burst(rate: float) -> float:
        return max(rate, 1.0)

    def key(self, rate_class: str) -> str:
        return f"rate:{self.scope}:{rate_class}"


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
        rate_limits: RateLimits | None = None,
    ) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.label = label
        self.headers = dict(headers or {})
        self.auth = auth
        self.rate_limits = rate_limits

    def url(self, path: str) -> str:
        """``path`` under ``base_url``; an absolute URL is taken as it is."""
        return path if path.startswith(("http://", "https://")) else f"{self.base_url}{path}"

    def describe(self, method: str, path: str, what: str = "") -> str:
        """``"<label> <what>"``; ``what`` defaults to the method and the path without its query."""
        return f"{self.label} {what or method + ' ' + path.split('?')[0]}"

    def rate_class(self, method: str, path: str) -> str | None:
        """The rate-limit class of a call (``method`` upper-case); ``None``: not limited. Vendor
        clients override it (SkyHub: ``orders_get``, ``write``)."""
        return None

    def throttle(self, method: str, path: str, what: str = "") -> None:
        """Take a token for a classed call: sleep while the waits add up to ``RATE_WAIT_BUDGET``
        seconds, else raise ``RateLimited`` with the wait as ``retry_after`` (at least
        ``MIN_RATE_RETRY_AFTER``). Unclassed calls, classes without a rate: nothing."""
        limits = self.rate_limits
        rate_class = self.rate_class(method.upper(), path) if limits is not None else None
        if limits is None or rate_class is None or not limits.rates.get(rate_class):
            return
        rate = limits.rates[rate_class]
        slept = 0.0
        while (wait := limits.take(limits.key(rate_class), rate, limits.burst(rate))) > 0:
            if slept + wait > RATE_WAIT_BUDGET:
                raise RateLimited(
                    f"{self.describe(method, path, what)}: over the channel's rate limit "
                    f"({rate:g}/s for {rate_class}); next token in {wait:.2f} s",
                    retry_after=max(wait, MIN_RATE_RETRY_AFTER),
                )
            sleep(wait)
            slept += wait

    def raw(self, method: str, path: str, *, what: str = "", **kwargs: Any) -> httpx.Response:
        """The answer whatever its status; only transport failures raise (and ``RateLimited``)."""
        self.throttle(method, path, what)
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
