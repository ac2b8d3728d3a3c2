"""Order-page actions of the marketplace rules: attach the NF-e XML an order waits for, and resolve
a divergent link (push Malote's state again, accept the channel's, or dismiss with a reason).

Both go through the command functions (``orders.actions.attach_invoice_xml``,
``relay.divergence.resolve_divergence``) with the logged-in user as the actor; refusals come back
with the same codes as the API. A resolved divergence settles its integration issue in the same
transaction (``reconcile.divergent.settle``), so the inbox reflects it at once.
"""

from __future__ import annotations

import logging

from django.contrib import messages
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from malote.backoffice import form_messages
from malote.backoffice.access import backoffice_view
from malote.channels.models import OrderLink
from malote.core.actors import Actor
from malote.core.errors import MaloteError
from malote.orders import actions
from malote.orders.errors import OrdersErrorCode
from malote.reconcile import divergent
from malote.relay import divergence as channel_actions

logger = logging.getLogger("malote.backoffice")
MAX_XML_BYTES = 1_000_000


def _back(order_id: int, anchor: str) -> HttpResponse:
    return redirect(reverse("backoffice:order", args=[order_id]) + f"#{anchor}")


def _refused(request: HttpRequest, exc: MaloteError) -> None:
    messages.error(request, f"{form_messages.action_text(exc.code)} ({exc.code})")


@backoffice_view("orders.change_order_status")
@require_POST
def attach_xml(request: HttpRequest, order_id: int) -> HttpResponse:
    """The XML comes as an uploaded file (``xml_file``) or pasted text (``xml``)."""
    upload = request.FILES.get("xml_file")
    if upload is not None:
        if upload.size is not None and upload.size > MAX_XML_BYTES:
            messages.error(request, _("O XML passa de 1 MB (xml_too_large)."))
            return _back(order_id, "nota-fiscal")
        raw = upload.read()
        try:
            xml = raw.decode("utf-8")
        except UnicodeDecodeError:
            messages.error(request, _("O arquivo não é um XML em UTF-8 (xml_not_utf8)."))
            return _back(order_id, "nota-fiscal")
    else:
        xml = request.POST.get("xml", "")
    if not xml.strip():
        messages.error(request, _("Envie o XML da NF-e (xml_required)."))
        return _back(order_id, "nota-fiscal")
    try:
        result = actions.attach_invoice_xml(order_id, xml, actor=Actor.user(request.user))
    except MaloteError as exc:
        if exc.code == OrdersErrorCode.ORDER_NOT_FOUND:
            raise Http404(exc.detail) from exc
        _refused(request, exc)
    else:
        if result.applied:
            messages.success(request, _("XML da NF-e anexado; a nota segue para os canais que aguardavam."))
        else:
            messages.success(request, _("Este XML já estava anexado; nada foi reenviado."))
    return _back(order_id, "nota-fiscal")


@backoffice_view("orders.change_order_status")
@require_POST
def resolve_link(request: HttpRequest, link_id: int) -> HttpResponse:
    link = OrderLink.objects.filter(pk=link_id).only("id", "order_id").first()
    if link is None:
        raise Http404(_("Vínculo não encontrado."))
    action = request.POST.get("action", "")
    reason = request.POST.get("reason", "").strip()[:2000]
    if action == "dismiss" and not reason:
        messages.error(request, _("Informe o motivo para descartar a divergência (reason_required)."))
        return _back(link.order_id, "integracao")
    actor = Actor.user(request.user)
    try:
        with transaction.atomic():
            resolved = channel_actions.resolve_divergence(link.pk, action, actor=actor, reason=reason)
            # The issue follows at once: the inbox stops recommending what was just decided.
            divergent.settle(link.order_id, resolved.channel, action, actor=actor, reason=reason)
    except MaloteError as exc:
        _refused(request, exc)
    else:
        logger.info("divergence on link %s resolved (%s) by %s", link.pk, action, request.user.get_username())
        messages.success(request, _("Divergência resolvida."))
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return _back(link.order_id, "integracao")
