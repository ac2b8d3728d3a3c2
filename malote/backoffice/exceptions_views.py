"""The inbox's actions on what is not an integration issue: retry dead letters (selected, or every
dead message of one order's system) and try again to reserve stock for orders waiting in
``out_of_stock``. Both are POSTs and come back to the page they were sent from (``next``).

The old "Exceções" page (``/backoffice/excecoes/``) redirects to the one inbox
(``malote.backoffice.issues_views``) filtered to the kinds it listed.
"""

from __future__ import annotations

import logging

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from malote.backoffice.access import backoffice_view
from malote.backoffice.inbox_items import EXCEPTION_KINDS
from malote.backoffice.issues_views import inbox_url
from malote.channels.models import OrderLink
from malote.core.actors import Actor
from malote.orders import actions
from malote.orders.models import OrderLine
from malote.orders.statuses import OrderStatus
from malote.sync import outbox
from malote.sync.models import MessageState, OutboxMessage

logger = logging.getLogger("malote.backoffice")


def _ids(request: HttpRequest, name: str) -> list[int]:
    return [int(v) for v in request.POST.getlist(name) if v.isdigit()][:1000]


@backoffice_view("orders.view_order")
def inbox(request: HttpRequest) -> HttpResponse:
    """The old "Exceções" page: the one inbox, filtered to what it listed."""
    return redirect(inbox_url(kind=list(EXCEPTION_KINDS)))


def _back(request: HttpRequest) -> HttpResponse:
    target = request.POST.get("next") or ""
    if not target or not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("backoffice:inbox")
    return redirect(target)


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
        messages.error(request, _("Nenhuma mensagem selecionada."))
        return _back(request)
    count = outbox.replay(ids)
    logger.info("%s outbox message(s) replayed by %s", count, request.user.get_username())
    messages.success(request, _("%(count)s mensagem(ns) de volta na fila.") % {"count": count})
    return _back(request)


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
        messages.error(request, _("Nenhum pedido sem estoque selecionado."))
        return _back(request)
    resumed = actions.resume_out_of_stock_orders(skus, actor=Actor.user(request.user))
    if resumed:
        numbers = ", ".join(o.number or str(o.pk) for o in resumed)
        messages.success(request, _("Estoque reservado para: %(numbers)s.") % {"numbers": numbers})
    else:
        messages.error(request, _("Ainda sem estoque para os pedidos selecionados."))
    return _back(request)
