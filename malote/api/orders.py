"""Orders: create, list and search, read, transitions, timeline, export."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime
from typing import Annotated, Any, Literal

from django.db.models import Q, QuerySet
from django.http import HttpRequest, StreamingHttpResponse
from django.utils import timezone
from ninja import Path, Query, Router, Schema, Status
from pydantic import Field, WithJsonSchema

from malote.api import schemas
from malote.api.auth import actor_for, require
from malote.api.bodies import read_object, request_body
from malote.api.errors import ApiErrorCode
from malote.api.schemas import MAX_ID, EventOut, OrderPageOut, TransitionOut, error_responses
from malote.api.streaming import streaming_response
from malote.core.errors import InvalidInput, NotFound
from malote.fiscal.errors import FiscalErrorCode
from malote.orders import actions, invoice_events, selectors, serializers, shipments
from malote.orders.errors import OrdersErrorCode
from malote.orders.lifecycle import TRANSITIONS, Transition
from malote.orders.models import Order
from malote.orders.schemas import YEAR_1970_TO_2200, InvoiceIn, OrderIn, ShipIn
from malote.orders.statuses import OrderStatus


# The parts of a partial shipment (docs/lifecycle.md). These extend ``malote.api.schemas``'
# ShipmentOut and OrderOut under the same component names; they belong there (moved when that
# module is next edited).
class ShipmentLineOut(Schema):
    line: int = Field(description="The order line's position")
    sku: str
    quantity: int = Field(description="Units of the line in this part")


class ShipmentOut(schemas.ShipmentOut):
    number: int = Field(description="The part's number in the order, 1, 2… in the order recorded")
    lines: list[ShipmentLineOut] = Field(
        description="The units this part carries (a shipment of the whole order lists every unit;"
        " one still ready for collection, none)"
    )


class OrderOut(schemas.OrderOut):
    shipments: list[ShipmentOut]  # type: ignore[assignment]
    unshipped: list[ShipmentLineOut] = Field(description="Units of the order not yet in any part")


router = Router(tags=["orders"])
OrderId = Annotated[int, Path(ge=1, le=MAX_ID)]

ERRORS = error_responses(404)
# A POST may also be refused for its size (413) or, repeated under an Idempotency-Key, while the
# first is still running (409).
BODY_ERRORS = error_responses(404, 409, 413)


def _order_or_404(order_id: int) -> Order:
    order = (
        Order.objects.select_related("channel")
        .prefetch_related("lines", "payments", "invoices__events", "shipments__lines__line", "links__channel")
        .filter(pk=order_id)
        .first()
    )
    if order is None:
        raise NotFound(f"No order with id {order_id}.", code=OrdersErrorCode.ORDER_NOT_FOUND)
    return order


@router.post(
    "/orders", response={200: OrderOut, 201: OrderOut, **BODY_ERRORS}, summary="Create (or find) an order"
)
def create_order(request: HttpRequest, payload: OrderIn) -> Status[dict[str, Any]]:
    """Create the canonical order. The same (channel, external_id) again answers 200 with the
    existing order and writes nothing. Stock is reserved for the lines."""
    require(request, "orders.add_order")
    order, created = actions.create_order(payload, actor=actor_for(request))
    return Status(201 if created else 200, serializers.order_detail(_order_or_404(order.pk), request.user))


# --- list and search ---------------------------------------------------------------------------


def _encode_cursor(order: Order) -> str:
    return base64.urlsafe_b64encode(f"{order.placed_at.isoformat()}|{order.pk}".encode()).decode()


def _after_cursor(qs: QuerySet[Order], cursor: str) -> QuerySet[Order]:
    try:
        placed, _, pk = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        placed_at = datetime.fromisoformat(placed)
        last_id = int(pk)
        if timezone.is_naive(placed_at) or not 0 < last_id < 2**63:
            raise ValueError(cursor)
        selectors.in_range(placed_at)
    except (ValueError, OverflowError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput(
            "The cursor is not one this API gave out.", code=ApiErrorCode.INVALID_CURSOR, field="cursor"
        ) from None
    return qs.filter(Q(placed_at__lt=placed_at) | Q(placed_at=placed_at, pk__lt=last_id))


# The date filters: a date or a date-time in the years an order can be placed in (OrderIn: 1970 to
# 2200), or empty for no filter. The OpenAPI document says so; the server refuses anything else
# with 422 invalid_datetime.
MOMENT_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "string", "maxLength": 0},
        {"type": "string", "format": "date", "pattern": YEAR_1970_TO_2200},
        {"type": "string", "format": "date-time", "pattern": YEAR_1970_TO_2200},
    ]
}
_YEAR_IN_RANGE = re.compile(YEAR_1970_TO_2200)
# Query parameters as documented (a query parameter is never null, so no "or null").
Moment = Annotated[str | None, WithJsonSchema(MOMENT_SCHEMA)]
SearchText = Annotated[str | None, WithJsonSchema({"type": "string", "maxLength": 200})]
Cursor = Annotated[str | None, WithJsonSchema({"type": "string", "pattern": "^[A-Za-z0-9_=-]*$"})]


def _filtered(
    status: list[OrderStatus],
    channel: list[str],
    placed_from: str | None,
    placed_to: str | None,
    q: str | None,
) -> QuerySet[Order]:
    for field, value in (("placed_from", placed_from), ("placed_to", placed_to)):
        if value and not _YEAR_IN_RANGE.match(value):
            raise InvalidInput(
                f"{value!r} is not a date or ISO 8601 date-time between 1970 and 2200.",
                code=OrdersErrorCode.INVALID_DATETIME,
                field=field,
            )
    return selectors.filtered_orders(status, channel, placed_from, placed_to, q)


@router.get("/orders", response={200: OrderPageOut, **ERRORS}, summary="List and search orders")
def list_orders(
    request: HttpRequest,
    status: list[OrderStatus] = Query([]),  # noqa: B008
    channel: list[str] = Query([]),  # noqa: B008
    placed_from: Moment = Query(None, description="Date (YYYY-MM-DD) or ISO 8601 date-time"),  # noqa: B008
    placed_to: Moment = Query(None, description="Date (whole day, inclusive) or ISO 8601 date-time"),  # noqa: B008
    q: SearchText = Query(  # noqa: B008
        None,
        description="Contains-search: Malote number, external id (punctuation and shipment suffix ignored)",
    ),
    invoice_xml_pending: bool = Query(False, description="Only orders waiting for their NF-e XML"),
    invoice_held_for_shipment: bool = Query(
        False,
        description="Only invoiced, not yet shipped orders whose NF-e a channel takes only after the shipment"
        " (sent to it at ship)",
    ),
    divergent: bool = Query(False, description="Only orders a linked system shows differently"),
    cursor: Cursor = Query(  # noqa: B008
        None,
        description="next_cursor of the previous page (opaque: 422 invalid_cursor if not one from this API)",
    ),
    limit: int = Query(50, ge=1, le=200),
) -> dict[str, Any]:
    """Newest first (placed_at, then id), keyset-paginated so pages never shift under inserts."""
    require(request, "orders.view_order")
    qs = _filtered(status, channel, placed_from, placed_to, q)
    if invoice_xml_pending:
        qs = selectors.orders_awaiting_invoice_xml(qs)
    if invoice_held_for_shipment:
        qs = selectors.orders_invoice_held_for_shipment(qs)
    if divergent:
        qs = selectors.orders_with_divergent_links(qs)
    qs = qs.order_by("-placed_at", "-id")
    if cursor:
        qs = _after_cursor(qs, cursor)
    page = list(qs[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    return {
        "items": [serializers.order_summary(o) for o in page],
        "next_cursor": _encode_cursor(page[-1]) if more and page else None,
    }


@router.get("/orders/export", response={200: None, **ERRORS}, summary="Export the order history (streamed)")
def export_orders(
    request: HttpRequest,
    format: Literal["csv", "json"] = Query("csv"),
    status: list[OrderStatus] = Query([]),  # noqa: B008
    channel: list[str] = Query([]),  # noqa: B008
    placed_from: Moment = Query(None, description="Date (YYYY-MM-DD) or ISO 8601 date-time"),  # noqa: B008
    placed_to: Moment = Query(None, description="Date (whole day, inclusive) or ISO 8601 date-time"),  # noqa: B008
    q: SearchText = Query(None),  # noqa: B008
) -> StreamingHttpResponse:
    """Every order matching the list's filters, oldest first, as CSV or a JSON array; streamed
    row by row so memory stays flat however many orders there are."""
    require(request, "orders.export_order")
    qs = _filtered(status, channel, placed_from, placed_to, q)
    return streaming_response(qs, format)


# --- one order ---------------------------------------------------------------------------------


@router.get("/orders/{int:order_id}", response={200: OrderOut, **ERRORS}, summary="Read an order")
def get_order(request: HttpRequest, order_id: OrderId) -> dict[str, Any]:
    require(request, "orders.view_order")
    return serializers.order_detail(_order_or_404(order_id), request.user)


@router.get(
    "/orders/{int:order_id}/events", response={200: list[EventOut], **ERRORS}, summary="Order timeline"
)
def order_events(request: HttpRequest, order_id: OrderId) -> list[dict[str, Any]]:
    require(request, "orders.view_order")
    order = _order_or_404(order_id)
    return [serializers.event_dict(e) for e in order.events.order_by("id")]


@router.get(
    "/orders/{int:order_id}/transitions",
    response={200: list[TransitionOut], **ERRORS},
    summary="Transitions and whether this caller may run them now",
)
def order_transitions(request: HttpRequest, order_id: OrderId) -> list[dict[str, Any]]:
    require(request, "orders.view_order")
    return serializers.transitions_for(_order_or_404(order_id), request.user)


def _run(request: HttpRequest, order_id: int, transition: Transition) -> dict[str, Any]:
    _order_or_404(order_id)
    require(request, transition.permission)
    payload = read_object(request)
    if transition.name == "cancel":
        invoice_events.check_cancel_declares_nfe_action(order_id, payload)  # a person never cancels silently
    actions.run_transition(order_id, transition.name, payload, actor=actor_for(request))
    return serializers.order_detail(_order_or_404(order_id), request.user)


def _register_transition(transition: Transition) -> None:
    def endpoint(request: HttpRequest, order_id: OrderId) -> dict[str, Any]:
        return _run(request, order_id, transition)

    endpoint.__name__ = f"transition_{transition.name}"
    router.post(
        f"/orders/{{int:order_id}}/transitions/{transition.name}",
        response={200: OrderOut, **BODY_ERRORS},
        summary=f"Run {transition.name}",
        description=(
            f"From {', '.join(sorted(transition.sources))} to {transition.target or 'the status before'}."
            f" Needs permission {transition.permission}. Repeating it with the same data is a no-op;"
            " with other data after it happened: 409 transition_conflict."
        ),
        operation_id=f"transition_{transition.name}",
        # The body may be left out only where the input has no required field (it reads as {}).
        openapi_extra={
            "requestBody": request_body(
                transition.input, required=bool(transition.input.model_json_schema().get("required"))
            )
        },
    )(endpoint)


for _transition in TRANSITIONS.values():
    _register_transition(_transition)


XML_TYPES = ("application/xml", "text/xml")
# Some text that is not only blanks (else 422 invoice_xml_missing).
XML_TEXT = {"type": "string", "minLength": 1, "pattern": "\\S"}


def _read_xml(request: HttpRequest) -> str:
    """The NF-e XML: the raw body (``application/xml``, ``text/xml``) or ``{"xml": "…"}`` in JSON."""
    if request.content_type in XML_TYPES or request.body.lstrip()[:1] == b"<":
        try:
            return request.body.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput(
                "The XML is not UTF-8 text.", code=FiscalErrorCode.NFE_XML_MALFORMED, field="xml"
            ) from None
    xml = read_object(request).get("xml")
    if not isinstance(xml, str) or not xml.strip():
        raise InvalidInput(
            "Send the NF-e XML (nfeProc).", code=OrdersErrorCode.INVOICE_XML_MISSING, field="xml"
        )
    return xml


@router.post(
    "/orders/{int:order_id}/invoice/xml",
    response={200: OrderOut, **BODY_ERRORS},
    summary="Attach the NF-e XML to the order's invoice",
    description=(
        "For orders invoiced with the bare key whose channel takes the NF-e only as XML (Mercado Livre):"
        " the XML is checked (its key must be the invoice's), stored, and only then is the invoice sent"
        " to that channel. The body is the XML itself (Content-Type application/xml) or"
        ' {"xml": "…"}. Needs the invoice transition\'s permission. The same XML again is a no-op;'
        " another one: 409 invoice_xml_conflict; no invoice yet: 409 invoice_missing."
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/xml": {"schema": XML_TEXT},
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {"xml": XML_TEXT},
                        "required": ["xml"],
                    }
                },
            },
        }
    },
)
def attach_invoice_xml(request: HttpRequest, order_id: OrderId) -> dict[str, Any]:
    _order_or_404(order_id)
    require(request, TRANSITIONS["invoice"].permission)
    actions.attach_invoice_xml(order_id, _read_xml(request), actor=actor_for(request))
    return serializers.order_detail(_order_or_404(order_id), request.user)


@router.post(
    "/orders/{int:order_id}/invoice/events",
    response={200: OrderOut, **BODY_ERRORS},
    summary="Record an NF-e event: its cancellation or a carta de correção",
    description=(
        "An event SEFAZ registered on one of the order's NF-e: the cancellation (tpEvento 110111,"
        " within 24 h of the authorization, justification 15–255 characters) or a carta de correção"
        " (110110, sequence 1–20 rising, text 15–1000 characters; never after the cancellation)."
        " The body is the event's fields in JSON, or its procEventoNFe file (Content-Type"
        ' application/xml, or {"xml": "…"}; SEFAZ\'s answer must say cStat 135 or 136). Needs'
        " orders.change_order_status. The same event again is a no-op; another one with the same"
        " type and sequence: 409 invoice_event_conflict; a canceled NF-e: 409 invoice_canceled; a"
        " CC-e not above the last: 409 invoice_correction_sequence; a key that is no invoice of the"
        " order: 422 invoice_event_key_not_of_order. The systems that take NF-e events are told"
        " through the outbox."
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                **request_body(invoice_events.InvoiceEventIn, required=True)["content"],
                "application/xml": {"schema": XML_TEXT},
            },
        }
    },
)
def record_invoice_event(request: HttpRequest, order_id: OrderId) -> dict[str, Any]:
    _order_or_404(order_id)
    require(request, "orders.change_order_status")
    if request.content_type in XML_TYPES or request.body.lstrip()[:1] == b"<":
        payload: dict[str, Any] = {"xml": _read_xml(request)}
    else:
        payload = read_object(request)
    invoice_events.record_invoice_event(order_id, payload, actor=actor_for(request))
    return serializers.order_detail(_order_or_404(order_id), request.user)


@router.post(
    "/orders/{int:order_id}/shipments",
    response={200: OrderOut, **BODY_ERRORS},
    summary="Ship a further part of the order (partial shipment)",
    description=(
        "Records another part (volume) of an order already shipped — status shipped, in_transit or"
        " delivery_failed — with its carrier, service, tracking code (checked by the carrier's rule)"
        " and units: lines as {sku or line, quantity}, or none for every unit left. The status does"
        " not change. Needs orders.change_order_status. The same part again is a no-op; its tracking"
        " code with other data, or another part's: 409 shipment_part_conflict; nothing left: 409"
        " order_fully_shipped; the order not on its way (the first part is transitions/ship): 409"
        " shipment_part_not_allowed; more units than are left: 422 shipment_quantity_exceeds_remaining."
    ),
    openapi_extra={"requestBody": request_body(ShipIn, required=True)},
)
def ship_part(request: HttpRequest, order_id: OrderId) -> dict[str, Any]:
    _order_or_404(order_id)
    require(request, "orders.change_order_status")
    shipments.ship_part(order_id, read_object(request), actor=actor_for(request))
    return serializers.order_detail(_order_or_404(order_id), request.user)


@router.post(
    "/orders/{int:order_id}/invoices",
    response={200: OrderOut, **BODY_ERRORS},
    summary="Add a further NF-e to an invoiced order (the ERP split it)",
    description=(
        "For an order already invoiced (transitions/invoice) whose ERP issued several NF-e: the key's"
        " number, series and month are checked as in invoice, the key is unique (409"
        " invoice_key_in_use); the XML, when given, must be the key's and the customer's, but may"
        " cover part of the order's total. No status changes and no stock moves. Needs"
        " orders.change_order_status. The same key again is a no-op; before the first invoice: 409"
        " invoice_missing; a canceled order: 409 invoice_not_allowed."
    ),
    openapi_extra={"requestBody": request_body(InvoiceIn, required=True)},
)
def add_invoice(request: HttpRequest, order_id: OrderId) -> dict[str, Any]:
    _order_or_404(order_id)
    require(request, "orders.change_order_status")
    shipments.add_invoice(order_id, read_object(request), actor=actor_for(request))
    return serializers.order_detail(_order_or_404(order_id), request.user)


@router.post(
    "/orders/{int:order_id}/transitions/{name}",
    response={200: OrderOut, **BODY_ERRORS},
    summary="Run a transition by name",
    include_in_schema=False,
)
def run_named_transition(request: HttpRequest, order_id: OrderId, name: str) -> dict[str, Any]:
    return _run(request, order_id, actions.get_transition_or_404(name))
