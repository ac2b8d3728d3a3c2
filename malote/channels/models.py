"""Connected systems and the links between canonical orders and their copies in those systems.

A ``Channel``'s ``kind`` names the connector that drives it (``malote.connectors.registry``); its
policies (DESIGN.md §3) are data: import policy, status map both ways, invoice rules, delivery
source, poll interval. Credentials are stored here but never logged or returned by the API.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _


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
    kind = models.CharField(
        max_length=40, default="manual", help_text=_("Which connector drives this channel.")
    )
    enabled = models.BooleanField(default=True)
    base_url = models.URLField(max_length=300, blank=True, help_text=_("API base URL (sandbox or real)."))
    credentials = models.JSONField(default=dict, blank=True, help_text=_("Never shown after saving."))
    options = models.JSONField(default=dict, blank=True, help_text=_("Connector-specific settings."))
    import_policy = models.CharField(max_length=20, choices=ImportPolicy.choices, default=ImportPolicy.ALL)
    # {"out": {canonical status: remote status}, "in": {remote status: canonical status}}; a missing
    # direction or entry falls back to the connector's default map.
    status_map = models.JSONField(default=dict, blank=True)
    invoice_needs_xml = models.BooleanField(
        default=False, help_text=_("The channel accepts the NF-e only as the authorized XML.")
    )
    invoice_waits_for_shipment = models.BooleanField(default=False)
    delivery_from_channel = models.BooleanField(default=False)
    poll_interval_seconds = models.PositiveIntegerField(default=300)
    created_at = models.DateTimeField(auto_now_add=True)

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
    remote_status = models.CharField(max_length=60, blank=True, help_text=_("Last status seen there."))
    remote_status_at = models.DateTimeField(null=True, blank=True)
    expected_status = models.CharField(max_length=60, blank=True, help_text=_("Last status Malote sent."))
    state = models.CharField(max_length=10, choices=LinkState.choices, default=LinkState.PENDING)
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
