from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from malote.api.main import api
from malote.core.views import health
from malote.relay.views import receive_webhook

urlpatterns = [
    path("", RedirectView.as_view(url="/backoffice/", permanent=False)),
    path("i18n/", include("django.conf.urls.i18n")),
    path("backoffice/", include("malote.backoffice.urls")),
    path("backoffice/integracoes/", include("malote.backoffice.issues_urls")),
    path("healthz", health, name="health"),
    path("admin/", admin.site.urls),
    path("api/docs", RedirectView.as_view(url="/api/v1/docs", permanent=False), name="api-docs"),
    path("api/v1/", api.urls),
    path("hooks/<slug:code>", receive_webhook, name="webhook"),
]
