"""Processing an order from its page: transition forms, the invoice's XML and DANFE, outbox retries.

A transition runs through ``orders.actions.run_transition`` with the logged-in user as the actor,
exactly as the API does; what happened (new status, the customer's e-mail, stock released) is
kept in the session for one display on the order page, so a reload never repeats it.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from malote.backoffice import form_messages, results
from malote.backoffice.access import backoffice_view
from malote.backoffice.stock_missing import missing_stock
from malote.backoffice.transition_forms import (
    COMMANDS,
    SHIP_PART,
    attach_error,
    build_form,
    build_invoice_event_form,
    clean,
    clean_invoice_event,
    payload,
)
from malote.core.actors import Actor
from malote.core.errors import MaloteError
from malote.orders import actions, parts
from malote.orders.errors import OrdersErrorCode
from malote.orders.invoice_events import record_invoice_event
from malote.orders.lifecycle import TRANSITIONS, Transition
from malote.orders.models import Invoice, InvoiceEvent, InvoiceEventType, Order
from malote.orders.shipments import ship_part
from malote.sync import outbox
from malote.sync.models import OutboxMessage

logger = logging.getLogger("malote.backoffice")


def _order_url(order_id: int, anchor: str = "") -> str:
    return reverse("backoffice:order", args=[order_id]) + (f"#{anchor}" if anchor else "")


def _done(request: HttpRequest, url: str) -> HttpResponse:
    """Redirect after a POST; HTMX requests get ``HX-Redirect`` so the whole page reloads.

    The HTMX target drops the ``#fragment``: a URL that differs from the current page only by its
    fragment would merely scroll, and the page must load again to show the new state.
    """
    if getattr(request, "htmx", False):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url.split("#", 1)[0]
        return response
    return redirect(url)


@backoffice_view()
@require_http_methods(["GET", "POST"])
def process_transition(request: HttpRequest, order_id: int, name: str) -> HttpResponseBase:
    if name in COMMANDS:
        return _process_command(request, order_id, COMMANDS[name])
    transition = TRANSITIONS.get(name)
    if transition is None:
        raise Http404(_("Ação desconhecida."))
    if not request.user.has_perm(transition.permission):
        raise PermissionDenied
    order = Order.objects.filter(pk=order_id).select_related("channel").first()
    if order is None:
        raise Http404(_("Pedido não encontrado."))
    status = 200
    if request.method == "POST":
        # Every error of the submit at once: the form is checked whole before the command runs.
        form = build_form(transition, order, request.POST)
        sent = payload(clean(form, order))
        if form.has_errors:
            status = 422
        else:
            before = results.snapshot_before(order)
            try:
                result = actions.run_transition(
                    order.pk, transition.name, sent, actor=Actor.user(request.user)
                )
            except MaloteError as exc:
                attach_error(form, exc, order, sent)
                status = 422 if exc.status == 422 else 409
            else:
                results.remember(request, result.order, transition, before, applied=result.applied)
                return _done(request, _order_url(order.pk, "resultado"))
    else:
        form = build_form(transition, order)
        blocked = transition.blocking_reason(order)
        if blocked:
            form.errors.append({"code": OrdersErrorCode.TRANSITION_NOT_ALLOWED, "detail": blocked})
    context = {"order": order, "form": form, "action": request.path, "missing_stock": missing_stock(order)}
    template = "backoffice/_transition_form.html" if getattr(request, "htmx", False) else None
    return render(request, template or "backoffice/transition_page.html", context, status=status)


def _ship_part_blocked(order: Order) -> str:
    """Why no further part can leave now ("" : it can)."""
    blocked = SHIP_PART.blocking_reason(order)
    if blocked:
        return blocked
    if not parts.units_left_to_ship(order):
        return _("Todas as unidades do pedido já foram enviadas.")
    return ""


def _process_command(request: HttpRequest, order_id: int, command: Transition) -> HttpResponseBase:
    """A command that changes no status, from the processing page: a further part of the shipment
    (``orders.shipments.ship_part``), with the logged-in user as the actor."""
    if not request.user.has_perm(command.permission):
        raise PermissionDenied
    order = Order.objects.filter(pk=order_id).select_related("channel").first()
    if order is None:
        raise Http404(_("Pedido não encontrado."))
    status = 200
    if request.method == "POST":
        form = build_form(command, order, request.POST)
        sent = payload(clean(form, order))
        if form.has_errors:
            status = 422
        else:
            try:
                result = ship_part(order.pk, sent, actor=Actor.user(request.user))
            except MaloteError as exc:
                attach_error(form, exc, order, sent)
                status = 422 if exc.status == 422 else 409
            else:
                if result.applied:
                    text = _("Parte enviada (rastreio %(tracking)s).") % {
                        "tracking": result.shipment.tracking_code
                    }
                else:
                    text = _("Esta parte já estava registrada; nada mudou.")
                messages.success(request, text)
                return _done(request, _order_url(order.pk, "envios"))
    else:
        form = build_form(command, order)
        blocked = _ship_part_blocked(order)
        if blocked:
            form.errors.append({"code": OrdersErrorCode.SHIPMENT_PART_NOT_ALLOWED, "detail": blocked})
    context = {"order": order, "form": form, "action": request.path, "missing_stock": []}
    template = "backoffice/_transition_form.html" if getattr(request, "htmx", False) else None
    return render(request, template or "backoffice/transition_page.html", context, status=status)


@backoffice_view("orders.change_order_status")
@require_http_methods(["GET", "POST"])
def invoice_event(request: HttpRequest, order_id: int) -> HttpResponseBase:
    """Record the cancellation or a carta de correção SEFAZ registered on the order's latest NF-e,
    through ``record_invoice_event`` with the logged-in user as the actor (as the API does)."""
    order = Order.objects.filter(pk=order_id).select_related("channel").first()
    if order is None:
        raise Http404(_("Pedido não encontrado."))
    invoice = _invoice(order_id)
    status = 200
    if request.method == "POST":
        form = build_invoice_event_form(request.POST)
        sent = clean_invoice_event(form, invoice)
        if form.has_errors:
            status = 422
        else:
            try:
                result = record_invoice_event(order.pk, sent, actor=Actor.user(request.user))
            except MaloteError as exc:
                attach_error(form, exc, order, sent)
                status = 422 if exc.status == 422 else 409
            else:
                messages.success(request, _recorded_text(result.event, applied=result.applied))
                return _done(request, _order_url(order.pk, "nota-fiscal"))
    else:
        form = build_invoice_event_form()
    context = {"order": order, "form": form, "action": request.path, "missing_stock": []}
    template = "backoffice/_transition_form.html" if getattr(request, "htmx", False) else None
    return render(request, template or "backoffice/transition_page.html", context, status=status)


def _recorded_text(event: InvoiceEvent, *, applied: bool) -> str:
    if not applied:
        return _("Este evento já estava registrado; nada foi reenviado.")
    if event.type == InvoiceEventType.CANCELLATION:
        return _("Cancelamento da NF-e registrado.")
    return _("Carta de correção nº %(sequence)s registrada.") % {"sequence": event.sequence}


def _invoice(order_id: int) -> Invoice:
    invoice = Invoice.objects.filter(order_id=order_id).order_by("-id").first()
    if invoice is None:
        raise Http404(_("Este pedido não tem nota fiscal."))
    return invoice


@backoffice_view()
def invoice_xml(request: HttpRequest, order_id: int) -> HttpResponse:
    invoice = _invoice(order_id)
    if not invoice.xml:
        raise Http404(_("A nota fiscal deste pedido não tem XML."))
    response = HttpResponse(invoice.xml.encode("utf-8"), content_type="application/xml; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="NFe{invoice.key}.xml"'
    return response


def render_danfe(xml: str) -> bytes:
    """The DANFE PDF of an authorized NF-e XML (``brazilfiscalreport``, layout by issue date)."""
    from brazilfiscalreport.danfe import Danfe

    with warnings.catch_warnings():
        # fpdf2 warns about fonts and deprecated arguments; none changes the document.
        warnings.simplefilter("ignore")
        document = Danfe(xml=xml)
        return bytes(document.output())


@backoffice_view()
def invoice_danfe(request: HttpRequest, order_id: int) -> HttpResponse:
    invoice = _invoice(order_id)
    if not invoice.xml:
        raise Http404(_("Sem o XML da NF-e não há DANFE."))
    try:
        pdf = render_danfe(invoice.xml)
    except Exception as exc:  # a third-party renderer on an ERP's XML: any failure is the XML's
        logger.warning("DANFE failed for invoice %s: %s", invoice.pk, exc)
        message = _("Não foi possível gerar o DANFE a partir deste XML (danfe_unavailable): %(error)s")
        return HttpResponse(message % {"error": exc}, status=422, content_type="text/plain; charset=utf-8")
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="DANFE-{invoice.key}.pdf"'
    return response


@backoffice_view("sync.change_outboxmessage")
@require_POST
def retry_message(request: HttpRequest, message_id: int) -> HttpResponse:
    message = OutboxMessage.objects.filter(pk=message_id).only("id", "order_id").first()
    if message is None:
        raise Http404(_("Mensagem não encontrada."))
    try:
        outbox.retry_now(message.pk)
    except MaloteError as exc:
        messages.error(request, f"{form_messages.action_text(exc.code)} ({exc.code})")
    else:
        logger.info("outbox message %s retried by %s", message.pk, request.user.get_username())
        messages.success(request, _("Mensagem %(id)s colocada de volta na fila.") % {"id": message.pk})
    back = request.POST.get("next", "")
    if back.startswith("/backoffice/"):
        return _done(request, back)
    return _done(request, _order_url(message.order_id, "integracao") if message.order_id else "/backoffice/")


def transitions_context(order: Order, user: Any) -> list[dict[str, Any]]:
    """The transitions this user may run on the order now, with their form URLs."""
    found = []
    for transition in TRANSITIONS.values():
        if not user.has_perm(transition.permission) or transition.blocking_reason(order):
            continue
        found.append(
            {
                "name": transition.name,
                "label": str(transition.label),
                "target": transition.target or "",
                "url": reverse("backoffice:process", args=[order.pk, transition.name]),
                "danger": transition.name == "cancel",
            }
        )
    if (
        user.has_perm(SHIP_PART.permission)
        and order.status in SHIP_PART.sources
        and not _ship_part_blocked(order)
    ):
        found.append(
            {
                "name": SHIP_PART.name,
                "label": str(SHIP_PART.label),
                "target": "",
                "url": reverse("backoffice:process", args=[order.pk, SHIP_PART.name]),
                "danger": False,
            }
        )
    return found
