"""The back office's "Integrações" inbox: active integration issues grouped by kind and channel,
with what each side showed, the recommended action and one-click actions (POST + CSRF); bulk
actions only where they are safe to repeat (``push_again``, ``reintegrate`` — which re-checks the
order and the payment first — and ``dismiss`` with one reason for all).

Viewing needs ``orders.view_order``; acting ``orders.change_order_status``.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from malote.backoffice.access import backoffice_view
from malote.core.actors import Actor
from malote.core.errors import MaloteError
from malote.reconcile import repair, selectors
from malote.reconcile.errors import ReconcileErrorCode
from malote.reconcile.models import IssueAction, IssueEvent, IssueKind, IssueState

VIEW = "orders.view_order"
ACT = "orders.change_order_status"
BULK_SAFE = (IssueAction.PUSH_AGAIN, IssueAction.REINTEGRATE, IssueAction.DISMISS)
# Actions offered per kind (the recommended one first in the page).
ACTIONS_BY_KIND: dict[str, tuple[str, ...]] = {
    IssueKind.NOT_INTEGRATED: (IssueAction.REINTEGRATE, IssueAction.OPEN_TICKET, IssueAction.IMPORT,
                               IssueAction.CANCEL, IssueAction.DISMISS),
    IssueKind.DIVERGENT: (IssueAction.PUSH_AGAIN, IssueAction.ACCEPT, IssueAction.DISMISS),
    IssueKind.STUCK: (IssueAction.DISMISS,),
    IssueKind.UNPAID: (IssueAction.CANCEL, IssueAction.DISMISS),
}  # fmt: skip
ACTION_LABELS = dict(IssueAction.choices)
# Outcomes of ``repair.act`` that mean the action did not happen: shown in red, in words.
FAILED_OUTCOMES = {
    ReconcileErrorCode.IMPORT_FAILED,
    ReconcileErrorCode.NEEDS_PERSON,
    ReconcileErrorCode.GATEWAY_UNREACHABLE,
    ReconcileErrorCode.CHANNEL_UNREACHABLE,
    ReconcileErrorCode.UNREACHABLE,
    ReconcileErrorCode.ERP_DOES_NOT_WANT,
    ReconcileErrorCode.PAYMENT_NOT_CONFIRMED,
}


def failure_text(outcome: str, why: str = "") -> str:
    """An action that did not happen, in words (pt-BR), with the reason the issue's history gives."""
    texts = {
        ReconcileErrorCode.IMPORT_FAILED: _("A importação do pedido falhou."),
        ReconcileErrorCode.NEEDS_PERSON: _(
            "Não foi possível fazer isso automaticamente: é preciso uma pessoa."
        ),
        ReconcileErrorCode.GATEWAY_UNREACHABLE: _("O gateway de pagamento não respondeu; nada foi feito."),
        ReconcileErrorCode.CHANNEL_UNREACHABLE: _("O canal não respondeu; nada foi feito."),
        ReconcileErrorCode.UNREACHABLE: _("Um sistema não respondeu; nada foi feito."),
        ReconcileErrorCode.ERP_DOES_NOT_WANT: _("O pedido não foi reenviado: o ERP não recebe este status."),
        ReconcileErrorCode.PAYMENT_NOT_CONFIRMED: _("O pedido não foi reenviado: pagamento não confirmado."),
    }
    text = str(texts.get(ReconcileErrorCode(outcome), _("A ação falhou.")))
    if why:
        text = _("%(text)s Motivo: %(why)s") % {"text": text, "why": why}
    return f"{text} ({outcome})"


def _last_reason(issue_id: int) -> str:
    event = (
        IssueEvent.objects.filter(issue_id=issue_id).order_by("-id").values_list("note", flat=True).first()
    )
    return (event or "")[:300]


def _actions_for(issue: Any) -> list[dict[str, str]]:
    offered = list(ACTIONS_BY_KIND.get(issue.kind, (IssueAction.DISMISS,)))
    if issue.order_id is None:
        offered = [a for a in offered if a in (IssueAction.IMPORT, IssueAction.DISMISS)]
    elif IssueAction.IMPORT in offered:
        offered.remove(IssueAction.IMPORT)
    if issue.recommended_action in offered:
        offered.remove(issue.recommended_action)
        offered.insert(0, issue.recommended_action)
    return [{"code": a, "label": str(ACTION_LABELS[a])} for a in offered]


@backoffice_view(VIEW)
def inbox(request: HttpRequest) -> HttpResponse:
    kind = request.GET.get("kind") or None
    channel = request.GET.get("channel") or None
    state = request.GET.get("state") or "active"
    if kind not in (None, *IssueKind.values):
        kind = None
    if state not in ("active", *IssueState.values):
        state = "active"
    issues = list(selectors.filtered(kind=kind, state=state, channel=channel)[:500])
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for issue in issues:
        key = (issue.kind, issue.channel.code)
        group = groups.setdefault(
            key,
            {
                "kind": issue.kind,
                "kind_label": issue.get_kind_display(),
                "channel": issue.channel,
                "issues": [],
            },
        )
        group["issues"].append({"issue": issue, "actions": _actions_for(issue)})
    context = {
        "groups": list(groups.values()),
        "counts": selectors.counts_by_kind(),
        "kinds": IssueKind.choices,
        "states": [("active", _("Ativos")), *IssueState.choices],
        "selected": {"kind": kind or "", "channel": channel or "", "state": state},
        "can_act": request.user.has_perm(ACT),
        "bulk_actions": [{"code": a, "label": str(ACTION_LABELS[a])} for a in BULK_SAFE],
        "total": len(issues),
    }
    return render(request, "reconcile/inbox.html", context)


@backoffice_view(VIEW)
def issue_detail(request: HttpRequest, issue_id: int) -> HttpResponse:
    issue = selectors.issues().filter(pk=issue_id).first()
    if issue is None:
        raise Http404(_("Problema de integração não encontrado."))
    context = {
        "issue": issue,
        "history": list(issue.history.all()),
        "actions": _actions_for(issue) if issue.is_active else [],
        "can_act": request.user.has_perm(ACT),
    }
    return render(request, "reconcile/issue_detail.html", context)


def _back(request: HttpRequest) -> HttpResponseRedirect:
    target = request.POST.get("next") or ""
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("reconcile:inbox")
    return HttpResponseRedirect(target or reverse("reconcile:inbox"))


@require_POST
@backoffice_view(ACT)
def issue_act(request: HttpRequest, issue_id: int) -> HttpResponse:
    action = request.POST.get("action", "")
    try:
        result = repair.act(
            issue_id, action, actor=Actor.user(request.user), reason=request.POST.get("reason", "")
        )
    except MaloteError as exc:
        messages.error(request, f"{exc.detail} ({exc.code})")
    else:
        if result in FAILED_OUTCOMES:
            messages.error(request, failure_text(result, _last_reason(issue_id)))
        else:
            messages.success(request, _("Feito: %(result)s.") % {"result": result})
    return _back(request)


@require_POST
@backoffice_view(ACT)
def bulk_act(request: HttpRequest) -> HttpResponse:
    action = request.POST.get("action", "")
    if action not in BULK_SAFE:
        messages.error(request, _("Esta ação não pode ser feita em lote."))
        return _back(request)
    ids = [int(value) for value in request.POST.getlist("issue") if value.isdigit()][:500]
    results: Counter[str] = Counter()
    for issue_id in ids:
        try:
            results[
                repair.act(
                    issue_id, action, actor=Actor.user(request.user), reason=request.POST.get("reason", "")
                )
            ] += 1
        except MaloteError as exc:
            results[exc.code] += 1
    summary = ", ".join(f"{key}: {value}" for key, value in sorted(results.items())) or _("nada selecionado")
    messages.info(request, _("Ação em lote: %(summary)s.") % {"summary": summary})
    return _back(request)
