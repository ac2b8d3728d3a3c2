"""Help-desk tickets for integration issues a person must fix (the back office's "conversa
paralela/WF pela Zendesk").

The outbox handler of ``helpdesk:<channel>`` destinations opens the ticket through the help-desk
channel's connector ``create_ticket`` — subject from a template ("Favor corrigir o
problema de integração no pedido 10016 (Malote M0000070)"; option ``helpdesk_template`` of the ERP
channel, with ``{store_number}``, ``{number}``, ``{external_id}`` and ``{marketplace}``), to the group
the message names, with the order's summary as a PDF attachment — and records the ticket on the
issue. Subject, body and PDF name the store's order number (what the customer and the finance team
know) next to Malote's, money as ``R$ 1.234,56`` and times as ``dd/mm/aaaa hh:mm`` local, in the
installation's language (``LANGUAGE_CODE``, pt-BR by default). The idempotency key is per order
(``malote-integracao-<number>``): a retried message, or a second request for the same order, gets
the same ticket back instead of a second one.

``follow`` (a schedule) reads every open ticket (``fetch_ticket``) and records its status on the
issue. A ticket whose status is one of ``ticket_done_statuses`` (``solved``, ``closed``) does not
resolve the issue by itself: a person saying "done" is no evidence that the order reached the
system. The issue goes back from ``resolving`` to ``open`` (someone must look again; the automatic
repair does not open a second ticket), and resolves when the check finds the order there (or
reads it back).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _
from fpdf import FPDF

from malote.channels.models import Channel
from malote.connectors.base import Attachment, Unsupported
from malote.connectors.registry import connector_for
from malote.core.actors import Actor
from malote.notify.formatting import format_datetime, format_money, store_number
from malote.orders.models import Order
from malote.orders.statuses import OrderStatus
from malote.reconcile import actions
from malote.reconcile.errors import ReconcileErrorCode
from malote.reconcile.models import ACTIVE_STATES, IntegrationIssue, IssueState
from malote.reconcile.options import DEFAULTS, option
from malote.sync.errors import DeliveryError
from malote.sync.models import OutboxMessage

DEFAULT_TEMPLATE = str(DEFAULTS["helpdesk_template"])


def idempotency_key(order: Order) -> str:
    return f"malote-integracao-{order.number}"


def template_fields(order: Order) -> dict[str, str]:
    """What ``helpdesk_template`` may name (docs/channel-rules.md)."""
    return {
        "number": str(order.number),
        "external_id": order.external_id,
        "store_number": store_number(order) or str(order.number),
        "marketplace": order.marketplace,
    }


def subject(issue: IntegrationIssue, order: Order) -> str:
    """The channel's template filled in; a template naming an unknown field (or broken) falls back to
    the default rather than leaving the ticket unopened."""
    template = str(option(issue.channel, "helpdesk_template") or DEFAULT_TEMPLATE)
    fields = template_fields(order)
    try:
        return template.format_map(fields)
    except (KeyError, IndexError, ValueError):
        return DEFAULT_TEMPLATE.format_map(fields)


def _money(order: Order, value: Any) -> str:
    return format_money(value, order.currency)


def _sold_in(order: Order) -> str:
    """``10016 (Loja Jumpseller)``: the store's number and the channel the sale came from."""
    return f"{store_number(order) or '—'} ({order.channel.name})"


def body(issue: IntegrationIssue, order: Order) -> str:
    lines = [
        subject(issue, order) + ".",
        "",
        _("Pedido na loja: %(store)s") % {"store": _sold_in(order)},
        _("Pedido no Malote: %(number)s") % {"number": order.number},
        _("Status: %(status)s") % {"status": OrderStatus(order.status).label},
        _("Cliente: %(name)s <%(email)s>") % {"name": order.customer_name, "email": order.customer_email},
        _("Total: %(total)s") % {"total": _money(order, order.total)},
        _("Sistema sem o pedido: %(system)s") % {"system": issue.channel.name},
        _("Detectado em: %(at)s") % {"at": format_datetime(issue.first_seen)},
        "",
        _("Resumo do pedido em anexo (PDF)."),
    ]
    return "\n".join(lines)


def _latin1(text: str) -> str:
    # The PDF core fonts are Latin-1: Portuguese fits; anything else is replaced, never an error.
    return text.encode("latin-1", "replace").decode("latin-1")


def _payment_text(order: Order) -> str:
    payment = order.payments.order_by("-id").first()
    if payment is None:
        return "-"
    parts = [str(payment.get_method_display()), payment.gateway, payment.transaction_id]
    return " ".join(part for part in parts if part)


def order_pdf(order: Order, issue: IntegrationIssue | None = None) -> bytes:
    """A one-page summary of the order (attached to the ticket as a "print" of the order)."""
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 14)
    title = _("Pedido %(store)s (Malote %(number)s)") % {
        "store": store_number(order) or order.number,
        "number": order.number,
    }
    pdf.cell(0, 10, _latin1(title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)
    rows = [
        (_("Pedido na loja"), _sold_in(order)),
        (_("Pedido no Malote"), str(order.number)),
        (_("Feito em"), format_datetime(order.placed_at)),
        (_("Status"), str(OrderStatus(order.status).label)),
        (_("Cliente"), f"{order.customer_name} ({order.customer_document})"),
        (_("E-mail"), order.customer_email),
        (_("Pagamento"), _payment_text(order)),
        (_("Frete"), f"{order.shipping_method} {_money(order, order.shipping_price)}".strip()),
    ]
    if order.discount:
        rows.append((_("Desconto"), _money(order, order.discount)))
    rows.append((_("Total"), _money(order, order.total)))
    if issue is not None:
        rows.append(
            (
                _("Problema"),
                _("%(kind)s em %(system)s")
                % {"kind": issue.get_kind_display(), "system": issue.channel.name},
            )
        )
    for label, value in rows:
        pdf.set_font("Helvetica", "B", 10)
        pdf.cell(35, 7, _latin1(label))
        pdf.set_font("Helvetica", size=10)
        pdf.cell(0, 7, _latin1(str(value)), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("Helvetica", "B", 10)
    for heading, width in ((_("SKU"), 40), (_("Produto"), 90), (_("Qtd"), 15), (_("Valor"), 0)):
        pdf.cell(width, 7, _latin1(heading), border="B")
    pdf.ln()
    pdf.set_font("Helvetica", size=10)
    for line in order.lines.all():
        pdf.cell(40, 7, _latin1(line.sku))
        pdf.cell(90, 7, _latin1(line.name[:50]))
        pdf.cell(15, 7, str(line.quantity))
        pdf.cell(0, 7, _latin1(_money(order, line.total)), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def deliver_ticket(message: OutboxMessage) -> None:
    """Outbox handler of ``helpdesk:<code>``: open the ticket (idempotent per order), record it."""
    code = message.destination.split(":", 1)[1]
    desk = Channel.objects.filter(code=code).first()
    if desk is None:
        raise DeliveryError(f"Help-desk channel {code!r} no longer exists.", retryable=False)
    issue = IntegrationIssue.objects.select_related("channel").filter(pk=message.payload.get("issue")).first()
    order = (
        Order.objects.select_related("channel").filter(pk=message.order_id).first()
        if message.order_id is not None
        else None
    )
    if issue is None or order is None:
        raise DeliveryError("The issue or its order no longer exists.", retryable=False)
    with translation.override(settings.LANGUAGE_CODE):
        title, text, pdf = subject(issue, order), body(issue, order), order_pdf(order, issue)
    try:
        with connector_for(desk) as connector:
            ticket = connector.create_ticket(
                subject=title,
                body=text,
                group=str(message.payload.get("group") or option(issue.channel, "helpdesk_group")),
                requester_email="",
                attachments=(Attachment(f"pedido-{order.number}.pdf", pdf),),
                idempotency_key=idempotency_key(order),
            )
    except Unsupported as exc:
        raise DeliveryError(f"{desk.code} cannot open tickets.", retryable=False) from exc
    except LookupError as exc:
        raise DeliveryError(str(exc), retryable=False) from exc
    actions.set_ticket(
        issue.pk, ticket_id=ticket.id, status=ticket.status, url=ticket.url, actor=Actor.channel(desk.code)
    )


def follow(now: datetime | None = None, *, actor: Actor) -> Counter[str]:
    """Read every open ticket; resolve the issue once its ticket is done."""
    counts: Counter[str] = Counter()
    issues = (
        IntegrationIssue.objects.filter(state__in=ACTIVE_STATES)
        .exclude(ticket_id="")
        .select_related("channel")
    )
    for issue in issues:
        desk = _desk_of(issue)
        if desk is None:
            counts["no_helpdesk"] += 1
            continue
        try:
            with connector_for(desk) as connector:
                ticket = connector.fetch_ticket(issue.ticket_id)
        except (DeliveryError, Unsupported, LookupError):
            counts[ReconcileErrorCode.UNREACHABLE] += 1
            continue
        actions.set_ticket(
            issue.pk,
            ticket_id=ticket.id,
            status=ticket.status,
            url=ticket.url or issue.ticket_url,
            actor=actor,
        )
        counts["followed"] += 1
        if ticket.status.casefold() in {
            str(s).casefold() for s in option(issue.channel, "ticket_done_statuses")
        }:
            # No resolution without evidence: the next check must find the order. Meanwhile the
            # issue is back in the open queue — the person's fix is not seen yet, someone must look.
            text = _(
                "Chamado %(ticket)s concluído (%(status)s), mas o pedido ainda não foi encontrado: o"
                " problema volta a ficar aberto e será resolvido quando a verificação encontrar o pedido."
            ) % {"ticket": ticket.id, "status": ticket.status}
            data = {"ticket": ticket.id, "status": ticket.status}
            if issue.state == IssueState.RESOLVING:
                actions.reopen(issue.pk, "ticket_done", actor=actor, note=text, data=data)
            else:
                actions.note(issue.pk, "ticket_done", actor=actor, text=text, data=data)
            counts["ticket_done"] += 1
    return counts


def _desk_of(issue: IntegrationIssue) -> Channel | None:
    code = str(
        (issue.history.filter(action="open_ticket").values_list("data", flat=True).last() or {}).get(
            "helpdesk"
        )
        or ""
    )
    if code:
        return Channel.objects.filter(code=code).first()
    from malote.reconcile.repair import helpdesk_channel

    return helpdesk_channel(issue.channel)


def summary(counts: dict[str, Any]) -> str:
    return ", ".join(f"{key} {value}" for key, value in sorted(counts.items())) or "nothing to do"
