from django.apps import AppConfig


class ChannelsConfig(AppConfig):
    name = "malote.channels"
    label = "channels"
    verbose_name = "Channels"

    def ready(self) -> None:
        from malote.channels import jobs, routing
        from malote.channels.delivery import deliver_to_channel
        from malote.orders.changes import register_listener as on_order_change
        from malote.stock.changes import register_listener as on_stock_change
        from malote.sync.handlers import register_handler
        from malote.sync.schedules import register_job

        on_order_change(routing.route_order_change)
        on_stock_change(routing.route_stock_change)
        register_handler("channel", deliver_to_channel)
        register_job("channel.poll", jobs.poll_channel)
