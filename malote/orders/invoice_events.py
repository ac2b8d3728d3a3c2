"""Recording the events SEFAZ registers on an order's NF-e: cancellation and carta de correção.

``record_invoice_event`` is the one command every caller uses (API, back office). The event comes
as fields or as its ``procEventoNFe`` file; ``malote.fiscal.nfe_event`` checks its own rules, this
module checks it against the order's invoices (docs/lifecycle.md, "NF-e events"). The event, its
timeline entry and the outbox rows of the systems that take it (relay routing, through the order
change ``INVOICE_EVENT_RECORDED``) are written in one transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from django.db import transaction
from django.db.models import Exists, OuterRef
from pydantic import ConfigDict, Field, ValidationError

from malote import fiscal
from malote.core import fastsql
from malote.core.actors import Actor
from malote.core.errors import Conflict, InvalidInput, NotFound
from malote.fiscal.nfe_event import (
    NfeEvent,
    NfeEventType,
    check_after_authorization,
    check_cancellation_window,
    parse_nfe_event_xml,
)
from malote.fiscal.nfe_event import validate_nfe_event as validate_fields
from malote.orders import changes, events
from malote.orders.actions import invalid_input_from
from malote.orders.changes import OrderChange
from malote.orders.errors import OrdersErrorCode
from malote.orders.lifecycle import TRANSITIONS
from malote.orders.models import Invoice, InvoiceEvent, InvoiceEventType, Order
from malote.orders.schemas import NFE_KEY_PATTERN, AwareDatetime, Strict, WholeNumber

MAX_EVENT_XML_CHARS = 200_000
FIELDS = ("key", "type", "sequence", "protocol", "registered_at", "text")
# The input field a fiscal rule is about (the whole file when the event came as XML).
_FIELD_OF_CODE = {
    fiscal.FiscalErrorCode.NFE_EVENT_TYPE: "type",
    fiscal.FiscalErrorCode.NFE_EVENT_SEQUENCE: "sequence",
    fiscal.FiscalErrorCode.NFE_EVENT_PROTOCOL: "protocol",
    fiscal.FiscalErrorCode.NFE_EVENT_REGISTERED_AT: "registered_at",
    fiscal.FiscalErrorCode.NFE_EVENT_BEFORE_AUTHORIZATION: "registered_at",
    fiscal.FiscalErrorCode.NFE_EVENT_CANCELLATION_WINDOW: "registered_at",
    fiscal.FiscalErrorCode.NFE_EVENT_JUSTIFICATION_LENGTH: "text",
    fiscal.FiscalErrorCode.NFE_EVENT_CORRECTION_LENGTH: "text",
    fiscal.FiscalErrorCode.NFE_EVENT_TEXT_CHARACTERS: "text",
}


def _xml_or_every_field(schema: dict[str, Any]) -> None:
    """The OpenAPI form of the input: ``xml`` alone, or every field and no ``xml``. A null counts
    as absent when read, but the document keeps one form per field (no nulls)."""
    for prop in schema.get("properties", {}).values():
        branches = [b for b in prop.pop("anyOf", []) if b.get("type") != "null"]
        if branches:
            prop.update(branches[0])
        prop.pop("default", None)
        # Bounds on an optional annotated integer come out under pydantic's own names.
        for name, json_name in (("ge", "minimum"), ("le", "maximum")):
            if name in prop:
                prop[json_name] = prop.pop(name)
    schema["oneOf"] = [
        {"required": ["xml"], "not": {"anyOf": [{"required": [name]} for name in FIELDS]}},
        {"required": list(FIELDS), "not": {"required": ["xml"]}},
    ]


class InvoiceEventIn(Strict):
    """An NF-e event: the ``procEventoNFe`` file in ``xml``, or the fields (all of them)."""

    model_config = ConfigDict(json_schema_extra=_xml_or_every_field)

    xml: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_EVENT_XML_CHARS,
        description="The procEventoNFe file, instead of the fields",
    )
    key: str | None = Field(
        default=None,
        max_length=60,
        description="The NF-e's access key",
        json_schema_extra={"pattern": NFE_KEY_PATTERN},
    )
    type: Literal["cancellation", "correction"] | None = Field(
        default=None, description="cancellation (tpEvento 110111) or correction, the CC-e (110110)"
    )
    sequence: Annotated[WholeNumber, Field(ge=1, le=20)] | None = Field(
        default=None, description="nSeqEvento: 1 for a cancellation; a CC-e 1 to 20"
    )
    protocol: str | None = Field(
        default=None,
        max_length=20,
        description="The event's SEFAZ protocol",
        json_schema_extra={"pattern": "^[0-9]{15}([0-9]{2})?$"},
    )
    registered_at: AwareDatetime | None = Field(default=None, description="dhRegEvento")
    text: str | None = Field(
        default=None,
        max_length=1000,
        description="The justification (15–255) or the correction (15–1000)",
        json_schema_extra={"minLength": 15},
    )


@dataclass(frozen=True)
class InvoiceEventResult:
    order: Order
    event: InvoiceEvent
    applied: bool


def event_dict(event: InvoiceEvent, key: str) -> dict[str, Any]:
    """The event as plain JSON (API, timeline, outbox payload)."""
    kind = NfeEventType(event.type)
    return {
        "key": key,
        "type": str(kind),
        "code": kind.code,
        "sequence": event.sequence,
        "protocol": event.protocol,
        "registered_at": event.registered_at.isoformat(),
        "text": event.text,
    }


def _fiscal_error(exc: fiscal.FiscalError, *, from_xml: bool) -> InvalidInput:
    if from_xml:
        field = "xml"
    else:
        field = "key" if exc.code.startswith("nfe_key_") else _FIELD_OF_CODE.get(exc.code, "")
    return InvalidInput(exc.detail, code=exc.code, field=field or None)


def read_event(payload: dict[str, Any] | InvoiceEventIn) -> tuple[NfeEvent, str]:
    """The event the input describes and the XML it came as (""), checked by its own rules.
    Raises coded ``InvalidInput`` (422)."""
    try:
        data = payload if isinstance(payload, InvoiceEventIn) else InvoiceEventIn.model_validate(payload)
    except ValidationError as exc:
        raise invalid_input_from(exc) from None
    given = [name for name in FIELDS if getattr(data, name) is not None]
    if data.xml is not None:
        if given:
            raise InvalidInput(
                "Send the event's XML or its fields, not both.",
                code=OrdersErrorCode.INVOICE_EVENT_XML_AND_FIELDS,
                field=given[0],
            )
        try:
            return parse_nfe_event_xml(data.xml), data.xml
        except fiscal.FiscalError as exc:
            raise _fiscal_error(exc, from_xml=True) from None
    for name in FIELDS:
        if getattr(data, name) is None:
            raise InvalidInput(f"Send the event's {name} (or its XML).", code="missing", field=name)
    assert data.registered_at is not None and data.sequence is not None
    try:
        event = validate_fields(
            key=str(data.key),
            event_type=str(data.type),
            sequence=data.sequence,
            protocol=str(data.protocol),
            registered_at=data.registered_at,
            text=str(data.text),
        )
    except fiscal.FiscalError as exc:
        raise _fiscal_error(exc, from_xml=False) from None
    return event, ""


def authorized_at(invoice: Invoice) -> datetime:
    """When SEFAZ authorized the NF-e: ``protNFe/dhRecbto`` of the stored XML; without it, the
    issue time, which is never later (so the cancellation window is never stretched)."""
    if invoice.xml:
        try:
            authorization = fiscal.parse_nfe_xml(invoice.xml).authorization
        except fiscal.FiscalError:
            authorization = None
        if authorization is not None and authorization.received_at is not None:
            return authorization.received_at
    return invoice.issued_at


def is_canceled(invoice: Invoice) -> bool:
    """SEFAZ registered the NF-e's cancellation."""
    return any(e.type == InvoiceEventType.CANCELLATION for e in invoice.events.all())


def _differing(existing: InvoiceEvent, event: NfeEvent) -> list[str]:
    pairs = {
        "protocol": (existing.protocol, event.protocol),
        "registered_at": (existing.registered_at, event.registered_at),
        "text": (existing.text, event.text),
    }
    return [name for name, (before, now) in pairs.items() if before != now]


def _check_against_invoice(invoice: Invoice, event: NfeEvent, *, from_xml: bool) -> None:
    """The order of events on one NF-e; raises ``Conflict`` (409) or ``InvalidInput`` (422)."""
    if invoice.events.filter(type=InvoiceEventType.CANCELLATION).exists():
        raise Conflict(
            f"NF-e {invoice.number}/{invoice.series} is canceled: it takes no further event.",
            code=OrdersErrorCode.INVOICE_CANCELED,
        )
    authorized = authorized_at(invoice)
    try:
        if event.type is NfeEventType.CANCELLATION:
            check_cancellation_window(authorized, event.registered_at)
        else:
            check_after_authorization(authorized, event.registered_at)
    except fiscal.FiscalError as exc:
        raise _fiscal_error(exc, from_xml=from_xml) from None
    if (
        event.authorization_protocol
        and invoice.authorization_protocol
        and event.authorization_protocol != invoice.authorization_protocol
    ):
        raise InvalidInput(
            f"The cancellation names protocol {event.authorization_protocol}; the NF-e was authorized"
            f" under {invoice.authorization_protocol}.",
            code=OrdersErrorCode.INVOICE_EVENT_PROTOCOL_MISMATCH,
            field="xml",
        )
    if event.type is NfeEventType.CORRECTION:
        last = (
            invoice.events.filter(type=InvoiceEventType.CORRECTION)
            .order_by("-sequence")
            .values_list("sequence", flat=True)
            .first()
        )
        if last is not None and event.sequence <= last:
            raise Conflict(
                f"CC-e nº {last} is already recorded: a new one takes a higher sequence.",
                code=OrdersErrorCode.INVOICE_CORRECTION_SEQUENCE,
                field="sequence",
                extra={"last_sequence": last},
            )


def record_invoice_event(
    order_id: int, payload: dict[str, Any] | InvoiceEventIn, *, actor: Actor
) -> InvoiceEventResult:
    """Record a cancellation or CC-e SEFAZ registered on one of the order's NF-e.

    Refusals: ``InvalidInput`` (422) for the event's own rules (fiscal codes), a key that is no
    invoice of this order (``invoice_event_key_not_of_order``), a cancellation outside 24 h of the
    authorization; ``NotFound`` (404) ``order_not_found``; ``Conflict`` (409) ``invoice_missing``,
    ``invoice_canceled`` (a canceled NF-e takes no further event), ``invoice_correction_sequence``
    (a CC-e's sequence must exceed the last one) and ``invoice_event_conflict`` (another event with
    the same type and sequence). The same event again is a no-op (``applied`` False).
    """
    event, xml = read_event(payload)
    from_xml = bool(xml)
    with transaction.atomic():
        order = fastsql.lock(Order, order_id)
        if order is None:
            raise NotFound(f"No order with id {order_id}.", code=OrdersErrorCode.ORDER_NOT_FOUND)
        invoices = list(Invoice.objects.filter(order=order))
        if not invoices:
            raise Conflict(
                "The order has no invoice: there is no NF-e to record an event on.",
                code=OrdersErrorCode.INVOICE_MISSING,
                extra={"status": order.status},
            )
        invoice = next((i for i in invoices if i.key == event.key), None)
        if invoice is None:
            raise InvalidInput(
                f"The key {event.key} is no NF-e of this order.",
                code=OrdersErrorCode.INVOICE_EVENT_KEY_NOT_OF_ORDER,
                field="xml" if from_xml else "key",
            )
        existing = InvoiceEvent.objects.filter(
            invoice=invoice, type=event.type, sequence=event.sequence
        ).first()
        if existing is not None:
            differing = _differing(existing, event)
            if differing:
                raise Conflict(
                    f"This {event.type} nº {event.sequence} is already recorded with other values"
                    f" for: {', '.join(differing)}.",
                    code=OrdersErrorCode.INVOICE_EVENT_CONFLICT,
                    field="xml" if from_xml else differing[0],
                )
            return InvoiceEventResult(order, existing, applied=False)
        _check_against_invoice(invoice, event, from_xml=from_xml)
        recorded = InvoiceEvent.objects.create(
            invoice=invoice,
            type=str(event.type),
            sequence=event.sequence,
            protocol=event.protocol,
            registered_at=event.registered_at,
            text=event.text,
            xml=xml,
        )
        data = event_dict(recorded, invoice.key)
        change = OrderChange(order, changes.INVOICE_EVENT_RECORDED, order.status, order.status, actor, data)
        changes.publish(change)  # relay routing queues the systems that take NF-e events
        events.invoice_event_recorded(order, actor, event=data, sent_to=change.told)
    return InvoiceEventResult(order, recorded, applied=True)


def orders_needing_nfe_action(order_ids: Iterable[int]) -> set[int]:
    """Those of ``order_ids`` whose cancellation now needs the person to say what happens to the
    NF-e: the order can be canceled, has an NF-e, and SEFAZ's cancellation of it is not recorded.
    Two queries whatever the number of orders."""
    cancelable = set(
        Order.objects.filter(pk__in=list(order_ids), status__in=TRANSITIONS["cancel"].sources).values_list(
            "pk", flat=True
        )
    )
    if not cancelable:
        return set()
    invoiced = Invoice.objects.filter(order_id__in=cancelable)
    canceled_nfe = InvoiceEvent.objects.filter(
        invoice__order_id=OuterRef("order_id"), type=InvoiceEventType.CANCELLATION
    )
    return set(invoiced.exclude(Exists(canceled_nfe)).values_list("order_id", flat=True))


def cancel_needs_nfe_action(order_id: int) -> bool:
    """Whether cancelling this order now needs the person's word on its NF-e (see above)."""
    return order_id in orders_needing_nfe_action([order_id])


def check_cancel_declares_nfe_action(order_id: int, payload: dict[str, Any]) -> None:
    """A person cancelling an invoiced order says what happens to its NF-e (``nfe_action``:
    ``cancel_nfe`` or ``return_nfe``), never silently. Not asked when the order cannot be
    canceled now (already canceled: a repeat; delivered), or when SEFAZ's cancellation of its NF-e
    is already recorded.
    Raises ``InvalidInput`` ``nfe_action_required`` (422, field ``nfe_action``)."""
    if payload.get("nfe_action") not in (None, "") or not cancel_needs_nfe_action(order_id):
        return
    raise InvalidInput(
        "The order has an NF-e: say whether it is canceled at SEFAZ (cancel_nfe) or undone by a"
        " return NF-e (return_nfe).",
        code=OrdersErrorCode.NFE_ACTION_REQUIRED,
        field="nfe_action",
    )
