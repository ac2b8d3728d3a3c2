"""``malote demo``: a demo operator, an API token and a catalogue with a few dozen orders."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db.models import Count
from django.utils import timezone

from malote.accounts.models import ApiToken
from malote.accounts.roles import ADMIN, OPERATOR, assign_role, sync_roles
from malote.channels.models import Channel, ChannelRole
from malote.core import samples
from malote.core.actors import Actor
from malote.core.errors import MaloteError
from malote.orders import actions
from malote.orders.models import Order
from malote.orders.schemas import OrderIn
from malote.stock.actions import set_physical
from malote.stock.models import MovementReason

CATALOGUE = [
    ("CHINELO-42", "Chinelo de praia 42", "49.90", 40),
    ("CHINELO-38", "Chinelo de praia 38", "49.90", 25),
    ("CAMISETA-M", "Camiseta algodão M", "79.90", 30),
    ("CAMISETA-G", "Camiseta algodão G", "79.90", 3),
    ("BONE-AZUL", "Boné azul", "59.00", 15),
    ("MOCHILA-20L", "Mochila 20 litros", "189.00", 8),
    ("GARRAFA-1L", "Garrafa térmica 1 L", "119.90", 12),
    ("TOALHA-PRAIA", "Toalha de praia", "89.90", 1),
]
CHANNELS = [
    ("site", "Loja virtual", ChannelRole.STOREFRONT, "manual", False),
    ("mercadolivre", "Mercado Livre", ChannelRole.MARKETPLACE, "manual", True),
    ("skyhub", "SkyHub (Americanas)", ChannelRole.MARKETPLACE, "manual", False),
    ("erp", "ERP", ChannelRole.ERP, "manual", False),
]
CUSTOMERS = [
    ("Maria Souza", "maria@example.com", "529.982.247-25"),
    ("João Lima", "joao@example.com", "111.444.777-35"),
    ("Comercial Fornos Ltda", "compras@fornos.example.com", "11.222.333/0001-81"),
]
# How far each demo order goes: a path of transitions after creation.
JOURNEYS: list[list[str]] = [
    [],
    ["start_review"],
    ["mark_overdue"],
    ["approve_payment"],
    ["approve_payment", "start_preparing"],
    ["approve_payment", "invoice"],
    ["approve_payment", "invoice", "ready_to_ship"],
    ["approve_payment", "invoice", "ship"],
    ["approve_payment", "invoice", "ship", "mark_in_transit"],
    ["approve_payment", "invoice", "ship", "report_delivery_problem"],
    ["approve_payment", "invoice", "ship", "deliver"],
    ["approve_payment", "invoice", "ship", "mark_in_transit", "deliver"],
    ["cancel"],
    ["approve_payment", "cancel"],
]
DEMO_PASSWORD = "malote-demo"


class Command(BaseCommand):
    help = "Load demo data (idempotent): users, token, channels, catalogue and orders."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--orders", type=int, default=42)
        parser.add_argument("--seed", type=int, default=7)

    def handle(self, *args: Any, **options: Any) -> None:
        sync_roles()
        operator = self._user("operador", OPERATOR)
        self._user("admin", ADMIN, superuser=True)
        _, token = ApiToken.issue(operator, "demo")
        for code, name, role, kind, needs_xml in CHANNELS:
            Channel.objects.get_or_create(
                code=code, defaults={"name": name, "role": role, "kind": kind, "invoice_needs_xml": needs_xml}
            )
        if Order.objects.exists():
            self.stdout.write("demo orders already present; not adding more")
        else:
            self._catalogue()
            self._orders(options["orders"], random.Random(options["seed"]))
        counts = Order.objects.values_list("status").annotate(n=Count("id")).order_by("status")
        self.stdout.write("orders: " + ", ".join(f"{status} {n}" for status, n in counts))
        self.stdout.write(
            self.style.SUCCESS(
                "\nMalote demo ready\n"
                f"  operator login: operador / {DEMO_PASSWORD}\n"
                f"  admin login:    admin / {DEMO_PASSWORD}  (Django admin at /admin/)\n"
                f"  API token:      {token}\n"
                "  try: curl -H 'Authorization: Bearer <token>' http://127.0.0.1:8000/api/v1/orders\n"
            )
        )

    def _user(self, username: str, role: str, *, superuser: bool = False) -> Any:
        user_model = get_user_model()
        user = user_model.objects.filter(username=username).first()
        if user is None:
            user = user_model.objects.create_user(username=username, password=DEMO_PASSWORD)
        user.is_superuser = superuser
        user.save()
        assign_role(user, role)
        return user

    def _catalogue(self) -> None:
        for sku, name, _price, qty in CATALOGUE:
            set_physical(
                sku, qty, actor=Actor.system("demo"), reason=MovementReason.INVENTORY_COUNT, name=name
            )

    def _orders(self, count: int, rng: random.Random) -> None:
        now = timezone.now()
        channels = ["site", "site", "skyhub", "mercadolivre"]
        for n in range(count):
            channel = channels[n % len(channels)]
            placed_at = now - timedelta(hours=rng.randrange(1, 24 * 20))
            items = rng.sample(CATALOGUE, k=rng.choice([1, 1, 2]))
            quantities = [rng.choice([1, 1, 2]) for _ in items]
            lines = [
                {"sku": sku, "name": name, "quantity": qty, "unit_price": price}
                for (sku, name, price, _stock), qty in zip(items, quantities, strict=True)
            ]
            subtotal = sum(
                (
                    Decimal(price) * qty
                    for (_sku, _name, price, _stock), qty in zip(items, quantities, strict=True)
                ),
                Decimal("0.00"),
            )
            shipping = Decimal("15.00")
            name, email, document = CUSTOMERS[n % len(CUSTOMERS)]
            method = rng.choice(["credit_card", "boleto", "pix"])
            external_id = f"02-{704319102 + n}" if channel == "site" else f"{channel[:3].upper()}-{90000 + n}"
            data = OrderIn.model_validate(
                {
                    "channel": channel,
                    "external_id": external_id,
                    "placed_at": placed_at.isoformat(),
                    "customer": {
                        "name": name,
                        "email": email,
                        "phone": "+5511999990000",
                        "document": document,
                    },
                    "billing_address": {
                        "street": "Rua das Flores",
                        "number": str(10 + n),
                        "district": "Centro",
                        "city": "São Paulo",
                        "state": "SP",
                        "postal_code": "01001-000",
                    },
                    "items": lines,
                    "shipping": {"method": "Correios SEDEX", "price": str(shipping)},
                    "total": str(subtotal + shipping),
                    "payment": {"method": method, "gateway": "pagarme", "transaction_id": f"ch_demo_{n}"},
                }
            )
            order, _ = actions.create_order(data, actor=Actor.channel(channel))
            self._journey(order, JOURNEYS[n % len(JOURNEYS)], n, rng)

    def _journey(self, order: Order, steps: list[str], n: int, rng: random.Random) -> None:
        actor = Actor.system("demo")
        issued = order.placed_at + timedelta(hours=2)
        inputs: dict[str, dict[str, Any]] = {
            "invoice": {
                "key": samples.nfe_key(1000 + n, timezone.localtime(issued), rng=rng),
                "number": str(1000 + n),
                "series": "1",
                "issued_at": timezone.localtime(issued).isoformat(),
            },
            "ship": {
                "carrier": "correios",
                "method": "SEDEX",
                "tracking_code": samples.correios_code(46020941 + n),
                "shipped_at": (order.placed_at + timedelta(hours=5)).isoformat(),
            },
            "report_delivery_problem": {"description": "Destinatário ausente"},
            "deliver": {"delivered_at": (order.placed_at + timedelta(days=3)).isoformat()},
            "cancel": {"reason": "customer_gave_up", "note": "demo"},
        }
        for step in steps:
            if order.channel.invoice_needs_xml and step == "invoice":
                break  # the demo has no authorized XML for channels that require it
            try:
                actions.run_transition(order.pk, step, inputs.get(step, {}), actor=actor)
            except MaloteError:
                break  # e.g. the catalogue ran out: the order stays where the lifecycle left it
