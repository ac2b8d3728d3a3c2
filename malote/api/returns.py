"""Returns (devoluções) of an order: open, list, read, run a transition, attach the return NF-e.
See docs/returns.md."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from django.http import HttpRequest
from ninja import Path, Router, Schema, Status

from malote.api.auth import actor_for, require
from malote.api.bodies import read_object, request_body
from malote.api.schemas import MAX_ID, error_responses
from malote.core.errors import NotFound
from malote.orders.errors import OrdersErrorCode
from malote.orders.models import Order
from malote.returns import actions, selectors
from malote.returns.errors import ReturnsErrorCode
from malote.returns.lifecycle import RETURN_TRANSITIONS, RUN, ReturnTransition
from malote.returns.models import Return
from malote.returns.schemas import ReturnIn, ReturnNfeIn

router = Router(tags=["returns"])
OrderId = Annotated[int, Path(ge=1, le=MAX_ID)]
ReturnId = Annotated[int, Path(ge=1, le=MAX_ID)]

ERRORS = error_responses(404)
BODY_ERRORS = error_responses(404, 409, 413)
VIEW = "orders.view_order"


class ReturnLineOut(Schema):
    id: int
    position: int
    sku: str
    name: str
    quantity: int
    received_quantity: int | None
    condition: str


class ReturnOut(Schema):
    id: int
    order_id: int
    number: str
    status: str
    status_label: str
    reason: str
    requested_by: str
    channel: str
    note: str
    refund_amount: Decimal | None
    refunded_amount: Decimal | None
    refund_reference: str
    nfe_key: str
    created_at: datetime
    received_at: datetime | None
    refunded_at: datetime | None
    lines: list[ReturnLineOut]
    transitions: list[str]


def _out(ret: Return) -> dict[str, Any]:
    return {
        "id": ret.pk,
        "order_id": ret.order_id,
        "number": ret.number,
        "status": ret.status,
        "status_label": ret.status_label,
        "reason": ret.reason,
        "requested_by": ret.requested_by,
        "channel": ret.channel_code,
        "note": ret.note,
        "refund_amount": ret.refund_amount,
        "refunded_amount": ret.refunded_amount,
        "refund_reference": ret.refund_reference,
        "nfe_key": ret.nfe_key,
        "created_at": ret.created_at,
        "received_at": ret.received_at,
        "refunded_at": ret.refunded_at,
        "lines": [
            {
                "id": line.pk,
                "position": line.order_line.position,
                "sku": line.order_line.sku,
                "name": line.order_line.name,
                "quantity": line.quantity,
                "received_quantity": line.received_quantity,
                "condition": line.condition,
            }
            for line in ret.lines.select_related("order_line")
        ],
        "transitions": [t.name for t in selectors.transitions_now(ret)],
    }


def _order_or_404(order_id: int) -> Order:
    order = Order.objects.filter(pk=order_id).first()
    if order is None:
        raise NotFound(f"No order with id {order_id}.", code=OrdersErrorCode.ORDER_NOT_FOUND)
    return order


def _return_or_404(return_id: int) -> Return:
    ret = Return.objects.filter(pk=return_id).first()
    if ret is None:
        raise NotFound(f"No return with id {return_id}.", code=ReturnsErrorCode.RETURN_NOT_FOUND)
    return ret


@router.post(
    "/orders/{int:order_id}/returns",
    response={201: ReturnOut, **BODY_ERRORS},
    summary="Open a return of some of an order's lines",
)
def create_return(request: HttpRequest, order_id: OrderId, payload: ReturnIn) -> Status[dict[str, Any]]:
    """Only an order that shipped (shipped, in transit, delivery problem, delivered) can have a
    return: before that, 409 ``order_not_shipped`` (cancel the order instead). Each line's
    quantity is at most what was ordered minus what other open returns hold (422
    ``return_quantity_exceeds_ordered``, every broken rule in ``errors``)."""
    _order_or_404(order_id)
    require(request, RUN)
    ret = actions.create_return(order_id, payload, actor=actor_for(request))
    return Status(201, _out(_return_or_404(ret.pk)))


@router.get(
    "/orders/{int:order_id}/returns", response={200: list[ReturnOut], **ERRORS}, summary="An order's returns"
)
def list_returns(request: HttpRequest, order_id: OrderId) -> list[dict[str, Any]]:
    require(request, VIEW)
    order = _order_or_404(order_id)
    return [_out(ret) for ret in Return.objects.filter(order=order).order_by("id")]


@router.get("/returns/{int:return_id}", response={200: ReturnOut, **ERRORS}, summary="Read a return")
def get_return(request: HttpRequest, return_id: ReturnId) -> dict[str, Any]:
    require(request, VIEW)
    return _out(_return_or_404(return_id))


def _register_transition(transition: ReturnTransition) -> None:
    def endpoint(request: HttpRequest, return_id: ReturnId) -> dict[str, Any]:
        _return_or_404(return_id)
        require(request, transition.permission)
        actions.run_return_transition(
            return_id, transition.name, read_object(request), actor=actor_for(request)
        )
        return _out(_return_or_404(return_id))

    endpoint.__name__ = f"return_transition_{transition.name}"
    router.post(
        f"/returns/{{int:return_id}}/transitions/{transition.name}",
        response={200: ReturnOut, **BODY_ERRORS},
        summary=f"Run the return transition {transition.name}",
        description=(
            f"From {', '.join(sorted(transition.sources))} to {transition.target}. Needs permission"
            f" {transition.permission}. Run again once the return is there: a no-op; from another"
            " status: 409 return_transition_not_allowed."
        ),
        operation_id=f"return_transition_{transition.name}",
        openapi_extra={
            "requestBody": request_body(
                transition.input, required=bool(transition.input.model_json_schema().get("required"))
            )
        },
    )(endpoint)


for _transition in RETURN_TRANSITIONS.values():
    _register_transition(_transition)


@router.post(
    "/returns/{int:return_id}/nfe",
    response={200: ReturnOut, **BODY_ERRORS},
    summary="Attach the return NF-e (finNFe 4)",
)
def attach_return_nfe(request: HttpRequest, return_id: ReturnId, payload: ReturnNfeIn) -> dict[str, Any]:
    """The key must be valid (check digit); an XML given must be that key's NF-e, a return
    (``return_nfe_not_a_return``) of the order's own NF-e (``return_nfe_wrong_reference``). The
    same key again is a no-op; another: 409 ``return_nfe_conflict``."""
    _return_or_404(return_id)
    require(request, RUN)
    actions.attach_return_nfe(return_id, payload, actor=actor_for(request))
    return _out(_return_or_404(return_id))
