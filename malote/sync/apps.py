from django.apps import AppConfig


class SyncConfig(AppConfig):
    name = "malote.sync"
    label = "sync"
    verbose_name = "Delivery: outbox, inbox, schedules"

    def ready(self) -> None:
        from malote.sync.handlers import register_handler
        from malote.sync.http import deliver_http

        register_handler("http", deliver_http)
