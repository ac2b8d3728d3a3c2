from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "malote.core"
    label = "core"
    verbose_name = "Malote core"
