"""The exceptions inbox: what needs a person — dead letters, orders out of stock, integration problems.

Every list is bounded (the newest ``LIMIT`` rows, with the total count) and read in a fixed number
of queries. Actions are POSTs: retry selected dead letters (bulk), retry one system's messages of
one order, and try again to reserve stock for orders waiting in ``out_of_stock``.
"""

from __future__ import annotations

import logging

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from malote.backoffice.access import backoffice_view
from malote.backoffice.selectors import PROBLEM_LINK_STATES
from malote.channels.models import OrderLink
from malote.core.actors import Actor
from malote.orders import actions
from malote.orders.models import Order, OrderLine
from malote.orders.statuses import OrderStatus
from malote.sync import outbox
from malote.sync.models import MessageState, OutboxMessage

LIMIT = 200
logger = logging.getLogger("malote.backoffice")


def _ids(request: HttpRequest, name: str) -> list[int]:
    return [int(v) for v in request.POST.getlist(name) if v.isdigit()][:1000]


@backoffice_view("sync.view_outboxmessage")
def inbox(request: HttpRequest) -> HttpResponse:
    dead = OutboxMessage.objects.filter(state=MessageState.DEAD)
    waiting = Order.objects.filter(status=OrderStatus.OUT_OF_STOCK).select_related("channel")
    problems = OrderLink.objects.filter(state__in=PROBLEM_LINK_STATES).select_related("order", "channel")
    waiting_rows = list(waiting.order_by("placed_at", "id")[:LIMIT])
    skus: dict[int, list[str]] = {}
    for order_id, sku in OrderLine.objects.filter(order__in=[o.pk for o in waiting_rows]).values_list(
        "order_id", "sku"
    ):
        skus.setdefault(order_id, []).append(sku)
    context = {
        "dead": list(dead.select_related("order").order_by("-id")[:LIMIT]),
        "dead_count": dead.count(),
        "waiting": [{"order": o, "skus": skus.get(o.pk, [])} for o in waiting_rows],
        "waiting_count": waiting.count(),
        "problems": list(problems.order_by("-last_synced_at", "-id")[:LIMIT]),
        "problems_count": problems.count(),
        "can_retry": request.user.has_perm("sync.change_outboxmessage"),
        "can_process": request.user.has_perm("orders.change_order_status"),
    }
    return render(request, "backoffice/exceptions.html", context)


@backoffice_view("sync.change_outboxmessage")
@require_POST
def bulk_retry(request: HttpRequest) -> HttpResponse:
    """Retry the selected dead letters, or every dead message of one order's system (``link``)."""
    ids = _ids(request, "message")
    link_ids = _ids(request, "link")
    if link_ids:
        links = OrderLink.objects.filter(pk__in=link_ids).values_list("order_id", "channel__code")
        for order_id, code in links:
            ids += list(
                OutboxMessage.objects.filter(
                    order_id=order_id, destination=f"channel:{code}", state=MessageState.DEAD
                ).values_list("id", flat=True)
            )
    if not ids:
        messages.error(request, _("Nenhuma mensagem selecionada (nothing_selected)."))
        return redirect(reverse("backoffice:exceptions"))
    count = outbox.replay(ids)
    logger.info("%s outbox message(s) replayed by %s", count, request.user.get_username())
    messages.success(request, _("%(count)s mensagem(ns) de volta na fila.") % {"count": count})
    return redirect(reverse("backoffice:exceptions"))


@backoffice_view("orders.change_order_status")
@require_POST
def resume_stock(request: HttpRequest) -> HttpResponse:
    """Try again to reserve the SKUs of the selected ``out_of_stock`` orders.

    Orders waiting for those SKUs are served oldest first, selected or not: an older order never
    loses its turn to a newer one the operator happened to pick.
    """
    order_ids = _ids(request, "order")
    if not request.user.has_perm("orders.change_order_status"):
        raise PermissionDenied
    skus = sorted(
        set(
            OrderLine.objects.filter(
                order_id__in=order_ids, order__status=OrderStatus.OUT_OF_STOCK
            ).values_list("sku", flat=True)
        )
    )
    if not skus:
        messages.error(request, _("Nenhum pedido sem estoque selecionado (nothing_selected)."))
        return redirect(reverse("backoffice:exceptions"))
    resumed = actions.resume_out_of_stock_orders(skus, actor=Actor.user(request.user))
    if resumed:
        numbers = ", ".join(o.number or str(o.pk) for o in resumed)
        messages.success(request, _("Estoque reservado para: %(numbers)s.") % {"numbers": numbers})
    else:
        messages.error(request, _("Ainda sem estoque para os pedidos selecionados (still_out_of_stock)."))
    return redirect(reverse("backoffice:exceptions"))
