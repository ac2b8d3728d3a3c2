from django.apps import AppConfig


class SyncConfig(AppConfig):
    name = "malote.sync"
    label = "sync"
    verbose_name = "Delivery: outbox, inbox, schedules"
