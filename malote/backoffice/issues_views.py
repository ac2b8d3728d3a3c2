"""The back office's one inbox ("Pendências", ``/backoffice/pendencias/``): everything that needs a
person — integration issues of every kind, dead letters, orders out of stock, NF-e holds and order
links in error — grouped by kind and channel, with what each side shows, the recommended action
first and one-click actions (POST + CSRF). Bulk actions only where they are safe to repeat
(``push_again``, ``reintegrate`` — which re-checks the order and the payment first — and
``dismiss`` with one reason for all). The old "Exceções" and "Integrações" pages redirect here
with the equivalent filter. See ``malote.backoffice.inbox_items`` for the items.

Viewing needs ``orders.view_order`` (dead letters also ``sync.view_outboxmessage``); acting on
issues ``orders.change_order_status``.
"""

from __future__ import annotations

from collections import Counter
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from malote.backoffice import evidence as ev
from malote.backoffice import form_messages, inbox_items, timeline
from malote.backoffice.access import backoffice_view
from malote.backoffice.inbox_items import BULK_SAFE, ISSUE_KINDS, STATES, failure_text
from malote.channels.models import Channel
from malote.core.actors import Actor
from malote.core.errors import MaloteError
from malote.reconcile import repair, selectors
from malote.reconcile.models import IssueEvent

VIEW = "orders.view_order"
ACT = "orders.change_order_status"
# Outcomes of ``repair.act`` that mean the action did not happen: shown in red, in words.
FAILED_OUTCOMES = frozenset(
    {
        *ev.FAILED_STEPS,
        "needs_person",
        "gateway_unreachable",
        "channel_unreachable",
        "unreachable",
    }
)


def _last_reason(issue_id: int) -> str:
    event = (
        IssueEvent.objects.filter(issue_id=issue_id).order_by("-id").values_list("note", flat=True).first()
    )
    return (event or "")[:300]


def _channel(value: str) -> Channel | None:
    """The channel a filter names — by its name as people see it ("Tiny ERP", any case) or its code."""
    value = value.strip()
    if not value:
        return None
    return Channel.objects.filter(Q(name__iexact=value) | Q(code=value)).order_by("id").first()


def inbox_url(**query: Any) -> str:
    """The inbox with a filter (``kind`` may be a list)."""
    pairs = [
        (key, v)
        for key, value in query.items()
        for v in (value if isinstance(value, list | tuple) else [value])
        if v
    ]
    return reverse("backoffice:inbox") + (f"?{urlencode(pairs)}" if pairs else "")


@backoffice_view(VIEW)
def inbox(request: HttpRequest) -> HttpResponse:
    known = dict(inbox_items.kind_choices())
    kinds = [k for k in request.GET.getlist("kind") if k in known]
    state = request.GET.get("state") or "active"
    if state not in dict(STATES):
        state = "active"
    typed = request.GET.get("channel", "")
    channel = _channel(typed)
    channels = list(Channel.objects.order_by("name"))
    names = ev.ChannelNames(channels)
    user = request.user
    if typed.strip() and channel is None:
        items: list[dict[str, Any]] = []
    else:
        items = inbox_items.collect(
            kinds=kinds,
            state=state,
            channel=channel,
            names=names,
            can_see_messages=user.has_perm("sync.view_outboxmessage"),
            can_act=user.has_perm(ACT),
            can_process=user.has_perm(ACT),
            can_retry=user.has_perm("sync.change_outboxmessage"),
        )
    counts = Counter(item["kind"] for item in items)
    context = {
        "groups": inbox_items.grouped(items),
        "kinds": [
            {"code": code, "label": label, "count": counts.get(code, 0)} for code, label in known.items()
        ],
        "states": [(code, str(label)) for code, label in STATES],
        "channels": channels,
        "selected": {
            "kinds": kinds,
            "kind": kinds[0] if len(kinds) == 1 else "",
            "channel": channel.code if channel else "",
            "channel_typed": typed,
            "state": state,
        },
        "total": len(items),
    }
    return render(request, "reconcile/inbox.html", context)


@backoffice_view(VIEW)
def old_integrations_inbox(request: HttpRequest) -> HttpResponse:
    """``/backoffice/integracoes/`` (the "Integrações" page): the inbox, issues only, same filter."""
    kind = request.GET.get("kind", "")
    return HttpResponseRedirect(
        inbox_url(
            kind=[kind] if kind in ISSUE_KINDS else list(ISSUE_KINDS),
            channel=request.GET.get("channel", ""),
            state=request.GET.get("state", ""),
        )
    )


def _history_note(issue: Any, event: IssueEvent, names: ev.ChannelNames) -> str:
    """A history note in the user's language where its text is known: the finding (the issue's own
    text), the help-desk group, or a fixed sentence of the catalog; else as stored."""
    if event.action == "opened" and event.note == issue.detail:
        return ev.issue_text(issue, names)
    group = (event.data or {}).get("group")
    if event.action == "open_ticket" and group:
        return _("Chamado solicitado ao grupo %(group)s.") % {"group": group}
    return _(event.note) if event.note else ""


@backoffice_view(VIEW)
def issue_detail(request: HttpRequest, issue_id: int) -> HttpResponse:
    issue = selectors.issues().filter(pk=issue_id).first()
    if issue is None:
        raise Http404(_("Problema de integração não encontrado."))
    names = ev.ChannelNames([issue.channel])
    history = [
        {
            "event": e,
            **ev.history_text(e),
            "actor": timeline.actor_text(e.actor_kind, e.actor_label, names),
            "note": _history_note(issue, e, names),
        }
        for e in issue.history.all()
    ]
    context = {
        "issue": issue,
        "text": ev.issue_text(issue, names),
        "table": ev.evidence_table(issue, names),
        "history": history,
        "state_label": ev.state_label(issue.state),
        "recommended": str(ev.ACTION_LABELS.get(issue.recommended_action, "")),
        "actions": inbox_items.issue_actions(issue) if request.user.has_perm(ACT) else [],
        "back": inbox_url(kind=[issue.kind]),
    }
    return render(request, "reconcile/issue_detail.html", context)


def _back(request: HttpRequest) -> HttpResponseRedirect:
    target = request.POST.get("next") or ""
    if not target or not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("backoffice:inbox")
    return HttpResponseRedirect(target)


@require_POST
@backoffice_view(ACT)
def issue_act(request: HttpRequest, issue_id: int) -> HttpResponse:
    action = request.POST.get("action", "")
    label = str(ev.ACTION_LABELS.get(action, action))
    try:
        result = repair.act(
            issue_id,
            action,
            actor=Actor.user(request.user),
            reason=request.POST.get("reason", ""),
            nfe_action=request.POST.get("nfe_action", ""),
        )
    except MaloteError as exc:
        # The operator's sentence for the code; the English detail is for machines (API, logs).
        refused = {"action": label, "detail": form_messages.action_text(exc.code)}
        messages.error(request, _("%(action)s: não foi feito. %(detail)s") % refused)
    else:
        if result in FAILED_OUTCOMES:
            messages.error(request, failure_text(result, _last_reason(issue_id)))
        else:
            messages.success(request, ev.outcome_text(result))
    return _back(request)


@require_POST
@backoffice_view(ACT)
def bulk_act(request: HttpRequest) -> HttpResponse:
    action = request.POST.get("action", "")
    if action not in BULK_SAFE:
        messages.error(request, _("Esta ação não pode ser feita em lote."))
        return _back(request)
    ids = [int(value) for value in request.POST.getlist("issue") if value.isdigit()][:500]
    done = failed = 0
    for issue_id in ids:
        try:
            result = repair.act(
                issue_id, action, actor=Actor.user(request.user), reason=request.POST.get("reason", "")
            )
        except MaloteError:
            failed += 1
        else:
            failed += result in FAILED_OUTCOMES
            done += result not in FAILED_OUTCOMES
    if not ids:
        messages.error(request, _("Nada selecionado."))
    else:
        summary = _("%(action)s: %(done)s feito(s), %(failed)s não feito(s).") % {
            "action": ev.ACTION_LABELS[action],
            "done": done,
            "failed": failed,
        }
        (messages.error if failed else messages.success)(request, summary)
    return _back(request)
