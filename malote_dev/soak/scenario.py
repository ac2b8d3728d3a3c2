"""The day plan: who buys where, who pays, refuses, refunds, cancels, and the people in the back
offices (the ERP operator in Tiny and Bling, the marketplaces' carriers, a panel edit).

:func:`plan` turns a seed and a length into timed :class:`Step` s (deterministic: same seed, same
plan); :class:`Day` runs them against the fakes' control APIs and keeps one :class:`Sale` per
purchase (its channel, its id there, its fate): the oracle's list of what was sold after go-live.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from malote.orders.models import Order
from malote_dev.sandbox.demo import DELIVERED_BY_MARKETPLACE, SKYHUB_SALES, DemoDriver

SKUS = ["CHINELO-42", "CAMISETA-BRANCA-M", "BONE-AZUL", "GARRAFA-TERMICA", "MEIAS-KIT-3"]
#: The SKU whose last units are sold at once on every channel.
CONTESTED_SKU = "OCULOS-SOL"
CONTESTED_UNITS = 2
CUSTOMERS = ["maria", "joao", "ana", "comercial"]
# Sales channels take turns (Jumpseller most often, as in the demo).
TURNS = ["jumpseller", "skyhub", "jumpseller", "mercadolivre", "vtex", "jumpseller", "skyhub", "mercadolivre"]
# What happens to a sale after it is placed (weights): most are delivered.
FATES = {
    "jumpseller": [("deliver", 6), ("refuse", 1), ("refund", 1), ("store_cancel", 1), ("erp_cancel", 1)],
    "skyhub": [("deliver", 4), ("marketplace_cancel", 1), ("panel_cancel", 1)],
    "mercadolivre": [("deliver", 4), ("marketplace_cancel", 1)],
    "vtex": [("deliver", 4), ("erp_cancel", 1)],
}
EXPECTED_STATUS = {
    "deliver": "delivered",
    "refuse": "canceled",
    "refund": "canceled",
    "store_cancel": "canceled",
    "erp_cancel": "canceled",
    "marketplace_cancel": "canceled",
    "panel_cancel": "canceled",
}


@dataclass
class Sale:
    """One purchase of the day, as the sales channel knows it."""

    n: int
    kind: str  # the sales channel's fake
    fate: str
    skus: list[tuple[str, int]]
    customer: str
    gateway: str = ""  # pagarme | adyen (Jumpseller's payments)
    ref: str = ""  # the order's id in its channel (Malote's external id)
    gateway_ref: str = ""  # Pagar.me charge id / Adyen pspReference
    sub_channel: str = ""
    shipping_method: str = ""
    placed_at: float = 0.0
    contested: bool = False
    webhook_lost: bool = False
    typed_in_erp: bool = False  # the Bling operator types it in by hand before Malote sends it
    done: list[str] = field(default_factory=list)

    @property
    def expected_status(self) -> str:
        return EXPECTED_STATUS[self.fate]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["expected_status"] = self.expected_status
        return data


@dataclass
class Step:
    at: float  # seconds from the start of the day
    action: str  # place | pay | settle (fate) | contest
    sale: int | None = None


def plan(seed: int, seconds: float, *, sales: int | None = None) -> tuple[list[Sale], list[Step]]:
    """The day's sales and steps: purchases spread over the first 70 % of the day, each paid a few
    seconds later and meeting its fate later still; the contested SKU is sold everywhere at once
    around the middle."""
    rng = random.Random(seed)
    count = sales if sales is not None else max(6, int(seconds / 10))
    out: list[Sale] = []
    steps: list[Step] = []
    window = seconds * 0.7
    per_kind: dict[str, int] = {}
    for n in range(count):
        kind = TURNS[n % len(TURNS)]
        fates, weights = zip(*FATES[kind], strict=True)
        # Each channel meets every fate once (in the table's order), then at random by weight.
        seen = per_kind[kind] = per_kind.get(kind, -1) + 1
        fate = fates[seen] if seen < len(fates) else rng.choices(fates, weights)[0]
        sale = Sale(
            n=n,
            kind=kind,
            fate=fate,
            customer=rng.choice(CUSTOMERS),
            skus=[(rng.choice(SKUS), rng.choice([1, 1, 2]))],
            gateway=("adyen" if seen % 2 else "pagarme") if kind == "jumpseller" else "",
        )
        if kind == "skyhub":
            sale.sub_channel, sale.shipping_method = SKYHUB_SALES[n % len(SKYHUB_SALES)]
        # The store's first sale is typed into Bling by hand (its operator did not wait for Malote).
        sale.typed_in_erp = n == 0
        at = window * n / count + rng.uniform(0, 2)
        out.append(sale)
        steps += [
            Step(at, "place", n),
            Step(at + 3, "pay", n),
            Step(at + 6 + rng.uniform(0, 2), "settle", n),
        ]
    for kind in ("jumpseller", "skyhub", "mercadolivre", "vtex"):
        sale = Sale(
            n=len(out),
            kind=kind,
            fate="deliver",
            skus=[(CONTESTED_SKU, 1)],
            customer="ana",
            gateway="pagarme" if kind == "jumpseller" else "",
            contested=True,
        )
        if kind == "skyhub":
            sale.sub_channel, sale.shipping_method = SKYHUB_SALES[1]
        out.append(sale)
        steps += [Step(seconds * 0.45, "place", sale.n), Step(seconds * 0.45 + 3, "pay", sale.n)]
    steps.sort(key=lambda step: (step.at, step.sale or 0))
    return out, steps


class Day:
    """Runs the steps against the fakes (``urls``: fake kind → root URL) in real time, and the
    people working meanwhile (:meth:`tick`)."""

    def __init__(
        self,
        urls: dict[str, str],
        sales: list[Sale],
        steps: list[Step],
        driver: DemoDriver,
        step: float = 4.0,
    ) -> None:
        self.urls = urls
        self.sales = sales
        self.steps = list(steps)
        self.http = httpx.Client(timeout=15.0, trust_env=False)
        self.driver = driver  # the demo's marketplace carriers (SkyHub, Mercado Livre)
        self.step = step
        self.log: list[dict[str, Any]] = []
        self.last_change = time.time()
        self.faults_cleared: float | None = None  # set by the run when the day's faults are cleared
        self._seen: dict[str, float] = {}
        self.before_place: Callable[[Sale], None] | None = None  # the fault plan's hook

    # ------------------------------------------------------------------ running
    def run(self, seconds: float, every: Callable[[float], None] | None = None) -> None:
        start = time.monotonic()
        while (elapsed := time.monotonic() - start) < seconds:
            while self.steps and self.steps[0].at <= elapsed:
                step = self.steps.pop(0)
                self._do(step)
            if every is not None:
                every(elapsed)
            self.tick()
            time.sleep(0.5)

    def _do(self, step: Step) -> None:
        sale = self.sales[step.sale] if step.sale is not None else None
        try:
            if sale is not None and step.action == "place":
                if self.before_place is not None:
                    self.before_place(sale)
                getattr(self, f"place_{sale.kind}")(sale)
                sale.placed_at = time.time()
            elif sale is not None and step.action == "pay":
                self.pay(sale)
            elif sale is not None and step.action == "settle":
                self.settle(sale)
            self.last_change = time.time()
        except (httpx.HTTPError, KeyError, ValueError) as error:
            self.log.append({"step": step.action, "sale": step.sale, "error": str(error)})

    def _post(self, kind: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self.http.post(f"{self.urls[kind]}/_sandbox{path}", json=body or {})
        response.raise_for_status()
        return response.json()

    # ------------------------------------------------------------------ purchases
    def _items(self, sale: Sale) -> list[dict[str, Any]]:
        return [{"sku": sku, "qty": qty} for sku, qty in sale.skus]

    def place_jumpseller(self, sale: Sale) -> None:
        method = "pix" if sale.gateway == "pagarme" and sale.n % 2 else "credit_card"
        order = self._post(
            "jumpseller",
            "/orders",
            {
                "items": self._items(sale),
                "payment_method": method,
                "status": "pending_payment",
                "customer": sale.customer,
            },
        )["order"]
        sale.ref = str(order["id"])
        if sale.typed_in_erp:
            # By the store's number, as people type it (the same sale, not a new one).
            typed = {"items": self._items(sale), "customer": sale.customer, "numeroLoja": sale.ref}
            self._post("bling", "/orders", typed)
        cents, shipping = round(float(order["total"]) * 100), round(float(order.get("shipping") or 0) * 100)
        if sale.gateway == "pagarme":
            sku, qty = sale.skus[0]
            charge = self._post(
                "pagarme",
                "/orders",
                {
                    "code": sale.ref,
                    "payment_method": method,
                    "shipping_amount": shipping,
                    "items": [
                        {
                            "amount": (cents - shipping) // qty,
                            "description": sku,
                            "quantity": qty,
                            "code": sku,
                        }
                    ],
                },
            )
            sale.gateway_ref = str(charge["charge_id"])
        else:
            sale.gateway_ref = f"adyen:{cents}"

    def place_skyhub(self, sale: Sale) -> None:
        order = self._post(
            "skyhub",
            "/orders",
            {
                "channel": sale.sub_channel,
                "shipping_method": sale.shipping_method,
                "items": self._items(sale),
                "status": "book_product",
                "payment_method": "CREDIT_CARD",
                "customer": sale.customer,
            },
        )["order"]
        sale.ref = str(order["code"])
        self.driver.skyhub_codes.add(sale.ref)

    def place_mercadolivre(self, sale: Sale) -> None:
        order = self._post(
            "mercadolivre",
            "/orders",
            {
                "items": self._items(sale),
                "paid": False,
                "payment_method": "pix",
                "mode": "me2",
                "logistic_type": "drop_off",
                "customer": sale.customer,
            },
        )["order"]
        sale.ref = str(order["id"])
        self.driver.mercadolivre_orders.add(int(order["id"]))

    def place_vtex(self, sale: Sale) -> None:
        order = self._post(
            "vtex",
            "/orders",
            {
                "items": self._items(sale),
                "payment_method": "credit_card",
                "customer": sale.customer,
            },
        )["order"]
        sale.ref = str(order["orderId"])

    # ------------------------------------------------------------------ payments
    def pay(self, sale: Sale) -> None:
        refused = sale.fate == "refuse"
        if sale.kind == "jumpseller" and sale.gateway == "pagarme":
            self._post("pagarme", f"/charges/{sale.gateway_ref}/{'fail' if refused else 'pay'}")
        elif sale.kind == "jumpseller":
            cents = int(sale.gateway_ref.split(":")[1])
            payment = self._post(
                "adyen",
                "/payments",
                {
                    "merchantReference": sale.ref,
                    "amount": cents,
                    "outcome": "refused" if refused else "authorised",
                },
            )["payment"]
            sale.gateway_ref = str(payment["pspReference"])  # captured at once (Adyen's default)
        elif sale.kind == "skyhub":
            self._post("skyhub", f"/orders/{quote(sale.ref, safe='')}/approve")
        elif sale.kind == "mercadolivre":
            self._post("mercadolivre", f"/orders/{sale.ref}/pay")
        sale.done.append("refused" if refused else "paid")

    # ------------------------------------------------------------------ fates
    def settle(self, sale: Sale) -> None:
        """The sale's fate, some seconds after the payment (the ERP operator does the rest)."""
        if sale.fate == "refund" and sale.gateway == "pagarme":
            self._post("pagarme", f"/charges/{sale.gateway_ref}/refund")
        elif sale.fate == "refund":
            self._post("adyen", f"/payments/{sale.gateway_ref}/refund")
        elif sale.fate == "store_cancel":
            self._post("jumpseller", f"/orders/{sale.ref}/status", {"status": "canceled"})
        elif sale.fate == "marketplace_cancel" and sale.kind == "skyhub":
            self._post(
                "skyhub",
                f"/orders/{quote(sale.ref, safe='')}/status",
                {"status": "order_canceled", "queue": True},
            )
        elif sale.fate == "marketplace_cancel":
            self._post("mercadolivre", f"/orders/{sale.ref}/cancel")
        elif sale.fate == "panel_cancel":
            # By hand in the marketplace's panel: SkyHub's queue never carries it.
            self._post("skyhub", f"/orders/{quote(sale.ref, safe='')}/status", {"status": "order_canceled"})
        elif sale.fate == "erp_cancel":
            return  # the ERP operator cancels it instead of invoicing (see tick)
        else:
            return
        sale.done.append(sale.fate)

    # ------------------------------------------------------------------ people at work
    def _due(self, key: str) -> bool:
        now = time.monotonic()
        due = self._seen.setdefault(key, now + self.step)
        if now >= due:
            self._seen[key] = float("inf")
            return True
        return False

    def tick(self) -> None:
        try:
            self.erp_operator()
            self.driver.marketplace_logistics()
        except (httpx.HTTPError, KeyError, ValueError) as error:
            self.log.append({"step": "tick", "error": str(error)})

    def erp_operator(self) -> None:
        """Tiny's operator invoices, ships and confirms the delivery of what Malote sent (only the
        day's orders: Malote's numbers), or cancels it when the sale's fate says so; a sale bound to
        be canceled elsewhere (store, marketplace, gateway refund) is left alone (no race)."""
        tiny = self.driver.tiny
        with tiny.app.lock:
            pedidos = [
                (p["id"], p["_situacao"], p.get("forma_frete") or "", str(p.get("numero_ecommerce") or ""))
                for p in tiny.state.pedidos.values()
            ]
        by_number = self._sales_by_number()
        for pedido_id, situacao, _method, number in pedidos:
            if not number.startswith("M"):
                continue  # history: nobody touches it today
            sale = by_number.get(number)
            if sale is not None and sale.fate not in ("deliver", "erp_cancel"):
                continue  # canceled elsewhere (store, marketplace, gateway): the operator leaves it be
            if sale is not None and sale.fate == "erp_cancel" and situacao == "aprovado":
                if self._due(f"tiny:{pedido_id}:cancel"):
                    self._post("tiny", f"/orders/{pedido_id}/cancel")
                    sale.done.append("erp_cancel")
                    self.last_change = time.time()
                continue
            action = {"aprovado": "invoice", "faturado": "ship", "enviado": "deliver"}.get(situacao)
            if action is None or (action == "deliver" and self._delivered_by_marketplace(number)):
                continue
            if action == "invoice" and self._out_of_stock(number):
                continue  # no goods on the shelf: nobody invoices it (Malote flags it if they did)
            if self._due(f"tiny:{pedido_id}:{situacao}"):
                self._post("tiny", f"/orders/{pedido_id}/{action}")
                self.last_change = time.time()

    def _sales_by_number(self) -> dict[str, Sale]:
        """Malote's number → the day's sale."""
        wanted = {(s.kind, s.ref): s for s in self.sales if s.ref}
        if not wanted:
            return {}
        rows = Order.objects.filter(external_id__in=[ref for _, ref in wanted]).values_list(
            "number", "channel__kind", "external_id"
        )
        return {number or "": wanted[(kind, ref)] for number, kind, ref in rows if (kind, ref) in wanted}

    def _out_of_stock(self, number: str) -> bool:
        return Order.objects.filter(number=number, status="out_of_stock").exists()

    def _delivered_by_marketplace(self, number: str) -> bool:
        row = Order.objects.filter(number=number).values_list("shipping_method", "channel__kind").first()
        if row is None:
            return False
        method, kind = row
        return kind == "mercadolivre" or method in DELIVERED_BY_MARKETPLACE
