from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "malote.orders"
    label = "orders"
    verbose_name = "Orders"

    def ready(self) -> None:
        from malote.orders import actions, shipments

        actions.register_part_delivery(shipments.deliver_part)
