"""The whole loop with real processes: a ``malote worker`` (schedules and outbox) on a database of
its own, the Tiny fake over HTTP dropping the order's creation. The worker's reconciliation
schedule finds the order missing in Tiny; the order is unpaid and its payment was never confirmed
by a gateway, so the worker does not re-send it by itself: the issue stays open for a person with
the reason on its history, and Tiny got one ``pedido.incluir`` call (the dropped one)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from malote.sync.tests.processes import python, start_worker, worker_database
from malote_dev.sandbox import start_fake

SETUP = """
import copy, json
from datetime import timedelta
from django.utils import timezone
from malote.channels.models import Channel
from malote_dev.testing.orders import order_data
from malote.core.actors import Actor
from malote.orders import actions
from malote.orders.schemas import OrderIn
from malote.reconcile.jobs import sync_schedules
from malote.stock.actions import set_physical
live = timezone.now() - timedelta(days=30)
Channel.objects.create(code="site", name="Loja", role="storefront", go_live_at=live)
Channel.objects.create(code="tiny", name="Tiny ERP", role="erp", kind="tiny", base_url={url!r},
                       credentials={{"token": {token!r}}}, go_live_at=live,
                       options={{"integration_grace_minutes": 0, "reconcile_interval_seconds": 2}})
sync_schedules()
set_physical("CHINELO-42", 10, actor=Actor.system("t"))
order, _ = actions.create_order(OrderIn.model_validate(order_data()), actor=Actor.system("t"))
print(json.dumps(order.number))
"""

STATE = """
import json
from malote.reconcile.models import IntegrationIssue
issues = IntegrationIssue.objects.all()
print(json.dumps([[i.kind, i.state, [h.action for h in i.history.all()]] for i in issues]))
"""


def _wait(what: str, check: Callable[[], Any], timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.django_db
def test_the_worker_finds_a_dropped_order_and_leaves_an_unpaid_one_to_a_person(tmp_path: Path) -> None:
    with start_fake("tiny", seed=False) as tiny, worker_database(tmp_path) as env:
        number = python(env, SETUP.format(url=tiny.api_url, token=tiny.credentials["token"]))
        tiny.faults.set("drop_order_creation", 1)
        worker = start_worker(env, "--threads", "2", "--lease", "5")
        try:

            def copies() -> int:
                with tiny.app.lock:
                    return sum(1 for p in tiny.state.pedidos.values() if p.get("numero_ecommerce") == number)

            def held() -> Any:
                issues = python(env, STATE)
                return issues if issues and len(issues[0][2]) >= 2 else None

            issues = _wait("the issue, held for a person", held)
            time.sleep(4)  # two more slots: nothing else may happen
            assert copies() == 0
            assert len(tiny.calls.filter("POST", "/api2/pedido.incluir.php")) == 1
            assert issues == [["not_integrated", "open", ["opened", "erp_does_not_want"]]]
        finally:
            worker.terminate()
            worker.communicate(timeout=30)
