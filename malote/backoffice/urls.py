from django.urls import include, path

from malote.backoffice import (
    exceptions_views,
    integration_views,
    issues_views,
    process_views,
    return_views,
    views,
)

app_name = "backoffice"

urlpatterns = [
    path("", views.order_list, name="orders"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("orders/export.csv", views.order_export, name="orders-export"),
    path("orders/export.xlsx", views.order_export, {"fmt": "xlsx"}, name="orders-export-xlsx"),
    path("orders/<int:order_id>/", views.order_detail, name="order"),
    path("orders/<int:order_id>/process/<slug:name>/", process_views.process_transition, name="process"),
    path("orders/<int:order_id>/invoice.xml", process_views.invoice_xml, name="invoice-xml"),
    path("orders/<int:order_id>/danfe.pdf", process_views.invoice_danfe, name="invoice-danfe"),
    path("orders/<int:order_id>/invoice/xml/", integration_views.attach_xml, name="attach-xml"),
    path("orders/<int:order_id>/invoice/events/", process_views.invoice_event, name="invoice-event"),
    path("orders/<int:order_id>/returns/new/", return_views.open_return, name="return-open"),
    path("returns/<int:return_id>/nfe/", return_views.return_nfe, name="return-nfe"),
    path("returns/<int:return_id>/<slug:name>/", return_views.return_action, name="return-action"),
    path("links/<int:link_id>/resolve/", integration_views.resolve_link, name="resolve-link"),
    path("outbox/<int:message_id>/retry/", process_views.retry_message, name="outbox-retry"),
    path("pendencias/", issues_views.inbox, name="inbox"),
    path("excecoes/", exceptions_views.inbox, name="exceptions"),  # redirects to the inbox
    path("excecoes/retry/", exceptions_views.bulk_retry, name="exceptions-retry"),
    path("excecoes/resume-stock/", exceptions_views.resume_stock, name="exceptions-resume-stock"),
    path("", include("malote.backoffice.manage_urls")),
]
