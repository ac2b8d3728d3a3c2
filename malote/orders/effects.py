"""What each transition writes besides the status: payment, invoice and shipment facts, and stock.

Each effect runs inside the command's transaction with the order row locked, may raise a coded
error (nothing is then written), and returns extra data for the timeline event. An effect may
also ask for an automatic follow-up transition (a paid order whose stock cannot be reserved goes
on to ``out_of_stock``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q
from django.utils import timezone
from pydantic import BaseModel

from malote import fiscal
from malote.channels.models import Channel, ChannelRole, OrderLink
from malote.core import fastsql
from malote.core.actors import Actor
from malote.core.errors import Conflict, InvalidInput
from malote.orders import events, parts, schemas
from malote.orders.errors import OrdersErrorCode
from malote.orders.models import Invoice, Order, Payment, Shipment
from malote.orders.selectors import channels_needing_invoice_xml, order_stock_lines
from malote.orders.statuses import (
    HOLDS_RESERVATION,
    UNPAID,
    OrderStatus,
    PaymentStatus,
    ShipmentStatus,
    StockState,
)
from malote.stock import actions as stock
from malote.sync.models import OutboxMessage

NOT_YET_SHIPPED = frozenset({OrderStatus.INVOICED, OrderStatus.READY_TO_SHIP})


@dataclass
class Outcome:
    data: dict[str, Any] = field(default_factory=dict)
    follow_up: str | None = None
    # Further timeline events, written after the transition's own event.
    after: list[Callable[[], None]] = field(default_factory=list)


Effect = Callable[[Order, Any, Actor], Outcome]


def _insufficient(short: list[str]) -> Conflict:
    return Conflict(
        f"Not enough stock for: {', '.join(short)}.",
        code=OrdersErrorCode.INSUFFICIENT_STOCK,
        extra={"skus": short},
    )


def reserve_stock(order: Order, actor: Actor) -> list[str]:
    """Reserve the order's lines; sets ``stock_state`` and returns the SKUs short (if any)."""
    short = stock.reserve(order_stock_lines(order), order_id=order.pk, actor=actor)
    if not short:
        order.stock_state = StockState.RESERVED
    return short


def _set_payment_status(order: Order, status: str) -> None:
    Payment.objects.filter(order=order).exclude(status=PaymentStatus.APPROVED).update(status=status)


def start_review(order: Order, data: BaseModel, actor: Actor) -> Outcome:
    _set_payment_status(order, PaymentStatus.IN_REVIEW)
    return Outcome()


def mark_overdue(order: Order, data: BaseModel, actor: Actor) -> Outcome:
    _set_payment_status(order, PaymentStatus.OVERDUE)
    return Outcome()


def approve_payment(order: Order, data: schemas.ApprovePaymentIn, actor: Actor) -> Outcome:
    given = {name: getattr(data, name) for name in ("method", "gateway", "transaction_id", "amount")}
    facts = {name: value for name, value in given.items() if value is not None}
    facts.update(status=PaymentStatus.APPROVED, paid_at=data.paid_at or timezone.now())
    open_payments = fastsql.rows(
        "SELECT id FROM orders_payment WHERE order_id = %s AND status <> %s ORDER BY id",
        [order.pk, PaymentStatus.APPROVED],
    )
    if open_payments:
        fastsql.update(Payment, open_payments[-1][0], **facts)
    else:
        Payment.objects.create(
            **{"order": order, "method": order.payment_method, "amount": order.total, **facts}
        )
    if order.stock_state == StockState.RESERVED:
        return Outcome()
    short = reserve_stock(order, actor)
    if short:
        return Outcome({"short_skus": short}, follow_up="flag_out_of_stock")
    return Outcome({"stock": "reserved"})


def flag_out_of_stock(order: Order, data: BaseModel, actor: Actor) -> Outcome:
    return Outcome()


def start_preparing(order: Order, data: BaseModel, actor: Actor) -> Outcome:
    if order.stock_state == StockState.RESERVED:
        return Outcome()
    short = reserve_stock(order, actor)
    if short:
        raise _insufficient(short)
    return Outcome({"stock": "reserved"})


# An invoice without its XML: nothing read yet (``Invoice`` columns, see ``invoice_xml_fields``).
NO_XML_FIELDS: dict[str, Any] = {"purpose": "", "direction": "", "referenced_key": "", "tax_reform_items": []}


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def invoice_xml_fields(doc: fiscal.NfeDocument) -> dict[str, Any]:
    """The ``Invoice`` columns read from its XML: purpose (finNFe), direction (tpNF), the key a
    return gives back, the IBS/CBS totals and one dict per item with an IBSCBS group (decimals
    as strings, exactly as in the XML)."""
    totals = doc.tax_reform_totals
    return {
        "purpose": str(doc.purpose),
        "direction": str(doc.direction),
        "referenced_key": doc.returned_key or "",
        "ibs_cbs_base": totals.base if totals else None,
        "ibs_state_total": totals.ibs_state if totals else None,
        "ibs_municipal_total": totals.ibs_municipal if totals else None,
        "ibs_total": totals.ibs if totals else None,
        "cbs_total": totals.cbs if totals else None,
        "tax_reform_items": [
            {name: _text(value) if name != "item_number" else value for name, value in vars(item).items()}
            for item in doc.tax_reform_items
        ],
    }


def check_invoice_xml(
    order: Order, xml: str, key: str, *, needs_xml: bool, whole_order: bool = True
) -> dict[str, Any]:
    """Parse the XML and make it agree with the key, the order total and the customer; a channel
    that takes the NF-e only as XML needs the authorized file (nfeProc). Returns the SEFAZ
    authorization facts (no ``protocol`` and ``status`` without a protNFe) and, under
    ``fields``, the ``Invoice`` columns read from the XML (``invoice_xml_fields``). Raises coded
    ``InvalidInput`` on field ``xml``."""
    try:
        doc = fiscal.parse_nfe_xml(xml)
        fiscal.check_nfe_xml_against_key(doc, key)
    except fiscal.FiscalError as exc:
        raise InvalidInput(exc.detail, code=exc.code, field="xml") from None
    if whole_order and doc.total != order.total:
        raise InvalidInput(
            f"The NF-e total {doc.total} differs from the order total {order.total}.",
            code=OrdersErrorCode.NFE_XML_TOTAL_MISMATCH,
            field="xml",
        )
    if (doc.recipient_document or "") != order.customer_document:
        raise InvalidInput(
            "The NF-e recipient document differs from the customer's CPF/CNPJ.",
            code=OrdersErrorCode.NFE_XML_RECIPIENT_MISMATCH,
            field="xml",
        )
    if doc.authorization is None:
        if needs_xml:
            raise InvalidInput(
                "The XML has no SEFAZ authorization (protNFe); send the nfeProc file.",
                code=OrdersErrorCode.NFE_XML_NOT_AUTHORIZED,
                field="xml",
            )
        return {"fields": invoice_xml_fields(doc)}
    if not doc.authorization.is_authorized:
        raise InvalidInput(
            f"SEFAZ status {doc.authorization.status_code} does not authorize this NF-e.",
            code=OrdersErrorCode.NFE_XML_NOT_AUTHORIZED,
            field="xml",
        )
    return {
        "protocol": doc.authorization.protocol,
        "status": doc.authorization.status_code,
        "fields": invoice_xml_fields(doc),
    }


def check_invoice_key(data: schemas.InvoiceIn) -> fiscal.NfeKey:
    """The key's number, series and issue month must be the input's; raises coded ``InvalidInput``."""
    key = fiscal.parse_nfe_key(data.key)
    if key.number != int(data.number):
        raise InvalidInput(
            f"The key carries NF-e number {key.number}, not {data.number}.",
            code=OrdersErrorCode.INVOICE_NUMBER_MISMATCH,
            field="number",
        )
    if key.series != int(data.series):
        raise InvalidInput(
            f"The key carries series {key.series}, not {data.series}.",
            code=OrdersErrorCode.INVOICE_SERIES_MISMATCH,
            field="series",
        )
    if (key.year, key.month) != (data.issued_at.year, data.issued_at.month):
        raise InvalidInput(
            f"The key was issued in {key.month:02d}/{key.year}, not {data.issued_at:%m/%Y}.",
            code=OrdersErrorCode.INVOICE_ISSUED_AT_MISMATCH,
            field="issued_at",
        )
    return key


def check_key_free(order: Order, key: str) -> None:
    """An NF-e key belongs to one order (409 ``invoice_key_in_use``)."""
    if fastsql.rows("SELECT order_id FROM orders_invoice WHERE key = %s AND order_id <> %s", [key, order.pk]):
        raise Conflict(
            "This NF-e key already belongs to another order.", code=OrdersErrorCode.INVOICE_KEY_IN_USE
        )


def invoice(order: Order, data: schemas.InvoiceIn, actor: Actor) -> Outcome:
    key = check_invoice_key(data)
    check_key_free(order, key.key)
    # "Invoice needs XML" (docs/channel-rules.md): an invoice without the XML is still accepted; the
    # channels that take only the XML wait for it (``actions.attach_invoice_xml``), the others
    # (the ERP, other channels) hear about the invoice at once.
    needing_xml = channels_needing_invoice_xml(order)
    waiting_for_xml = [] if data.xml else needing_xml
    authorization = (
        check_invoice_xml(order, data.xml, key.key, needs_xml=bool(needing_xml)) if data.xml else {}
    )
    lines = order_stock_lines(order)
    if order.stock_state == StockState.RESERVED:
        stock.consume(lines, order_id=order.pk, actor=actor)
    else:
        short = stock.consume_unreserved(lines, order_id=order.pk, actor=actor)
        if short:
            raise _insufficient(short)
    order.stock_state = StockState.CONSUMED
    fastsql.insert(
        Invoice,
        order=order.pk,
        key=key.key,
        number=int(data.number),
        series=int(data.series),
        issued_at=data.issued_at,
        xml=data.xml or "",
        authorization_protocol=authorization.get("protocol", ""),
        authorization_status=authorization.get("status", ""),
        **authorization.get("fields", NO_XML_FIELDS),
        created_at=timezone.now(),
    )
    outcome = Outcome({"stock": "consumed"})
    if waiting_for_xml:
        outcome.data["invoice_xml_pending"] = waiting_for_xml
        outcome.after.append(lambda: events.invoice_xml_pending(order, actor, channels=waiting_for_xml))
    return outcome


def ready_to_ship(order: Order, data: schemas.ReadyToShipIn, actor: Actor) -> Outcome:
    Shipment.objects.create(
        order=order,
        status=ShipmentStatus.READY,
        carrier=data.carrier or "",
        collection_code=data.collection_code or "",
    )
    return Outcome()


def checked_tracking_code(data: schemas.ShipIn) -> str:
    """The tracking code as the carrier's rule normalises it; raises a coded ``InvalidInput``."""
    try:
        return fiscal.validate_tracking_code(data.carrier, data.tracking_code)
    except fiscal.FiscalError as exc:
        raise InvalidInput(exc.detail, code=exc.code, field="tracking_code") from None


def ship(order: Order, data: schemas.ShipIn, actor: Actor) -> Outcome:
    code = checked_tracking_code(data)
    if data.lines is not None:
        # The first part of a partial shipment (docs/lifecycle.md): only the units named leave.
        lines = parts.resolve(order, data.lines, parts.remaining_quantities(order, []))
        parts.write_part(order, {**parts.shipment_facts(data, code), "part": 1}, lines)
        return Outcome({"tracking_code": code, "part": 1, "lines": parts.part_lines_dict(lines)})
    facts = {
        "status": ShipmentStatus.SHIPPED,
        "carrier": data.carrier,
        "method": data.method,
        "tracking_code": code,
        "tracking_url": data.tracking_url or fiscal.tracking_url(data.carrier, code) or "",
        "shipped_at": data.shipped_at or timezone.now(),
    }
    ready = fastsql.rows(
        "SELECT id FROM orders_shipment WHERE order_id = %s AND status = %s ORDER BY id",
        [order.pk, ShipmentStatus.READY],
    )
    if ready:
        fastsql.update(Shipment, ready[0][0], **facts)
    else:
        fastsql.insert(
            Shipment,
            order=order.pk,
            collection_code="",
            problem="",
            part=0,
            created_at=timezone.now(),
            **facts,
        )
    return Outcome({"tracking_code": code})


def _active_shipments(order: Order) -> Any:
    return order.shipments.exclude(status__in=[ShipmentStatus.READY, ShipmentStatus.DELIVERED])


def mark_in_transit(order: Order, data: BaseModel, actor: Actor) -> Outcome:
    _active_shipments(order).update(status=ShipmentStatus.IN_TRANSIT)
    return Outcome()


def report_delivery_problem(order: Order, data: schemas.ReportDeliveryProblemIn, actor: Actor) -> Outcome:
    _active_shipments(order).update(status=ShipmentStatus.FAILED, problem=data.description)
    return Outcome()


# Per shipment still on its way: whether it left after the delivery time, and its part number (0:
# the whole order in one shipment). One statement, as before partial shipments.
_OPEN_PARTS = (
    "SELECT shipped_at > %s, part FROM orders_shipment WHERE order_id = %s AND status NOT IN (%s, %s)"
)


def deliver(order: Order, data: schemas.DeliverIn, actor: Actor) -> Outcome:
    open_parts = fastsql.rows(
        _OPEN_PARTS,
        [
            fastsql.prep(Shipment, "shipped_at", data.delivered_at),
            order.pk,
            ShipmentStatus.READY,
            ShipmentStatus.DELIVERED,
        ],
    )
    if any(left_later for left_later, _ in open_parts):
        raise InvalidInput(
            "The delivery time is before the shipment left.",
            code=OrdersErrorCode.DELIVERED_BEFORE_SHIPPED,
            field="delivered_at",
        )
    if any(part for _, part in open_parts) or (not open_parts and data.tracking_code is None):
        _check_nothing_unshipped(order)
    fastsql.execute(
        "UPDATE orders_shipment SET status = %s, delivered_at = %s"
        " WHERE order_id = %s AND status NOT IN (%s, %s)",
        [
            ShipmentStatus.DELIVERED,
            fastsql.prep(Shipment, "delivered_at", data.delivered_at),
            order.pk,
            ShipmentStatus.READY,
            ShipmentStatus.DELIVERED,
        ],
    )
    return Outcome()


def _check_nothing_unshipped(order: Order) -> None:
    """The whole order is delivered only once every unit left (a partial shipment's parts). An order
    with no shipment Malote knows (a marketplace reporting the delivery itself) is not held back."""
    sent = parts.sent_parts(order)
    if not sent:
        return
    left = parts.unshipped(order, sent)
    if left:
        raise Conflict(
            "Some units of the order have not shipped yet: ship them (another part) or deliver a part"
            " by its tracking code.",
            code=OrdersErrorCode.ORDER_NOT_FULLY_SHIPPED,
            extra={"status": order.status, "transition": "deliver", "unshipped": left},
        )


def cancel(order: Order, data: schemas.CancelIn, actor: Actor) -> Outcome:
    """Give the stock back: a reservation is released; units invoiced but not yet shipped go back
    on the shelf. Units already shipped are not restocked here: a return is counted when it arrives."""
    lines = order_stock_lines(order)
    outcome = Outcome()
    if order.stock_state == StockState.RESERVED:
        stock.release(lines, order_id=order.pk, actor=actor)
        order.stock_state = StockState.RELEASED
        outcome.data["stock"] = "released"
    elif order.stock_state == StockState.CONSUMED and order.status in NOT_YET_SHIPPED:
        stock.restock(lines, order_id=order.pk, actor=actor)
        order.stock_state = StockState.RELEASED
        outcome.data["stock"] = "restocked"
    if order.status in UNPAID:
        _set_payment_status(order, PaymentStatus.CANCELED)
    order.cancel_reason = data.reason
    return outcome


def payment_is_gone(order: Order) -> bool:
    """Whether the gateway's last word on the order's payment is that the money is not there: the
    last payment is refused, expired or canceled in Malote, the gateway reported the order
    canceled (refused, voided, refunded, charged back), or Malote asked the gateway for a void or
    refund when the order was last canceled (routing queues it: it goes out even if the order is
    reopened meanwhile). An order with no payment record has nothing to lose."""
    last = order.payments.order_by("-id").values_list("status", flat=True).first()
    if last is None:
        return False
    if last == PaymentStatus.CANCELED:
        return True
    gateway_links = OrderLink.objects.filter(order=order, channel__role=ChannelRole.GATEWAY)
    if gateway_links.filter(
        Q(remote_canonical_status=OrderStatus.CANCELED) | Q(expected_status=OrderStatus.CANCELED)
    ).exists():
        return True
    gateways = Channel.objects.filter(role=ChannelRole.GATEWAY).values_list("code", flat=True)
    return OutboxMessage.objects.filter(
        order_id=order.pk,
        kind="order.cancellation",
        destination__in=[f"channel:{code}" for code in gateways],
        created_at__gte=order.status_changed_at,
    ).exists()


def reopen_target(order: Order) -> str | None:
    """The status ``reopen`` would return the order to (see ``reopen``); ``None`` without one."""
    if order.status == OrderStatus.CANCELED and payment_is_gone(order):
        return OrderStatus.PENDING_PAYMENT
    return order.status_path[-2] if len(order.status_path) > 1 else None


def reopen(order: Order, data: schemas.ReopenIn, actor: Actor) -> Outcome:
    """Return to the status before the terminal one, taking the stock back if it was given up.

    A canceled order whose payment is gone (``payment_is_gone``) returns to ``pending_payment``
    instead, whatever it had reached: its approved payment is marked canceled and its status path
    restarts there, so the payment can be approved again and the paid statuses entered again.
    Nothing then tells a channel the order is paid while the gateway says the money went back.
    """
    order.cancel_reason = ""
    data_out: dict[str, Any] = {}
    if order.status == OrderStatus.CANCELED and payment_is_gone(order):
        Payment.objects.filter(order=order, status=PaymentStatus.APPROVED).update(
            status=PaymentStatus.CANCELED
        )
        order.status_path = [OrderStatus.PENDING_PAYMENT, order.status_path[-1]]
        data_out["payment"] = "gone"
    target = order.status_path[-2]
    data_out["reopened_to"] = target
    if order.stock_state != StockState.RELEASED:
        return Outcome(data_out)
    lines = order_stock_lines(order)
    if target in HOLDS_RESERVATION:
        short = stock.reserve(lines, order_id=order.pk, actor=actor)
        if not short:
            order.stock_state = StockState.RESERVED
        elif target not in UNPAID:
            raise _insufficient(short)
        else:
            order.stock_state = StockState.UNRESERVED
    else:
        short = stock.consume_unreserved(lines, order_id=order.pk, actor=actor)
        if short:
            raise _insufficient(short)
        order.stock_state = StockState.CONSUMED
    return Outcome(data_out)


EFFECTS: dict[str, Effect] = {
    "start_review": start_review,
    "mark_overdue": mark_overdue,
    "approve_payment": approve_payment,
    "flag_out_of_stock": flag_out_of_stock,
    "start_preparing": start_preparing,
    "invoice": invoice,
    "ready_to_ship": ready_to_ship,
    "ship": ship,
    "mark_in_transit": mark_in_transit,
    "report_delivery_problem": report_delivery_problem,
    "deliver": deliver,
    "cancel": cancel,
    "reopen": reopen,
}
