"""Returns (devoluções): what the customer sends back, per order line and quantity.

Statuses change only through ``malote.returns.actions``; ``ReturnEvent`` is the append-only
record of who did what to a return (docs/returns.md).
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from malote.returns.statuses import LineCondition, RequestedBy, ReturnReason, ReturnStatus


class Return(models.Model):
    order = models.ForeignKey("orders.Order", on_delete=models.CASCADE, related_name="returns")
    # The order's number and a sequence per order: "MLT0000042-D1".
    number = models.CharField(max_length=30, unique=True)
    status = models.CharField(max_length=20, choices=ReturnStatus.choices, default=ReturnStatus.REQUESTED)
    reason = models.CharField(max_length=20, choices=ReturnReason.choices)
    requested_by = models.CharField(max_length=10, choices=RequestedBy.choices)
    # The channel the customer asked through (its code), when requested_by is customer.
    channel_code = models.CharField(max_length=50, blank=True)
    note = models.TextField(blank=True)
    # Asked of the gateway (request_refund), then confirmed by it (confirm_refund).
    refund_amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    refunded_amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    refund_reference = models.CharField(max_length=100, blank=True)
    nfe_key = models.CharField(
        max_length=44, blank=True, help_text=_("Chave da NF-e de devolução (finalidade 4, entrada).")
    )
    nfe_xml = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    status_changed_at = models.DateTimeField(default=timezone.now)
    received_at = models.DateTimeField(null=True, blank=True)
    refunded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["order", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(refund_amount__isnull=True) | Q(refund_amount__gt=0),
                name="return_refund_positive",
            ),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def status_label(self) -> str:
        return str(ReturnStatus(self.status).label)


class ReturnLine(models.Model):
    ret = models.ForeignKey(Return, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey("orders.OrderLine", on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField()
    # Set on receipt: how many came back, and whether they go back to the shelf.
    received_quantity = models.PositiveIntegerField(null=True, blank=True)
    condition = models.CharField(max_length=10, choices=LineCondition.choices, blank=True)

    class Meta:
        ordering = ["ret", "id"]
        constraints = [
            models.UniqueConstraint(fields=["ret", "order_line"], name="return_line_once"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="return_line_quantity_positive"),
            models.CheckConstraint(
                condition=Q(received_quantity__isnull=True) | Q(received_quantity__lte=models.F("quantity")),
                name="return_line_received_within_requested",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.order_line_id}"

    @property
    def unit_value(self) -> Decimal:
        """What one unit of the order line was paid for (its discount spread over the units)."""
        line = self.order_line
        return ((line.unit_price * line.quantity - line.discount) / line.quantity).quantize(Decimal("0.01"))


class ReturnEvent(models.Model):
    """Append-only record of a return: created, each transition, the NF-e attached, refunds seen."""

    ret = models.ForeignKey(Return, on_delete=models.CASCADE, related_name="events")
    type = models.CharField(max_length=40)
    transition = models.CharField(max_length=40, blank=True)
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20, blank=True)
    actor_kind = models.CharField(max_length=10)
    actor_label = models.CharField(max_length=200)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["ret", "id"]

    def __str__(self) -> str:
        return f"{self.type} {self.transition}".strip()
