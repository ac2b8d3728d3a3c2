"""Deterministic fault injection: counters, never probabilities, so every test is reproducible.

A fault applies to the next ``count`` matching events and then disappears. API faults match
requests, optionally filtered by HTTP method and path prefix; webhook faults match outgoing
webhooks (the filters do not apply to them). Kinds and their parameters (defaults in brackets):

=======================  ==================================================================
``latency_ms``           add ``ms`` [300] milliseconds before answering normally
``error_5xx``            answer ``status`` [500] (500, 502 or 503) with the vendor's error body;
                         the request has no effect
``rate_limit``           answer 429 with ``Retry-After: retry_after`` [1] seconds (each fake adds
                         its vendor's headers/body; Tiny answers its own throttle, see ``tiny``)
``timeout``              the request takes effect at once, the answer is held ``seconds`` [10]
                         (longer than a client's timeout: "did my write land?")
``drop``                 close the connection without any answer; with ``effect`` [False] the
                         request is applied first, so only the answer is lost
``webhook_duplicate``    send each of the next N webhooks twice (identical body and headers)
``webhook_reorder``      hold the next N webhooks and send them in reverse order once N are held
                         (clearing faults releases a partial batch)
``webhook_off``          do not send the next N webhooks (they are still recorded, as suppressed)
``drop_order_creation``  Tiny only: answer ``pedido.incluir`` normally but do not store the order
=======================  ==================================================================

:meth:`FaultController.set` replaces a fault of the same kind and filters; faults of one kind with
different filters coexist and the first matching one is consumed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

API_FAULT_KINDS = frozenset({"latency_ms", "error_5xx", "rate_limit", "timeout", "drop"})
WEBHOOK_FAULT_KINDS = frozenset({"webhook_duplicate", "webhook_reorder", "webhook_off"})

#: Parameters each kind accepts, with their defaults.
FAULT_PARAMETERS: dict[str, dict[str, Any]] = {
    "latency_ms": {"ms": 300},
    "error_5xx": {"status": 500},
    "rate_limit": {"retry_after": 1, "http": False, "banned": False},
    "timeout": {"seconds": 10.0},
    "drop": {"effect": False},
    "webhook_duplicate": {},
    "webhook_reorder": {},
    "webhook_off": {},
    "drop_order_creation": {},
}

_SERVER_ERROR_STATUSES = frozenset({500, 502, 503})


class FaultError(ValueError):
    """An invalid fault specification (unknown kind or parameter, bad count)."""


@dataclass
class Fault:
    """One armed fault; ``remaining`` counts the events it still applies to."""

    kind: str
    remaining: int
    method: str | None = None
    path_prefix: str | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def matches(self, method: str | None, path: str | None) -> bool:
        if self.method is not None and method is not None and self.method != method.upper():
            return False
        return not (
            self.path_prefix is not None and path is not None and not path.startswith(self.path_prefix)
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "remaining": self.remaining,
            "method": self.method,
            "path_prefix": self.path_prefix,
            "params": dict(self.params),
        }


def _checked_params(kind: str, params: dict[str, Any]) -> dict[str, Any]:
    accepted = FAULT_PARAMETERS[kind]
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise FaultError(f"fault {kind!r} does not take {', '.join(unknown)} (accepts: {sorted(accepted)})")
    merged = {**accepted, **params}
    if kind == "error_5xx" and merged["status"] not in _SERVER_ERROR_STATUSES:
        raise FaultError(f"error_5xx status must be 500, 502 or 503, got {merged['status']!r}")
    for name in ("ms", "retry_after", "seconds"):
        if name in merged and (isinstance(merged[name], bool) or not isinstance(merged[name], int | float)):
            raise FaultError(f"{name} must be a number, got {merged[name]!r}")
        if name in merged and merged[name] < 0:
            raise FaultError(f"{name} must not be negative")
    return merged


class FaultController:
    """Thread-safe set of armed faults for one fake.

    ``on_clear`` runs after :meth:`clear` (the webhook dispatcher uses it to release webhooks held
    by ``webhook_reorder``).
    """

    def __init__(self, kinds: frozenset[str], on_clear: Callable[[], None] | None = None) -> None:
        self.kinds = kinds
        self.on_clear = on_clear
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def set(
        self,
        kind: str,
        count: int = 1,
        *,
        method: str | None = None,
        path_prefix: str | None = None,
        **params: Any,
    ) -> Fault:
        """Arm ``kind`` for the next ``count`` matching events; returns a snapshot of the fault."""
        if kind not in self.kinds:
            raise FaultError(f"unknown fault kind {kind!r} for this fake (known: {sorted(self.kinds)})")
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise FaultError(f"count must be a positive integer, got {count!r}")
        fault = Fault(
            kind=kind,
            remaining=count,
            method=method.upper() if method else None,
            path_prefix=path_prefix or None,
            params=_checked_params(kind, params),
        )
        with self._lock:
            self._faults = [
                existing
                for existing in self._faults
                if (existing.kind, existing.method, existing.path_prefix)
                != (fault.kind, fault.method, fault.path_prefix)
            ]
            self._faults.append(fault)
        return replace(fault, params=dict(fault.params))

    def clear(self, kind: str | None = None) -> None:
        """Disarm every fault, or only those of ``kind``."""
        with self._lock:
            self._faults = [fault for fault in self._faults if kind is not None and fault.kind != kind]
        if self.on_clear is not None:
            self.on_clear()

    def take(self, kind: str, method: str | None = None, path: str | None = None) -> Fault | None:
        """Consume one use of the first matching ``kind`` fault; returns its snapshot or ``None``.

        The snapshot's ``remaining`` is the count left after this use (0 = that was the last).
        """
        with self._lock:
            for fault in self._faults:
                if fault.kind == kind and fault.matches(method, path):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return replace(fault, params=dict(fault.params))
        return None

    def active(self) -> list[Fault]:
        """Snapshots of the armed faults, in arming order."""
        with self._lock:
            return [replace(fault, params=dict(fault.params)) for fault in self._faults]

    def to_json(self) -> list[dict[str, Any]]:
        return [fault.to_json() for fault in self.active()]

    def __repr__(self) -> str:
        return f"FaultController({[f'{fault.kind}×{fault.remaining}' for fault in self.active()]})"
