"""Read-only admin views: orders change only through the lifecycle commands (API, back office)."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from malote.orders.models import Invoice, Order, OrderEvent, OrderLine, Payment, Shipment


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class LineInline(ReadOnlyInline):
    model = OrderLine
    fields = ("position", "sku", "name", "quantity", "unit_price", "discount")


class PaymentInline(ReadOnlyInline):
    model = Payment
    fields = ("method", "gateway", "transaction_id", "amount", "status", "due_date", "paid_at")


class InvoiceInline(ReadOnlyInline):
    model = Invoice
    fields = ("key", "number", "series", "issued_at", "authorization_status")


class ShipmentInline(ReadOnlyInline):
    model = Shipment
    fields = ("part", "status", "carrier", "method", "tracking_code", "shipped_at", "delivered_at")


class EventInline(ReadOnlyInline):
    model = OrderEvent
    fields = ("created_at", "type", "transition", "from_status", "to_status", "actor_label", "data")


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ("number", "channel", "external_id", "placed_at", "status", "customer_name", "total")
    list_filter = ("status", "channel", "payment_method")
    search_fields = ("number", "external_id", "customer_name", "customer_email", "customer_document")
    date_hierarchy = "placed_at"
    list_select_related = ("channel",)
    inlines = (LineInline, PaymentInline, InvoiceInline, ShipmentInline, EventInline)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
