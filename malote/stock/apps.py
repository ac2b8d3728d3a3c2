from django.apps import AppConfig


class StockConfig(AppConfig):
    name = "malote.stock"
    label = "stock"
    verbose_name = "Stock"
