"""``malote demo``: a demo operator, an API token, a catalogue with a few dozen orders, and the
channels of the sandbox that ``malote up`` serves.

Two kinds of channel:

* the history's: ``site`` (a storefront) and ``erp``, both ``manual``: the past orders loaded here
  never left Malote, so nothing may push them anywhere (routing skips manual channels);
* the sandbox's (:data:`SANDBOX_CHANNELS`): one real channel per fake of ``malote up`` (Jumpseller
  storefront, Tiny ERP, Pagar.me, the SkyHub and Mercado Livre marketplaces, Bling, a VTEX store,
  Adyen, Zendesk), pointed at the fakes' default addresses
  (:data:`malote_dev.sandbox.cli.DEFAULT_PORTS`) with the fakes' default credentials. ``malote up``
  calls :func:`configure_sandbox_channels` again with the fakes it actually started (other ports,
  fresh OAuth tokens). Per-order policies (SkyHub's sub-channels, Mercado Envios deliveries…) are
  the channel kind's presets in :data:`malote.channels.status_maps.POLICY_PRESETS`, not written into
  the channels' options, so the channels follow the presets; whole-channel rules use the model's
  fields (Mercado Livre takes the NF-e only as XML: ``invoice_needs_xml``). Stock push is left at
  its default (on): the sales channels that can take stock (Jumpseller, SkyHub, Mercado Livre) get
  every catalogue SKU's available quantity as soon as they are configured, then after every move.

Bling is a second ERP next to Tiny: every order goes to both; Tiny issues the NF-e (Bling's
``generate_nfe_on`` is not set), Bling only keeps a copy that follows the order's status.
Everything is idempotent: running the command again leaves the same channels, users and orders
(plus a fresh API token, printed each time). The demo users' passwords are random, new on every
run and printed with the token: an install never has a password anyone else knows.
"""

from __future__ import annotations

import importlib
import random
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any, Protocol

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db.models import Count
from django.utils import timezone

from malote.accounts.models import ApiToken
from malote.accounts.roles import ADMIN, OPERATOR, assign_role, sync_roles
from malote.channels.models import Channel, ChannelRole, ImportPolicy
from malote.core.actors import Actor
from malote.core.errors import MaloteError
from malote.orders import actions
from malote.orders.models import Order
from malote.orders.schemas import OrderIn
from malote.relay.polling import sync_poll_schedule
from malote.relay.routing import push_all_stock
from malote.stock.actions import set_physical
from malote.stock.models import MovementReason
from malote_dev import samples
from malote_dev.sandbox.cli import DEFAULT_PORTS
from malote_dev.sandbox.server import FAKE_APPS, LAZY_FAKE_APPS, FakeKind

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
# The history's channels (code, name, role): manual, so their orders are never pushed anywhere.
HISTORY_CHANNELS = [
    ("site", "Loja virtual (histórico)", ChannelRole.STOREFRONT),
    ("erp", "ERP (histórico)", ChannelRole.ERP),
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


def demo_password() -> str:
    """A fresh random password for a demo user (16 URL-safe characters, 96 bits)."""
    return secrets.token_urlsafe(12)


class Command(BaseCommand):
    help = "Load demo data (idempotent): users, token, channels, catalogue and orders."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--orders", type=int, default=42)
        parser.add_argument("--seed", type=int, default=7)

    def handle(self, *args: Any, **options: Any) -> None:
        sync_roles()
        operator, operator_password = self._user("operador", OPERATOR)
        _, admin_password = self._user("admin", ADMIN, superuser=True)
        _, token = ApiToken.issue(operator, "demo")
        for code, name, role in HISTORY_CHANNELS:
            Channel.objects.get_or_create(code=code, defaults={"name": name, "role": role, "kind": "manual"})
        if Order.objects.exists():
            self.stdout.write("demo orders already present; not adding more")
        else:
            with sandbox_channels_paused():
                self._catalogue()
                self._orders(options["orders"], random.Random(options["seed"]))
        channels = configure_sandbox_channels(default_fake_endpoints())
        self.stdout.write(
            "sandbox channels: "
            + ", ".join(f"{c.code} ({c.kind}{'' if c.enabled else ', disabled'})" for c in channels)
        )
        counts = Order.objects.values_list("status").annotate(n=Count("id")).order_by("status")
        self.stdout.write("orders: " + ", ".join(f"{status} {n}" for status, n in counts))
        self.stdout.write(
            self.style.SUCCESS(
                "\nMalote demo ready\n"
                f"  operator login: operador / {operator_password}\n"
                f"  admin login:    admin / {admin_password}  (Django admin at /admin/)\n"
                f"  API token:      {token}\n"
                "  try: curl -H 'Authorization: Bearer <token>' http://127.0.0.1:8000/api/v1/orders\n"
            )
        )

    def _user(self, username: str, role: str, *, superuser: bool = False) -> tuple[Any, str]:
        """The demo user, created if missing, with a new random password (returned to be printed:
        only its hash is stored, so it cannot be shown again later)."""
        user_model = get_user_model()
        user = user_model.objects.filter(username=username).first()
        if user is None:
            user = user_model(username=username)
        password = demo_password()
        user.set_password(password)
        user.is_superuser = superuser
        user.save()
        assign_role(user, role)
        return user, password

    def _catalogue(self) -> None:
        for sku, name, _price, qty in CATALOGUE:
            set_physical(
                sku, qty, actor=Actor.system("demo"), reason=MovementReason.INVENTORY_COUNT, name=name
            )

    def _orders(self, count: int, rng: random.Random) -> None:
        now = timezone.now()
        for n in range(count):
            channel = "site"
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
            external_id = f"02-{704319102 + n}"
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
            try:
                actions.run_transition(order.pk, step, inputs.get(step, {}), actor=actor)
            except MaloteError:
                break  # e.g. the catalogue ran out: the order stays where the lifecycle left it


# --- the sandbox's channels ---------------------------------------------------------------------

#: The shared secret Tiny's fake sends with its notifications (``malote up`` starts it with this).
TINY_WEBHOOK_TOKEN = "demo-tiny-webhook-token"


class FakeEndpoint(Protocol):
    """Where a fake answers and what it accepts (:class:`~malote_dev.sandbox.server.RunningFake` is one)."""

    @property
    def url(self) -> str: ...

    @property
    def api_url(self) -> str: ...

    @property
    def credentials(self) -> dict[str, str]: ...


@dataclass(frozen=True)
class FakeAddress:
    """A fake's endpoint without the fake running (its default port and credentials)."""

    url: str
    api_url: str
    credentials: dict[str, str]


@dataclass(frozen=True)
class SandboxChannel:
    """How one fake appears as a channel: which credentials it takes and its whole-channel fields.

    ``webhooks``: the fake notifies Malote at ``/hooks/<code>`` (SkyHub pushes nothing: it is
    polled, hence its short poll interval). ``option_names``: channel options taken from the
    fake's credentials (option name → credential name). ``fields`` are other ``Channel`` fields.
    """

    kind: FakeKind
    code: str
    name: str
    role: str
    credential_names: tuple[str, ...]
    webhooks: bool = True
    option_names: Mapping[str, str] | None = None
    fields: Mapping[str, Any] | None = None


SANDBOX_CHANNELS: tuple[SandboxChannel, ...] = (
    SandboxChannel("jumpseller", "loja", "Loja Jumpseller (sandbox)", ChannelRole.STOREFRONT,
                   ("login", "authtoken", "hooks_token")),
    SandboxChannel("tiny", "tiny", "Tiny ERP (sandbox)", ChannelRole.ERP, ("token",)),
    SandboxChannel("pagarme", "pagarme", "Pagar.me (sandbox)", ChannelRole.GATEWAY, ("secret_key",)),
    SandboxChannel("skyhub", "skyhub", "SkyHub – Americanas Marketplace (sandbox)", ChannelRole.MARKETPLACE,
                   ("user_email", "api_key", "accountmanager_key"), webhooks=False,
                   fields={"poll_interval_seconds": 15}),
    SandboxChannel("mercadolivre", "mercadolivre", "Mercado Livre (sandbox)", ChannelRole.MARKETPLACE,
                   ("client_id", "client_secret", "access_token", "refresh_token", "user_id"),
                   fields={"invoice_needs_xml": True, "poll_interval_seconds": 60}),
    SandboxChannel("bling", "bling", "Bling ERP (sandbox)", ChannelRole.ERP,
                   ("access_token", "refresh_token", "client_id", "client_secret"),
                   fields={"poll_interval_seconds": 60}),
    SandboxChannel("vtex", "vtex", "Loja VTEX (sandbox)", ChannelRole.STOREFRONT,
                   ("app_key", "app_token", "hook_secret"),
                   option_names={"account": "account", "hook_secret_header": "hook_secret_header"},
                   fields={"poll_interval_seconds": 60}),
    SandboxChannel("adyen", "adyen", "Adyen (sandbox)", ChannelRole.GATEWAY, ("api_key", "hmac_key"),
                   option_names={"merchant_account": "merchant_account"}),
    SandboxChannel("zendesk", "zendesk", "Zendesk (sandbox)", ChannelRole.HELPDESK, ("email", "api_token"),
                   webhooks=False),
)  # fmt: skip
SANDBOX_BY_KIND: dict[FakeKind, SandboxChannel] = {spec.kind: spec for spec in SANDBOX_CHANNELS}


def webhook_url(kind: FakeKind, base: str) -> str | None:
    """Where the ``kind`` fake must POST its webhooks when Malote's web server is at ``base``."""
    spec = SANDBOX_BY_KIND.get(kind)
    return f"{base}/hooks/{spec.code}" if spec is not None and spec.webhooks else None


def default_fake_endpoints(host: str = "127.0.0.1") -> dict[FakeKind, FakeAddress]:
    """Each sandbox kind's endpoint at its default port, with the credentials the fake starts with
    (read from a fake built and stopped at once, never served)."""
    endpoints: dict[FakeKind, FakeAddress] = {}
    for spec in SANDBOX_CHANNELS:
        target = LAZY_FAKE_APPS.get(spec.kind)
        factory = FAKE_APPS.get(spec.kind)
        if factory is None and target is not None:
            module, _, name = target.partition(":")
            factory = getattr(importlib.import_module(module), name)
        if factory is None or spec.kind not in DEFAULT_PORTS:
            continue
        app = factory(seed=False, config={})
        try:
            app.base_url = f"http://{host}:{DEFAULT_PORTS[spec.kind]}"
            endpoints[spec.kind] = FakeAddress(app.base_url, app.api_url, app.credentials())
        finally:
            app.stop()
    return endpoints


def configure_sandbox_channels(fakes: Mapping[FakeKind, FakeEndpoint]) -> list[Channel]:
    """Create or update the channel of each fake in ``fakes`` (by kind) to point at it, enabled,
    with its poll schedule; returns the channels in :data:`SANDBOX_CHANNELS` order."""
    channels = []
    for spec in SANDBOX_CHANNELS:
        fake = fakes.get(spec.kind)
        if fake is None:
            continue
        given = fake.credentials
        credentials = {name: given[name] for name in spec.credential_names}
        options: dict[str, Any] = {name: given[key] for name, key in (spec.option_names or {}).items()}
        if spec.kind == "tiny":
            credentials["webhook_token"] = TINY_WEBHOOK_TOKEN
        if spec.kind == "pagarme":
            options["jwks_url"] = f"{fake.url}/.well-known/jwks.json"
        channel, _ = Channel.objects.update_or_create(
            code=spec.code,
            defaults={
                "name": spec.name, "role": spec.role, "kind": spec.kind, "base_url": fake.api_url,
                "credentials": credentials, "options": options, "enabled": True,
                "import_policy": ImportPolicy.ALL, **(spec.fields or {}),
            },
        )  # fmt: skip
        sync_poll_schedule(channel)
        channels.append(channel)
    # Stock push is on by default for the sales channels that can take it (nothing here turns it
    # off): align each store with Malote's catalogue now, not only after the next movement.
    push_all_stock([channel.code for channel in channels])
    return channels


@contextmanager
def sandbox_channels_paused() -> Iterator[None]:
    """Routing skips the sandbox's channels meanwhile: the history never reaches the fakes (it
    matters only when they exist before the history, e.g. after the orders were deleted)."""
    codes = [spec.code for spec in SANDBOX_CHANNELS]
    paused = list(Channel.objects.filter(code__in=codes, enabled=True).values_list("pk", flat=True))
    Channel.objects.filter(pk__in=paused).update(enabled=False)
    try:
        yield
    finally:
        Channel.objects.filter(pk__in=paused).update(enabled=True)
