"""What a marketplace reports about one of its sales that is not a status, as integration issues
(docs/reconciliation.md, "Claims and partial cancels").

The relay hands each report of an inbound change (``InboundChange.facts["reports"]``) to
``record`` in the change's own transaction (``malote.relay.intake.register_report_listener``):

* ``claim`` — a buyer's claim (Mercado Livre reclamação, or mediação once ML steps in): one
  ``claim`` issue per claim (subject ``claim:<id>``), on the Malote order (or on the sale's id
  there while Malote has no order), with the marketplace's due date for the seller's answer;
  refreshed at every update, resolved when the marketplace reports it closed.
* ``pack_partial_cancel`` — an order cancelled inside a cart whose other orders live: the Malote
  order keeps every line, so a person decides (one ``partial_cancel`` issue per order and set of
  cancelled orders; a dismissed one is not opened again for the same set). Resolved when no order
  of the cart is cancelled alone any more (the whole cart cancelled cancels the order itself).

Reports of other kinds are ignored.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from malote.channels.models import Channel
from malote.core.actors import Actor
from malote.orders.models import Order
from malote.reconcile import actions
from malote.reconcile.models import ACTIVE_STATES, IntegrationIssue, IssueAction, IssueKind

STAGE_WORDS = {"claim": "Reclamação", "dispute": "Mediação"}


def due_text(value: Any) -> str:
    """An ISO due date as people read it (``09/12/2026 14:00``, local time); ``""`` when none."""
    moment = parse_datetime(str(value)) if value else None
    if moment is None:
        return ""
    return f"{timezone.localtime(moment):%d/%m/%Y %H:%M}"


def _claim(channel: Channel, order: Order | None, external_ref: str, report: dict[str, Any]) -> None:
    claim_id = str(report.get("id") or "")
    if not claim_id:
        return
    subject = f"claim:{claim_id}"
    actor = Actor.channel(channel.code)
    if not report.get("open"):
        active = actions.active_issue(IssueKind.CLAIM, channel, subject)
        if active is not None:
            resolution = str(report.get("resolution") or "")
            note = (
                f"{channel.name}: reclamação {claim_id} encerrada{f' ({resolution})' if resolution else ''}"
            )
            actions.clear(active, actor=actor, note=note)
        return
    stage = STAGE_WORDS.get(str(report.get("stage")), "Reclamação")
    due = due_text(report.get("due_date"))
    detail = f"{stage} {claim_id} no {channel.name} (venda {external_ref})"
    detail += f": responder até {due}" if due else ""
    reported = actions.report(
        IssueKind.CLAIM,
        channel=channel,
        actor=actor,
        order=order,
        external_ref=external_ref,
        evidence={"claim": report},
        detail=detail,
        recommended_action=IssueAction.INVESTIGATE,
        subject=subject,
    )
    if order is not None and reported.issue.order_id is None:
        # The claim came before the order: the issue joins the order once it exists.
        IntegrationIssue.objects.filter(pk=reported.issue.pk).update(order=order)


def _partial_cancel(channel: Channel, order: Order | None, external_ref: str, report: dict[str, Any]) -> None:
    if order is None:
        return
    actor = Actor.channel(channel.code)
    if not report.get("open"):
        active = actions.active_issue(IssueKind.PARTIAL_CANCEL, channel, actions.subject_for(order))
        if active is not None:
            actions.clear(
                active, actor=actor, note=f"{channel.name}: nenhum pedido do carrinho cancelado à parte"
            )
        return
    key = str(report.get("id") or "")
    seen = IntegrationIssue.objects.filter(
        kind=IssueKind.PARTIAL_CANCEL, channel=channel, order=order, evidence__pack__id=key
    )
    if seen.exclude(state__in=ACTIVE_STATES).exists():
        return  # a person already settled this very partial cancel
    cancelled = ", ".join(str(i) for i in report.get("cancelled_orders") or [])
    actions.report(
        IssueKind.PARTIAL_CANCEL,
        channel=channel,
        actor=actor,
        order=order,
        external_ref=external_ref,
        evidence={"pack": report},
        detail=(
            f"{channel.name}: pedido(s) {cancelled} cancelado(s) no carrinho {external_ref}; o pedido "
            f"{order.number} no Malote mantém todos os itens"
        ),
        recommended_action=IssueAction.INVESTIGATE,
    )


RECORDERS: dict[str, Callable[[Channel, Order | None, str, dict[str, Any]], None]] = {
    "claim": _claim,
    "pack_partial_cancel": _partial_cancel,
}


def record(channel: Channel, order: Order | None, external_ref: str, report: dict[str, Any]) -> None:
    """The relay's report listener: open, refresh or resolve the issue the report stands for."""
    recorder = RECORDERS.get(str(report.get("kind")))
    if recorder is not None:
        recorder(channel, order, external_ref[:100], report)
