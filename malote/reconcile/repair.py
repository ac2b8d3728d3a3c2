"""Repairing integration issues: the automatic repair of non-integrated orders, and the operator's
one-click actions (``act``) for every kind.

Non-integrated order (automatic, or the operator's ``reintegrate``/``open_ticket``): before
repairing, look at the order's status and at the payment in the gateway (read now, outside any
transaction), since fixing an order whose payment is already canceled helps nobody.

* the order is canceled → nothing to integrate: the issue is resolved;
* the gateway cannot be reached → nothing happens, the next slot tries again;
* the payment is canceled (failed, voided, charged back) → the order is not re-integrated: it is
  canceled (reason from the payment) everywhere through routing, its stock released and the
  customer told once (the existing listeners). The ERP's link is removed first: the ERP never had
  the order, so routing has nothing to cancel there;
* an automatic repair (the schedule's, not an operator's choice) re-sends only an order whose status
  the ERP takes now (``erp_wants_now``: the routing rule of the ERP's import policy, and a status
  the ERP still works — paid or being prepared; never delivered, shipped, canceled, unpaid or
  out-of-stock history) and only after the gateway was re-asked and answered *paid*; otherwise
  the issue stays open for a person, the reason noted on its history (``erp_does_not_want``,
  ``payment_not_confirmed``);
* otherwise → re-sent to the ERP through the outbox (an ``order`` message to ``channel:<erp>``,
  once: the message and the issue's move to ``resolving`` commit together, and a resolving issue
  is never repaired again by the schedule), or, where the ERP's option ``repair_by_helpdesk``
  says a person must do it, a help-desk ticket is requested through the outbox instead (see
  ``tickets``).

A sales channel's order Malote never received is imported: the order is read from the channel
(``fetch_order``) and taken in through the inbox like a webhook.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from malote.channels.models import Channel, ChannelRole, LinkState, OrderLink
from malote.connectors.base import Unsupported
from malote.connectors.registry import connector_for
from malote.core import fastsql
from malote.core.actors import Actor
from malote.core.errors import Conflict, InvalidInput, MaloteError, NotFound
from malote.orders import actions as order_actions
from malote.orders import invoice_events
from malote.orders.models import Order
from malote.orders.statuses import CancelReason, OrderStatus, PaymentStatus
from malote.reconcile import actions
from malote.reconcile.errors import ReconcileErrorCode
from malote.reconcile.gateway import PaymentCheck, check_payment, latest_payment
from malote.reconcile.models import IntegrationIssue, IssueAction, IssueKind
from malote.reconcile.options import option
from malote.relay import intake
from malote.relay.routing import _erp_wants_order as erp_wants_order
from malote.sync import outbox
from malote.sync.errors import DeliveryError

A = IssueAction
TICKET_DESTINATION = "helpdesk"
# Statuses in which an ERP still works the order (it invoices and ships it): the only ones the
# schedule re-sends by itself. Anything else missing in the ERP is history or a person's decision.
AUTO_RESEND_STATUSES = frozenset({OrderStatus.PAID, OrderStatus.PREPARING})


def erp_wants_now(erp: Channel, status: str) -> bool:
    """The ERP takes an order in this status now (routing's rule for its import policy), and an
    automatic re-send cannot land weeks-old history in it as an open order."""
    return erp_wants_order(erp, status) and status in AUTO_RESEND_STATUSES


@dataclass(frozen=True)
class Decision:
    """What repairing a missing order would do (``action``) and why; ``payment`` is the gateway's
    answer when it was asked."""

    action: str
    why: str
    payment: PaymentCheck | None = None

    def evidence(self) -> dict[str, Any]:
        return self.payment.evidence() if self.payment is not None else {}


def decide(order: Order, erp: Channel, *, chosen: str | None = None) -> Decision:
    """Decide the repair of ``order`` missing in ``erp`` (asks the gateway, changes nothing).

    ``chosen`` is the operator's action (``reintegrate``/``open_ticket``); ``None`` is the schedule's
    automatic repair, which re-sends only on the ERP's rule and a payment the gateway confirmed."""
    if order.status == OrderStatus.CANCELED:
        return Decision("already_canceled", _("O pedido já está cancelado: não é reintegrado."))
    check = check_payment(order)
    if check.verdict == "unreachable":
        return Decision(ReconcileErrorCode.GATEWAY_UNREACHABLE, check.detail, check)
    if check.verdict == "canceled":
        why = _("Pagamento cancelado no gateway (%(status)s); pedido não reintegrado.") % {
            "status": check.remote_status
        }
        return Decision("canceled", why, check)
    if chosen == A.OPEN_TICKET or (chosen is None and option(erp, "repair_by_helpdesk")):
        return Decision("ticket_requested", _("Chamado solicitado ao help desk."), check)
    if chosen is None:
        if not erp_wants_now(erp, order.status):
            why = _(
                "Não reenviado automaticamente: o %(erp)s não recebe agora um pedido com status"
                " %(status)s. Verifique e reenvie ou descarte."
            ) % {"erp": erp.name, "status": OrderStatus(order.status).label}
            return Decision(ReconcileErrorCode.ERP_DOES_NOT_WANT, why, check)
        if check.verdict != "paid" and not _paid_where_nobody_can_be_asked(order, check):
            why = _(
                "Não reenviado automaticamente: o gateway não confirmou o pagamento (%(verdict)s)."
                " Confira o pagamento e reenvie."
            ) % {"verdict": check.verdict}
            return Decision(ReconcileErrorCode.PAYMENT_NOT_CONFIRMED, why, check)
    return Decision("reintegrated", _("Pedido reenviado ao ERP."), check)


def _paid_where_nobody_can_be_asked(order: Order, check: PaymentCheck) -> bool:
    """A payment no gateway can be asked about (paid at a marketplace, or at a gateway that only
    reports by webhook) stands on Malote's own record: approved there is the evidence. A gateway
    that could be asked but gave no clear answer (``unknown``) is never taken as paid."""
    if check.verdict != "unchecked":
        return False
    payment = latest_payment(order)
    return payment is not None and payment.status == PaymentStatus.APPROVED


def _issue(issue_id: int) -> IntegrationIssue:
    issue = (
        IntegrationIssue.objects.select_related("channel", "order", "order__channel")
        .filter(pk=issue_id)
        .first()
    )
    if issue is None:
        raise NotFound(f"No integration issue {issue_id}.", code=ReconcileErrorCode.ISSUE_NOT_FOUND)
    if not issue.is_active:
        raise Conflict(
            f"The issue is already {issue.state}.",
            code=ReconcileErrorCode.ISSUE_CLOSED,
            extra={"state": issue.state},
        )
    return issue


def repair(issue_id: int, *, actor: Actor, action: str | None = None) -> str:
    """Repair a non-integrated order as the module's docstring says; returns what happened."""
    issue = _issue(issue_id)
    if issue.kind != IssueKind.NOT_INTEGRATED:
        raise Conflict(
            "Only non-integrated orders are repaired this way.", code=ReconcileErrorCode.ISSUE_NOT_REPAIRABLE
        )
    if issue.order is None:
        if issue.channel.is_sales:
            return import_order(issue, actor=actor)
        return ReconcileErrorCode.NEEDS_PERSON
    decision = decide(issue.order, issue.channel, chosen=action)
    check = decision.payment
    if decision.action == "already_canceled":
        actions.resolve(issue.pk, actor=actor, note=decision.why)
    elif decision.action == ReconcileErrorCode.GATEWAY_UNREACHABLE:
        actions.note(
            issue.pk,
            ReconcileErrorCode.RECHECK_FAILED,
            actor=actor,
            text=decision.why,
            data=decision.evidence(),
        )
    elif decision.action == "canceled" and check is not None:
        reason = str(check.facts.get("cancel_reason") or CancelReason.PAYMENT_REFUSED)
        cancel_everywhere(issue, reason=reason, note=decision.why, actor=actor, evidence=check.evidence())
    elif decision.action == "ticket_requested":
        request_ticket(issue.pk, actor=actor, payment=decision.evidence())
    elif decision.action in (ReconcileErrorCode.ERP_DOES_NOT_WANT, ReconcileErrorCode.PAYMENT_NOT_CONFIRMED):
        # The automation stops here; the issue stays open for a person, the reason on its history.
        actions.note(
            issue.pk, decision.action, actor=actor, text=decision.why, data={"payment": decision.evidence()}
        )
    else:
        reintegrate(issue.pk, actor=actor, payment=decision.evidence())
    return str(decision.action)


def reintegrate(issue_id: int, *, actor: Actor, payment: dict[str, Any] | None = None) -> None:
    """Send the order to the ERP again, once: the outbox message and the issue's move commit together."""
    issue = _issue(issue_id)
    if issue.order_id is None or issue.channel.role != ChannelRole.ERP:
        raise Conflict(
            "Only an order missing in an ERP can be re-sent.", code=ReconcileErrorCode.ISSUE_NOT_REPAIRABLE
        )
    with transaction.atomic():
        order = fastsql.lock(Order, issue.order_id)
        assert order is not None
        # The id the ERP answered with is not an order there: forget it, the push looks up by number first.
        OrderLink.objects.update_or_create(
            order=order,
            channel=issue.channel,
            defaults={"external_id": "", "state": LinkState.PENDING, "last_error": ""},
        )
        outbox.enqueue(
            f"channel:{issue.channel.code}",
            "order.order",
            {"op": "order", "status": order.status, "issue": issue.pk},
            order_id=order.pk,
        )
        actions.start_resolving(
            issue.pk,
            A.REINTEGRATE,
            actor=actor,
            note="Pedido reenviado ao ERP.",
            data={"payment": payment or {}},
        )


def helpdesk_channel(issue_channel: Channel) -> Channel | None:
    code = str(option(issue_channel, "helpdesk_channel") or "")
    qs = Channel.objects.filter(enabled=True, role=ChannelRole.HELPDESK)
    return (qs.filter(code=code) if code else qs).order_by("id").first()


def request_ticket(issue_id: int, *, actor: Actor, payment: dict[str, Any] | None = None) -> None:
    """Ask the help desk (through the outbox) to have a person fix the integration."""
    issue = _issue(issue_id)
    if issue.order_id is None:
        raise Conflict("A ticket needs an order.", code=ReconcileErrorCode.ISSUE_NOT_REPAIRABLE)
    desk = helpdesk_channel(issue.channel)
    if desk is None:
        raise Conflict(
            "No enabled help-desk channel to open the ticket in.", code=ReconcileErrorCode.HELPDESK_MISSING
        )
    group = str(option(issue.channel, "helpdesk_group"))
    with transaction.atomic():
        outbox.enqueue(
            f"{TICKET_DESTINATION}:{desk.code}",
            "helpdesk.ticket",
            {"issue": issue.pk, "group": group},
            order_id=issue.order_id,
            key=f"issue:{issue.pk}",
        )
        actions.start_resolving(
            issue.pk,
            A.OPEN_TICKET,
            actor=actor,
            note=f"Chamado solicitado ao grupo {group}.",
            data={"helpdesk": desk.code, "group": group, "payment": payment or {}},
        )


def cancel_everywhere(
    issue: IntegrationIssue,
    *,
    reason: str,
    note: str,
    actor: Actor,
    evidence: dict[str, Any] | None = None,
    nfe_action: str = "",
) -> None:
    """Cancel the order (routing tells every system, stock is released, the customer is told once).
    ``nfe_action`` is what the person said happens to the order's NF-e (recorded with the cancel)."""
    assert issue.order_id is not None
    if reason not in CancelReason.values:
        reason = CancelReason.OTHER
    with transaction.atomic():
        if issue.kind == IssueKind.NOT_INTEGRATED and issue.channel.role == ChannelRole.ERP:
            # The ERP never had the order: no cancellation is owed there.
            OrderLink.objects.filter(order_id=issue.order_id, channel=issue.channel).delete()
        # Already canceled or terminal: the issue is settled all the same.
        with contextlib.suppress(Conflict):
            payload: dict[str, Any] = {"reason": reason, "note": note[:2000]}
            if nfe_action:
                payload["nfe_action"] = nfe_action
            order_actions.run_transition(issue.order_id, "cancel", payload, actor=actor)
        actions.resolve(issue.pk, actor=actor, note=note, action=A.CANCEL, data={"payment": evidence or {}})


def import_order(issue: IntegrationIssue, *, actor: Actor) -> str:
    """Read the order from the sales channel and take it in like a webhook."""
    channel = issue.channel
    try:
        with connector_for(channel) as connector:
            change = connector.fetch_order(issue.external_ref)
    except Unsupported:
        return ReconcileErrorCode.NEEDS_PERSON
    except DeliveryError as exc:
        actions.note(issue.pk, ReconcileErrorCode.IMPORT_FAILED, actor=actor, text=exc.detail)
        return ReconcileErrorCode.CHANNEL_UNREACHABLE if exc.retryable else ReconcileErrorCode.IMPORT_FAILED
    try:
        received = intake.take_in(channel, change, headers={"x-malote-reconcile": str(issue.pk)}, body="")
    except MaloteError as exc:
        actions.note(
            issue.pk, ReconcileErrorCode.IMPORT_FAILED, actor=actor, text=exc.detail, data={"code": exc.code}
        )
        return ReconcileErrorCode.IMPORT_FAILED
    order = Order.objects.filter(channel=channel, external_id=issue.external_ref).first()
    if order is None:
        actions.note(issue.pk, ReconcileErrorCode.IMPORT_FAILED, actor=actor, text=f"{received!r}")
        return ReconcileErrorCode.IMPORT_FAILED
    actions.resolve(issue.pk, actor=actor, note=f"Pedido importado como {order.number}.", action=A.IMPORT)
    return "imported"


# --- the operator's actions -------------------------------------------------------------------

ACTIONS = (A.REINTEGRATE, A.IMPORT, A.CANCEL, A.OPEN_TICKET, A.PUSH_AGAIN, A.ACCEPT, A.DISMISS)


def _divergent_link(issue: IntegrationIssue) -> OrderLink | None:
    """The link the channels app recorded as divergent (its resolution then goes through it)."""
    if issue.kind != IssueKind.DIVERGENT or issue.order_id is None:
        return None
    link = OrderLink.objects.filter(order_id=issue.order_id, channel=issue.channel).first()
    return link if link is not None and link.state == LinkState.DIVERGENT else None


def push_again(issue_id: int, *, actor: Actor) -> None:
    """Send the order's current status to the diverging system again."""
    issue = _issue(issue_id)
    if issue.order_id is None:
        raise Conflict("Nothing to push without an order.", code=ReconcileErrorCode.ISSUE_NOT_REPAIRABLE)
    link = _divergent_link(issue)
    resolver = _channels_resolver()
    with transaction.atomic():
        if link is not None and resolver is not None:
            # Replays the pushes the divergence held, in order (or pushes the current status).
            resolver(link.pk, "push_again", actor=actor, reason="")
        else:
            order = fastsql.lock(Order, issue.order_id)
            assert order is not None
            op = "cancellation" if order.status == OrderStatus.CANCELED else "status"
            outbox.enqueue(
                f"channel:{issue.channel.code}",
                f"order.{op}",
                {"op": op, "status": order.status},
                order_id=order.pk,
            )
        actions.start_resolving(issue.pk, A.PUSH_AGAIN, actor=actor, note="Status reenviado.")


def accept(issue_id: int, *, actor: Actor, reason: str) -> None:
    """The other system's status stands: a link the channels app holds as divergent moves the order
    to the channel's status (``accept_remote``); otherwise a person checked it and the issue closes."""
    issue = _issue(issue_id)
    link = _divergent_link(issue)
    resolver = _channels_resolver()
    with transaction.atomic():
        if link is not None and resolver is not None:
            resolver(link.pk, "accept_remote", actor=actor, reason=reason)
        actions.resolve(
            issue.pk, actor=actor, note=reason or "Status do outro sistema aceito.", action=A.ACCEPT
        )


def dismiss(issue_id: int, *, actor: Actor, reason: str) -> None:
    issue = _issue(issue_id)
    link = _divergent_link(issue)
    resolver = _channels_resolver()
    with transaction.atomic():
        actions.dismiss(issue.pk, actor=actor, reason=reason)
        if link is not None and resolver is not None:
            resolver(link.pk, "dismiss", actor=actor, reason=reason)


def _channels_resolver() -> Any:
    """``malote.relay.divergence.resolve_divergence(link_id, action, *, actor, reason)``, when present."""
    try:
        from malote.relay import divergence as channel_actions
    except ImportError:
        return None
    return getattr(channel_actions, "resolve_divergence", None)


def act(issue_id: int, action: str, *, actor: Actor, reason: str = "", nfe_action: str = "") -> str:
    """One operator action on an issue (API, back office, CLI); returns what happened.
    ``cancel`` of an invoiced order needs ``nfe_action`` (``cancel_nfe`` or ``return_nfe``), as on the
    order page: a person never cancels an order with an NF-e silently."""
    if action not in ACTIONS:
        raise InvalidInput(
            f"Unknown action {action!r}.", code=ReconcileErrorCode.UNKNOWN_ACTION, field="action"
        )
    issue = _issue(issue_id)
    if action == A.DISMISS:
        dismiss(issue.pk, actor=actor, reason=reason)
        return "dismissed"
    if action == A.ACCEPT:
        accept(issue.pk, actor=actor, reason=reason)
        return "accepted"
    if action == A.PUSH_AGAIN:
        push_again(issue.pk, actor=actor)
        return "pushed"
    if action == A.CANCEL:
        if issue.order_id is None:
            raise Conflict(
                "There is no Malote order to cancel.", code=ReconcileErrorCode.ISSUE_NOT_REPAIRABLE
            )
        invoice_events.check_cancel_declares_nfe_action(issue.order_id, {"nfe_action": nfe_action})
        note = reason or "Cancelado pelo operador (desistência do cliente)."
        cancel_everywhere(
            issue, reason=CancelReason.CUSTOMER_GAVE_UP, note=note, actor=actor, nfe_action=nfe_action
        )
        return "canceled"
    if action == A.IMPORT:
        return import_order(issue, actor=actor)
    if action in (A.REINTEGRATE, A.OPEN_TICKET):
        if issue.kind != IssueKind.NOT_INTEGRATED:
            raise Conflict(
                "Only non-integrated orders are re-sent.", code=ReconcileErrorCode.ISSUE_NOT_REPAIRABLE
            )
        return repair(issue.pk, actor=actor, action=action)
    raise InvalidInput(f"Unknown action {action!r}.", code=ReconcileErrorCode.UNKNOWN_ACTION, field="action")
