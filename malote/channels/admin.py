from django.contrib import admin

from malote.channels.models import Channel


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "role", "kind", "enabled")
    list_filter = ("role", "kind", "enabled")
    search_fields = ("code", "name")
