"""Back-office pages of integration issues, under ``/backoffice/integracoes/``: each issue's page and
its actions. The old "Integrações" list redirects to the one inbox (``backoffice:inbox``)."""

from django.urls import path

from malote.backoffice import issues_views as views

app_name = "reconcile"

urlpatterns = [
    path("", views.old_integrations_inbox, name="inbox"),
    path("acoes/", views.bulk_act, name="bulk-act"),
    path("<int:issue_id>/", views.issue_detail, name="issue"),
    path("<int:issue_id>/acao/", views.issue_act, name="act"),
]
