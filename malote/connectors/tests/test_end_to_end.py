"""The whole journey over real HTTP on loopback, every part a real process or server:

Malote served by gunicorn and one ``malote worker`` process on a database of their own; the
Jumpseller, Pagar.me and Tiny fakes; a real SMTP server as the customer's mailbox.

A shopper buys in the Jumpseller store → the hook imports the order → Pagar.me's webhook pays it
→ Malote creates it in Tiny → the Tiny operator invoices it (valid NF-e key), ships it (Correios
code) and confirms delivery → each step reaches the store and the mailbox exactly once.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from malote import fiscal
from malote.sync.tests.processes import free_port, python, serve_web, start, worker_database
from malote_dev.sandbox.server import RunningFake, start_fake
from malote_dev.testing.notify import SmtpSink

SETUP = """
import json
from django.contrib.auth import get_user_model
from malote.accounts.models import ApiToken
from malote.accounts.roles import assign_role, sync_roles
from malote.relay.polling import sync_poll_schedule
from malote.channels.models import Channel
from malote.core.actors import Actor
from malote.stock.actions import set_physical
sync_roles()
user = get_user_model().objects.create_user("e2e")
assign_role(user, "operator")
_, token = ApiToken.issue(user, "e2e")
for code, role, kind, url, credentials, options in {channels!r}:
    channel = Channel.objects.create(code=code, name=code, role=role, kind=kind, base_url=url,
                                     credentials=credentials, options=options)
    sync_poll_schedule(channel)
set_physical("CHINELO-42", 20, actor=Actor.system("e2e"))
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
def stack(tmp_path: Path) -> Iterator[dict[str, Any]]:
    smtp = SmtpSink()
    smtp.start()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    jumpseller = start_fake("jumpseller", webhook_url=f"{base}/hooks/loja")
    tiny = start_fake("tiny", webhook_url=f"{base}/hooks/tiny", webhook_token="tiny-hook-token")
    pagarme = start_fake("pagarme", webhook_url=f"{base}/hooks/pagarme")
    fakes: list[RunningFake[Any]] = [jumpseller, tiny, pagarme]
    try:
        with worker_database(tmp_path) as env:
            env.update({"MALOTE_EMAIL_HOST": "127.0.0.1", "MALOTE_EMAIL_PORT": str(smtp.port)})
            js, tn, pg = jumpseller.credentials, tiny.credentials, pagarme.credentials
            channels = [
                ("loja", "storefront", "jumpseller", jumpseller.api_url, dict(js), {}),
                ("tiny", "erp", "tiny", tiny.api_url,
                 {"token": tn["token"], "webhook_token": "tiny-hook-token"}, {}),
                ("pagarme", "gateway", "pagarme", pagarme.api_url, {"secret_key": pg["secret_key"]},
                 {"jwks_url": f"{pagarme.url}/.well-known/jwks.json"}),
            ]  # fmt: skip
            token = python(env, SETUP.format(channels=channels))
            web = serve_web(env, port)
            worker = start(env, "worker", "--threads", "4", "--lease", "5")
            api = httpx.Client(base_url=f"{base}/api/v1", headers={"Authorization": f"Bearer {token}"})
            try:
                yield {
                    "api": api,
                    "jumpseller": jumpseller,
                    "tiny": tiny,
                    "pagarme": pagarme,
                    "smtp": smtp,
                }
            finally:
                api.close()
                for process in (worker, web):
                    process.terminate()
                    process.communicate(timeout=30)
    finally:
        for fake in fakes:
            fake.stop()
        smtp.stop()


def test_order_from_storefront_to_delivery_over_http(stack: dict[str, Any]) -> None:
    api: httpx.Client = stack["api"]
    with httpx.Client(timeout=10) as control:
        _journey(stack, api, control)


def _journey(stack: dict[str, Any], api: httpx.Client, control: httpx.Client) -> None:
    jumpseller, tiny, pagarme = stack["jumpseller"], stack["tiny"], stack["pagarme"]

    placed = control.post(
        f"{jumpseller.url}/_sandbox/orders",
        json={
            "items": [{"sku": "CHINELO-42", "qty": 2}],
            "payment_method": "pix",
            "status": "pending_payment",
        },
    ).json()["order"]
    store_id = str(placed["id"])
    order = _wait(
        "the import", lambda: (api.get("/orders", params={"q": store_id}).json()["items"] or [None])[0]
    )
    order_id = order["id"]

    def status() -> str:
        return str(api.get(f"/orders/{order_id}").json()["status"])

    cents = round(float(placed["total"]) * 100)
    shipping = round(float(placed.get("shipping") or 0) * 100)
    charge = control.post(
        f"{pagarme.url}/_sandbox/orders",
        json={
            "code": store_id,
            "payment_method": "pix",
            "items": [{"amount": (cents - shipping) // 2, "description": "Chinelo", "quantity": 2}],
            "shipping_amount": shipping,
        },
    ).json()
    control.post(f"{pagarme.url}/_sandbox/charges/{charge['charge_id']}/pay", json={})
    _wait("payment", lambda: status() == "paid")

    def tiny_pedido() -> Any:
        with tiny.app.lock:
            found = [
                dict(p) for p in tiny.state.pedidos.values() if p.get("numero_ecommerce") == order["number"]
            ]
        return found[0] if found else None

    pedido = _wait("the order in Tiny", lambda: (p := tiny_pedido()) and p["_situacao"] == "aprovado" and p)
    control.post(f"{tiny.url}/_sandbox/orders/{pedido['id']}/invoice", json={})
    _wait("the invoice", lambda: status() == "invoiced")
    control.post(f"{tiny.url}/_sandbox/orders/{pedido['id']}/ship", json={})
    _wait("the shipment", lambda: status() == "shipped")
    control.post(f"{tiny.url}/_sandbox/orders/{pedido['id']}/deliver", json={})
    _wait("the delivery", lambda: status() == "delivered")

    detail = api.get(f"/orders/{order_id}").json()
    fiscal.parse_nfe_key(detail["invoice"]["key"])
    assert fiscal.validate_tracking_code("correios", detail["shipments"][0]["tracking_code"])
    assert tiny_pedido()["numero_ecommerce"] == order["number"]
    assert sum(1 for p in tiny.state.pedidos.values() if p.get("numero_ecommerce") == order["number"]) == 1

    # The store saw each step once.
    def store_order() -> dict[str, Any]:
        auth = (jumpseller.credentials["login"], jumpseller.credentials["authtoken"])
        return dict(control.get(f"{jumpseller.api_url}/orders/{store_id}.json", auth=auth).json()["order"])

    _wait("the store to show the delivery", lambda: store_order()["shipment_status_enum"] == "delivered")
    final = store_order()
    assert final["status_enum"] == "paid"
    assert final["tracking_number"] == detail["shipments"][0]["tracking_code"]
    puts = list(jumpseller.calls.filter("PUT", f"/v1/orders/{store_id}.json"))
    changes = Counter(
        (c.json.get("order", {}).get("status"), c.json.get("order", {}).get("shipment_status")) for c in puts
    )
    assert all(count == 1 for count in changes.values()), changes
    documents = jumpseller.calls.filter("POST", f"/v1/orders/{store_id}/documents.json")
    assert len(documents) == 1

    # The customer's mailbox: one e-mail per step, in order. (The store's older seeded orders may be
    # imported meanwhile by the worker's reconciliation schedule; only this order's mail counts here.)
    smtp = stack["smtp"]

    def mine() -> list[Any]:
        return [m for m in list(smtp.messages) if f"-{order['number']}-" in str(m["Message-ID"])]

    _wait("the delivered e-mail", lambda: len(mine()) >= 5)
    time.sleep(1)
    subjects = [str(m["Subject"]) for m in mine()]
    message_ids = [str(m["Message-ID"]) for m in mine()]
    assert len(set(message_ids)) == len(message_ids) == 5, subjects
    statuses = [mid.split("-")[2].split("@")[0] for mid in message_ids]
    assert statuses == ["received", "paid", "invoiced", "shipped", "delivered"], subjects
