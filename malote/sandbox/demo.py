"""The demo's shoppers and back-office people, acting on the fakes so a newcomer watches orders
flow: a shopper buys in the Jumpseller store and pays through Pagar.me; the ERP operator in Tiny
invoices, ships and confirms delivery of what Malote sent there. Everything else (import,
payment, the ERP copy, invoice and tracking back to the store, e-mails) is Malote's doing.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from typing import Any

import httpx

from malote.sandbox.server import RunningFake

log = logging.getLogger("malote.sandbox.demo")

SKUS = ["CHINELO-42", "CAMISETA-BRANCA-M", "BONE-AZUL", "GARRAFA-TERMICA"]


class DemoDriver:
    """Every ``period`` seconds a new purchase; ERP steps follow each order a few seconds apart."""

    def __init__(
        self,
        jumpseller: RunningFake[Any],
        pagarme: RunningFake[Any],
        tiny: RunningFake[Any],
        *,
        period: float = 20.0,
        step: float = 4.0,
        stop: threading.Event | None = None,
    ) -> None:
        self.jumpseller, self.pagarme, self.tiny = jumpseller, pagarme, tiny
        self.period, self.step = period, step
        self.stop_event = stop or threading.Event()
        self.http = httpx.Client(timeout=10.0)
        self.rng = random.Random(11)
        self.skus = list(SKUS)
        self._erp_done: dict[str, float] = {}

    def run(self) -> None:
        next_purchase = time.monotonic() + 3
        while not self.stop_event.wait(1.0):
            try:
                if time.monotonic() >= next_purchase:
                    self.purchase()
                    next_purchase = time.monotonic() + self.period
                self.erp_operator()
            except (httpx.HTTPError, KeyError, ValueError) as exc:  # the demo goes on
                log.warning("demo step failed: %s", exc)
        self.http.close()

    def purchase(self) -> None:
        sku = self.rng.choice(self.skus)
        placed = self.http.post(
            f"{self.jumpseller.url}/_sandbox/orders",
            json={"items": [{"sku": sku, "qty": 1}], "payment_method": "pix", "status": "pending_payment"},
        ).json()["order"]
        cents = round(float(placed["total"]) * 100)
        shipping = round(float(placed.get("shipping") or 0) * 100)
        charge = self.http.post(
            f"{self.pagarme.url}/_sandbox/orders",
            json={
                "code": str(placed["id"]),
                "payment_method": "pix",
                "items": [{"amount": cents - shipping, "description": sku, "quantity": 1, "code": sku}],
                "shipping_amount": shipping,
            },
        ).json()
        log.info("demo: Jumpseller order %s placed; Pagar.me charge %s", placed["id"], charge["charge_id"])
        timer = threading.Timer(self.step, self._pay, args=(charge["charge_id"],))
        timer.daemon = True
        timer.start()

    def _pay(self, charge_id: str) -> None:
        if not self.stop_event.is_set():
            self.http.post(f"{self.pagarme.url}/_sandbox/charges/{charge_id}/pay", json={})

    def erp_operator(self) -> None:
        """Invoice what Malote approved in Tiny, then ship it, then confirm the delivery."""
        now = time.monotonic()
        with self.tiny.app.lock:
            pedidos = [
                (p["id"], p["_situacao"])
                for p in self.tiny.state.pedidos.values()
                if p.get("numero_ecommerce")
            ]
        for pedido_id, situacao in pedidos:
            action = {"aprovado": "invoice", "faturado": "ship", "enviado": "deliver"}.get(situacao)
            key = f"{pedido_id}:{situacao}"
            if action is None:
                continue
            due = self._erp_done.setdefault(key, now + self.step)
            if now >= due:
                self.http.post(f"{self.tiny.url}/_sandbox/orders/{pedido_id}/{action}", json={})
                self._erp_done[key] = float("inf")
