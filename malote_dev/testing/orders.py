"""Test orders: the canonical example dated relative to now, and any status reached through the real
commands."""

from __future__ import annotations

import copy
import random
from datetime import timedelta
from typing import Any

from django.utils import timezone

from malote.core.actors import Actor
from malote.orders import actions
from malote.orders.models import Order
from malote.orders.schemas import ORDER_EXAMPLE
from malote_dev import samples

SYSTEM = Actor.system("test")


def order_data(**overrides: Any) -> dict[str, Any]:
    """The API's example order (2 × 49.90 + 15.00 = 114.80, boleto) placed five minutes ago (a live
    sale of a channel connected at the test's start, see ``Channel.is_history``), its boleto due in
    three days: every date is relative to the clock, so a test passes on any day."""
    now = timezone.localtime()
    data = copy.deepcopy(ORDER_EXAMPLE)
    data["placed_at"] = (now - timedelta(minutes=5)).isoformat(timespec="seconds")
    data["payment"]["due_date"] = (now + timedelta(days=3)).date().isoformat()
    data.update(overrides)
    return data


PATHS: dict[str, list[str]] = {
    "pending_payment": [],
    "payment_review": ["start_review"],
    "payment_overdue": ["mark_overdue"],
    "paid": ["approve_payment"],
    "out_of_stock": ["approve_payment", "flag_out_of_stock"],
    "preparing": ["approve_payment", "start_preparing"],
    "invoiced": ["approve_payment", "invoice"],
    "ready_to_ship": ["approve_payment", "invoice", "ready_to_ship"],
    "shipped": ["approve_payment", "invoice", "ship"],
    "in_transit": ["approve_payment", "invoice", "ship", "mark_in_transit"],
    "delivery_failed": ["approve_payment", "invoice", "ship", "report_delivery_problem"],
    "delivered": ["approve_payment", "invoice", "ship", "deliver"],
    "canceled": ["cancel"],
}


def invoice_input(order: Order, number: int | None = None) -> dict[str, Any]:
    issued = timezone.localtime()
    number = number or order.pk + 100
    return {
        "key": samples.nfe_key(number, issued, rng=random.Random(number)),
        "number": str(number),
        "series": "1",
        "issued_at": issued.isoformat(),
    }


def valid_input(order: Order, name: str) -> dict[str, Any]:
    later = timezone.now() + timedelta(days=1)
    return {
        "invoice": invoice_input(order),
        "ready_to_ship": {"collection_code": "COL-1", "carrier": "correios"},
        "ship": {"carrier": "correios", "method": "SEDEX", "tracking_code": "AA123456785BR"},
        "report_delivery_problem": {"description": "Destinatário ausente"},
        "deliver": {"delivered_at": later.isoformat()},
        "cancel": {"reason": "customer_gave_up", "note": "desistiu"},
        "reopen": {"reason": "cliente voltou atrás"},
    }.get(name, {})


def bring_to(order: Order, status: str) -> Order:
    for name in PATHS[status]:
        actions.run_transition(order.pk, name, valid_input(order, name), actor=SYSTEM)
    order.refresh_from_db()
    assert order.status == status
    return order
