"""Stock per SKU. available = physical − reserved, kept non-negative by the database itself."""

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _


class StockItem(models.Model):
    sku = models.CharField(max_length=60, unique=True)
    name = models.CharField(max_length=200, blank=True)
    physical = models.IntegerField(default=0)
    reserved = models.IntegerField(default=0)
    low_stock_threshold = models.IntegerField(default=5)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["sku"]
        constraints = [
            models.CheckConstraint(condition=Q(reserved__gte=0), name="stock_reserved_not_negative"),
            models.CheckConstraint(
                condition=Q(physical__gte=F("reserved")), name="stock_available_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return self.sku

    @property
    def available(self) -> int:
        return self.physical - self.reserved


class MovementReason(models.TextChoices):
    ORDER_RESERVE = "order_reserve", _("Reserva de pedido")
    ORDER_RELEASE = "order_release", _("Liberação de reserva")
    ORDER_CONSUME = "order_consume", _("Baixa por faturamento")
    ORDER_RESTOCK = "order_restock", _("Devolução ao estoque")
    RETURN_RESTOCK = "return_restock", _("Devolução do cliente")
    ADJUSTMENT = "adjustment", _("Ajuste")
    INVENTORY_COUNT = "inventory_count", _("Contagem de inventário")


class StockMovement(models.Model):
    """Append-only record of every change to a stock item, with its reason."""

    sku = models.CharField(max_length=60, db_index=True)
    order = models.ForeignKey(
        "orders.Order", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.CharField(max_length=20, choices=MovementReason.choices)
    physical_delta = models.IntegerField(default=0)
    reserved_delta = models.IntegerField(default=0)
    note = models.CharField(max_length=255, blank=True)
    actor = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["sku", "-created_at"], name="stock_movement_sku_time")]

    def __str__(self) -> str:
        return f"{self.sku} {self.reason} {self.physical_delta:+d}/{self.reserved_delta:+d}"


class ChannelStock(models.Model):
    """The available quantity last pushed to a sales channel for a SKU, and when: written by the
    relay's stock delivery once the channel took it. Stock sits below channels in the layers, so
    the channel is named by its code, not a foreign key."""

    channel_code = models.CharField(max_length=50)
    sku = models.CharField(max_length=60)
    available_pushed = models.IntegerField()
    pushed_at = models.DateTimeField()

    class Meta:
        ordering = ["sku", "channel_code"]
        constraints = [
            models.UniqueConstraint(fields=["channel_code", "sku"], name="stock_channelstock_channel_sku")
        ]
        indexes = [models.Index(fields=["sku"], name="stock_channelstock_sku")]

    def __str__(self) -> str:
        return f"{self.channel_code} {self.sku}={self.available_pushed}"
