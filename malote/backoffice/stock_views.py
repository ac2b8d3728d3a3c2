"""Stock pages: SKUs (search, pagination) and a SKU's movements with the adjust form; on both, what
each sales channel was last told (value and time) and a flag where it may show more than Malote's
available stock now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_GET, require_http_methods

from malote.backoffice import manage_actions, manage_selectors
from malote.backoffice.access import backoffice_view
from malote.backoffice.errors import BackofficeErrorCode
from malote.backoffice.manage_forms import StockAdjustForm, StockSearchForm
from malote.channels.models import Channel
from malote.core.errors import MaloteError
from malote.relay.routing import takes_stock
from malote.stock.errors import StockErrorCode
from malote.stock.models import ChannelStock, StockItem

VIEW = "stock.view_stockitem"
CHANGE = "stock.change_stockitem"
PAGE_SIZE = 50
MOVEMENTS_PAGE_SIZE = 50
# The stock commands' messages are English; the page shows these (the code stays visible).
ERROR_MESSAGES: dict[str, Promise] = {
    StockErrorCode.STOCK_BELOW_RESERVED: _lazy(
        "Há unidades reservadas por pedidos em aberto: a quantidade física não pode ficar abaixo delas."
    ),
    StockErrorCode.STOCK_NEGATIVE: _lazy("A quantidade física não pode ser negativa."),
    StockErrorCode.INVALID_REASON: _lazy("Motivo inválido para um ajuste."),
    BackofficeErrorCode.SKU_NOT_FOUND: _lazy("SKU não encontrado."),
}


@dataclass(frozen=True)
class ChannelShows:
    """What a sales channel that takes stock was last told about a SKU, against Malote's now."""

    code: str
    name: str
    pushed: int | None
    pushed_at: datetime | None
    available: int

    @property
    def never_pushed(self) -> bool:
        return self.pushed is None

    @property
    def shows_more(self) -> bool:
        """The channel may sell what Malote does not have: it was told more than is available
        now, or never told anything (it shows its own number)."""
        return self.pushed is None or self.pushed > self.available


def channel_stock(items: list[StockItem]) -> dict[str, list[ChannelShows]]:
    """Per SKU, one entry per enabled channel that takes stock pushes (two queries in all)."""
    channels = [c for c in Channel.objects.filter(enabled=True).order_by("code") if takes_stock(c)]
    if not channels or not items:
        return {}
    pushed = {
        (row.channel_code, row.sku): row
        for row in ChannelStock.objects.filter(
            sku__in=[item.sku for item in items], channel_code__in=[c.code for c in channels]
        )
    }
    shows: dict[str, list[ChannelShows]] = {}
    for item in items:
        available = max(item.available, 0)
        shows[item.sku] = [
            ChannelShows(
                c.code,
                c.name,
                row.available_pushed if row else None,
                row.pushed_at if row else None,
                available,
            )
            for c in channels
            for row in [pushed.get((c.code, item.sku))]
        ]
    return shows


@require_GET
@backoffice_view(VIEW)
def stock_list(request: HttpRequest) -> HttpResponse:
    form = StockSearchForm(request.GET or None)
    query = form.cleaned_data.get("q", "") if form.is_valid() else ""
    page = Paginator(manage_selectors.stock_items(query), PAGE_SIZE).get_page(request.GET.get("page"))
    items = list(page.object_list)
    shows = channel_stock(items)
    rows = [(item, shows.get(item.sku, [])) for item in items]
    context = {"form": form, "page": page, "query": query, "rows": rows}
    if getattr(request, "htmx", False):
        return render(request, "backoffice/stock/_table.html", context)
    return render(request, "backoffice/stock/list.html", context)


@require_http_methods(["GET", "POST"])
@backoffice_view(VIEW)
def stock_detail(request: HttpRequest, sku: str) -> HttpResponse:
    """GET: the SKU and its movements. POST (stock.change_stockitem): adjust its physical count."""
    item = StockItem.objects.filter(sku=sku).first()
    if item is None:
        raise Http404(_("SKU não encontrado."))
    can_adjust = request.user.has_perm(CHANGE)
    form = None
    status = 200
    if request.method == "POST":
        if not can_adjust:
            raise PermissionDenied
        form = StockAdjustForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                manage_actions.adjust_stock(
                    sku,
                    mode=data["mode"],
                    quantity=data["quantity"],
                    reason=data["reason"],
                    note=data["note"],
                    user=request.user,
                )
            except MaloteError as exc:
                detail = ERROR_MESSAGES.get(exc.code, exc.detail)
                form.add_error("quantity" if exc.field == "physical" else None, f"{detail} ({exc.code})")
            else:
                messages.success(request, _("Estoque ajustado."))
                return HttpResponseRedirect(reverse("backoffice:stock-item", args=[sku]))
        status = 422
        item.refresh_from_db()
    movements = Paginator(manage_selectors.movements_of(sku), MOVEMENTS_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    context = {
        "item": item,
        "channels": channel_stock([item]).get(item.sku, []),
        "movements": movements,
        "form": form or (StockAdjustForm() if can_adjust else None),
    }
    return render(request, "backoffice/stock/detail.html", context, status=status)
