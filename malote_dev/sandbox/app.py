"""The part every fake shares: a WSGI application with an API, a control API and settings.

Request flow (``FakeApp.__call__``):

* ``/_sandbox`` and ``/_sandbox/…`` → the control API (JSON, never faulted, never authenticated,
  never logged in :attr:`FakeApp.calls`);
* routes in :attr:`FakeApp.public` (e.g. Pagar.me's JWKS) → answered as is;
* everything else is an API request: it is logged, then faults apply in this order — latency,
  timeout (held answer), drop, rate limit, 5xx — then the path must start with the vendor's base
  path, the vendor's authentication must pass and a route must match.

Handlers run under :attr:`FakeApp.lock` (one in-memory store per fake, tiny critical sections);
sleeps (latency, timeout) happen outside it, so one slow answer never blocks other clients.

Common control endpoints (bodies and answers are JSON)::

    GET    /_sandbox                      index: kind, URLs, credentials, settings, routes
    POST   /_sandbox/reset                {"seed"?: bool} → fresh store, no faults, empty logs
                                          (settings are kept)
    GET    /_sandbox/config               every setting
    POST   /_sandbox/config               {"name": value, …} → every setting (unknown name → 400)
    GET    /_sandbox/faults               {"faults": [...]}
    POST   /_sandbox/faults               {"kind", "count"?, "method"?, "path_prefix"?, …params}
    DELETE /_sandbox/faults[?kind=…]      disarm (also releases webhooks held by webhook_reorder)
    GET    /_sandbox/calls[?method=&path_prefix=]   {"calls": [...]};  DELETE clears
    GET    /_sandbox/webhooks[?event=]    {"webhooks": [...]};  DELETE clears
    POST   /_sandbox/webhooks/flush       send the webhooks held by webhook_reorder now
    GET    /_sandbox/state                the whole store as JSON

Control errors answer ``{"error": code, "detail": text}`` with 400, 404 or 409.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from malote_dev.sandbox.calls import CallLog
from malote_dev.sandbox.faults import API_FAULT_KINDS, WEBHOOK_FAULT_KINDS, Fault, FaultController, FaultError
from malote_dev.sandbox.router import BadRequest, DropConnection, Request, Response, Router, status_line
from malote_dev.sandbox.seed import SeedError
from malote_dev.sandbox.webhooks import DEFAULT_WEBHOOK_TIMEOUT, WebhookDispatcher, WebhookLog

logger = logging.getLogger("malote_dev.sandbox")

StateT = TypeVar("StateT")
StartResponse = Callable[..., Any]


@dataclass(frozen=True)
class Setting:
    """One switch of a fake: its default, accepted types and what it means."""

    default: Any
    types: tuple[type, ...]
    doc: str
    choices: tuple[Any, ...] | None = None


class ConfigError(ValueError):
    """Unknown setting or a value of the wrong type."""


def _accepts(setting: Setting, value: Any) -> bool:
    if isinstance(value, bool):
        return bool in setting.types
    if isinstance(value, int) and float in setting.types:
        return True
    return isinstance(value, setting.types)


class Config:
    """The settings of one fake, validated against its :class:`Setting` table."""

    def __init__(self, spec: Mapping[str, Setting], overrides: Mapping[str, Any]) -> None:
        self.spec = dict(spec)
        self._values = {name: setting.default for name, setting in self.spec.items()}
        self.update(overrides)

    def update(self, values: Mapping[str, Any]) -> None:
        """Change several settings at once; nothing changes if any name or value is invalid."""
        for name, value in values.items():
            setting = self.spec.get(name)
            if setting is None:
                raise ConfigError(f"unknown setting {name!r} (known: {', '.join(sorted(self.spec))})")
            if not _accepts(setting, value):
                expected = " or ".join(
                    "null" if kind is type(None) else kind.__name__ for kind in setting.types
                )
                raise ConfigError(f"setting {name!r} must be {expected}, got {value!r}")
            if setting.choices is not None and value not in setting.choices:
                raise ConfigError(f"setting {name!r} must be one of {', '.join(map(str, setting.choices))}")
        self._values.update(values)

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def get_str(self, name: str) -> str:
        return str(self._values[name])

    def get_optional_str(self, name: str) -> str | None:
        value = self._values[name]
        return None if value is None else str(value)

    def get_bool(self, name: str) -> bool:
        return bool(self._values[name])

    def get_int(self, name: str) -> int:
        return int(self._values[name])

    def to_json(self) -> dict[str, Any]:
        return dict(self._values)

    def describe(self) -> dict[str, str]:
        return {name: setting.doc for name, setting in self.spec.items()}


COMMON_SETTINGS: dict[str, Setting] = {
    "webhook_url": Setting(None, (str, type(None)), "where webhooks are POSTed; null = only record them"),
    "webhook_timeout": Setting(DEFAULT_WEBHOOK_TIMEOUT, (float,), "seconds before a webhook POST gives up"),
}


class ControlError(Exception):
    """A control-API request that cannot be served; becomes ``{"error", "detail"}``."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail


def control_body(request: Request) -> dict[str, Any]:
    """The control request's JSON object (``{}`` for an empty body)."""
    try:
        data = request.json()
    except BadRequest as error:
        raise ControlError(400, "bad_json", str(error)) from error
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ControlError(400, "bad_body", "the body must be a JSON object")
    return data


def days_ago(body: Mapping[str, Any]) -> float:
    """A control body's ``days_ago`` (an order placed that long ago: the history a shop already
    has when it connects Malote); 0 when absent."""
    value = body.get("days_ago", 0)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 3650:
        raise ControlError(400, "invalid", "days_ago must be a number of days between 0 and 3650")
    return float(value)


class FakeApp(Generic[StateT]):
    """Base class of the three fakes; subclasses fill in the vendor-specific parts."""

    kind: ClassVar[str] = "fake"
    #: Every API path starts with this (``/v1/``, ``/api2/``, ``/core/v5/``).
    api_prefix: ClassVar[str] = "/"
    settings: ClassVar[Mapping[str, Setting]] = {}
    extra_fault_kinds: ClassVar[frozenset[str]] = frozenset()

    state: StateT

    def __init__(self, *, seed: bool = True, config: Mapping[str, Any] | None = None) -> None:
        self.lock = threading.RLock()
        self.base_url = "http://127.0.0.1"
        self.config = Config({**COMMON_SETTINGS, **self.settings}, config or {})
        self.calls = CallLog()
        self.faults = FaultController(API_FAULT_KINDS | WEBHOOK_FAULT_KINDS | self.extra_fault_kinds)
        self.dispatcher = WebhookDispatcher(self.faults, timeout=float(self.config["webhook_timeout"]))
        self.faults.on_clear = self.dispatcher.release_held
        self.api = Router()
        self.control = Router()
        self.public = Router()
        self.seed = seed
        self._stopping = threading.Event()
        self._add_common_control_routes()
        self.add_routes()
        self.state = self.new_state(seed)

    # ----------------------------------------------------------------- subclass interface
    def new_state(self, seed: bool) -> StateT:
        """A fresh store, seeded with demo data when ``seed``."""
        raise NotImplementedError

    # True while seeding: the seed goes through the live code paths, which must then stay quiet.
    _seeding = False

    def seed_through_live_paths(self, state: StateT, seed: Callable[[], None]) -> StateT:
        """Make ``state`` the live store and run ``seed`` on it with ``_seeding`` set."""
        self.state = state
        self._seeding = True
        try:
            seed()
        finally:
            self._seeding = False
        return state

    def add_routes(self) -> None:
        """Register API routes on :attr:`api` and extra control routes on :attr:`control`."""

    def credentials(self) -> dict[str, str]:
        """What a client needs to authenticate (printed by the CLI, shown on ``/_sandbox``)."""
        return {}

    def authenticate(self, request: Request) -> Response | None:
        """``None`` when the request may proceed, else the vendor's refusal."""
        return None

    def error_response(self, request: Request, status: int) -> Response:
        """The vendor's answer for a server error (the ``error_5xx`` fault and crashes)."""
        return Response.json({"message": "Internal Server Error"}, status)

    def rate_limited_response(self, request: Request, fault: Fault) -> Response:
        retry_after = str(int(fault.params["retry_after"]))
        return Response.json({"message": "Too Many Requests"}, 429, [("Retry-After", retry_after)])

    def not_found_response(self, request: Request) -> Response:
        return Response.json({"message": "Not Found"}, 404)

    def method_not_allowed_response(self, request: Request, allowed: tuple[str, ...]) -> Response:
        return Response.json({"message": "Method Not Allowed"}, 405, [("Allow", ", ".join(allowed))])

    def bad_request_response(self, request: Request, detail: str) -> Response:
        return Response.json({"message": detail}, 400)

    def decorate(self, request: Request, response: Response) -> None:
        """Add headers every API answer carries (Jumpseller's rate-limit headers)."""

    def call_handler(self, request: Request, handler: Callable[[Request], Response]) -> Response:
        """Run an API handler (Pagar.me wraps this for idempotency keys)."""
        return handler(request)

    def state_json(self) -> Any:
        """The store as JSON for ``GET /_sandbox/state``."""
        return {}

    def webhook_targets(self, event: str) -> list[str]:
        url = self.config.get_optional_str("webhook_url")
        return [url] if url else []

    def webhook_headers(self, event: str, body: bytes) -> dict[str, str]:
        """Vendor headers (signature, event name) for a webhook with this exact ``body``."""
        return {}

    # ----------------------------------------------------------------- shared behaviour
    @property
    def webhooks(self) -> WebhookLog:
        return self.dispatcher.log

    @property
    def api_url(self) -> str:
        return self.base_url + self.api_prefix.rstrip("/")

    def send_webhook(self, event: str, payload: Any) -> None:
        """Serialize ``payload`` once, sign those bytes and hand them to the dispatcher."""
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"malote-sandbox/{self.kind}",
            **self.webhook_headers(event, body),
        }
        self.dispatcher.emit(event, body, headers, self.webhook_targets(event))

    def reset(self, seed: bool | None = None) -> None:
        """Fresh store, faults disarmed, logs emptied; settings are kept."""
        if seed is not None:
            self.seed = seed
        self.dispatcher.wait_idle(2.0)
        with self.lock:
            self.dispatcher.discard_held()
            self.faults.clear()
            self.calls.clear()
            self.webhooks.clear()
            self.state = self.new_state(self.seed)

    def sleep(self, seconds: float) -> None:
        """Sleep that :meth:`stop` interrupts, so stopping a fake never waits on a held answer."""
        if seconds > 0:
            self._stopping.wait(seconds)

    def stop(self) -> None:
        self._stopping.set()
        self.dispatcher.close()

    # ----------------------------------------------------------------- WSGI
    def __call__(self, environ: Mapping[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        response = self.handle(Request.from_environ(environ))
        start_response(status_line(response.status), response.headers)
        return [response.body]

    def handle(self, request: Request) -> Response:
        if request.path == "/_sandbox" or request.path.startswith("/_sandbox/"):
            return self._handle_control(request)
        public = self.public.resolve(request.method, request.path)
        if public.handler is not None:
            request.params = public.params
            return public.handler(request)
        return self._handle_api(request)

    def _handle_control(self, request: Request) -> Response:
        resolution = self.control.resolve(request.method, request.path)
        if resolution.handler is None:
            status = 405 if resolution.allowed else 404
            return Response.json(
                {"error": "no_such_control", "detail": f"{request.method} {request.path}"}, status
            )
        request.params = resolution.params
        try:
            with self.lock:
                return resolution.handler(request)
        except ControlError as error:
            return Response.json({"error": error.code, "detail": error.detail}, error.status)
        except (ConfigError, FaultError, SeedError) as error:
            return Response.json({"error": "invalid", "detail": str(error)}, 400)

    def _handle_api(self, request: Request) -> Response:
        record = self.calls.begin(request)
        applied: list[str] = []
        try:
            response = self._answer_api(request, applied)
        except DropConnection:
            self.calls.finish(record, None, applied)
            raise
        self.calls.finish(record, response.status, applied)
        return response

    def _answer_api(self, request: Request, applied: list[str]) -> Response:
        method, path = request.method, request.path
        latency = self.faults.take("latency_ms", method, path)
        if latency is not None:
            applied.append("latency_ms")
            self.sleep(float(latency.params["ms"]) / 1000)
        held_for = 0.0
        timeout = self.faults.take("timeout", method, path)
        if timeout is not None:
            applied.append("timeout")
            held_for = float(timeout.params["seconds"])
        drop = self.faults.take("drop", method, path)
        if drop is not None:
            applied.append("drop")
            if drop.params["effect"]:
                self._route_api(request)
            raise DropConnection
        rate_limit = self.faults.take("rate_limit", method, path)
        server_error = None if rate_limit else self.faults.take("error_5xx", method, path)
        if rate_limit is not None:
            applied.append("rate_limit")
            response = self.rate_limited_response(request, rate_limit)
        elif server_error is not None:
            applied.append("error_5xx")
            response = self.error_response(request, int(server_error.params["status"]))
        else:
            response = self._route_api(request)
        self.sleep(held_for)
        self.decorate(request, response)
        return response

    def _route_api(self, request: Request) -> Response:
        if not request.path.startswith(self.api_prefix):
            return self.not_found_response(request)
        refusal = self.authenticate(request)
        if refusal is not None:
            return refusal
        resolution = self.api.resolve(request.method, request.path)
        if resolution.handler is None:
            if resolution.allowed:
                return self.method_not_allowed_response(request, resolution.allowed)
            return self.not_found_response(request)
        request.params = resolution.params
        try:
            with self.lock:
                return self.call_handler(request, resolution.handler)
        except BadRequest as error:
            return self.bad_request_response(request, str(error))
        except Exception:
            logger.exception("sandbox %s crashed on %s %s", self.kind, request.method, request.path)
            return self.error_response(request, 500)

    # ----------------------------------------------------------------- control API
    def _add_common_control_routes(self) -> None:
        add = self.control.add
        add("GET", "/_sandbox", self._control_index)
        add("GET", "/_sandbox/", self._control_index)
        add("POST", "/_sandbox/reset", self._control_reset)
        add("GET", "/_sandbox/config", self._control_get_config)
        add("POST", "/_sandbox/config", self._control_set_config)
        add("GET", "/_sandbox/faults", self._control_get_faults)
        add("POST", "/_sandbox/faults", self._control_set_fault)
        add("DELETE", "/_sandbox/faults", self._control_clear_faults)
        add("GET", "/_sandbox/calls", self._control_get_calls)
        add("DELETE", "/_sandbox/calls", self._control_clear_calls)
        add("GET", "/_sandbox/webhooks", self._control_get_webhooks)
        add("DELETE", "/_sandbox/webhooks", self._control_clear_webhooks)
        add("POST", "/_sandbox/webhooks/flush", self._control_flush_webhooks)
        add("GET", "/_sandbox/state", self._control_state)

    def _control_index(self, request: Request) -> Response:
        return Response.json(
            {
                "kind": self.kind,
                "url": self.base_url,
                "api_url": self.api_url,
                "credentials": self.credentials(),
                "config": self.config.to_json(),
                "settings": self.config.describe(),
                "routes": {"api": self.api.describe(), "control": self.control.describe()},
            }
        )

    def _control_reset(self, request: Request) -> Response:
        body = control_body(request)
        seed = body.get("seed")
        if seed is not None and not isinstance(seed, bool):
            raise ControlError(400, "invalid", "seed must be true or false")
        self.reset(seed)
        return Response.json({"reset": True, "seeded": self.seed})

    def _control_get_config(self, request: Request) -> Response:
        return Response.json(self.config.to_json())

    def _control_set_config(self, request: Request) -> Response:
        self.config.update(control_body(request))
        return Response.json(self.config.to_json())

    def _control_get_faults(self, request: Request) -> Response:
        return Response.json({"faults": self.faults.to_json()})

    def _control_set_fault(self, request: Request) -> Response:
        body = control_body(request)
        kind = body.pop("kind", None)
        if not isinstance(kind, str):
            raise ControlError(400, "invalid", "kind is required")
        count = body.pop("count", 1)
        method = body.pop("method", None)
        path_prefix = body.pop("path_prefix", None)
        params = body.pop("params", {})
        if not isinstance(params, dict):
            raise ControlError(400, "invalid", "params must be an object")
        fault = self.faults.set(kind, count, method=method, path_prefix=path_prefix, **{**body, **params})
        return Response.json({"fault": fault.to_json(), "faults": self.faults.to_json()})

    def _control_clear_faults(self, request: Request) -> Response:
        self.faults.clear(request.arg("kind"))
        return Response.json({"faults": self.faults.to_json()})

    def _control_get_calls(self, request: Request) -> Response:
        records = self.calls.filter(request.arg("method"), request.arg("path_prefix"))
        return Response.json({"calls": [record.to_json() for record in records]})

    def _control_clear_calls(self, request: Request) -> Response:
        self.calls.clear()
        return Response.json({"calls": []})

    def _control_get_webhooks(self, request: Request) -> Response:
        event = request.arg("event")
        records = [record for record in self.webhooks if event is None or record.event == event]
        return Response.json(
            {"webhooks": [record.to_json() for record in records], "held": self.dispatcher.held}
        )

    def _control_clear_webhooks(self, request: Request) -> Response:
        self.webhooks.clear()
        return Response.json({"webhooks": []})

    def _control_flush_webhooks(self, request: Request) -> Response:
        self.dispatcher.release_held()
        return Response.json({"held": self.dispatcher.held})

    def _control_state(self, request: Request) -> Response:
        return Response.json(self.state_json())
