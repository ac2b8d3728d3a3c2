"""Back-office pages of integration issues (the "Integrações" inbox), under ``/backoffice/integracoes/``."""

from django.urls import path

from malote.backoffice import issues_views as views

app_name = "reconcile"

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("acoes/", views.bulk_act, name="bulk-act"),
    path("<int:issue_id>/", views.issue_detail, name="issue"),
    path("<int:issue_id>/acao/", views.issue_act, name="act"),
]
