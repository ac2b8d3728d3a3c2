"""Back-office pages: login, the orders list (with HTMX table refresh and billing exports), the order."""

from __future__ import annotations

from typing import Any, cast

from django.contrib.auth import views as auth_views
from django.core.paginator import Page, Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from malote import fiscal
from malote.backoffice import results, selectors, timeline
from malote.backoffice.access import backoffice_view
from malote.backoffice.evidence import ChannelNames
from malote.backoffice.forms import DEFAULT_SORT, OrderFilterForm, ThrottledAuthenticationForm
from malote.backoffice.invoice_panel import invoice_panel
from malote.backoffice.process_views import transitions_context
from malote.core.errors import InvalidInput
from malote.orders import parts
from malote.orders.billing_export import billing_export
from malote.orders.models import Order
from malote.orders.serializers import format_document

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
    statuses = cleaned.get("status") or []
    try:
        qs = selectors.sorted_orders(selectors.orders_for(cleaned), sort)
        counts = selectors.status_counts(cleaned)
        search_more = selectors.search_has_more(cleaned)
    except InvalidInput as exc:
        form.add_error(None, str(exc))
        qs = selectors.sorted_orders(selectors.orders_for({}), sort)
        counts = selectors.status_counts({})
        statuses = []
        search_more = False
    # Page over the ids alone and count from the per-status counts: see ``list_page_orders``.
    paginator = Paginator(qs.values_list("pk", flat=True), PAGE_SIZE)
    shown = selectors.filtered_count(counts, statuses)
    paginator.count = shown["count"]  # beyond the counted orders, the pages stop: filter to reach them
    ids = paginator.get_page(request.GET.get("page"))
    orders = selectors.list_page_orders(list(ids.object_list))
    page: Page[Order] = Page(orders, ids.number, cast("Paginator[Order]", paginator))  # same count and pages
    context = {
        "form": form,
        "page": page,
        "counts": counts,
        "total": selectors.counts_total(counts),
        "shown": shown,
        "search_more": search_more,
        "search_limit": selectors.SEARCH_LIMIT,
        "selected_statuses": set(cleaned.get("status") or []),
        "sort": sort,
    }
    if getattr(request, "htmx", False):
        return render(request, "backoffice/_order_table.html", context)
    return render(request, "backoffice/order_list.html", context)


@backoffice_view("orders.export_order")
def order_export(request: HttpRequest, fmt: str = "csv") -> StreamingHttpResponse:
    """The list's current filter exported for billing (``malote.orders.billing_export``) in the
    user's language: CSV or XLSX (``fmt``, from the URL), one row per order or, with
    ``rows=lines``, per order line."""
    form = _filter_form(request)
    try:
        qs = selectors.orders_for(_cleaned(form), every_match=True)
    except InvalidInput:
        qs = selectors.orders_for({})
    per_line = request.GET.get("rows") == "lines"
    export = billing_export(qs, fmt, language=get_language(), per_line=per_line)
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
    postal_code = str(address.get("postal_code", ""))
    cep = _("CEP %(cep)s") % {"cep": _cep(postal_code)} if postal_code else ""
    lines = [street, str(address.get("district", "")), city, cep]
    return [line for line in lines if line]


def _cep(value: str) -> str:
    """``01001-000`` whatever way the channel sent it; a value that is no CEP is shown unchanged."""
    try:
        return fiscal.format_cep(value)
    except fiscal.FiscalError:
        return value


@backoffice_view()
def order_detail(request: HttpRequest, order_id: int) -> HttpResponse:
    order = selectors.order_page_data(order_id)
    if order is None:
        raise Http404(_("Pedido não encontrado."))
    shipments = [
        {
            "shipment": s,
            "link": s.tracking_url or fiscal.tracking_url(s.carrier, s.tracking_code) or "",
            "items": parts.line_items(s),
        }
        for s in order.shipments.all()
    ]
    names = ChannelNames([order.channel])
    integration = selectors.integration_panel(order, names)
    context = {
        "order": order,
        "lines": list(order.lines.all()),
        "payments": list(order.payments.all()),
        "invoices": [invoice_panel(i) for i in order.invoices.all()],
        "shipments": shipments,
        "units_left": parts.units_left_to_ship(order),
        "events": timeline.entries(order, order.events.all(), names),
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
