"""The items of the one inbox ("Pendências"): everything that needs a person, each as the same shape.

Kinds: every integration-issue kind, plus ``dead_letter`` (a message no retry delivered),
``out_of_stock`` (an order waiting for stock, with what is missing per SKU), ``invoice_xml`` (a
channel takes the NF-e only as XML and it is missing), ``invoice_shipment`` (a channel takes the NF-e
only once the shipment exists) and ``link_problem`` (an order's link in error or divergent that no
active issue already covers).

An item is a plain dict the templates render alike: its kind and channel (names, never codes), the
order, a text in the active language, the evidence table, and its actions — the recommended one
first — each a form (POST + CSRF) or a link. Every list is bounded (``LIMIT`` newest per kind) and
read in a fixed number of queries.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import QuerySet
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from malote.backoffice import evidence as ev
from malote.backoffice.selectors import PROBLEM_LINK_STATES
from malote.channels.models import Channel, LinkState, OrderLink
from malote.orders import invoice_events
from malote.orders.models import Order, OrderLine
from malote.orders.selectors import orders_awaiting_invoice_xml, orders_invoice_held_for_shipment
from malote.orders.statuses import OrderStatus
from malote.reconcile import selectors
from malote.reconcile.errors import ReconcileErrorCode
from malote.reconcile.models import IntegrationIssue, IssueAction, IssueKind, IssueState
from malote.relay.delivery import HELD_PREFIX
from malote.stock.models import StockItem
from malote.sync.models import MessageState, OutboxMessage

LIMIT = 200
ISSUE_KINDS = tuple(IssueKind.values)
OTHER_KINDS: dict[str, Any] = {
    "dead_letter": gettext_lazy("Envio que falhou"),
    "out_of_stock": gettext_lazy("Pedido sem estoque"),
    "invoice_xml": gettext_lazy("Aguardando XML da NF-e"),
    "invoice_shipment": gettext_lazy("NF-e retida até o envio"),
    "link_problem": gettext_lazy("Erro de integração"),
}
# What the old "Exceções" page listed (its URL redirects here with these kinds).
EXCEPTION_KINDS = ("dead_letter", "out_of_stock", "link_problem")
STATES: tuple[tuple[str, Any], ...] = (("active", gettext_lazy("Pendentes")), *IssueState.choices)

# Actions offered per issue kind; the recommended one is moved first.
ACTIONS_BY_KIND: dict[str, tuple[str, ...]] = {
    IssueKind.NOT_INTEGRATED: (IssueAction.REINTEGRATE, IssueAction.OPEN_TICKET, IssueAction.IMPORT,
                               IssueAction.CANCEL, IssueAction.DISMISS),
    IssueKind.DIVERGENT: (IssueAction.PUSH_AGAIN, IssueAction.ACCEPT, IssueAction.DISMISS),
    IssueKind.STUCK: (IssueAction.DISMISS,),
    IssueKind.UNPAID: (IssueAction.CANCEL, IssueAction.DISMISS),
}  # fmt: skip
BULK_SAFE = (IssueAction.PUSH_AGAIN, IssueAction.REINTEGRATE, IssueAction.DISMISS)
REASON_REQUIRED = frozenset({IssueAction.DISMISS, "dismiss"})
REASON_OPTIONAL = frozenset({IssueAction.ACCEPT, IssueAction.CANCEL, "accept_remote"})


def kind_choices() -> list[tuple[str, str]]:
    """Every kind the inbox lists, with the label people see."""
    return [
        *((k, str(label)) for k, label in IssueKind.choices),
        *((k, str(v)) for k, v in OTHER_KINDS.items()),
    ]


def kind_label(kind: str) -> str:
    return dict(kind_choices()).get(kind, kind)


def action(
    code: str, url: str, *, fields: dict[str, Any] | None = None, link: bool = False
) -> dict[str, Any]:
    """One action button: a POST form to ``url`` (``fields`` hidden), or a plain link."""
    reason = "required" if code in REASON_REQUIRED else "optional" if code in REASON_OPTIONAL else ""
    return {
        "code": code,
        "label": str(ev.ACTION_LABELS[code]),
        "url": url,
        "fields": fields or {},
        "link": link,
        "reason": reason,
        "primary": False,
    }


def _first_primary(actions: list[dict[str, Any]], recommended: str | None) -> list[dict[str, Any]]:
    chosen = next((a for a in actions if a["code"] == recommended), None)
    if chosen is not None:
        actions.remove(chosen)
        actions.insert(0, chosen)
        chosen["primary"] = True
    return actions


def issue_actions(issue: IntegrationIssue, needs_nfe_choice: set[int] | None = None) -> list[dict[str, Any]]:
    """The actions of an active issue; the recommended first and primary — unless the issue is
    already being corrected (``resolving``): then nothing is pressed twice by reflex. An order whose
    cancellation needs the NF-e choice (``needs_nfe_choice``, else looked up) is canceled on its page."""
    if not issue.is_active:
        return []
    offered = list(ACTIONS_BY_KIND.get(issue.kind, (IssueAction.DISMISS,)))
    if issue.order_id is None:
        offered = [a for a in offered if a in (IssueAction.IMPORT, IssueAction.DISMISS)]
    elif IssueAction.IMPORT in offered:
        offered.remove(IssueAction.IMPORT)
    url = reverse("reconcile:act", args=[issue.pk])
    actions = [action(code, url, fields={"action": code}) for code in offered]
    if needs_nfe_choice is None and IssueAction.CANCEL in offered and issue.order_id:
        needs_nfe_choice = invoice_events.orders_needing_nfe_action([issue.order_id])
    if IssueAction.CANCEL in offered and issue.order_id in (needs_nfe_choice or ()):
        # The order page's cancel form asks what happens to the NF-e; the inbox button leads there.
        cancel_page = reverse("backoffice:process", args=[issue.order_id, "cancel"])
        actions = [
            action(code, cancel_page, link=True) if code == IssueAction.CANCEL else a
            for code, a in zip(offered, actions, strict=True)
        ]
    recommended = None if issue.state == IssueState.RESOLVING else issue.recommended_action
    return _first_primary(actions, recommended)


def _base(kind: str, channel_name: str, key: str, order: Order | None = None) -> dict[str, Any]:
    return {
        "kind": kind,
        "kind_label": kind_label(kind),
        "channel_name": channel_name,
        "key": key,
        "order": order,
        "subject": order.number if order is not None else "",
        "text": "",
        "detail_url": "",
        "table": None,
        "facts": [],
        "seen": "",
        "state": "open",
        "state_label": str(IssueState.OPEN.label),
        "ticket": None,
        "failed": "",
        "waiting": "",
        "actions": [],
        "select": None,
        "ref": ("", ""),
    }


def issue_items(issues: Iterable[IntegrationIssue], names: ev.ChannelNames) -> list[dict[str, Any]]:
    items = []
    issues = list(issues)
    cancelable = [
        i.order_id for i in issues if i.order_id and IssueAction.CANCEL in ACTIONS_BY_KIND.get(i.kind, ())
    ]
    needs_nfe_choice = invoice_events.orders_needing_nfe_action(cancelable) if cancelable else set()
    for issue in issues:
        item = _base(issue.kind, issue.channel.name, f"issue-{issue.pk}", issue.order)
        item["ref"] = ("issue", issue.pk)
        item.update(
            subject=issue.order.number if issue.order is not None else issue.external_ref,
            text=ev.issue_text(issue, names),
            detail_url=reverse("reconcile:issue", args=[issue.pk]),
            table=ev.evidence_table(issue, names),
            seen=_("%(first)s – %(last)s")
            % {"first": ev.local_time(issue.first_seen), "last": ev.local_time(issue.last_seen)},
            state=issue.state,
            state_label=ev.state_label(issue.state),
            actions=issue_actions(issue, needs_nfe_choice),
            select=("issue", issue.pk) if issue.is_active else None,
        )
        if issue.ticket_id:
            item["ticket"] = {"id": issue.ticket_id, "url": issue.ticket_url, "status": issue.ticket_status}
        last_step = getattr(issue, "last_step", "") or ""
        if issue.is_active and last_step in ev.FAILED_STEPS:
            item["failed"] = failure_text(last_step, getattr(issue, "last_note", "") or "")
        if issue.state == IssueState.RESOLVING:
            item["waiting"] = _("Em correção: aguardando a confirmação do outro sistema.")
        items.append(item)
    return items


def failure_text(outcome: str, why: str = "") -> str:
    """An action that did not happen, in words, with the reason the issue's history gives."""
    texts: dict[str, str] = {
        ReconcileErrorCode.IMPORT_FAILED: _("A importação do pedido falhou."),
        ReconcileErrorCode.NEEDS_PERSON: _(
            "Não foi possível fazer isso automaticamente: é preciso uma pessoa."
        ),
        ReconcileErrorCode.GATEWAY_UNREACHABLE: _("O gateway de pagamento não respondeu; nada foi feito."),
        ReconcileErrorCode.CHANNEL_UNREACHABLE: _("O canal não respondeu; nada foi feito."),
        ReconcileErrorCode.UNREACHABLE: _("Um sistema não respondeu; nada foi feito."),
        ReconcileErrorCode.ERP_DOES_NOT_WANT: _("O pedido não foi reenviado: o ERP não recebe este status."),
        ReconcileErrorCode.PAYMENT_NOT_CONFIRMED: _("O pedido não foi reenviado: pagamento não confirmado."),
        ReconcileErrorCode.RECHECK_FAILED: _("A nova verificação falhou; nada foi feito."),
        ReconcileErrorCode.REPAIR_FAILED: _("A correção falhou."),
        ReconcileErrorCode.REFRESH_FAILED: _("A atualização falhou."),
    }
    text = texts.get(outcome, _("A ação falhou."))
    if why:
        text = _("%(text)s Motivo: %(why)s") % {"text": text, "why": why}
    return text


def destination_name(destination: str, names: ev.ChannelNames) -> str:
    """A message's destination as people know it: the channel's name, or "Cliente (e-mail)"."""
    prefix, _sep, code = destination.partition(":")
    if prefix in ("channel", "helpdesk") and code:
        return names.name(code)
    if prefix == "email":
        return _("Cliente (e-mail)")
    return destination


def dead_letter_items(
    messages: Iterable[OutboxMessage], names: ev.ChannelNames, *, can_retry: bool
) -> list[dict[str, Any]]:
    items = []
    retry_url = reverse("backoffice:exceptions-retry")
    for message in messages:
        system = destination_name(message.destination, names)
        item = _base("dead_letter", system, f"message-{message.pk}", message.order)
        item["ref"] = ("message", message.pk)
        held = message.last_error.startswith(HELD_PREFIX)
        table = ev.EvidenceTable(system)
        table.add(_("Mensagem"), str(ev.MESSAGE_KINDS.get(message.kind, message.kind)), ev.DASH, "kind")
        table.add(_("Tentativas"), str(message.attempts), ev.DASH, "attempts")
        table.add(_("Resposta"), ev.DASH, message.last_error[:240] or ev.DASH, "last_error")
        item.update(
            text=_("Retido até a divergência ser resolvida")
            if held
            else _("O envio falhou e não será repetido"),
            table=table,
            seen=ev.local_time(message.created_at),
            detail_url=reverse("backoffice:order", args=[message.order_id]) + "#integracao"
            if message.order_id
            else "",
        )
        if can_retry:
            item["actions"] = _first_primary(
                [action("retry", retry_url, fields={"message": message.pk})], "retry"
            )
            item["select"] = ("message", message.pk)
        items.append(item)
    return items


def missing_per_sku(orders: list[Order]) -> dict[int, list[tuple[str, int]]]:
    """What each out-of-stock order lacks: (SKU, units missing), two queries for all."""
    wanted: dict[int, dict[str, int]] = {}
    for order_id, sku, quantity in OrderLine.objects.filter(order__in=orders).values_list(
        "order_id", "sku", "quantity"
    ):
        wanted.setdefault(order_id, {}).setdefault(sku, 0)
        wanted[order_id][sku] += quantity
    skus = {sku for lines in wanted.values() for sku in lines}
    available = {
        sku: physical - reserved
        for sku, physical, reserved in StockItem.objects.filter(sku__in=skus).values_list(
            "sku", "physical", "reserved"
        )
    }
    return {
        order_id: [(sku, qty - max(available.get(sku, 0), 0)) for sku, qty in sorted(lines.items())
                   if qty > available.get(sku, 0)]
        for order_id, lines in wanted.items()
    }  # fmt: skip


def out_of_stock_items(orders: list[Order], *, can_process: bool) -> list[dict[str, Any]]:
    missing = missing_per_sku(orders)
    url = reverse("backoffice:exceptions-resume-stock")
    items = []
    for order in orders:
        item = _base("out_of_stock", order.channel.name, f"stock-{order.pk}", order)
        item["ref"] = ("order", order.pk)
        short = missing.get(order.pk, [])
        item.update(
            text=_("Aguardando estoque para reservar"),
            facts=[
                ngettext("falta %(count)s un. de %(sku)s", "faltam %(count)s un. de %(sku)s", qty)
                % {"count": qty, "sku": sku}
                for sku, qty in short
            ],
            seen=ev.local_time(order.placed_at),
            detail_url=reverse("backoffice:order", args=[order.pk]),
        )
        if can_process:
            item["actions"] = _first_primary(
                [action("resume_stock", url, fields={"order": order.pk})], "resume_stock"
            )
            item["select"] = ("order", order.pk)
        items.append(item)
    return items


def hold_items(orders: list[Order], kind: str, *, can_process: bool) -> list[dict[str, Any]]:
    items = []
    for order in orders:
        item = _base(kind, order.channel.name, f"{kind}-{order.pk}", order)
        item["ref"] = ("order", order.pk)
        page = reverse("backoffice:order", args=[order.pk])
        if kind == "invoice_xml":
            item["text"] = _(
                "Libera: anexar o XML autorizado da NF-e; a nota segue para o canal logo em seguida."
            )
            todo = action("attach_xml", page + "#nota-fiscal", link=True)
        else:
            item["text"] = _(
                "Libera: registrar o envio do pedido; a NF-e é enviada ao canal logo depois do envio."
            )
            todo = action("ship", reverse("backoffice:process", args=[order.pk, "ship"]), link=True)
        item.update(
            facts=[_("Status: %(status)s") % {"status": ev.status_label(order.status)}],
            seen=ev.local_time(order.placed_at),
            detail_url=page,
            actions=_first_primary([todo], todo["code"]) if can_process else [],
        )
        items.append(item)
    return items


def link_items(
    links: Iterable[OrderLink], names: ev.ChannelNames, *, can_process: bool, can_retry: bool
) -> list[dict[str, Any]]:
    items = []
    for link in links:
        item = _base("link_problem", link.channel.name, f"link-{link.pk}", link.order)
        item["ref"] = ("link", link.pk)
        table = ev.EvidenceTable(link.channel.name)
        table.add(_("Integração"), str(LinkState(link.state).label), ev.DASH, "state")
        table.add(
            _("Status"),
            ev.status_label(link.order.status),
            ev.remote_status_label(link.channel, link.remote_status, names),
            "remote_status",
        )
        expected_word = str((link.divergence or {}).get("expected_remote_status", ""))
        if link.expected_status or expected_word:
            table.add(
                _("Status esperado lá"),
                ev.status_label(link.expected_status),
                ev.remote_status_label(link.channel, expected_word, names),
                "expected_status",
            )
        item.update(
            text=ev.link_error_text(link, names) or str(LinkState(link.state).label),
            table=table,
            seen=ev.local_time(link.last_synced_at or link.created_at),
            detail_url=reverse("backoffice:order", args=[link.order_id]) + "#integracao",
        )
        if link.state == LinkState.DIVERGENT and can_process:
            url = reverse("backoffice:resolve-link", args=[link.pk])
            item["actions"] = _first_primary(
                [
                    action(code, url, fields={"action": code})
                    for code in ("push_again", "accept_remote", "dismiss")
                ],
                "push_again",
            )
        elif can_retry:
            url = reverse("backoffice:exceptions-retry")
            item["actions"] = _first_primary([action("retry", url, fields={"link": link.pk})], "retry")
        items.append(item)
    return items


def problem_links() -> QuerySet[OrderLink]:
    return OrderLink.objects.filter(state__in=PROBLEM_LINK_STATES).select_related("order", "channel")


def collect(
    *,
    kinds: list[str],
    state: str,
    channel: Channel | None,
    names: ev.ChannelNames,
    can_see_messages: bool,
    can_act: bool,
    can_process: bool,
    can_retry: bool,
) -> list[dict[str, Any]]:
    """Every item of the selected kinds, state and channel."""
    items: list[dict[str, Any]] = []
    wanted = set(kinds) or {*ISSUE_KINDS, *OTHER_KINDS}
    issue_kinds = [k for k in ISSUE_KINDS if k in wanted]
    if issue_kinds:
        qs = selectors.filtered(state=state, channel=channel.code if channel else None).filter(
            kind__in=issue_kinds
        )
        issues = list(selectors.with_last_step(qs)[:LIMIT])
        for item in issue_items(issues, names):
            if not can_act:
                item["actions"] = []
            items.append(item)
    if state not in ("active", IssueState.OPEN):
        return items  # the other kinds are pending by nature: they have no resolved state to show
    if "dead_letter" in wanted and can_see_messages:
        dead = OutboxMessage.objects.filter(state=MessageState.DEAD).select_related("order")
        if channel is not None:
            dead = dead.filter(destination__in=[f"channel:{channel.code}", f"helpdesk:{channel.code}"])
        items += dead_letter_items(dead.order_by("-id")[:LIMIT], names, can_retry=can_retry)
    orders = Order.objects.select_related("channel")
    if channel is not None:
        orders = orders.filter(channel=channel)
    if "out_of_stock" in wanted:
        waiting = list(orders.filter(status=OrderStatus.OUT_OF_STOCK).order_by("placed_at", "id")[:LIMIT])
        items += out_of_stock_items(waiting, can_process=can_process)
    if "invoice_xml" in wanted:
        held = list(orders_awaiting_invoice_xml(orders).order_by("placed_at", "id")[:LIMIT])
        items += hold_items(held, "invoice_xml", can_process=can_process)
    if "invoice_shipment" in wanted:
        held = list(orders_invoice_held_for_shipment(orders).order_by("placed_at", "id")[:LIMIT])
        items += hold_items(held, "invoice_shipment", can_process=can_process)
    if "link_problem" in wanted:
        links_qs = problem_links()
        if channel is not None:
            links_qs = links_qs.filter(channel=channel)
        links = list(links_qs.order_by("-last_synced_at", "-id")[:LIMIT])
        covered = selectors.active_pairs([link.order_id for link in links])
        links = [link for link in links if (link.order_id, link.channel_id) not in covered]
        items += link_items(links, names, can_process=can_process, can_retry=can_retry)
    return items


def grouped(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Items by (kind, channel), kinds in the order of ``kind_choices``, channels by name."""
    order = {code: i for i, (code, _label) in enumerate(kind_choices())}
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for item in items:
        key = (item["kind"], item["channel_name"])
        group = groups.setdefault(
            key,
            {"kind": item["kind"], "kind_label": item["kind_label"], "channel_name": item["channel_name"],
             "items": [], "bulk": None},
        )  # fmt: skip
        group["items"].append(item)
    result = sorted(groups.values(), key=lambda g: (order.get(g["kind"], 99), g["channel_name"].casefold()))
    for number, group in enumerate(result, start=1):
        group["number"] = number
        selectable = [item["select"] for item in group["items"] if item["select"]]
        if selectable:
            group["bulk"] = {**_bulk(selectable[0][0]), "field": selectable[0][0]}
    return result


def _bulk(field: str) -> dict[str, Any]:
    if field == "issue":
        return {
            "url": reverse("reconcile:bulk-act"),
            "actions": [{"code": a, "label": str(ev.ACTION_LABELS[a])} for a in BULK_SAFE],
            "reason": True,
        }
    if field == "message":
        return {
            "url": reverse("backoffice:exceptions-retry"),
            "actions": [],
            "label": str(ev.ACTION_LABELS["retry"]),
        }
    return {
        "url": reverse("backoffice:exceptions-resume-stock"),
        "actions": [],
        "label": str(ev.ACTION_LABELS["resume_stock"]),
    }
