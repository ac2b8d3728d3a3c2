"""Back-office pages of integration issues (the "Integrações" inbox), under ``/backoffice/integracoes/``."""

from django.urls import URLPattern

app_name = "reconcile"

urlpatterns: list[URLPattern] = []
