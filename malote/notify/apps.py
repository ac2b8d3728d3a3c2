from django.apps import AppConfig


class NotifyConfig(AppConfig):
    name = "malote.notify"
    label = "notify"
    verbose_name = "Customer e-mails"

    def ready(self) -> None:
        # Registered here, not at import time, so the hooks exist once per process whatever
        # imports the modules first.
        from malote.notify import delivery, listeners
        from malote.orders.changes import register_listener
        from malote.returns.changes import register_listener as register_return_listener
        from malote.sync.handlers import register_handler

        register_listener(listeners.queue_status_emails)
        register_return_listener(listeners.queue_return_emails)
        register_handler(delivery.PREFIX, delivery.send_email)
