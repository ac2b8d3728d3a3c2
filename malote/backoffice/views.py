"""Back-office pages: login, the orders list (with HTMX table refresh and CSV export), the order."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import views as auth_views
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from malote import fiscal
from malote.backoffice import results, selectors
from malote.backoffice.access import backoffice_view
from malote.backoffice.forms import DEFAULT_SORT, OrderFilterForm, ThrottledAuthenticationForm
from malote.backoffice.process_views import transitions_context
from malote.core.errors import InvalidInput
from malote.orders.export import export_orders
from malote.orders.serializers import format_document, invoice_dict
from malote.orders.statuses import OrderStatus

PAGE_SIZE = 50


class LoginView(auth_views.LoginView):
    template_name = "backoffice/login.html"
    authentication_form = ThrottledAuthenticationForm
    redirect_authenticated_user = True
    next_page = "backoffice:orders"


class LogoutView(auth_views.LogoutView):
    next_page = "backoffice:login"


def _filter_form(request: HttpRequest) -> OrderFilterForm:
    form = OrderFilterForm(request.GET or None, channels=selectors.channel_choices())
    if form.is_bound:
        form.is_valid()
    return form


def _cleaned(form: OrderFilterForm) -> dict[str, Any]:
    """The valid part of the filter (an invalid field is ignored, and shown as an error)."""
    if not form.is_bound:
        return {}
    return {name: value for name, value in form.cleaned_data.items() if name not in form.errors}


@backoffice_view()
def order_list(request: HttpRequest) -> HttpResponse:
    form = _filter_form(request)
    cleaned = _cleaned(form)
    sort = cleaned.get("sort") or DEFAULT_SORT
    try:
        qs = selectors.with_problem_flag(selectors.sorted_orders(selectors.orders_for(cleaned), sort))
        counts = selectors.status_counts(cleaned)
    except InvalidInput as exc:
        form.add_error(None, str(exc))
        qs = selectors.sorted_orders(selectors.orders_for({}), sort)
        counts = selectors.status_counts({})
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "form": form,
        "page": page,
        "counts": counts,
        "total_count": sum(c["count"] for c in counts),
        "selected_statuses": set(cleaned.get("status") or []),
        "sort": sort,
    }
    if getattr(request, "htmx", False):
        return render(request, "backoffice/_order_table.html", context)
    return render(request, "backoffice/order_list.html", context)


@backoffice_view("orders.export_order")
def order_export(request: HttpRequest) -> StreamingHttpResponse:
    form = _filter_form(request)
    try:
        qs = selectors.orders_for(_cleaned(form))
    except InvalidInput:
        qs = selectors.orders_for({})
    export = export_orders(qs, "csv")
    response = StreamingHttpResponse(export.chunks, content_type=export.content_type)
    response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    return response


def _address_lines(address: dict[str, Any]) -> list[str]:
    if not address:
        return []
    street = ", ".join(str(address[k]) for k in ("street", "number") if address.get(k))
    if address.get("complement"):
        street = f"{street} — {address['complement']}"
    city = " / ".join(str(address[k]) for k in ("city", "state") if address.get(k))
    lines = [street, str(address.get("district", "")), city, str(address.get("postal_code", ""))]
    return [line for line in lines if line]


def _status_label(code: str) -> str:
    try:
        return str(OrderStatus(code).label)
    except ValueError:
        return code


@backoffice_view()
def order_detail(request: HttpRequest, order_id: int) -> HttpResponse:
    order = selectors.order_page_data(order_id)
    if order is None:
        raise Http404(_("Pedido não encontrado."))
    shipments = [
        {"shipment": s, "link": s.tracking_url or fiscal.tracking_url(s.carrier, s.tracking_code) or ""}
        for s in order.shipments.all()
    ]
    events = [
        {
            "event": e,
            "from_label": _status_label(e.from_status) if e.from_status else "",
            "to_label": _status_label(e.to_status) if e.to_status else "",
        }
        for e in order.events.all()
    ]
    integration = selectors.integration_panel(order)
    context = {
        "order": order,
        "lines": list(order.lines.all()),
        "payments": list(order.payments.all()),
        "invoices": [invoice_dict(i) for i in order.invoices.all()],
        "shipments": shipments,
        "events": events,
        "document": format_document(order.customer_document),
        "billing": _address_lines(order.billing_address),
        "shipping": _address_lines(order.shipping_address),
        "transitions": transitions_context(order, request.user),
        "result": results.pop(request, order.pk),
        "integration": integration,
        "has_problem": selectors.panel_has_problem(integration),
        "holds": selectors.hold_notes(order),
        "stock_movements": selectors.order_stock_movements(order),
        "can_retry": request.user.has_perm("sync.change_outboxmessage"),
    }
    return render(request, "backoffice/order_detail.html", context)
