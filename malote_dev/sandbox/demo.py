"""The demo's shoppers, marketplaces and back-office people, acting on the fakes so a newcomer watches
orders flow. Purchases take turns: a shopper buys in the Jumpseller store and pays through Pagar.me;
a buyer orders at a SkyHub marketplace (Lojas Americanas, Submarino, Magazine Luiza…) and the
marketplace confirms the payment; a buyer buys at Mercado Livre (Mercado Envios 2) and pays —
every other time a cart of two products bought together, which Mercado Livre makes a pack of two
orders sharing one shipment and Malote keeps as one order with both lines; a shopper checks out
in the VTEX store (paid, ready for handling). The ERP operator in Tiny invoices and ships what
Malote sent there, and confirms the delivery of what the store ships itself; the marketplaces'
own logistics report theirs (SkyHub's B2W Entregas/Magalu Entregas once Malote reported the
shipment, Mercado Livre ships once Malote uploaded the NF-e XML, then delivers).
Everything else (imports, payment, the ERP copies, invoice and tracking back to each channel,
e-mails) is Malote's doing.

Importable without Django; the marketplaces and the VTEX store are optional (``skyhub=``,
``mercadolivre=``, ``vtex=``), so the driver also runs against the Jumpseller store alone.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx

from malote_dev.sandbox.server import RunningFake

log = logging.getLogger("malote_dev.sandbox.demo")

SKUS = ["CHINELO-42", "CAMISETA-BRANCA-M", "BONE-AZUL", "GARRAFA-TERMICA"]
# Where SkyHub's buyers order (sub-channel, shipping method).
SKYHUB_SALES = [
    ("Lojas Americanas", "B2W Entregas"),
    ("Submarino", "Correios SEDEX"),
    ("Magazine Luiza", "Magalu Entregas"),
    ("Shoptime", "Correios PAC"),
]
# Shipping methods whose delivery the marketplace reports (Malote's SkyHub and Mercado Livre
# policy presets): the Tiny operator does not confirm those deliveries.
DELIVERED_BY_MARKETPLACE = frozenset(
    {"B2W Entregas", "B2W Entregas Direct", "Magalu Entregas", "Mercado Envios 2"}
)
# Purchases take turns in this order (the Jumpseller store every other time).
TURNS = ["jumpseller", "skyhub", "jumpseller", "mercadolivre", "jumpseller", "vtex"]
# Every this many Mercado Livre sales, one is a cart of two products bought together (a pack).
MERCADOLIVRE_CART_EVERY = 2


class DemoDriver:
    """Every ``period`` seconds a new purchase; the following steps come ``step`` seconds apart."""

    def __init__(
        self,
        jumpseller: RunningFake[Any],
        pagarme: RunningFake[Any],
        tiny: RunningFake[Any],
        *,
        skyhub: RunningFake[Any] | None = None,
        mercadolivre: RunningFake[Any] | None = None,
        vtex: RunningFake[Any] | None = None,
        period: float = 20.0,
        step: float = 4.0,
        stop: threading.Event | None = None,
    ) -> None:
        self.jumpseller, self.pagarme, self.tiny = jumpseller, pagarme, tiny
        self.skyhub, self.mercadolivre, self.vtex = skyhub, mercadolivre, vtex
        self.period, self.step = period, step
        self.stop_event = stop or threading.Event()
        self.http = httpx.Client(timeout=10.0, trust_env=False)
        self.rng = random.Random(11)
        self.skus = list(SKUS)
        available = {
            "jumpseller": True,
            "skyhub": skyhub is not None,
            "mercadolivre": mercadolivre is not None,
            "vtex": vtex is not None,
        }
        self.turns = [where for where in TURNS if available[where]]
        self._turn = 0
        self._mercadolivre_sales = 0
        self._done: dict[str, float] = {}
        # What this driver sold at the marketplaces (their seeded orders are left alone).
        self.skyhub_codes: set[str] = set()
        self.mercadolivre_orders: set[int] = set()
        self.vtex_orders: set[str] = set()

    def run(self) -> None:
        next_purchase = time.monotonic() + 3
        while not self.stop_event.wait(1.0):
            try:
                if time.monotonic() >= next_purchase:
                    self.purchase()
                    next_purchase = time.monotonic() + self.period
                self.erp_operator()
                self.marketplace_logistics()
            except (httpx.HTTPError, KeyError, ValueError) as exc:  # the demo goes on
                log.warning("demo step failed: %s", exc)
        self.http.close()

    def purchase(self) -> None:
        """The next purchase, at the storefront or a marketplace in turn (see ``TURNS``)."""
        where = self.turns[self._turn % len(self.turns)]
        self._turn += 1
        buy: dict[str, Callable[[], None]] = {
            "jumpseller": self.buy_at_store,
            "skyhub": self.buy_at_skyhub,
            "mercadolivre": self.buy_at_mercadolivre,
            "vtex": self.buy_at_vtex,
        }
        buy[where]()

    def buy_at_store(self) -> None:
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
        self._later(f"{self.pagarme.url}/_sandbox/charges/{charge['charge_id']}/pay")

    def buy_at_skyhub(self) -> None:
        """A buyer orders at a SkyHub marketplace (queued, waiting payment); the marketplace
        confirms the payment a step later (queued again)."""
        assert self.skyhub is not None
        channel, method = self.rng.choice(SKYHUB_SALES)
        placed = self.http.post(
            f"{self.skyhub.url}/_sandbox/orders",
            json={
                "channel": channel,
                "shipping_method": method,
                "items": [{"sku": self.rng.choice(self.skus), "qty": 1}],
                "status": "book_product",
                "payment_method": "CREDIT_CARD",
            },
        ).json()["order"]
        code = str(placed["code"])
        self.skyhub_codes.add(code)
        log.info("demo: SkyHub order %s placed (%s)", code, method)
        self._later(f"{self.skyhub.url}/_sandbox/orders/{quote(code, safe='')}/approve")

    def buy_at_mercadolivre(self) -> None:
        """A buyer buys at Mercado Livre (ME2 drop-off) and pays a step later; every
        ``MERCADOLIVRE_CART_EVERY``-th time two products in one cart (``buy_cart_at_mercadolivre``)."""
        assert self.mercadolivre is not None
        self._mercadolivre_sales += 1
        if self._mercadolivre_sales % MERCADOLIVRE_CART_EVERY == 0:
            self.buy_cart_at_mercadolivre()
            return
        placed = self.http.post(
            f"{self.mercadolivre.url}/_sandbox/orders",
            json={
                "items": [{"sku": self.rng.choice(self.skus), "qty": 1}],
                "paid": False,
                "payment_method": "pix",
                "mode": "me2",
                "logistic_type": "drop_off",
            },
        ).json()["order"]
        order_id = int(placed["id"])
        self.mercadolivre_orders.add(order_id)
        log.info("demo: Mercado Livre order %s placed", order_id)
        self._later(f"{self.mercadolivre.url}/_sandbox/orders/{order_id}/pay")

    def buy_cart_at_mercadolivre(self) -> None:
        """A buyer buys two products in one cart at Mercado Livre: one pack of two orders sharing
        one shipment (ME2 drop-off), each order paid a step later. Malote keeps one order, the
        pack, with both lines."""
        assert self.mercadolivre is not None
        first, second = self.rng.sample(self.skus, 2)
        answer = self.http.post(
            f"{self.mercadolivre.url}/_sandbox/packs",
            json={
                "orders": [{"items": [{"sku": first, "qty": 1}]}, {"items": [{"sku": second, "qty": 1}]}],
                "paid": False,
                "payment_method": "pix",
                "mode": "me2",
                "logistic_type": "drop_off",
            },
        ).json()
        (pack,) = answer["packs"]
        order_ids = [int(order["id"]) for order in answer["orders"]]
        self.mercadolivre_orders.update(order_ids)
        log.info("demo: Mercado Livre cart placed: pack %s of orders %s", pack["id"], order_ids)
        for order_id in order_ids:
            self._later(f"{self.mercadolivre.url}/_sandbox/orders/{order_id}/pay")

    def buy_at_vtex(self) -> None:
        """A shopper checks out in the VTEX store: paid, ready for handling (VTEX sends the hooks)."""
        assert self.vtex is not None
        placed = self.http.post(
            f"{self.vtex.url}/_sandbox/orders",
            json={"items": [{"sku": self.rng.choice(self.skus), "qty": 1}], "payment_method": "credit_card"},
        ).json()["order"]
        self.vtex_orders.add(str(placed["orderId"]))
        log.info("demo: VTEX order %s placed", placed["orderId"])

    def _later(self, url: str) -> None:
        """POST ``url`` (a control action) one step from now, unless the demo stops first."""

        def post() -> None:
            if not self.stop_event.is_set():
                try:
                    self.http.post(url, json={})
                except httpx.HTTPError as exc:
                    log.warning("demo step failed: %s", exc)

        timer = threading.Timer(self.step, post)
        timer.daemon = True
        timer.start()

    def _due(self, key: str) -> bool:
        """Whether the step named ``key`` (seen for the first time now) has waited its step."""
        now = time.monotonic()
        due = self._done.setdefault(key, now + self.step)
        if now >= due:
            self._done[key] = float("inf")
            return True
        return False

    def erp_operator(self) -> None:
        """Invoice what Malote approved in Tiny, then ship it, then confirm the delivery (unless
        the marketplace reports that one)."""
        with self.tiny.app.lock:
            pedidos = [
                (p["id"], p["_situacao"], p.get("forma_frete") or "")
                for p in self.tiny.state.pedidos.values()
                if p.get("numero_ecommerce")
            ]
        for pedido_id, situacao, method in pedidos:
            action = {"aprovado": "invoice", "faturado": "ship", "enviado": "deliver"}.get(situacao)
            if action is None or (action == "deliver" and method in DELIVERED_BY_MARKETPLACE):
                continue
            if self._due(f"tiny:{pedido_id}:{situacao}"):
                self.http.post(f"{self.tiny.url}/_sandbox/orders/{pedido_id}/{action}", json={})

    def marketplace_logistics(self) -> None:
        """The marketplaces' carriers: SkyHub's deliver what Malote reported shipped; Mercado Livre
        ships an order once its label is free (the NF-e is there), then delivers it."""
        if self.skyhub is not None:
            with self.skyhub.app.lock:
                shipped = [
                    code
                    for code, order in self.skyhub.state.orders.items()
                    if code in self.skyhub_codes
                    and order["status"]["code"] == "order_shipped"
                    and order.get("shipping_method") in DELIVERED_BY_MARKETPLACE
                ]
            for code in shipped:
                if self._due(f"skyhub:{code}:deliver"):
                    self.http.post(
                        f"{self.skyhub.url}/_sandbox/orders/{quote(code, safe='')}/deliver", json={}
                    )
        if self.mercadolivre is not None:
            with self.mercadolivre.app.lock:
                shipments = [
                    (shipment["id"], shipment["status"], shipment.get("substatus"))
                    for shipment in self.mercadolivre.state.shipments.values()
                    if shipment.get("order_id") in self.mercadolivre_orders
                ]
            for shipment_id, status, substatus in shipments:
                move = {("ready_to_ship", "ready_to_print"): "shipped", ("shipped", None): "delivered"}.get(
                    (status, substatus)
                )
                if move is not None and self._due(f"ml:{shipment_id}:{move}"):
                    self.http.post(
                        f"{self.mercadolivre.url}/_sandbox/shipments/{shipment_id}/status",
                        json={"status": move},
                    )
