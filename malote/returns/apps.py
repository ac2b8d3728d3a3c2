from django.apps import AppConfig


class ReturnsConfig(AppConfig):
    """Returns (devoluções) of shipped orders: their own lifecycle table, commands and events."""

    name = "malote.returns"
    label = "returns"
    verbose_name = "Returns"
