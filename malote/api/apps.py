from django.apps import AppConfig
from django.db.models.signals import post_migrate, post_save


class ApiConfig(AppConfig):
    name = "malote.api"
    label = "api"
    verbose_name = "REST API"

    def ready(self) -> None:
        from malote.accounts.models import ApiToken
        from malote.api.jobs import (
            PRUNE_JOB,
            ensure_prune_schedule_after_migrate,
            ensure_prune_schedule_after_token_issued,
            prune_idempotency_job,
        )
        from malote.sync.schedules import register_job

        register_job(PRUNE_JOB, prune_idempotency_job)
        post_migrate.connect(
            ensure_prune_schedule_after_migrate, dispatch_uid="malote_api_prune_idempotency_after_migrate"
        )
        post_save.connect(
            ensure_prune_schedule_after_token_issued,
            sender=ApiToken,
            dispatch_uid="malote_api_prune_idempotency_after_token",
        )
