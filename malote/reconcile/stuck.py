"""Stuck orders: an order that stays too long in one stage of fulfilment.

Stages and default deadlines (options of the order's channel, see ``options``):

* paid, not invoiced (``paid``, ``preparing``, ``out_of_stock``): ``stuck_paid_business_days`` (2)
  business days after the payment was approved;
* invoiced, not shipped (``invoiced``, ``ready_to_ship``): ``stuck_invoiced_hours`` (48) after the
  invoice;
* shipped, not delivered (``shipped``, ``in_transit``, ``delivery_failed``): ``stuck_shipped_days``
  (15) calendar days after shipping.

The stage's start is the time of the transition that entered it (from the order's timeline),
falling back to the last status change. An issue ``stuck`` is opened per order past its deadline
and cleared once the order has left the stage.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import F, OuterRef, Subquery
from django.utils import timezone
from django.utils.translation import gettext_noop

from malote.channels.models import Channel
from malote.core.actors import Actor
from malote.orders.models import Order, OrderEvent
from malote.orders.statuses import OrderStatus as S
from malote.reconcile import actions
from malote.reconcile.calendar import business_deadline, parse_dates
from malote.reconcile.models import ACTIVE_STATES, IntegrationIssue, IssueAction, IssueKind
from malote.reconcile.options import option


@dataclass(frozen=True)
class Stage:
    code: str
    label: str
    statuses: frozenset[str]
    entered_by: str  # the transition that starts the stage


STAGES = (
    Stage("paid_not_invoiced", gettext_noop("Pago sem nota fiscal"),
          frozenset({S.PAID, S.PREPARING, S.OUT_OF_STOCK}), "approve_payment"),
    Stage("invoiced_not_shipped", gettext_noop("Faturado sem envio"),
          frozenset({S.INVOICED, S.READY_TO_SHIP}), "invoice"),
    Stage("shipped_not_delivered", gettext_noop("Enviado sem entrega"),
          frozenset({S.SHIPPED, S.IN_TRANSIT, S.DELIVERY_FAILED}), "ship"),
)  # fmt: skip
STAGE_OF = {status: stage for stage in STAGES for status in stage.statuses}


def deadline(stage: Stage, started: datetime, channel: Channel) -> datetime:
    if stage.code == "paid_not_invoiced":
        extra = parse_dates(option(channel, "extra_holidays"))
        return business_deadline(started, int(option(channel, "stuck_paid_business_days")), extra)
    if stage.code == "invoiced_not_shipped":
        return started + timedelta(hours=float(option(channel, "stuck_invoiced_hours")))
    return started + timedelta(days=float(option(channel, "stuck_shipped_days")))


def _entered(transition: str) -> Subquery:
    return Subquery(
        OrderEvent.objects.filter(order=OuterRef("pk"), transition=transition)
        .order_by("-id")
        .values("created_at")[:1]
    )


def find_stuck(
    now: datetime | None = None, *, channel: Channel | None = None
) -> list[tuple[Order, Stage, datetime]]:
    """Orders past their stage's deadline at ``now``: (order, stage, deadline)."""
    now = now or timezone.now()
    found: list[tuple[Order, Stage, datetime]] = []
    channels = {c.pk: c for c in Channel.objects.all()}
    for stage in STAGES:
        qs = Order.objects.filter(
            status__in=stage.statuses, placed_at__gte=F("channel__go_live_at")
        ).annotate(entered_at=_entered(stage.entered_by))
        if channel is not None:
            qs = qs.filter(channel=channel)
        for order in qs.iterator(chunk_size=2000):
            started = getattr(order, "entered_at", None) or order.status_changed_at
            due = deadline(stage, started, channels[order.channel_id])
            if now >= due:
                found.append((order, stage, due))
    return found


def detect(now: datetime | None = None, *, actor: Actor, channel: Channel | None = None) -> dict[str, int]:
    """Open or refresh ``stuck`` issues; clear those whose order moved on. Returns counts."""
    now = now or timezone.now()
    stuck = find_stuck(now, channel=channel)
    seen = set()
    opened = 0
    for order, stage, due in stuck:
        seen.add(order.pk)
        result = actions.report(
            IssueKind.STUCK,
            channel=order.channel,
            actor=actor,
            order=order,
            evidence={"stage": stage.code, "status": order.status, "deadline": due.isoformat()},
            detail=f"{stage.label} desde antes de {timezone.localtime(due):%d/%m/%Y %H:%M}",
            recommended_action=IssueAction.INVESTIGATE,
        )
        opened += result.created
    cleared = 0
    active = IntegrationIssue.objects.filter(kind=IssueKind.STUCK, state__in=ACTIVE_STATES).select_related(
        "order", "channel"
    )
    if channel is not None:
        active = active.filter(channel=channel)
    for issue in active:
        if issue.order_id not in seen:
            cleared += actions.clear(issue, actor=actor, note="O pedido saiu da etapa em que estava parado.")
    return {"stuck": len(stuck), "opened": opened, "cleared": cleared}


def counts(channel: Channel | None = None) -> dict[str, int]:
    """Active ``stuck`` issues per stage (the dashboard's numbers); ``total`` included."""
    qs = IntegrationIssue.objects.filter(kind=IssueKind.STUCK, state__in=ACTIVE_STATES)
    if channel is not None:
        qs = qs.filter(channel=channel)
    result = {stage.code: 0 for stage in STAGES}
    for evidence in qs.values_list("evidence", flat=True):
        code = (evidence or {}).get("stage")
        if code in result:
            result[code] += 1
    result["total"] = sum(result.values())
    return result
