from collections.abc import Iterable

from django.apps import AppConfig
from django.db.models.signals import post_migrate, post_save


def orders_with_active_issues() -> Iterable[int]:
    from malote.reconcile.models import ACTIVE_STATES, IntegrationIssue

    return IntegrationIssue.objects.filter(state__in=ACTIVE_STATES, order__isnull=False).values_list(
        "order_id", flat=True
    )


class ReconcileConfig(AppConfig):
    name = "malote.reconcile"
    label = "reconcile"
    verbose_name = "Reconciliation"

    def ready(self) -> None:
        from malote.channels.models import Channel
        from malote.reconcile.channel_reports import record
        from malote.reconcile.jobs import (
            JOBS,
            sync_schedules_after_channel_saved,
            sync_schedules_after_migrate,
        )
        from malote.reconcile.repair import TICKET_DESTINATION
        from malote.reconcile.tickets import deliver_ticket
        from malote.relay.intake import register_report_listener
        from malote.sync.handlers import register_handler
        from malote.sync.retention import register_order_keeper
        from malote.sync.schedules import register_job

        for name, job in JOBS.items():
            register_job(name, job)
        register_handler(TICKET_DESTINATION, deliver_ticket)
        # Claims and partial cancels a marketplace reports become issues (channel_reports).
        register_report_listener(record)
        # An active issue's order keeps its messages and events: they are the operator's evidence.
        register_order_keeper("reconcile:active_issues", orders_with_active_issues)
        post_migrate.connect(
            sync_schedules_after_migrate, sender=self, dispatch_uid="malote_reconcile_schedules"
        )
        # However a channel is saved (admin, back office, demo, ``malote up``), its schedules follow.
        post_save.connect(
            sync_schedules_after_channel_saved, sender=Channel, dispatch_uid="malote_reconcile_channel_saved"
        )
