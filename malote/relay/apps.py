from django.apps import AppConfig
from django.db.models.signals import post_save


class RelayConfig(AppConfig):
    """The flows between orders and connected systems: listens to order and stock changes, delivers
    outbox messages to channels, polls channels on their schedules."""

    name = "malote.relay"
    label = "relay"
    verbose_name = "Relay"

    def ready(self) -> None:
        from malote.channels.models import Channel
        from malote.orders.changes import register_listener as on_order_change
        from malote.relay import intake, polling, refunds, routing
        from malote.relay.delivery import deliver_to_channel
        from malote.returns.changes import register_listener as on_return_change
        from malote.stock.changes import register_listener as on_stock_change
        from malote.sync.handlers import register_handler
        from malote.sync.schedules import register_job

        on_order_change(routing.route_order_change)
        on_order_change(intake.queue_awaiting)
        on_stock_change(routing.route_stock_change)
        on_return_change(refunds.route_return_change)
        register_handler("channel", deliver_to_channel)
        register_handler(intake.NOTIFICATION_PREFIX, intake.read_notification)
        register_handler(intake.REPLAY_PREFIX, intake.reapply_awaiting)
        register_job("relay.awaiting", intake.replay_awaiting)
        register_job("channel.poll", polling.poll_channel)
        post_save.connect(
            routing.push_stock_after_channel_saved, sender=Channel, dispatch_uid="malote_relay_channel_stock"
        )
