from django.apps import AppConfig
from django.db.models.signals import post_migrate


class SyncConfig(AppConfig):
    name = "malote.sync"
    label = "sync"
    verbose_name = "Delivery: outbox, inbox, schedules"

    def ready(self) -> None:
        from malote.sync.handlers import register_handler
        from malote.sync.http import deliver_http
        from malote.sync.retention import PRUNE_JOB, ensure_prune_schedule_after_migrate, prune_job
        from malote.sync.schedules import register_job

        register_handler("http", deliver_http)
        register_job(PRUNE_JOB, prune_job)
        post_migrate.connect(
            ensure_prune_schedule_after_migrate, sender=self, dispatch_uid="malote_sync_prune_after_migrate"
        )
