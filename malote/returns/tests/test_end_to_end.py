"""A return over real HTTP: Malote served by gunicorn with one worker process, the Adyen fake.

A delivered order paid through Adyen → a return of one line, received back in stock → the refund
of that line's amount goes out through the worker to the fake, whose REFUND webhook confirms it →
the return is refunded, the order still delivered (not canceled), the units back on the shelf.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.utils import timezone

from malote.orders.schemas import ORDER_EXAMPLE
from malote.sync.tests.processes import free_port, python, serve_web, start, worker_database
from malote_dev import samples
from malote_dev.sandbox.server import RunningFake, start_fake

SETUP = """
import json
from django.contrib.auth import get_user_model
from malote.accounts.models import ApiToken
from malote.accounts.roles import assign_role, sync_roles
from malote.channels.models import Channel
from malote.core.actors import Actor
from malote.stock.actions import set_physical
sync_roles()
user = get_user_model().objects.create_user("e2e")
assign_role(user, "admin")
_, token = ApiToken.issue(user, "e2e")
Channel.objects.create(code="site", name="Loja", role="storefront", kind="manual")
Channel.objects.create(code="adyen", name="Adyen", role="gateway", kind="adyen", base_url={url!r},
                       credentials={credentials!r}, options={options!r})
set_physical("CHINELO-42", 10, actor=Actor.system("e2e"))
set_physical("TOALHA-01", 10, actor=Actor.system("e2e"))
print(json.dumps(token))
"""


def _wait(what: str, check: Callable[[], Any], timeout: float = 40.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[httpx.Client, RunningFake[Any]]]:
    port = free_port()
    adyen = start_fake("adyen", seed=False, webhook_url=f"http://127.0.0.1:{port}/hooks/adyen")
    try:
        with worker_database(tmp_path) as env:
            credentials = {"hmac_key": adyen.credentials["hmac_key"], "api_key": adyen.credentials["api_key"]}
            options = {"merchant_account": adyen.credentials["merchant_account"]}
            token = python(env, SETUP.format(url=adyen.api_url, credentials=credentials, options=options))
            web = serve_web(env, port)
            worker = start(env, "worker", "--threads", "2", "--lease", "5")
            api = httpx.Client(
                base_url=f"http://127.0.0.1:{port}/api/v1", headers={"Authorization": f"Bearer {token}"}
            )
            try:
                yield api, adyen
            finally:
                api.close()
                for process in (worker, web):
                    process.terminate()
                    process.communicate(timeout=30)
    finally:
        adyen.stop()


def _ok(response: httpx.Response) -> Any:
    assert response.status_code in (200, 201), response.text
    return response.json()


def test_a_returned_line_is_refunded_at_the_gateway_and_the_order_stays_delivered(
    stack: tuple[httpx.Client, RunningFake[Any]],
) -> None:
    api, adyen = stack
    now = timezone.localtime()
    order_in = {
        **ORDER_EXAMPLE,
        "external_id": "e2e-return-1",
        "placed_at": (now - timedelta(minutes=5)).isoformat(timespec="seconds"),
        "items": [
            {"sku": "CHINELO-42", "name": "Chinelo de praia 42", "quantity": 2, "unit_price": "49.90"},
            {"sku": "TOALHA-01", "name": "Toalha de banho", "quantity": 1, "unit_price": "30.00"},
        ],
        "total": "144.80",
        "payment": {"method": "credit_card", "gateway": "adyen", "installments": 1},
    }
    order = _ok(api.post("/orders", json=order_in))
    order_id = order["id"]
    with httpx.Client(timeout=10, trust_env=False) as control:
        paid = _ok(
            control.post(
                f"{adyen.url}/_sandbox/payments", json={"merchantReference": order["number"], "amount": 14480}
            )
        )
    psp = paid["payment"]["pspReference"]
    _wait("the payment", lambda: api.get(f"/orders/{order_id}").json()["status"] == "paid")

    key = samples.nfe_key(4242, now, rng=random.Random(4242))
    steps = {
        "invoice": {"key": key, "number": "4242", "series": "1", "issued_at": now.isoformat()},
        "ship": {"carrier": "correios", "method": "SEDEX", "tracking_code": "AA123456785BR"},
        "deliver": {"delivered_at": (now + timedelta(hours=1)).isoformat()},
    }
    for name, body in steps.items():
        _ok(api.post(f"/orders/{order_id}/transitions/{name}", json=body))
    shelf_before = _ok(api.get("/stock/TOALHA-01"))["physical"]

    ret = _ok(
        api.post(
            f"/orders/{order_id}/returns",
            json={"reason": "defective", "lines": [{"position": 2, "quantity": 1}]},
        )
    )
    [line] = ret["lines"]
    _ok(api.post(f"/returns/{ret['id']}/transitions/authorize"))
    received = {"lines": [{"line": line["id"], "quantity": 1, "condition": "restock"}]}
    _ok(api.post(f"/returns/{ret['id']}/transitions/receive", json=received))
    pending = _ok(api.post(f"/returns/{ret['id']}/transitions/request_refund", json={"amount": "30.00"}))
    assert pending["status"] == "refund_pending"

    def refunded() -> dict[str, Any] | None:
        now_ret = api.get(f"/returns/{ret['id']}").json()
        return now_ret if now_ret["status"] == "refunded" else None

    done = _wait("the gateway's refund", refunded)
    assert done["refunded_amount"] == "30.00"
    with httpx.Client(timeout=10, trust_env=False) as control:
        state = control.get(f"{adyen.url}/_sandbox/state").json()
    [payment] = [p for p in state["payments"] if p["pspReference"] == psp]
    assert (payment["refunded"], payment["status"]) == (3000, "Captured")
    refunds = [m for m in state["modifications"] if m["action"] == "refund"]
    assert [(m["amount"]["value"], m["reference"]) for m in refunds] == [(3000, ret["number"])]
    assert api.get(f"/orders/{order_id}").json()["status"] == "delivered"
    assert _ok(api.get("/stock/TOALHA-01"))["physical"] == shelf_before + 1
