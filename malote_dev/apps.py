from django.apps import AppConfig


class MaloteDevConfig(AppConfig):
    """Registered by :mod:`malote_dev.settings` only, for the ``sandbox``, ``demo``, ``up`` and
    ``bench`` commands; it has no models."""

    name = "malote_dev"
    label = "malote_dev"
    verbose_name = "Malote workshop (sandbox, demo, benchmarks)"
