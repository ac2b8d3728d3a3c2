"""Canonical order statuses (see docs/lifecycle.md) and the groups other parts rely on."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class OrderStatus(models.TextChoices):
    PENDING_PAYMENT = "pending_payment", _("Aguardando pagamento")
    PAYMENT_REVIEW = "payment_review", _("Pagamento em análise")
    PAYMENT_OVERDUE = "payment_overdue", _("Pagamento vencido")
    PAID = "paid", _("Pago")
    OUT_OF_STOCK = "out_of_stock", _("Sem estoque")
    PREPARING = "preparing", _("Em separação")
    INVOICED = "invoiced", _("Faturado")
    READY_TO_SHIP = "ready_to_ship", _("Pronto para envio")
    SHIPPED = "shipped", _("Enviado")
    IN_TRANSIT = "in_transit", _("Em trânsito")
    DELIVERY_FAILED = "delivery_failed", _("Problema na entrega")
    DELIVERED = "delivered", _("Entregue")
    CANCELED = "canceled", _("Cancelado")


TERMINAL = frozenset({OrderStatus.DELIVERED, OrderStatus.CANCELED})
NON_TERMINAL = frozenset(set(OrderStatus) - TERMINAL)
UNPAID = frozenset({OrderStatus.PENDING_PAYMENT, OrderStatus.PAYMENT_REVIEW, OrderStatus.PAYMENT_OVERDUE})
# Statuses in which the order's goods are held for it but not yet taken off the shelf.
HOLDS_RESERVATION = frozenset({*UNPAID, OrderStatus.PAID, OrderStatus.OUT_OF_STOCK, OrderStatus.PREPARING})
# Statuses an order may be created in (imports of already-paid orders included).
INITIAL = frozenset({OrderStatus.PENDING_PAYMENT, OrderStatus.PAID})


class StockState(models.TextChoices):
    UNRESERVED = "unreserved", _("Sem reserva")
    RESERVED = "reserved", _("Reservado")
    CONSUMED = "consumed", _("Baixado")
    RELEASED = "released", _("Liberado")


class PaymentMethod(models.TextChoices):
    CREDIT_CARD = "credit_card", _("Cartão de crédito")
    BOLETO = "boleto", _("Boleto")
    PIX = "pix", _("Pix")
    OTHER = "other", _("Outro")


class PaymentStatus(models.TextChoices):
    PENDING = "pending", _("Pendente")
    IN_REVIEW = "in_review", _("Em análise")
    OVERDUE = "overdue", _("Vencido")
    APPROVED = "approved", _("Aprovado")
    CANCELED = "canceled", _("Cancelado")


class CancelReason(models.TextChoices):
    CUSTOMER_GAVE_UP = "customer_gave_up", _("Desistência do cliente")
    PAYMENT_REFUSED = "payment_refused", _("Pagamento recusado")
    PAYMENT_EXPIRED = "payment_expired", _("Pagamento vencido")
    OUT_OF_STOCK = "out_of_stock", _("Sem estoque")
    FRAUD = "fraud", _("Fraude")
    CHANNEL = "channel", _("Cancelado no canal")
    OTHER = "other", _("Outro")


class ShipmentStatus(models.TextChoices):
    READY = "ready", _("Pronto para envio")
    SHIPPED = "shipped", _("Enviado")
    IN_TRANSIT = "in_transit", _("Em trânsito")
    FAILED = "failed", _("Problema na entrega")
    DELIVERED = "delivered", _("Entregue")
