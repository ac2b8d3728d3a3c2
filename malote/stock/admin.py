from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from malote.stock.models import StockItem, StockMovement


@admin.register(StockItem)
class StockItemAdmin(admin.ModelAdmin):
    """Quantities are read-only here: they change through orders and PUT /api/v1/stock/{sku}."""

    list_display = ("sku", "name", "physical", "reserved", "available", "low_stock_threshold", "updated_at")
    search_fields = ("sku", "name")
    readonly_fields = ("sku", "physical", "reserved", "updated_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(StockMovement)
class StockMovementAdmin(admin.ModelAdmin):
    list_display = ("created_at", "sku", "reason", "physical_delta", "reserved_delta", "order", "actor")
    list_filter = ("reason",)
    search_fields = ("sku",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
