from django.apps import AppConfig


class ChannelsConfig(AppConfig):
    name = "malote.channels"
    label = "channels"
    verbose_name = "Channels"
