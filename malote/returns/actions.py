"""Commands that change returns. Every caller (API, back office, relay) uses these.

Each takes the actor explicitly, locks the order row and then the return's, checks the table
(``lifecycle.RETURN_TRANSITIONS``) and the rules, and writes the change, its ``ReturnEvent`` and
the published ``ReturnChange`` in one transaction; nothing is written on any error. Permissions
are the caller's business.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone
from pydantic import BaseModel

from malote import fiscal
from malote.channels.models import Channel
from malote.core import fastsql
from malote.core.actors import Actor
from malote.core.errors import Conflict, InvalidInput, NotFound
from malote.orders.actions import parse_input
from malote.orders.errors import OrdersErrorCode
from malote.orders.models import Invoice, Order, OrderEvent
from malote.returns import changes, selectors
from malote.returns.changes import ReturnChange
from malote.returns.errors import ReturnsErrorCode
from malote.returns.lifecycle import RETURN_TRANSITIONS, ReturnTransition
from malote.returns.models import Return, ReturnEvent, ReturnLine
from malote.returns.schemas import (
    ConfirmRefundIn,
    ReceiveIn,
    RequestRefundIn,
    ReturnIn,
    ReturnNfeIn,
)
from malote.returns.statuses import LineCondition, RequestedBy, ReturnStatus
from malote.stock import actions as stock_actions
from malote.stock.models import MovementReason

MAX_XML_CHARS = 2_000_000


@dataclass(frozen=True)
class ReturnResult:
    ret: Return
    applied: bool


class _Errors:
    """Collects every rule a request breaks, so a form shows them all at once; raises the first
    as ``InvalidInput`` with all of them in ``errors``."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def add(self, code: str, detail: str, field: str, **extra: Any) -> None:
        self.items.append({"code": code, "detail": detail, "field": field, **extra})

    def raise_any(self) -> None:
        if self.items:
            first = self.items[0]
            raise InvalidInput(
                first["detail"], code=first["code"], field=first["field"], extra={"errors": self.items}
            )


def _event(ret: Return, type_: str, actor: Actor, data: dict[str, Any], **fields: str) -> None:
    ReturnEvent.objects.create(
        ret=ret,
        type=type_,
        transition=fields.get("transition", ""),
        from_status=fields.get("from_status", ""),
        to_status=fields.get("to_status", ""),
        actor_kind=str(actor.kind),
        actor_label=actor.label[:200],
        actor_user_id=actor.user_id,
        data=data,
    )


def _lock_order(order_id: int) -> Order:
    order = fastsql.lock(Order, order_id)
    if order is None:
        raise NotFound(f"No order with id {order_id}.", code=OrdersErrorCode.ORDER_NOT_FOUND)
    return order


def _lock_return(return_id: int) -> Return:
    """Lock the order, then the return (always in that order, so commands cannot deadlock)."""
    order_id = Return.objects.filter(pk=return_id).values_list("order_id", flat=True).first()
    if order_id is None:
        raise NotFound(f"No return with id {return_id}.", code=ReturnsErrorCode.RETURN_NOT_FOUND)
    order = _lock_order(order_id)
    ret = fastsql.lock(Return, return_id)
    if ret is None:
        raise NotFound(f"No return with id {return_id}.", code=ReturnsErrorCode.RETURN_NOT_FOUND)
    ret.order = order
    return ret


# --- opening a return ----------------------------------------------------------------------------


def create_return(order_id: int, payload: ReturnIn | dict[str, Any], *, actor: Actor) -> Return:
    """Open a return of some of an order's lines (status ``requested``).

    Raises ``NotFound`` (order), ``Conflict`` ``order_not_shipped`` (before shipping it is a
    cancellation), ``InvalidInput`` with every broken rule: ``return_line_unknown``,
    ``return_line_repeated``, ``return_quantity_exceeds_ordered`` (ordered minus what other open
    returns hold), ``return_channel_unknown``.
    """
    data: ReturnIn = parse_input(ReturnIn, payload)
    with transaction.atomic():
        order = _lock_order(order_id)
        if order.status not in selectors.SHIPPED_OR_LATER:
            raise Conflict(
                "Only an order that shipped can be returned; before shipping, cancel the order instead.",
                code=ReturnsErrorCode.ORDER_NOT_SHIPPED,
                extra={"status": order.status},
            )
        errors = _Errors()
        channel_code = data.channel
        if data.requested_by == RequestedBy.CUSTOMER and not channel_code:
            channel_code = order.channel.code
        if channel_code and not Channel.objects.filter(code=channel_code).exists():
            errors.add(
                ReturnsErrorCode.RETURN_CHANNEL_UNKNOWN, f"No channel with code {channel_code!r}.", "channel"
            )
        by_position = {line.position: line for line in order.lines.all()}
        returnable = selectors.returnable_quantities(order)
        seen: set[int] = set()
        for index, item in enumerate(data.lines):
            field = f"lines.{index}"
            line = by_position.get(item.position)
            if line is None:
                errors.add(
                    ReturnsErrorCode.RETURN_LINE_UNKNOWN,
                    f"The order has no line {item.position}.",
                    f"{field}.position",
                )
                continue
            if item.position in seen:
                errors.add(
                    ReturnsErrorCode.RETURN_LINE_REPEATED,
                    f"Line {item.position} is listed twice.",
                    f"{field}.position",
                )
                continue
            seen.add(item.position)
            if item.quantity > returnable[line.pk]:
                errors.add(
                    ReturnsErrorCode.RETURN_QUANTITY_EXCEEDS_ORDERED,
                    f"Line {item.position}: {returnable[line.pk]} of {line.quantity} units"
                    " may still be returned.",
                    f"{field}.quantity",
                    returnable=returnable[line.pk],
                )
        errors.raise_any()
        sequence = Return.objects.filter(order=order).count() + 1
        ret = Return.objects.create(
            order=order,
            number=f"{order.number}-D{sequence}",
            reason=data.reason,
            requested_by=data.requested_by,
            channel_code=channel_code,
            note=data.note,
        )
        ReturnLine.objects.bulk_create(
            ReturnLine(ret=ret, order_line=by_position[item.position], quantity=item.quantity)
            for item in data.lines
        )
        given = data.model_dump(mode="json")
        _event(ret, changes.CREATED, actor, given, to_status=ret.status)
        changes.publish(ReturnChange(ret, changes.CREATED, "", ret.status, actor, given))
    return ret


# --- transitions ---------------------------------------------------------------------------------


def get_return_transition_or_404(name: str) -> ReturnTransition:
    transition = RETURN_TRANSITIONS.get(name)
    if transition is None:
        raise NotFound(
            f"No return transition named {name!r}.",
            code=ReturnsErrorCode.UNKNOWN_RETURN_TRANSITION,
            field="name",
        )
    return transition


def run_return_transition(
    return_id: int, name: str, payload: dict[str, Any] | BaseModel | None, *, actor: Actor
) -> ReturnResult:
    """Run transition ``name`` on a return.

    Raises ``NotFound`` (return, transition), ``InvalidInput`` (the input or a rule, with field
    and code), ``Conflict`` ``return_transition_not_allowed`` (with the current status). Running a
    transition whose target the return is already in is a successful no-op (``applied`` False):
    a gateway's confirmation may arrive twice.
    """
    transition = get_return_transition_or_404(name)
    data = parse_input(transition.input, payload)
    with transaction.atomic():
        ret = _lock_return(return_id)
        if ret.status == transition.target:
            return ReturnResult(ret, applied=False)
        if not transition.allowed_from(ret.status):
            raise Conflict(
                f"Not allowed when the return is {ReturnStatus(ret.status).label}.",
                code=ReturnsErrorCode.RETURN_TRANSITION_NOT_ALLOWED,
                extra={"status": ret.status, "transition": transition.name},
            )
        outcome = EFFECTS.get(transition.name, _nothing)(ret, data, actor)
        from_status = ret.status
        ret.status = transition.target
        ret.status_changed_at = timezone.now()
        ret.save()
        given = data.model_dump(mode="json", exclude_unset=True)
        change = ReturnChange(ret, transition.name, from_status, ret.status, actor, given)
        changes.publish(change)  # first: the event records who was told (the gateway of a refund)
        if change.told:
            outcome["sent_to"] = change.told
        _event(
            ret,
            "transition",
            actor,
            {"input": given, **outcome},
            transition=transition.name,
            from_status=from_status,
            to_status=ret.status,
        )
    return ReturnResult(ret, applied=True)


def _nothing(ret: Return, data: Any, actor: Actor) -> dict[str, Any]:
    return {}


def _receive(ret: Return, data: ReceiveIn, actor: Actor) -> dict[str, Any]:
    """Record what arrived per line; units marked restock go back on the shelf."""
    lines = {line.pk: line for line in ret.lines.select_related("order_line")}
    errors = _Errors()
    seen: set[int] = set()
    for index, item in enumerate(data.lines):
        field = f"lines.{index}"
        line = lines.get(item.line)
        if line is None:
            errors.add(
                ReturnsErrorCode.RETURN_LINE_UNKNOWN, f"The return has no line {item.line}.", f"{field}.line"
            )
            continue
        if item.line in seen:
            errors.add(
                ReturnsErrorCode.RETURN_LINE_REPEATED, f"Line {item.line} is listed twice.", f"{field}.line"
            )
            continue
        seen.add(item.line)
        if item.quantity > line.quantity:
            errors.add(
                ReturnsErrorCode.RECEIVED_EXCEEDS_REQUESTED,
                f"{line.order_line.sku}: {item.quantity} received, but {line.quantity} were asked.",
                f"{field}.quantity",
            )
        if item.quantity and item.condition is None:
            errors.add(
                ReturnsErrorCode.RECEIVED_CONDITION_MISSING,
                f"{line.order_line.sku}: say whether the units go back to stock or are damaged.",
                f"{field}.condition",
            )
    errors.raise_any()
    given = {item.line: item for item in data.lines}
    restock: list[stock_actions.StockLine] = []
    received: dict[str, dict[str, Any]] = {}
    for line in lines.values():
        arrived = given.get(line.pk)
        line.received_quantity = arrived.quantity if arrived else 0
        line.condition = str(arrived.condition) if arrived and arrived.quantity and arrived.condition else ""
        line.save(update_fields=["received_quantity", "condition"])
        received[line.order_line.sku] = {"quantity": line.received_quantity, "condition": line.condition}
        if line.received_quantity and line.condition == LineCondition.RESTOCK:
            restock.append(stock_actions.StockLine(line.order_line.sku, line.received_quantity))
    if restock:
        stock_actions.restock(
            restock, order_id=ret.order_id, actor=actor, reason=MovementReason.RETURN_RESTOCK, note=ret.number
        )
    ret.received_at = timezone.now()
    return {"received": received, "restocked": {line.sku: line.quantity for line in restock}}


def _request_refund(ret: Return, data: RequestRefundIn, actor: Actor) -> dict[str, Any]:
    amount = data.amount
    if amount <= 0:
        raise InvalidInput(
            "A refund must be more than zero.", code=ReturnsErrorCode.REFUND_NOT_POSITIVE, field="amount"
        )
    left = selectors.refundable_amount(ret.order, excluding=ret.pk)
    if amount > left:
        raise InvalidInput(
            f"At most {left} is left to refund (paid minus what was already refunded).",
            code=ReturnsErrorCode.REFUND_EXCEEDS_PAID,
            field="amount",
            extra={"refundable": str(left)},
        )
    ret.refund_amount = amount
    return {"refundable_before": str(left)}


def _confirm_refund(ret: Return, data: ConfirmRefundIn, actor: Actor) -> dict[str, Any]:
    amount = data.amount if data.amount is not None else ret.refund_amount
    if ret.refund_amount is not None and amount != ret.refund_amount:
        raise InvalidInput(
            f"The refund asked was {ret.refund_amount}, not {amount}.",
            code=ReturnsErrorCode.REFUND_AMOUNT_MISMATCH,
            field="amount",
        )
    ret.refunded_amount = amount
    ret.refund_reference = data.reference or ret.refund_reference
    ret.refunded_at = timezone.now()
    return {"refunded": str(amount)}


# What a transition writes besides the status; returns the data its event records.
Effect = Callable[[Return, Any, Actor], dict[str, Any]]
EFFECTS: dict[str, Effect] = {
    "receive": _receive,
    "request_refund": _request_refund,
    "confirm_refund": _confirm_refund,
}


# --- the return NF-e -----------------------------------------------------------------------------


def attach_return_nfe(return_id: int, payload: ReturnNfeIn | dict[str, Any], *, actor: Actor) -> ReturnResult:
    """Attach the return NF-e (finNFe 4) by its key, and optionally its XML.

    The key must be valid (check digit…: fiscal codes) and not the order's own NF-e. An XML must
    be that key's NF-e, a return (``return_nfe_not_a_return``) whose ``NFref/refNFe`` is the
    order's NF-e (``return_nfe_wrong_reference``; ``return_nfe_order_without_invoice`` when the
    order has none). The same key again is a no-op; another key: ``Conflict``
    ``return_nfe_conflict``. Refused or canceled returns take none.
    """
    data: ReturnNfeIn = parse_input(ReturnNfeIn, payload)
    xml = (data.xml or "").strip()
    if len(xml) > MAX_XML_CHARS:
        raise InvalidInput(
            "The XML is too large for an NF-e.", code=ReturnsErrorCode.RETURN_NFE_XML_TOO_LARGE, field="xml"
        )
    with transaction.atomic():
        ret = _lock_return(return_id)
        if ret.status in (ReturnStatus.REFUSED, ReturnStatus.CANCELED):
            raise Conflict(
                f"The return is {ReturnStatus(ret.status).label}: it takes no NF-e.",
                code=ReturnsErrorCode.RETURN_TRANSITION_NOT_ALLOWED,
                extra={"status": ret.status},
            )
        if ret.nfe_key and ret.nfe_key != data.key:
            raise Conflict(
                "This return already has another NF-e.",
                code=ReturnsErrorCode.RETURN_NFE_CONFLICT,
                field="key",
            )
        if ret.nfe_key == data.key and (not xml or ret.nfe_xml.strip() == xml):
            return ReturnResult(ret, applied=False)
        invoice_key = (
            Invoice.objects.filter(order_id=ret.order_id)
            .order_by("-id")
            .values_list("key", flat=True)
            .first()
        )
        if invoice_key == data.key:
            raise InvalidInput(
                "That is the order's own NF-e, not its return.",
                code=ReturnsErrorCode.RETURN_NFE_KEY_IS_ORDERS,
                field="key",
            )
        if xml:
            _check_return_xml(xml, data.key, invoice_key)
        ret.nfe_key = data.key
        ret.nfe_xml = xml or ret.nfe_xml
        ret.save(update_fields=["nfe_key", "nfe_xml"])
        _event(ret, "nfe_attached", actor, {"key": data.key, "xml": bool(xml)})
    return ReturnResult(ret, applied=True)


def _check_return_xml(xml: str, key: str, invoice_key: str | None) -> None:
    try:
        doc = fiscal.parse_nfe_xml(xml)
        fiscal.check_nfe_xml_against_key(doc, key)
    except fiscal.FiscalError as exc:
        raise InvalidInput(exc.detail, code=exc.code, field="xml") from None
    if doc.purpose is not fiscal.NfePurpose.RETURN:
        raise InvalidInput(
            f"The XML is an NF-e of purpose {doc.purpose} (finNFe), not a return (4).",
            code=ReturnsErrorCode.RETURN_NFE_NOT_A_RETURN,
            field="xml",
        )
    if invoice_key is None:
        raise Conflict(
            "The order has no NF-e for the return to refer to.",
            code=ReturnsErrorCode.RETURN_NFE_ORDER_WITHOUT_INVOICE,
        )
    if doc.returned_key != invoice_key:
        raise InvalidInput(
            f"The return NF-e refers to {doc.returned_key or 'no NF-e'}, not the order's {invoice_key}.",
            code=ReturnsErrorCode.RETURN_NFE_WRONG_REFERENCE,
            field="xml",
        )


# --- refunds the gateway reports -----------------------------------------------------------------


def record_gateway_refund(
    order_id: int,
    *,
    amount: Decimal | None,
    reference: str,
    actor: Actor,
    total: Decimal | None = None,
) -> str | None:
    """A payment gateway reports a refund: ``amount`` this one, or ``total`` refunded so far
    (this one is then ``total`` minus what Malote knows refunded), or neither (whatever was left).
    Returns what it was taken as, or ``None`` when it is none of these and stays what it was
    before (a cancellation of the order):

    - ``return_refunded:<number>``: the refund a return asked for (matched by the gateway's
      reference, else by amount, oldest first) — the return is confirmed refunded;
    - ``partial_refund``: part of what is left, with no return to pin it on — noted on the order's
      timeline for a person, and counted as refunded;
    - ``refunded_by_returns``: nothing was left, the returns' refunds took it all;
    - ``refund_known``: the ``total`` is what Malote already counts as refunded.

    Runs in the caller's transaction (relay intake, with the inbox row).
    """
    with transaction.atomic():
        order = _lock_order(order_id)
        pending = list(Return.objects.filter(order=order, status=ReturnStatus.REFUND_PENDING).order_by("id"))
        if amount is None and total is not None:
            asked = sum((r.refund_amount or selectors.ZERO for r in pending), selectors.ZERO)
            amount = total - (selectors.refunded_amount(order) - asked)
            if amount <= 0:
                return "refund_known"
        match = next((r for r in pending if reference and r.refund_reference == reference), None)
        if match is None and amount is not None:
            match = next((r for r in pending if r.refund_amount == amount), None)
        if match is None and amount is None and len(pending) == 1:
            match = pending[0]
        if match is not None:
            confirm = ConfirmRefundIn(amount=match.refund_amount, reference=reference[:100])
            run_return_transition(match.pk, "confirm_refund", confirm, actor=actor)
            return f"return_refunded:{match.number}"
        left = selectors.refundable_amount(order)
        if left <= 0 and Return.objects.filter(order=order, refund_amount__isnull=False).exists():
            return "refunded_by_returns"
        if amount is not None and 0 < amount < left:
            OrderEvent.objects.create(
                order=order,
                type=selectors.PARTIAL_REFUND_EVENT,
                actor_kind=str(actor.kind),
                actor_label=actor.label[:200],
                actor_user_id=actor.user_id,
                data={"amount": str(amount), "reference": reference, "left": str(left - amount)},
            )
            return "partial_refund"
    return None
