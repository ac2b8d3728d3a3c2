from django.apps import AppConfig


class SandboxConfig(AppConfig):
    """Registered only for its ``malote sandbox`` command; the fakes themselves need no Django."""

    name = "malote_dev.sandbox"
    label = "sandbox"
    verbose_name = "Sandbox (fake external systems)"
