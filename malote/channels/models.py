"""Connected systems and the links between canonical orders and their copies in those systems.

A ``Channel``'s ``kind`` names the connector that drives it (``malote.connectors.registry``); its
policies (docs/channel-rules.md) are data: import policy, status map both ways, invoice rules, delivery
source, poll interval. The whole-channel booleans (``invoice_needs_xml``,
``invoice_waits_for_shipment``, ``delivery_from_channel``) apply to every order; the per-order
refinements (by sub-channel or shipping method) are policy options with per-kind defaults
(``malote.channels.status_maps.POLICY_PRESETS``), read through ``Channel.policy``. Credentials
are stored here encrypted (``malote.channels.credentials``; docs/security.md) and are never
logged, shown or returned by the API.

An ``OrderLink`` is ``divergent`` when the system reported a status Malote cannot reach (or went
back to an earlier one): ``divergence`` records what it said and what Malote expects there, the
pushes to it for that order are held, and only an operator clears it
(``malote.relay.divergence.resolve_divergence``).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from malote.channels.credentials import EncryptedJSONField
from malote.channels.status_maps import policy_default

# Sales placed shortly before a channel's go-live are still live (see ``Channel.is_history``).
HISTORY_MARGIN = timedelta(minutes=15)


class ChannelRole(models.TextChoices):
    STOREFRONT = "storefront", _("Loja virtual")
    MARKETPLACE = "marketplace", _("Marketplace")
    ERP = "erp", _("ERP")
    GATEWAY = "gateway", _("Gateway de pagamento")
    CARRIER = "carrier", _("Transportadora")
    HELPDESK = "helpdesk", _("Help desk")
    NOTIFICATION = "notification", _("Notificação")


# Roles whose orders are sales: they are imported into Malote and told about the order's progress.
SALES_ROLES = frozenset({ChannelRole.STOREFRONT, ChannelRole.MARKETPLACE})


class ImportPolicy(models.TextChoices):
    ALL = "all", _("Todos os pedidos")
    PAID_ONLY = "paid_only", _("Apenas pedidos com pagamento confirmado")


class Channel(models.Model):
    code = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=120)
    role = models.CharField(max_length=20, choices=ChannelRole.choices)
    kind = models.CharField(max_length=40, default="manual", help_text=_("Conector que atende este canal."))
    enabled = models.BooleanField(default=True)
    base_url = models.URLField(
        max_length=300, blank=True, help_text=_("URL base da API (sandbox ou produção).")
    )
    # A dict to every caller; a Fernet token in the column (a token no key decrypts reads as
    # ``UnreadableCredentials``, whose values raise ``credentials_unreadable``).
    credentials = EncryptedJSONField(
        default=dict, blank=True, help_text=_("Nunca exibidas depois de salvas.")
    )
    options = models.JSONField(
        default=dict, blank=True, help_text=_("Configurações específicas do conector.")
    )
    import_policy = models.CharField(max_length=20, choices=ImportPolicy.choices, default=ImportPolicy.ALL)
    # {"out": {canonical status: remote status}, "in": {remote status: canonical status}}; a missing
    # direction or entry falls back to the connector's default map.
    status_map = models.JSONField(default=dict, blank=True)
    invoice_needs_xml = models.BooleanField(
        default=False, help_text=_("O canal aceita a NF-e apenas como o XML autorizado.")
    )
    invoice_waits_for_shipment = models.BooleanField(default=False)
    delivery_from_channel = models.BooleanField(default=False)
    poll_interval_seconds = models.PositiveIntegerField(default=300)
    created_at = models.DateTimeField(auto_now_add=True)
    # Malote's go-live with this channel: what the systems held before it is history, never re-sent
    # nor flagged by the reconciliation unless an operator runs an explicit backfill.
    go_live_at = models.DateTimeField(
        default=timezone.now,
        help_text=_("Início da integração: pedidos anteriores são histórico e não são reconciliados."),
    )

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    def __repr__(self) -> str:
        # Never include credentials in logs or tracebacks.
        return f"<Channel {self.code} kind={self.kind} role={self.role}>"

    @property
    def is_sales(self) -> bool:
        return self.role in SALES_ROLES

    def option(self, name: str, default: Any = None) -> Any:
        return (self.options or {}).get(name, default)

    def is_history(self, placed_at: datetime) -> bool:
        """Whether a sale placed then is the shop's history at go-live (never imported nor sent on
        unless an operator backfills): placed more than ``HISTORY_MARGIN`` before ``go_live_at``. The
        margin keeps the sale a shopper was finishing while the channel was being connected."""
        return placed_at < self.go_live_at - HISTORY_MARGIN

    def policy(self, name: str) -> Any:
        """A policy option: the channel's own value, else its kind's default (see ``status_maps``)."""
        own = self.options or {}
        return own[name] if name in own else policy_default(self.kind, name)

    def invoice_waits_for_shipment_of(self, marketplace: str, shipping_method: str) -> bool:
        """Whether this channel may get an order's NF-e only once its shipment exists."""
        if self.invoice_waits_for_shipment:
            return True
        return names_match(marketplace, self.policy("invoice_after_shipment_marketplaces")) and not (
            names_match(shipping_method, self.policy("invoice_at_once_shipping_methods"))
        )

    def invoice_needs_xml_for(self, marketplace: str) -> bool:
        return self.invoice_needs_xml or names_match(
            marketplace, self.policy("invoice_needs_xml_marketplaces")
        )

    def reports_delivery_of(self, shipping_method: str) -> bool:
        """Whether this channel itself reports the delivery of such an order (Malote never pushes it)."""
        return self.delivery_from_channel or names_match(
            shipping_method, self.policy("delivery_from_channel_methods")
        )


def normalized_name(value: str) -> str:
    """Case, accents and repeated spaces ignored: "Magazine  LUIZA" == "magazine luiza"."""
    plain = unicodedata.normalize("NFKD", value or "").encode("ascii", "ignore").decode()
    return " ".join(plain.casefold().split())


def names_match(value: str, names: Iterable[str] | None) -> bool:
    """Whether ``value`` is one of ``names`` (compared as ``normalized_name``); empty never matches."""
    wanted = normalized_name(value)
    return bool(wanted) and any(wanted == normalized_name(str(name)) for name in names or ())


class LinkState(models.TextChoices):
    PENDING = "pending", _("Aguardando integração")
    LINKED = "linked", _("Integrado")
    ERROR = "error", _("Erro de integração")
    DIVERGENT = "divergent", _("Divergente")


class OrderLink(models.Model):
    """An order's copy in one channel: its id there, the last status seen there, the sync state."""

    order = models.ForeignKey("orders.Order", on_delete=models.CASCADE, related_name="links")
    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="links")
    external_id = models.CharField(max_length=100, blank=True)
    remote_status = models.CharField(
        max_length=60, blank=True, help_text=_("Último status visto no sistema.")
    )
    # When the system took that status: the change's own time when it carries one, else its arrival.
    remote_status_at = models.DateTimeField(null=True, blank=True)
    # The canonical reading of ``remote_status`` (empty when the status map has no word for it).
    remote_canonical_status = models.CharField(max_length=20, blank=True)
    expected_status = models.CharField(
        max_length=60, blank=True, help_text=_("Último status canônico enviado pelo Malote.")
    )
    state = models.CharField(max_length=10, choices=LinkState.choices, default=LinkState.PENDING)
    # While ``state`` is divergent: {"remote_status", "remote_canonical_status", "malote_status",
    # "expected_status" and "expected_remote_status" (Malote's latest status the channel's map has a
    # word for, and that word), "reason", "event_id"}.
    divergence = models.JSONField(default=dict, blank=True)
    divergent_since = models.DateTimeField(null=True, blank=True)
    # What the channel says of its copy beyond the status (InboundChange ``facts["channel_data"]``,
    # e.g. Mercado Livre's ``mercadolivre_pack``: the pack, its family of split packs, its orders).
    remote_data = models.JSONField(default=dict, blank=True)
    last_error = models.TextField(blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["order", "channel"]
        constraints = [
            models.UniqueConstraint(fields=["order", "channel"], name="order_link_once_per_channel"),
            models.UniqueConstraint(
                fields=["channel", "external_id"],
                condition=~models.Q(external_id=""),
                name="order_link_external_id_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel.code}:{self.external_id or '?'}"
