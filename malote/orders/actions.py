"""Commands that change orders. Every caller (API, back office, connectors, schedules) uses these.

Each command takes the actor explicitly, locks and re-reads the order, checks the lifecycle
table, and writes the facts, the status and the ``OrderEvent`` in one transaction. Permissions
are the caller's business (see ``lifecycle``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from pydantic import BaseModel, ValidationError

from malote.channels.models import Channel
from malote.core import fastsql
from malote.core.actors import Actor
from malote.core.errors import Conflict, InvalidInput, NotFound
from malote.orders import changes, events, search
from malote.orders.changes import OrderChange
from malote.orders.effects import EFFECTS, check_invoice_xml, reserve_stock
from malote.orders.errors import OrdersErrorCode
from malote.orders.lifecycle import TRANSITIONS, Transition
from malote.orders.models import Invoice, Order, OrderEvent, OrderLine, Payment
from malote.orders.schemas import OrderIn
from malote.orders.selectors import channels_needing_invoice_xml
from malote.orders.statuses import OrderStatus, PaymentStatus, StockState

CENT = Decimal("0.01")


@dataclass(frozen=True)
class TransitionResult:
    order: Order
    applied: bool


def invalid_input_from(exc: ValidationError, *, prefix: str = "") -> InvalidInput:
    """The first pydantic error as a coded ``InvalidInput`` (all errors ride along in ``errors``)."""
    errors = [
        {
            "field": ".".join(str(p) for p in (prefix, *err["loc"]) if p != ""),
            "code": err["type"],
            "detail": err["msg"],
        }
        for err in exc.errors(include_url=False)
    ]
    first = errors[0]
    return InvalidInput(
        first["detail"], code=first["code"], field=first["field"] or None, extra={"errors": errors}
    )


# --- creating orders ---------------------------------------------------------------------------


def _check_totals(data: OrderIn) -> Decimal:
    subtotal = Decimal("0.00")
    for index, item in enumerate(data.items):
        gross = item.unit_price * item.quantity
        if item.discount > gross:
            raise InvalidInput(
                f"Line {index + 1}: discount {item.discount} exceeds the line value {gross}.",
                code=OrdersErrorCode.LINE_DISCOUNT_EXCEEDS_VALUE,
                field=f"items.{index}.discount",
            )
        subtotal += gross - item.discount
    expected = (subtotal + data.shipping.price + data.tax - data.discount).quantize(CENT)
    if expected != data.total.quantize(CENT):
        raise InvalidInput(
            f"Totals do not add up: subtotal {subtotal} + shipping {data.shipping.price} + tax {data.tax}"
            f" − discount {data.discount} = {expected}, but total is {data.total}.",
            code=OrdersErrorCode.TOTALS_MISMATCH,
            field="total",
        )
    return subtotal


def create_order(data: OrderIn, *, actor: Actor) -> tuple[Order, bool]:
    """Create the canonical order, or return the one that already has this (channel, external_id).

    Returns ``(order, created)``. Reserves stock for the lines; an order imported as paid whose
    lines cannot all be reserved goes on to ``out_of_stock``. Nothing is written on any error.
    """
    channel = Channel.objects.filter(code=data.channel).first()
    if channel is None:
        raise InvalidInput(
            f"No channel with code {data.channel!r}.", code=OrdersErrorCode.UNKNOWN_CHANNEL, field="channel"
        )
    existing = Order.objects.filter(channel=channel, external_id=data.external_id).first()
    if existing is not None:
        return existing, False
    subtotal = _check_totals(data)
    try:
        with transaction.atomic():
            order = _insert_order(data, channel, subtotal, actor)
    except IntegrityError:
        # A concurrent request created the same (channel, external_id) first: answer with it.
        existing = Order.objects.filter(channel=channel, external_id=data.external_id).first()
        if existing is None:
            raise
        return existing, False
    return order, True


def _insert_order(data: OrderIn, channel: Channel, subtotal: Decimal, actor: Actor) -> Order:
    billing = data.billing_address.model_dump()
    shipping = data.shipping_address.model_dump() if data.shipping_address else billing
    order = Order.objects.create(
        channel=channel,
        external_id=data.external_id,
        placed_at=data.placed_at,
        status=data.status,
        status_path=[data.status],
        currency=data.currency,
        subtotal=subtotal,
        shipping_price=data.shipping.price,
        discount=data.discount,
        tax=data.tax,
        total=data.total,
        customer_name=data.customer.name,
        customer_email=data.customer.email,
        customer_phone=data.customer.phone,
        customer_document=data.customer.document,
        billing_address=billing,
        shipping_address=shipping,
        shipping_method=data.shipping.method,
        marketplace=data.marketplace,
        payment_method=data.payment.method,
    )
    order.number = f"{settings.MALOTE_ORDER_NUMBER_PREFIX}{order.pk:07d}"
    order.search_key = search.search_key(
        [order.number, order.external_id, order.customer_document, order.customer_email, order.customer_name]
    )
    OrderLine.objects.bulk_create(
        OrderLine(
            order=order,
            position=index + 1,
            sku=item.sku,
            name=item.name,
            quantity=item.quantity,
            unit_price=item.unit_price,
            discount=item.discount,
        )
        for index, item in enumerate(data.items)
    )
    paid = data.status == OrderStatus.PAID
    Payment.objects.create(
        order=order,
        method=data.payment.method,
        gateway=data.payment.gateway,
        transaction_id=data.payment.transaction_id,
        installments=data.payment.installments,
        amount=data.total,
        due_date=data.payment.due_date,
        expires_at=data.payment.expires_at,
        status=PaymentStatus.APPROVED if paid else PaymentStatus.PENDING,
        paid_at=data.placed_at if paid else None,
    )
    short = reserve_stock(order, actor)
    order.save(update_fields=["number", "search_key", "stock_state"])
    events.order_created(order, actor, stock=order.stock_state, short_skus=short)
    changes.publish(OrderChange(order, "created", "", order.status, actor))
    if short and paid:
        _apply(
            order, TRANSITIONS["flag_out_of_stock"], TRANSITIONS["flag_out_of_stock"].input(), Actor.system()
        )
    return order


# --- transitions -------------------------------------------------------------------------------


def parse_input(schema: type[BaseModel], payload: dict[str, Any] | BaseModel | None) -> Any:
    """Validate a command's input against ``schema`` (a model of it passes as it is, another model
    is re-read by its set fields); raises a coded ``InvalidInput``."""
    if isinstance(payload, schema):
        return payload
    if isinstance(payload, BaseModel):
        payload = payload.model_dump(exclude_unset=True)
    try:
        return schema.model_validate(payload or {})
    except ValidationError as exc:
        raise invalid_input_from(exc) from None


def parse_transition_input(transition: Transition, payload: dict[str, Any] | BaseModel | None) -> BaseModel:
    """Validate a transition's input against its schema; raises a coded ``InvalidInput``."""
    parsed: BaseModel = parse_input(transition.input, payload)
    return parsed


def get_transition_or_404(name: str) -> Transition:
    transition = TRANSITIONS.get(name)
    if transition is None:
        raise NotFound(
            f"No transition named {name!r}.", code=OrdersErrorCode.UNKNOWN_TRANSITION, field="name"
        )
    return transition


def _given(data: BaseModel) -> dict[str, Any]:
    return data.model_dump(mode="json", exclude_unset=True)


def _conflicting_fields(before: dict[str, Any], now: dict[str, Any]) -> list[str]:
    return sorted(k for k in before.keys() & now.keys() if before[k] != now[k])


# ``deliver`` naming a part is ``shipments.deliver_part``, which builds on this module; it registers
# itself here when the orders app is ready, so this module does not import it back.
_PART_HANDLERS: dict[str, Callable[..., TransitionResult]] = {}


def register_part_delivery(handler: Callable[..., TransitionResult]) -> None:
    _PART_HANDLERS["deliver"] = handler


def run_transition(
    order_id: int, name: str, payload: dict[str, Any] | BaseModel | None, *, actor: Actor
) -> TransitionResult:
    """Run transition ``name`` on an order.

    Raises ``NotFound`` (unknown order or transition), ``InvalidInput`` (422, with field and code),
    ``Conflict`` ``transition_not_allowed`` (with the current status) when the table forbids it,
    and ``Conflict`` ``transition_conflict`` when the transition already happened with other data.
    Repeating a transition that already happened with the same data is a successful no-op
    (``applied`` is False), so connectors may retry freely. ``deliver`` naming a part by its
    tracking code is ``shipments.deliver_part``.
    """
    transition = get_transition_or_404(name)
    data = parse_transition_input(transition, payload)
    if name == "deliver" and getattr(data, "tracking_code", None) is not None:
        # One part of a partial shipment (docs/lifecycle.md): the status changes with the last one.
        deliver_part = _PART_HANDLERS.get("deliver")
        if deliver_part is None:
            raise RuntimeError("orders.shipments has not registered the delivery of a part")
        return deliver_part(order_id, data, actor=actor)
    with transaction.atomic():
        order = fastsql.lock(Order, order_id)
        if order is None:
            raise NotFound(f"No order with id {order_id}.", code=OrdersErrorCode.ORDER_NOT_FOUND)
        if transition.target is not None and transition.target in order.status_path:
            _check_repeat(order, transition, data)
            return TransitionResult(order, applied=False)
        reason = transition.blocking_reason(order)
        if reason:
            raise Conflict(
                reason,
                code=OrdersErrorCode.TRANSITION_NOT_ALLOWED,
                extra={"status": order.status, "transition": transition.name},
            )
        _apply(order, transition, data, actor)
    return TransitionResult(order, applied=True)


def _check_repeat(order: Order, transition: Transition, data: BaseModel) -> None:
    previous = (
        OrderEvent.objects.filter(order=order, transition=transition.name)
        .order_by("-id")
        .values_list("data", flat=True)
        .first()
    )
    if previous is None:
        return
    conflicting = _conflicting_fields(previous.get("input", {}), _given(data))
    if conflicting:
        raise Conflict(
            f"{transition.name} already happened on this order with other values"
            f" for: {', '.join(conflicting)}.",
            code=OrdersErrorCode.TRANSITION_CONFLICT,
            field=conflicting[0],
            extra={"status": order.status, "transition": transition.name},
        )


# Run by every transition, so written out (see fastsql); ``updated_at`` is the status change's time.
_UPDATE_STATUS = (
    "UPDATE orders_order SET status = %s, status_path = %s, status_changed_at = %s,"
    " stock_state = %s, cancel_reason = %s, updated_at = %s WHERE id = %s"
)


def _apply(order: Order, transition: Transition, data: BaseModel, actor: Actor) -> None:
    """Write the effect, the new status and the event. Runs inside the caller's transaction."""
    from_status = order.status
    outcome = EFFECTS[transition.name](order, data, actor)
    # After the effect: reopen decides its target there (awaiting payment when the payment is gone).
    to_status = transition.target or order.status_path[-2]
    path = list(order.status_path)
    if transition.target is None:
        path.pop()  # reopen: the terminal status may be entered again later
    else:
        path.append(to_status)
    order.status = to_status
    order.status_path = path
    order.status_changed_at = timezone.now()
    changed_at = fastsql.prep(Order, "status_changed_at", order.status_changed_at)
    fastsql.execute(
        _UPDATE_STATUS,
        [
            str(order.status),
            fastsql.prep(Order, "status_path", path),
            changed_at,
            str(order.stock_state),
            order.cancel_reason,
            changed_at,
            order.pk,
        ],
    )
    given = _given(data)
    events.transition_applied(
        order, transition.name, from_status, to_status, actor, {"input": given, **outcome.data}
    )
    for write_event in outcome.after:
        write_event()
    changes.publish(OrderChange(order, transition.name, from_status, to_status, actor, given))
    if outcome.follow_up:
        follow = TRANSITIONS[outcome.follow_up]
        _apply(order, follow, follow.input(), Actor.system())


def resume_out_of_stock_orders(skus: list[str], *, actor: Actor) -> list[Order]:
    """Move ``out_of_stock`` orders holding any of ``skus`` on to ``preparing``, oldest first,
    as far as the stock now allows. Each order is its own transaction."""
    waiting = (
        Order.objects.filter(status=OrderStatus.OUT_OF_STOCK, lines__sku__in=skus)
        .exclude(stock_state=StockState.RESERVED)
        .order_by("placed_at", "id")
        .values_list("id", flat=True)
        .distinct()
    )
    resumed = []
    for order_id in list(waiting):
        try:
            resumed.append(run_transition(order_id, "start_preparing", None, actor=actor).order)
        except Conflict:
            continue
    return resumed


# --- facts after the transition -------------------------------------------------------------------

MAX_XML_CHARS = 2_000_000


def attach_invoice_xml(order_id: int, xml: str, *, actor: Actor) -> TransitionResult:
    """Attach the authorized NF-e XML to the order's invoice ("waiting for NF-e XML" ends).

    The XML is checked like the ``invoice`` transition's (parsed; its key must be the invoice's,
    its total the order's, its recipient the customer; authorized by SEFAZ when a channel takes
    the NF-e only as XML), stored on the invoice, recorded on the timeline, and only then is the
    invoice routed to the channels that were waiting for it (one outbox message each, in this
    transaction). Attaching the same XML again is a successful no-op (``applied`` False) that
    sends nothing; another XML once one is stored is ``Conflict`` ``invoice_xml_conflict``.
    Raises ``NotFound``, ``InvalidInput`` (field ``xml``) and ``Conflict`` ``invoice_missing`` /
    ``invoice_xml_not_allowed`` (canceled order).
    """

    xml = (xml or "").strip()
    if not xml:
        raise InvalidInput(
            "Send the NF-e XML (nfeProc).", code=OrdersErrorCode.INVOICE_XML_MISSING, field="xml"
        )
    if len(xml) > MAX_XML_CHARS:
        raise InvalidInput(
            "The XML is too large for an NF-e.", code=OrdersErrorCode.INVOICE_XML_TOO_LARGE, field="xml"
        )
    with transaction.atomic():
        order = fastsql.lock(Order, order_id)
        if order is None:
            raise NotFound(f"No order with id {order_id}.", code=OrdersErrorCode.ORDER_NOT_FOUND)
        invoice = Invoice.objects.filter(order=order).order_by("-id").first()
        if invoice is None:
            raise Conflict(
                "The order has no invoice yet: run the invoice transition first.",
                code=OrdersErrorCode.INVOICE_MISSING,
                extra={"status": order.status},
            )
        if invoice.xml:
            if invoice.xml.strip() == xml:
                return TransitionResult(order, applied=False)
            raise Conflict(
                "This invoice already has another XML.",
                code=OrdersErrorCode.INVOICE_XML_CONFLICT,
                field="xml",
            )
        if order.status == OrderStatus.CANCELED:
            raise Conflict(
                "The order is canceled: its NF-e goes nowhere.",
                code=OrdersErrorCode.INVOICE_XML_NOT_ALLOWED,
                extra={"status": order.status},
            )
        needing = channels_needing_invoice_xml(order)
        authorization = check_invoice_xml(order, xml, invoice.key, needs_xml=bool(needing))
        Invoice.objects.filter(pk=invoice.pk).update(
            xml=xml,
            authorization_protocol=authorization.get("protocol", invoice.authorization_protocol),
            authorization_status=authorization.get("status", invoice.authorization_status),
            **authorization["fields"],
        )
        attached = OrderChange(order, changes.INVOICE_XML_ATTACHED, order.status, order.status, actor)
        changes.publish(attached)  # the relay tells the channels that waited for the XML
        events.invoice_xml_attached(
            order, actor, key=invoice.key, sent_to=attached.told, protocol=authorization.get("protocol", "")
        )
    return TransitionResult(order, applied=True)
