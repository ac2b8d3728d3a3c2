from django.apps import AppConfig


class ConnectorsConfig(AppConfig):
    name = "malote.connectors"
    label = "connectors"
    verbose_name = "Connectors"

    def ready(self) -> None:
        # Importing the providers registers them (see registry.register).
        from malote.connectors import providers  # noqa: F401
