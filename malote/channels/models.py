"""Connected systems. The integration engine adds links, status maps and connectors later;
orders reference a channel from the start so that (channel, external_id) is the natural key."""

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
    import_policy = models.CharField(max_length=20, choices=ImportPolicy.choices, default=ImportPolicy.ALL)
    invoice_needs_xml = models.BooleanField(
        default=False, help_text=_("The channel accepts the NF-e only as the authorized XML.")
    )
    invoice_waits_for_shipment = models.BooleanField(default=False)
    delivery_from_channel = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"
