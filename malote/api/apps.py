from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "malote.api"
    label = "api"
    verbose_name = "REST API"
