from django.apps import AppConfig


class ChannelsConfig(AppConfig):
    """Connected systems as data: ``Channel``, ``OrderLink``, policies and status maps."""

    name = "malote.channels"
    label = "channels"
    verbose_name = "Channels"
