"""Back-office pages beyond orders: channels, stock, dashboard, users and tokens."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
