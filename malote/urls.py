from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from malote.api.main import api
from malote.backoffice.forms import ThrottledAdminAuthenticationForm
from malote.ops import views as ops
from malote.relay.views import receive_webhook

# The admin's login refuses locked-out attempts with the same message as the back office's (the
# django-axes backend behind both does the counting and the refusing).
admin.site.login_form = ThrottledAdminAuthenticationForm

urlpatterns = [
    path("", RedirectView.as_view(url="/backoffice/", permanent=False)),
    path("i18n/", include("django.conf.urls.i18n")),
    path("backoffice/", include("malote.backoffice.urls")),
    path("backoffice/integracoes/", include("malote.backoffice.issues_urls")),
    path("healthz", ops.healthz, name="health"),
    path("readyz", ops.readyz, name="ready"),
    path("metrics", ops.metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/docs", RedirectView.as_view(url="/api/v1/docs", permanent=False), name="api-docs"),
    path("api/v1/", api.urls),
    path("hooks/<slug:code>", receive_webhook, name="webhook"),
]
