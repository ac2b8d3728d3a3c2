from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "malote.ops"
    label = "ops"
    verbose_name = "Operations (health and metrics)"
