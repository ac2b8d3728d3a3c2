"""API of integration issues (``/api/v1/issues``): list with filters, read one with its history,
act on one (``reintegrate``, ``import``, ``cancel``, ``open_ticket``, ``push_again``, ``accept``,
``dismiss``).

Reading needs ``orders.view_order``; acting ``orders.change_order_status`` (the operator's
permission to change orders: every action ends in an order change or a message to a system).
Errors are ``{code, detail, field?}``: 404 ``issue_not_found``, 409 ``issue_closed`` /
``issue_not_repairable`` / ``helpdesk_missing``, 422 ``unknown_action`` / ``reason_required``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Path, Query, Router, Schema
from pydantic import ConfigDict, Field

from malote.api.auth import actor_for, require
from malote.api.bodies import optional_body, request_body
from malote.api.schemas import MAX_ID, MAX_OFFSET, error_responses
from malote.core.errors import NotFound
from malote.reconcile import repair, selectors
from malote.reconcile.errors import ReconcileErrorCode
from malote.reconcile.models import IntegrationIssue

router = Router(tags=["issues"])
ERRORS = error_responses(404)
BODY_ERRORS = error_responses(404, 409, 413)
VIEW = "orders.view_order"
ACT = "orders.change_order_status"

Kind = Literal["not_integrated", "divergent", "stuck", "unpaid"]
State = Literal["open", "resolving", "resolved", "dismissed", "active"]
IssueId = Annotated[int, Path(ge=1, le=MAX_ID)]
Action = Literal["reintegrate", "import", "cancel", "open_ticket", "push_again", "accept", "dismiss"]


class HistoryOut(Schema):
    action: str
    from_state: str
    to_state: str
    actor: str
    note: str
    data: dict[str, Any]
    at: datetime


class IssueOut(Schema):
    id: int
    kind: str
    state: str
    order_id: int | None
    order_number: str | None
    external_ref: str
    channel: str
    other_channel: str | None
    detail: str
    evidence: dict[str, Any]
    recommended_action: str
    first_seen: datetime
    last_seen: datetime
    resolved_at: datetime | None
    resolution: str
    ticket: dict[str, str] | None


class IssueDetailOut(IssueOut):
    history: list[HistoryOut]


class ActIn(Schema):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=2000)
    # ``cancel`` of an invoiced order: what happens to its NF-e, as on ``POST …/transitions/cancel``.
    nfe_action: Literal["cancel_nfe", "return_nfe"] | None = Field(
        default=None, description="For an invoiced order: cancel_nfe (event 110111) or return_nfe"
    )


class ActOut(Schema):
    result: str
    issue: IssueDetailOut


def issue_dict(issue: IntegrationIssue) -> dict[str, Any]:
    return {
        "id": issue.pk,
        "kind": issue.kind,
        "state": issue.state,
        "order_id": issue.order_id,
        "order_number": issue.order.number if issue.order_id and issue.order else None,
        "external_ref": issue.external_ref,
        "channel": issue.channel.code,
        "other_channel": issue.other_channel.code if issue.other_channel_id and issue.other_channel else None,
        "detail": issue.detail,
        "evidence": issue.evidence,
        "recommended_action": issue.recommended_action,
        "first_seen": issue.first_seen,
        "last_seen": issue.last_seen,
        "resolved_at": issue.resolved_at,
        "resolution": issue.resolution,
        "ticket": (
            {"id": issue.ticket_id, "status": issue.ticket_status, "url": issue.ticket_url}
            if issue.ticket_id
            else None
        ),
    }


def detail_dict(issue: IntegrationIssue) -> dict[str, Any]:
    history = [
        {
            "action": e.action,
            "from_state": e.from_state,
            "to_state": e.to_state,
            "actor": e.actor_label,
            "note": e.note,
            "data": e.data,
            "at": e.created_at,
        }
        for e in issue.history.all()
    ]
    return {**issue_dict(issue), "history": history}


def _get(issue_id: int) -> IntegrationIssue:
    issue = selectors.issues().filter(pk=issue_id).first()
    if issue is None:
        raise NotFound(f"No integration issue {issue_id}.", code=ReconcileErrorCode.ISSUE_NOT_FOUND)
    return issue


@router.get("/issues", response={200: list[IssueOut], **ERRORS}, summary="List integration issues")
def list_issues(
    request: HttpRequest,
    kind: Kind | None = Query(None),  # noqa: B008
    state: State = Query("active"),  # noqa: B008
    channel: str | None = Query(None, max_length=50),
    order_id: int | None = Query(None, ge=1, le=MAX_ID),
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
) -> list[dict[str, Any]]:
    """Active issues (open or resolving) by default, most recently seen first."""
    require(request, VIEW)
    qs: QuerySet[IntegrationIssue] = selectors.filtered(
        kind=kind, state=state, channel=channel.replace("\x00", "") if channel else None, order_id=order_id
    )
    return [issue_dict(issue) for issue in qs[offset : offset + limit]]


@router.get("/issues/{int:issue_id}", response={200: IssueDetailOut, **ERRORS}, summary="Read one issue")
def get_issue(request: HttpRequest, issue_id: IssueId) -> dict[str, Any]:
    require(request, VIEW)
    return detail_dict(_get(issue_id))


@router.post(
    "/issues/{int:issue_id}/actions/{action}",
    response={200: ActOut, **BODY_ERRORS},
    summary="Act on an issue",
    # The body is optional: without one (or with {}) the reason is empty.
    openapi_extra={"requestBody": request_body(ActIn, required=False)},
)
def act_on_issue(request: HttpRequest, issue_id: IssueId, action: Action) -> dict[str, Any]:
    """``dismiss`` needs a ``reason``; ``cancel`` cancels the order everywhere (reason
    ``customer_gave_up``; an invoiced order needs ``nfe_action``, else 422 ``nfe_action_required``);
    ``reintegrate``/``open_ticket`` check the order and the payment first. The body may be left out."""
    require(request, ACT)
    _get(issue_id)
    payload = optional_body(request, ActIn)
    result = repair.act(
        issue_id, action, actor=actor_for(request), reason=payload.reason, nfe_action=payload.nfe_action or ""
    )
    return {"result": result, "issue": detail_dict(_get(issue_id))}
