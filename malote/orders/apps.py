from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "malote.orders"
    label = "orders"
    verbose_name = "Orders"
