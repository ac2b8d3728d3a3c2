from django.apps import AppConfig


class BackofficeConfig(AppConfig):
    name = "malote.backoffice"
    label = "backoffice"
    verbose_name = "Back office"
