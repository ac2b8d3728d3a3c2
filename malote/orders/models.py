"""The canonical order and the facts attached to it.

The lifecycle status is only ever changed by ``malote.orders.actions``; ``Payment``, ``Invoice``
and ``Shipment`` hold the facts, and ``OrderEvent`` is the append-only timeline.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from malote.orders.statuses import (
    CancelReason,
    OrderStatus,
    PaymentMethod,
    PaymentStatus,
    ShipmentStatus,
    StockState,
)


class Order(models.Model):
    # NULL only inside the creating transaction, until the primary key gives the number.
    number = models.CharField(max_length=20, unique=True, null=True, editable=False)  # noqa: DJ001
    channel = models.ForeignKey("channels.Channel", on_delete=models.PROTECT, related_name="orders")
    external_id = models.CharField(max_length=100)
    placed_at = models.DateTimeField()
    status = models.CharField(max_length=20, choices=OrderStatus.choices, default=OrderStatus.PENDING_PAYMENT)
    # Statuses entered, in order. Each status is entered at most once; reopen removes the terminal one.
    status_path = models.JSONField(default=list)
    status_changed_at = models.DateTimeField(default=timezone.now)
    stock_state = models.CharField(max_length=12, choices=StockState.choices, default=StockState.UNRESERVED)
    cancel_reason = models.CharField(max_length=20, choices=CancelReason.choices, blank=True)

    currency = models.CharField(max_length=3, default="BRL")
    subtotal = models.DecimalField(max_digits=14, decimal_places=2)
    shipping_price = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0.00"))
    discount = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0.00"))
    tax = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0.00"))
    total = models.DecimalField(max_digits=14, decimal_places=2)

    customer_name = models.CharField(max_length=200)
    customer_email = models.CharField(max_length=254, blank=True)
    customer_phone = models.CharField(max_length=30, blank=True)
    customer_document = models.CharField(max_length=14, blank=True, help_text=_("CPF ou CNPJ, sem máscara."))
    billing_address = models.JSONField(default=dict)
    shipping_address = models.JSONField(default=dict)
    shipping_method = models.CharField(max_length=100, blank=True)
    # The sub-channel at a hub or marketplace (SkyHub's "Magazine Luiza", "Lojas Americanas"…).
    marketplace = models.CharField(max_length=100, blank=True)
    payment_method = models.CharField(
        max_length=20, choices=PaymentMethod.choices, default=PaymentMethod.OTHER
    )

    # Punctuation-free, lower-case text of the number, external id and customer keys: what the
    # contains-search runs over (FTS5 trigram index on SQLite, pg_trgm GIN index on PostgreSQL).
    search_key = models.CharField(max_length=600, blank=True, editable=False)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-placed_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["channel", "external_id"], name="order_unique_per_channel"),
        ]
        indexes = [
            models.Index(fields=["-placed_at", "-id"], name="order_placed"),
            models.Index(fields=["status", "-placed_at", "-id"], name="order_status_placed"),
            models.Index(fields=["channel", "-placed_at", "-id"], name="order_channel_placed"),
            # The back office's sortable columns (read in either direction).
            models.Index(fields=["total", "id"], name="order_total"),
            models.Index(fields=["customer_name", "id"], name="order_customer"),
            # The list's payment filter, with or without a channel: set once, at creation, so only
            # an order's insert writes it, never a transition.
            models.Index(fields=["payment_method", "channel", "-placed_at", "-id"], name="order_payment"),
            # The reconciliation finds older orders by the channel's reference, whatever the channel.
            models.Index(fields=["external_id"], name="order_external_id"),
        ]
        permissions = [
            ("change_order_status", "Can run order transitions"),
            ("reopen_order", "Can reopen a delivered or canceled order"),
            ("export_order", "Can export the order history"),
        ]

    def __str__(self) -> str:
        return self.number or f"order {self.pk}"

    @property
    def status_label(self) -> str:
        return str(OrderStatus(self.status).label)


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField()
    sku = models.CharField(max_length=60)
    name = models.CharField(max_length=200)
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(max_digits=14, decimal_places=2)
    discount = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0.00"))

    class Meta:
        ordering = ["order", "position"]
        constraints = [
            models.UniqueConstraint(fields=["order", "position"], name="order_line_position"),
            models.CheckConstraint(condition=models.Q(quantity__gt=0), name="order_line_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.sku}"

    @property
    def total(self) -> Decimal:
        return self.unit_price * self.quantity - self.discount


class Payment(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="payments")
    method = models.CharField(max_length=20, choices=PaymentMethod.choices)
    gateway = models.CharField(max_length=40, blank=True)
    transaction_id = models.CharField(max_length=100, blank=True, db_index=True)
    installments = models.PositiveSmallIntegerField(default=1)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    due_date = models.DateField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=PaymentStatus.choices, default=PaymentStatus.PENDING)
    paid_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return f"{self.method} {self.amount} ({self.status})"


class InvoicePurpose(models.TextChoices):
    """``ide/finNFe`` of the NF-e (``malote.fiscal.NfePurpose``)."""

    NORMAL = "1", _("Normal")
    COMPLEMENTARY = "2", _("Complementar")
    ADJUSTMENT = "3", _("Ajuste")
    RETURN = "4", _("Devolução")
    CREDIT_NOTE = "5", _("Nota de crédito")
    DEBIT_NOTE = "6", _("Nota de débito")


class InvoiceDirection(models.TextChoices):
    """``ide/tpNF`` of the NF-e (``malote.fiscal.NfeDirection``)."""

    INBOUND = "0", _("Entrada")
    OUTBOUND = "1", _("Saída")


class Invoice(models.Model):
    """The NF-e of an order; ``key`` is the 44-position access key.

    Purpose, direction, referenced key and the IBS/CBS (2026 tax reform) fields are read from the
    XML when it arrives (docs/fiscal.md); without an XML they stay blank.
    """

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="invoices")
    key = models.CharField(max_length=44, unique=True)
    number = models.PositiveIntegerField()
    series = models.PositiveSmallIntegerField()
    issued_at = models.DateTimeField()
    xml = models.TextField(blank=True)
    authorization_protocol = models.CharField(max_length=20, blank=True)
    authorization_status = models.CharField(max_length=4, blank=True)
    purpose = models.CharField(
        max_length=1, choices=InvoicePurpose.choices, blank=True, help_text=_("Finalidade (finNFe).")
    )
    direction = models.CharField(
        max_length=1, choices=InvoiceDirection.choices, blank=True, help_text=_("Entrada ou saída (tpNF).")
    )
    referenced_key = models.CharField(
        max_length=44, blank=True, help_text=_("Chave da NF-e devolvida (NFref/refNFe de uma devolução).")
    )
    # NT 2025.002-RTC values: 13 digits and 2 decimals. NULL: the NF-e has no such group.
    ibs_cbs_base = models.DecimalField(
        max_digits=15,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("Base de cálculo do IBS e da CBS (vBCIBSCBS)."),
    )
    ibs_state_total = models.DecimalField(
        max_digits=15, decimal_places=2, null=True, blank=True, help_text=_("IBS estadual (vIBSUF).")
    )
    ibs_municipal_total = models.DecimalField(
        max_digits=15, decimal_places=2, null=True, blank=True, help_text=_("IBS municipal (vIBSMun).")
    )
    ibs_total = models.DecimalField(
        max_digits=15, decimal_places=2, null=True, blank=True, help_text=_("IBS (vIBS).")
    )
    cbs_total = models.DecimalField(
        max_digits=15, decimal_places=2, null=True, blank=True, help_text=_("CBS (vCBS).")
    )
    # One dict per item with an IBSCBS group: cst, class_code and the rates and values as strings.
    tax_reform_items = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return f"NF-e {self.number}/{self.series}"


class InvoiceEventType(models.TextChoices):
    """The SEFAZ events Malote records on an NF-e (``malote.fiscal.nfe_event.NfeEventType``)."""

    CANCELLATION = "cancellation", _("Cancelamento")
    CORRECTION = "correction", _("Carta de correção")


class InvoiceEvent(models.Model):
    """An event SEFAZ registered on the invoice's NF-e: its cancellation (110111) or a carta de
    correção (110110). Written only by ``malote.orders.invoice_events.record_invoice_event``; an
    invoice with a cancellation is canceled, and its CC-e with the highest sequence holds."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="events")
    type = models.CharField(max_length=12, choices=InvoiceEventType.choices)
    sequence = models.PositiveSmallIntegerField(
        help_text=_("nSeqEvento: 1 no cancelamento, 1 a 20 nas CC-e.")
    )
    protocol = models.CharField(max_length=17, help_text=_("Protocolo do evento na SEFAZ."))
    registered_at = models.DateTimeField(help_text=_("Registro do evento na SEFAZ (dhRegEvento)."))
    text = models.TextField(help_text=_("Justificativa do cancelamento ou texto da correção."))
    xml = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["invoice", "registered_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["invoice", "type", "sequence"], name="invoice_event_unique_sequence"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.sequence}"


class Shipment(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="shipments")
    status = models.CharField(max_length=12, choices=ShipmentStatus.choices, default=ShipmentStatus.READY)
    carrier = models.CharField(max_length=60, blank=True)
    method = models.CharField(max_length=100, blank=True)
    tracking_code = models.CharField(max_length=64, blank=True, db_index=True)
    tracking_url = models.URLField(max_length=500, blank=True)
    collection_code = models.CharField(max_length=64, blank=True)
    shipped_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    problem = models.TextField(blank=True)
    # 0: the whole order in one shipment (no ``ShipmentLine``); 1, 2…: the part's number in a
    # partial shipment, its units in ``lines`` (docs/lifecycle.md, "Partial shipments").
    part = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return f"{self.carrier} {self.tracking_code}".strip()


class ShipmentLine(models.Model):
    """Units of one order line carried by one part (``Shipment``) of a partial shipment. A shipment
    without lines is the whole order, shipped in one part."""

    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="lines")
    line = models.ForeignKey(OrderLine, on_delete=models.CASCADE, related_name="shipped")
    quantity = models.PositiveIntegerField()

    class Meta:
        ordering = ["shipment", "id"]
        constraints = [
            models.UniqueConstraint(fields=["shipment", "line"], name="shipment_line_once"),
            models.CheckConstraint(
                condition=models.Q(quantity__gt=0), name="shipment_line_quantity_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.line_id}"


class ActorKind(models.TextChoices):
    USER = "user", _("Usuário")
    TOKEN = "token", _("Token de API")
    CHANNEL = "channel", _("Canal")
    SCHEDULE = "schedule", _("Tarefa agendada")
    SYSTEM = "system", _("Sistema")


class OrderEvent(models.Model):
    """Append-only timeline entry: who did what to an order, when, with which data."""

    # No index of its own: ``order_event_transition`` starts with the order and serves its lookups
    # (a second index would be one more page written by every transition).
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events", db_index=False)
    type = models.CharField(max_length=40)
    transition = models.CharField(max_length=40, blank=True)
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20, blank=True)
    actor_kind = models.CharField(max_length=10, choices=ActorKind.choices)
    actor_label = models.CharField(max_length=200)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,  # indexed partially below
    )
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["order", "id"]
        indexes = [
            models.Index(fields=["order", "transition"], name="order_event_transition"),
            # Only a person's events carry a user: events of channels, schedules and the system
            # (most of them) then write no entry here, and deleting a user still finds theirs.
            models.Index(
                fields=["actor_user"], name="order_event_actor_user", condition=Q(actor_user__isnull=False)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.transition}".strip()
