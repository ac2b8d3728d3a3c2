"""The shop's history before Malote: what a previous integration left in every system.

Seeded through the fakes' control APIs before the go-live (each record dated ``days_ago`` by the
fake's own clock), so that on its first day Malote meets what a real shop has: store orders weeks
old in every state, their ERP copies referencing the *store's* number (not Malote's) in every
situação, a paid order the previous integration never sent to the ERPs, an ERP order typed by
hand that no store knows, and the gateway's charges (paid, refunded, a boleto never paid).

Nothing here may be flagged, re-sent, duplicated, canceled or e-mailed by Malote: :func:`snapshot`
records every history record's status at the go-live, and :func:`touched` lists those whose status
changed by the end of the day (the day's scenario never touches them, so any change is Malote's).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import httpx

#: (days ago, customer, items, payment method, store status, Tiny situação, Bling situação name,
#: gateway fate). ``None`` ERP situação: the previous integration never sent it there.
ROWS: tuple[tuple[int, str, list[tuple[str, int]], str, str, str | None, str | None, str], ...] = (
    (30, "maria", [("CHINELO-42", 1)], "credit_card", "paid", "entregue", "Atendido", "paid"),
    (26, "joao", [("BONE-AZUL", 2)], "pix", "paid", "entregue", "Atendido", "paid"),
    (21, "ana", [("GARRAFA-TERMICA", 1)], "boleto", "canceled", "cancelado", "Cancelado", "pending"),
    (18, "comercial", [("MEIAS-KIT-3", 6)], "boleto", "paid", "enviado", "Atendido", "paid"),
    (14, "maria", [("CAMISETA-BRANCA-M", 1)], "credit_card", "paid", "faturado", "Atendido", "paid"),
    (12, "joao", [("CAFE-MOIDO-500G", 2)], "credit_card", "canceled", "cancelado", "Cancelado", "refunded"),
    (9, "ana", [("TOALHA-PRAIA", 1)], "pix", "paid", "aprovado", "Em andamento", "paid"),
    (7, "comercial", [("CANECA-CERAMICA", 4)], "boleto", "pending_payment", None, None, "pending"),
    (5, "maria", [("MOCHILA-URBANA", 1)], "credit_card", "paid", None, None, "paid"),
    (3, "joao", [("CHINELO-42", 2)], "pix", "paid", "aberto", "Em aberto", "paid"),
    (2, "ana", [("BONE-AZUL", 1)], "credit_card", "paid", None, None, "paid"),
)
#: An ERP order typed by hand weeks ago (a phone sale): no store or gateway knows it.
HAND_TYPED_REF = "TEL-0415"


@dataclass
class HistoryRecord:
    system: str  # fake kind
    id: str  # the record's id there
    ref: str  # the store's order number it belongs to ("" for the hand-typed one)
    status: str  # at the go-live


def _post(http: httpx.Client, url: str, path: str, body: dict[str, Any]) -> Any:
    response = http.post(f"{url}/_sandbox{path}", json=body)
    response.raise_for_status()
    return response.json()


def seed(urls: dict[str, str]) -> list[str]:
    """Write the history into the fakes; returns the store's numbers of the history orders."""
    numbers: list[str] = []
    with httpx.Client(timeout=15.0, trust_env=False) as http:
        bling_ids = {
            s["nome"]: s["id"] for s in http.get(f"{urls['bling']}/_sandbox/state").json()["situacoes"]
        }
        for days, customer, skus, method, status, tiny, bling, charge in ROWS:
            items = [{"sku": sku, "qty": qty} for sku, qty in skus]
            placed = _post(
                http,
                urls["jumpseller"],
                "/orders",
                {
                    "items": items,
                    "payment_method": method,
                    "status": "paid" if status == "paid" else "pending_payment",
                    "customer": customer,
                    "days_ago": days,
                },
            )["order"]
            number = str(placed["id"])
            numbers.append(number)
            if status == "canceled":
                _post(http, urls["jumpseller"], f"/orders/{number}/status", {"status": "canceled"})
            checkout = _post(
                http,
                urls["pagarme"],
                "/orders",
                {"code": number, "payment_method": method, "items": items, "days_ago": days},
            )
            if charge in ("paid", "refunded"):
                _post(http, urls["pagarme"], f"/charges/{checkout['charge_id']}/pay", {})
            if charge == "refunded":
                _post(http, urls["pagarme"], f"/charges/{checkout['charge_id']}/refund", {})
            if tiny is not None:
                _post(
                    http,
                    urls["tiny"],
                    "/orders",
                    {"items": items, "customer": customer, "numero_ecommerce": number, "situacao": tiny,
                     "days_ago": days},
                )  # fmt: skip
            if bling is not None:
                _post(
                    http,
                    urls["bling"],
                    "/orders",
                    {"items": items, "customer": customer, "numeroLoja": number,
                     "situacao": bling_ids[bling], "days_ago": days},
                )  # fmt: skip
        body = {"items": [{"sku": "CAFE-MOIDO-500G", "qty": 3}], "customer": "comercial", "days_ago": 16}
        tiny_body = {**body, "numero_ecommerce": HAND_TYPED_REF, "situacao": "entregue"}
        _post(http, urls["tiny"], "/orders", tiny_body)
        _post(
            http,
            urls["bling"],
            "/orders",
            {**body, "numeroLoja": HAND_TYPED_REF, "situacao": bling_ids["Atendido"]},
        )
    return numbers


def snapshot(states: dict[str, Any], numbers: list[str]) -> list[HistoryRecord]:
    """Every history record and its status now (call at the go-live)."""
    return _records(states, set(numbers))


def _records(states: dict[str, Any], numbers: set[str]) -> list[HistoryRecord]:
    refs = numbers | {HAND_TYPED_REF}
    out = [
        HistoryRecord("jumpseller", str(o["id"]), str(o["id"]), str(o["status_enum"]))
        for o in (row["order"] for row in states["jumpseller"]["orders"])
        if str(o["id"]) in numbers
    ]
    out += [
        HistoryRecord("pagarme", str(o["id"]), str(o.get("code") or ""), str(o.get("status") or ""))
        for o in states["pagarme"]["orders"]
        if str(o.get("code") or "") in numbers
    ]
    out += [
        HistoryRecord("tiny", str(p["id"]), str(p.get("numero_ecommerce") or ""), str(p.get("situacao")))
        for p in states["tiny"]["pedidos"]
        if str(p.get("numero_ecommerce") or "") in refs
    ]
    out += [
        HistoryRecord(
            "bling", str(p["id"]), str(p.get("numeroLoja") or ""), str((p.get("situacao") or {}).get("id"))
        )
        for p in states["bling"]["pedidos"]
        if str(p.get("numeroLoja") or "") in refs
    ]
    return out


def touched(before: list[HistoryRecord], states: dict[str, Any], numbers: list[str]) -> dict[str, Any]:
    """What changed in the history by the end: records whose status moved, records that appeared
    (a copy of a history order created in an ERP), records that disappeared."""
    after = {(r.system, r.id): r for r in _records(states, set(numbers))}
    seen = {(r.system, r.id): r for r in before}
    changed = [
        {**asdict(r), "now": after[key].status}
        for key, r in seen.items()
        if key in after and after[key].status != r.status
    ]
    created = [asdict(r) for key, r in after.items() if key not in seen]
    gone = [asdict(r) for key, r in seen.items() if key not in after]
    return {"records": len(before), "changed": changed, "created": created, "gone": gone}
