"""Returns (devoluções) from the order page: open one, run the return table's actions, attach the
return NF-e. Each runs the same command as the API (``malote.returns.actions``) with the logged-in
user as the actor; the form comes back with every error next to its field, else the order page
shows what happened (docs/returns.md)."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from malote.backoffice import return_forms
from malote.backoffice.access import backoffice_view
from malote.backoffice.transition_forms import TransitionForm
from malote.core.actors import Actor
from malote.core.errors import MaloteError
from malote.orders.models import Order
from malote.returns import actions
from malote.returns.lifecycle import RETURN_TRANSITIONS, RUN
from malote.returns.models import Return


def _order_url(order_id: int, return_id: int) -> str:
    """The order page at the return just changed (the section shows its new status)."""
    return reverse("backoffice:order", args=[order_id]) + f"#devolucao-{return_id}"


def _page(
    request: HttpRequest, order: Order, form: TransitionForm, status: int, ret: Return | None = None
) -> HttpResponse:
    context: dict[str, Any] = {
        "order": order,
        "ret": ret,
        "form": form,
        "action": request.path,
        "missing_stock": [],
    }
    return render(request, "backoffice/return_page.html", context, status=status)


def _status_after_error(exc: MaloteError) -> int:
    return 422 if exc.status == 422 else 409


@backoffice_view(RUN)
@require_http_methods(["GET", "POST"])
def open_return(request: HttpRequest, order_id: int) -> HttpResponseBase:
    order = Order.objects.filter(pk=order_id).select_related("channel").first()
    if order is None:
        raise Http404(_("Pedido não encontrado."))
    if request.method != "POST":
        return _page(request, order, return_forms.build_open_form(order), 200)
    form = return_forms.build_open_form(order, request.POST)
    sent = return_forms.open_payload(form, order, request.POST)
    if not form.has_errors:
        try:
            ret = actions.create_return(order.pk, sent, actor=Actor.user(request.user))
        except MaloteError as exc:
            return_forms.attach_error(form, exc, sent)
            return _page(request, order, form, _status_after_error(exc))
        return redirect(_order_url(order.pk, ret.pk))
    return _page(request, order, form, 422)


def _return_or_404(return_id: int) -> Return:
    ret = Return.objects.filter(pk=return_id).select_related("order", "order__channel").first()
    if ret is None:
        raise Http404(_("Devolução não encontrada."))
    return ret


@backoffice_view(RUN)
@require_http_methods(["GET", "POST"])
def return_action(request: HttpRequest, return_id: int, name: str) -> HttpResponseBase:
    ret = _return_or_404(return_id)
    transition = RETURN_TRANSITIONS.get(name)
    if transition is None:
        raise Http404(_("Ação desconhecida."))
    if request.method != "POST":
        form = return_forms.build_transition_form(ret, name)
        if not transition.allowed_from(ret.status):
            form.add_error(
                "", "return_transition_not_allowed", return_forms.text("return_transition_not_allowed")
            )
        return _page(request, ret.order, form, 200, ret)
    form = return_forms.build_transition_form(ret, name, request.POST)
    sent: dict[str, Any] = return_forms.transition_payload(form, ret, request.POST)
    if form.has_errors:
        return _page(request, ret.order, form, 422, ret)
    try:
        result = actions.run_return_transition(ret.pk, name, sent, actor=Actor.user(request.user))
    except MaloteError as exc:
        return_forms.attach_error(form, exc, sent)
        return _page(request, ret.order, form, _status_after_error(exc), ret)
    return redirect(_order_url(ret.order_id, result.ret.pk))


@backoffice_view(RUN)
@require_http_methods(["GET", "POST"])
def return_nfe(request: HttpRequest, return_id: int) -> HttpResponseBase:
    ret = _return_or_404(return_id)
    if request.method != "POST":
        return _page(request, ret.order, return_forms.build_nfe_form(), 200, ret)
    form = return_forms.build_nfe_form(request.POST)
    sent = return_forms.nfe_payload(request.POST)
    try:
        actions.attach_return_nfe(ret.pk, sent, actor=Actor.user(request.user))
    except MaloteError as exc:
        return_forms.attach_error(form, exc, sent)
        return _page(request, ret.order, form, _status_after_error(exc), ret)
    return redirect(_order_url(ret.order_id, ret.pk))
