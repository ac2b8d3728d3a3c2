from django.apps import AppConfig


class ReconcileConfig(AppConfig):
    name = "malote.reconcile"
    label = "reconcile"
    verbose_name = "Reconciliation"
