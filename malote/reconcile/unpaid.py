"""Auto-cancel of unpaid orders: marked overdue, then canceled unless the gateway, asked once more,
says the payment went through.

For each order still ``pending_payment`` or ``payment_overdue``, by its payment method (options of
the order's channel, see ``options``):

* boleto: overdue from the day after ``due_date`` (a due date on a weekend or national holiday is
  payable on the next business day, which then counts as the due date); canceled once
  ``boleto_cancel_business_days`` (3) business days after the due date have fully passed
  (weekends and national holidays skipped: due Thursday 2026-11-19, Friday 20 is Consciência
  Negra → the 3rd business day is Wednesday 25, the cancel happens from Thursday 26 00:00
  Brasília);
* Pix: overdue and canceled ``pix_cancel_after_minutes`` (0) after ``expires_at``;
* card: overdue and canceled ``card_cancel_after_days`` (5) days after the order was placed (the
  authorization was never captured);
* other methods, or a payment without its due date/expiry: never automatic.

First ``mark_overdue``; then, at the cancel deadline, the gateway is read again (outside any
transaction): paid → ``approve_payment`` with the gateway's facts (a late payment); canceled or
still pending → ``cancel`` with reason ``payment_expired`` (the cancel reaches every channel and the
ERP through routing, releases stock and e-mails the customer through the existing listeners); in
review, unknown charge or no gateway to ask → an ``unpaid`` issue for a person
(``cancel_without_gateway_check`` cancels without asking); unreachable → nothing, next slot.
``auto_cancel_unpaid`` false only marks overdue and opens the ``unpaid`` issue.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import F
from django.utils import timezone

from malote.core.actors import Actor
from malote.core.errors import Conflict, InvalidInput, MaloteError
from malote.orders import actions as order_actions
from malote.orders.models import Order, Payment
from malote.orders.schemas import ApprovePaymentIn
from malote.orders.statuses import OrderStatus, PaymentMethod
from malote.reconcile import actions
from malote.reconcile.calendar import add_business_days, end_of, parse_dates, payable_until
from malote.reconcile.errors import ReconcileErrorCode
from malote.reconcile.gateway import PaymentCheck, check_payment
from malote.reconcile.models import ACTIVE_STATES, IntegrationIssue, IssueAction, IssueKind
from malote.reconcile.options import option

CANDIDATES = (OrderStatus.PENDING_PAYMENT, OrderStatus.PAYMENT_OVERDUE)


@dataclass(frozen=True)
class Deadlines:
    overdue_at: datetime
    cancel_at: datetime


def deadlines(order: Order, payment: Payment) -> Deadlines | None:
    """When the order becomes overdue and when it is canceled; None: never automatically."""
    channel = order.channel
    if payment.method == PaymentMethod.BOLETO and payment.due_date:
        extra = parse_dates(option(channel, "extra_holidays"))
        # A due date on a weekend or holiday is payable on the next business day: overdue only after
        # that day, and the business days to the cancel count from it.
        due = payable_until(payment.due_date, extra)
        last_day = add_business_days(due, int(option(channel, "boleto_cancel_business_days")), extra)
        return Deadlines(end_of(due), end_of(last_day))
    if payment.method == PaymentMethod.PIX and payment.expires_at:
        grace = timedelta(minutes=float(option(channel, "pix_cancel_after_minutes")))
        return Deadlines(payment.expires_at, payment.expires_at + grace)
    if payment.method == PaymentMethod.CREDIT_CARD:
        at = order.placed_at + timedelta(days=float(option(channel, "card_cancel_after_days")))
        return Deadlines(at, at)
    return None


def approve_input(check: PaymentCheck) -> dict[str, object]:
    given = dict(check.facts.get("payment") or {})
    allowed = set(ApprovePaymentIn.model_fields)
    return {name: value for name, value in given.items() if name in allowed and value not in (None, "")}


def approve_late_payment(order_id: int, check: PaymentCheck, *, actor: Actor) -> None:
    try:
        order_actions.run_transition(order_id, "approve_payment", approve_input(check), actor=actor)
    except InvalidInput:
        # The gateway's facts do not fit (an odd amount or date): the approval itself matters more.
        order_actions.run_transition(order_id, "approve_payment", {}, actor=actor)


def _needs_person(order: Order, check: PaymentCheck, why: str, *, actor: Actor) -> None:
    actions.report(
        IssueKind.UNPAID,
        channel=check.gateway or order.channel,
        other_channel=order.channel if check.gateway else None,
        actor=actor,
        order=order,
        evidence={"payment": check.evidence(), "status": order.status},
        detail=why,
        recommended_action=IssueAction.CANCEL,
    )


def process(order: Order, now: datetime, *, actor: Actor, dry_run: bool = False) -> str:
    """Handle one unpaid order; returns what happened (a word for the run's summary)."""
    payment = order.payments.order_by("-id").first()
    if payment is None:
        return "no_payment"
    due = deadlines(order, payment)
    if due is None or now < due.overdue_at:
        return "waiting"
    if dry_run:
        return "would_cancel" if now >= due.cancel_at else "would_mark_overdue"
    if order.status == OrderStatus.PENDING_PAYMENT:
        try:
            order_actions.run_transition(order.pk, "mark_overdue", {}, actor=actor)
        except Conflict:
            return "moved_on"  # paid or canceled meanwhile
    if now < due.cancel_at:
        return "overdue"
    check = check_payment(order)
    if check.verdict == "unreachable":
        return ReconcileErrorCode.GATEWAY_UNREACHABLE  # never cancel on a guess: the next slot asks again
    if check.verdict == "paid":
        approve_late_payment(order.pk, check, actor=actor)
        return "approved_late"
    if check.verdict == "review":
        _needs_person(order, check, "Pagamento em análise no gateway após o prazo.", actor=actor)
        return ReconcileErrorCode.NEEDS_PERSON
    if check.verdict == "unknown" or (
        check.verdict == "unchecked" and not option(order.channel, "cancel_without_gateway_check")
    ):
        _needs_person(order, check, "Não foi possível confirmar o pagamento no gateway.", actor=actor)
        return ReconcileErrorCode.NEEDS_PERSON
    if not option(order.channel, "auto_cancel_unpaid"):
        _needs_person(order, check, "Pagamento vencido: o canal pede cancelamento manual.", actor=actor)
        return ReconcileErrorCode.NEEDS_PERSON
    note = f"Pagamento não confirmado até {timezone.localtime(due.cancel_at):%d/%m/%Y %H:%M}"
    if check.gateway:
        note += f" ({check.gateway.code}: {check.remote_status or 'pendente'})"
    try:
        order_actions.run_transition(
            order.pk, "cancel", {"reason": "payment_expired", "note": note[:2000]}, actor=actor
        )
    except Conflict:
        return "moved_on"
    return "canceled"


def run(
    now: datetime | None = None, *, actor: Actor, dry_run: bool = False, channel_code: str = ""
) -> Counter[str]:
    """Process every unpaid order; one order's failure never stops the others."""
    now = now or timezone.now()
    outcomes: Counter[str] = Counter()
    # History placed before the channel went live is never canceled nor flagged (docs/reconciliation.md).
    qs = (
        Order.objects.filter(status__in=CANDIDATES, placed_at__gte=F("channel__go_live_at"))
        .select_related("channel")
        .order_by("id")
    )
    if channel_code:
        qs = qs.filter(channel__code=channel_code)
    for order in qs.iterator(chunk_size=500):
        try:
            outcomes[process(order, now, actor=actor, dry_run=dry_run)] += 1
        except MaloteError:
            outcomes["error"] += 1
    if not dry_run:
        _clear_settled(actor)
    return outcomes


def _clear_settled(actor: Actor) -> None:
    for issue in IntegrationIssue.objects.filter(
        kind=IssueKind.UNPAID, state__in=ACTIVE_STATES
    ).select_related("order", "channel"):
        if issue.order is None or issue.order.status not in CANDIDATES:
            actions.clear(issue, actor=actor, note="O pagamento foi resolvido (pedido pago ou cancelado).")
