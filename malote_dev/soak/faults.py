"""The fault plan, armed through each fake's ``/_sandbox/faults`` (and token-expiry controls), and
the ground-truth manifest: every injected anomaly, where, which order or channel, and what Malote
should do about it.

A manifest entry::

    {"id", "what", "where" (fake kind), "channel" (code), "at" (seconds into the day),
     "armed" (fault spec), "victims" (sale keys / Malote numbers, resolved after the day),
     "expect": {"issues": [{"kind", "channel", "order"}], "actions": [...], "allow_issues": [...],
                "outcome": text}}

``expect.issues`` must be found (else a false negative); ``allow_issues`` are tolerated (neither
true nor false positive: e.g. a lost webhook the poll usually repairs before the check runs);
any other issue is a false positive. Victims of order-less faults (a dropped creation, a lost
webhook) are known only afterwards, from the fake's call and webhook logs: :func:`resolve`.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import httpx


@dataclass
class Fault:
    id: str
    at: float  # fraction of the day
    where: str  # fake kind
    what: str
    spec: dict[str, Any] | None = None  # POST /_sandbox/faults body
    control: str | None = None  # or a control path to POST (token expiry)
    expect: dict[str, Any] = field(default_factory=dict)
    armed_at: float = 0.0
    victims: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "where": self.where,
            "what": self.what,
            "armed": self.spec or self.control,
            "armed_at": self.armed_at,
            "victims": self.victims,
            "expect": self.expect,
        }


def fault_plan(codes: dict[str, str], *, small: bool = False) -> list[Fault]:
    """The day's faults (``codes``: fake kind → channel code). ``small``: the suite's couple."""
    tiny, bling, loja = codes["tiny"], codes["bling"], codes["jumpseller"]
    faults = [
        Fault(
            "tiny-drop-creation",
            0.15,
            "tiny",
            "Tiny answers pedido.incluir OK but stores nothing",
            spec={"kind": "drop_order_creation", "count": 1},
            expect={
                "issues": [{"kind": "not_integrated", "channel": tiny}],
                "actions": ["reintegrate"],
                "outcome": "issue not_integrated expected on the victim at Tiny; re-sent once",
            },
        ),
        Fault(
            "tiny-5xx",
            0.05,
            "tiny",
            "Tiny answers 503 twice on pedido.incluir",
            spec={"kind": "error_5xx", "count": 2, "status": 503, "path_prefix": "/api2/pedido.incluir"},
            expect={"outcome": "retried; no issue expected"},
        ),
    ]
    if small:
        return faults
    faults += [
        Fault(
            "bling-drop-creation",
            0.3,
            "bling",
            "Bling answers 201 to an order creation but stores nothing",
            spec={"kind": "drop_order_creation", "count": 1},
            expect={
                "issues": [{"kind": "not_integrated", "channel": bling}],
                "actions": ["reintegrate"],
                "outcome": "issue not_integrated expected on the victim at Bling; re-sent once",
            },
        ),
        Fault(
            "bling-429",
            0.1,
            "bling",
            "Bling answers 429 with Retry-After: 2, three times",
            spec={"kind": "rate_limit", "count": 3, "retry_after": 2},
            expect={"outcome": "retried after Retry-After; no issue expected"},
        ),
        Fault(
            "bling-timeout",
            0.2,
            "bling",
            "Bling stores an order but the answer is held 12 s",
            spec={
                "kind": "timeout",
                "count": 1,
                "seconds": 12,
                "method": "POST",
                "path_prefix": "/Api/v3/pedidos/vendas",
            },
            expect={"outcome": "no duplicate in Bling (looked up by numeroLoja); no issue expected"},
        ),
        Fault(
            "jumpseller-timeout",
            0.25,
            "jumpseller",
            "Jumpseller holds one PUT answer 12 s",
            spec={"kind": "timeout", "count": 1, "seconds": 12, "method": "PUT"},
            expect={"outcome": "retried; no issue expected"},
        ),
        Fault(
            "skyhub-5xx",
            0.35,
            "skyhub",
            "SkyHub's queue answers 502 three times",
            spec={"kind": "error_5xx", "count": 3, "status": 502, "path_prefix": "/queues"},
            expect={
                "allow_issues": [{"kind": "not_integrated", "channel": codes["skyhub"]}],
                "actions": ["import"],
                "outcome": "polled again, or imported by reconciliation past its grace",
            },
        ),
        Fault(
            "pagarme-duplicate",
            0.1,
            "pagarme",
            "Pagar.me sends its next 3 webhooks twice",
            spec={"kind": "webhook_duplicate", "count": 3},
            expect={"outcome": "inbox drops the copies; no issue, no duplicate e-mail expected"},
        ),
        Fault(
            "tiny-reorder",
            0.4,
            "tiny",
            "Tiny's next 2 notifications arrive in reverse order",
            spec={"kind": "webhook_reorder", "count": 2},
            expect={"outcome": "statuses converge; no issue expected"},
        ),
        Fault(
            "jumpseller-lost-webhook",
            0.5,
            "jumpseller",
            "the order-created webhook of the next sale is lost",
            spec={"kind": "webhook_off", "count": 1},
            expect={
                "allow_issues": [{"kind": "not_integrated", "channel": loja}],
                "actions": ["import"],
                "outcome": "imported by the poll or by reconciliation (import)",
            },
        ),
        Fault(
            "mercadolivre-token",
            0.3,
            "mercadolivre",
            "Mercado Livre's access token expires",
            control="/tokens/expire",
            expect={"outcome": "token refreshed; no issue expected"},
        ),
        Fault(
            "bling-token",
            0.55,
            "bling",
            "Bling's access token expires",
            control="/oauth/expire",
            expect={"outcome": "token refreshed; no issue expected"},
        ),
        Fault(
            "vtex-silent",
            0.6,
            "vtex",
            "VTEX goes silent: no hook for the rest of the day",
            spec={"kind": "webhook_off", "count": 100000},
            # Hooks stop but the feed poll keeps every sale flowing: the channel is not stalled (no
            # sale goes missing), so a person is not called; a stall issue is tolerated, not required.
            expect={
                "allow_issues": [
                    {"kind": "not_integrated", "channel": codes["vtex"]},
                    {"kind": "channel_stalled", "channel": codes["vtex"]},
                ],
                "actions": ["import"],
                "outcome": "its orders still imported by the feed poll; no issue required",
            },
        ),
    ]
    return faults


class FaultPlan:
    def __init__(self, urls: dict[str, str], faults: list[Fault], seconds: float) -> None:
        self.urls = urls
        self.faults = sorted(faults, key=lambda f: f.at)
        self.pending = list(self.faults)
        self.seconds = seconds
        self.http = httpx.Client(timeout=10.0, trust_env=False)

    def arm_due(self, elapsed: float) -> None:
        while self.pending and self.pending[0].at * self.seconds <= elapsed:
            fault = self.pending.pop(0)
            base = f"{self.urls[fault.where]}/_sandbox"
            if fault.spec is not None:
                self.http.post(f"{base}/faults", json=fault.spec).raise_for_status()
            if fault.control is not None:
                self.http.post(f"{base}{fault.control}", json={}).raise_for_status()
            fault.armed_at = time.time()

    def disarm_all(self) -> None:
        """The day is over: clear every fault (releases reordered webhooks)."""
        for url in self.urls.values():
            with contextlib.suppress(httpx.HTTPError):
                self.http.delete(f"{url}/_sandbox/faults")

    # ------------------------------------------------------------------ who was hit
    def resolve(self) -> None:
        for fault in self.faults:
            if not fault.armed_at:
                continue
            kind = (fault.spec or {}).get("kind")
            if kind == "drop_order_creation" and fault.where == "tiny":
                fault.victims = self._first_created(fault, "/api2/pedido.incluir", _tiny_number)
            elif kind == "drop_order_creation" and fault.where == "bling":
                fault.victims = self._first_created(fault, "/Api/v3/pedidos/vendas", _bling_number)
            elif kind == "webhook_off" and fault.where == "jumpseller":
                fault.victims = self._suppressed(fault, lambda body: f"order:{body['order']['id']}", 1)
            elif kind == "webhook_off":
                fault.victims = self._suppressed(
                    fault, lambda body: f"order:{body.get('OrderId', '')}", 100000
                )

    def _first_created(self, fault: Fault, path: str, number: Any) -> list[str]:
        calls = self.http.get(
            f"{self.urls[fault.where]}/_sandbox/calls", params={"method": "POST", "path_prefix": path}
        ).json()["calls"]
        for call in sorted(calls, key=lambda c: c["seq"]):
            if call["time"] >= fault.armed_at and call.get("status") in (200, 201):
                found = number(call["body"])
                if found:
                    return [f"number:{found}"]
        return []

    def _suppressed(self, fault: Fault, victim: Any, limit: int) -> list[str]:
        hooks = self.http.get(f"{self.urls[fault.where]}/_sandbox/webhooks").json()["webhooks"]
        found: list[str] = []
        for hook in hooks:
            if hook.get("suppressed") and (hook.get("queued_at") or 0) >= fault.armed_at - 1:
                try:
                    name = victim(json.loads(hook["body"]))
                except (ValueError, KeyError, TypeError):
                    continue
                if name not in found:
                    found.append(name)
        return found[:limit] if limit < 100000 else found


def _tiny_number(body: str) -> str:
    try:
        pedido = json.loads(parse_qs(body)["pedido"][0])
    except (KeyError, ValueError, IndexError):
        return ""
    pedido = pedido.get("pedido", pedido)
    return str(pedido.get("numero_pedido_ecommerce") or "")


def _bling_number(body: str) -> str:
    try:
        return str(json.loads(body).get("numeroLoja") or "")
    except ValueError:
        return ""
