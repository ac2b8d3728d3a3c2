"""Outbox and dead letters: see what is waiting or failed, retry one, replay many."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from django.http import HttpRequest
from ninja import Path, Query, Router, Schema
from pydantic import ConfigDict, Field, StrictBool

from malote.api.auth import require
from malote.api.errors import ApiErrorCode
from malote.api.schemas import MAX_ID, Id, error_responses
from malote.core.errors import NotFound
from malote.sync import outbox
from malote.sync.models import MessageState, OutboxMessage

router = Router(tags=["outbox"])
MessageId = Annotated[int, Path(ge=1, le=MAX_ID)]
ERRORS = error_responses(404)
BODY_ERRORS = error_responses(404, 409, 413)


class MessageOut(Schema):
    id: int
    destination: str
    kind: str
    key: str
    order_id: int | None
    seq: int
    state: str
    attempts: int
    next_attempt_at: datetime
    last_error: str
    last_status: int | None
    created_at: datetime
    delivered_at: datetime | None


class ReplayIn(Schema):
    model_config = ConfigDict(extra="forbid")

    ids: list[Id] = Field(default_factory=list, max_length=10_000)
    # Strict: 0, 1 or "true" is not a yes or no.
    all: StrictBool = False
    destination: str | None = Field(default=None, max_length=80)


class ReplayOut(Schema):
    replayed: int


def _out(m: OutboxMessage) -> dict[str, Any]:
    return {
        "id": m.pk,
        "destination": m.destination,
        "kind": m.kind,
        "key": m.key,
        "order_id": m.order_id,
        "seq": m.seq,
        "state": m.state,
        "attempts": m.attempts,
        "next_attempt_at": m.next_attempt_at,
        "last_error": m.last_error,
        "last_status": m.last_status,
        "created_at": m.created_at,
        "delivered_at": m.delivered_at,
    }


@router.get("/outbox", response={200: list[MessageOut], **ERRORS}, summary="List outbox messages")
def list_messages(
    request: HttpRequest,
    state: Literal["pending", "in_flight", "done", "dead", "superseded"] = Query(MessageState.DEAD),
    destination: str | None = Query(None, max_length=80),
    order_id: int | None = Query(None, ge=1, le=MAX_ID),
    limit: int = Query(100, ge=1, le=1000),
) -> list[dict[str, Any]]:
    """Dead letters by default; newest last."""
    require(request, "sync.view_outboxmessage")
    qs = OutboxMessage.objects.filter(state=state).order_by("id")
    if destination:
        qs = qs.filter(destination=destination.replace("\x00", ""))
    if order_id:
        qs = qs.filter(order_id=order_id)
    return [_out(m) for m in qs[:limit]]


@router.post(
    "/outbox/{int:message_id}/retry",
    response={200: MessageOut, **BODY_ERRORS},
    summary="Retry one message now",
)
def retry_message(request: HttpRequest, message_id: MessageId) -> dict[str, Any]:
    require(request, "sync.change_outboxmessage")
    if not OutboxMessage.objects.filter(pk=message_id).exists():
        raise NotFound(f"No outbox message {message_id}.", code=ApiErrorCode.MESSAGE_NOT_FOUND)
    return _out(outbox.retry_now(message_id))


@router.post("/outbox/replay", response={200: ReplayOut, **BODY_ERRORS}, summary="Replay dead letters")
def replay_messages(request: HttpRequest, payload: ReplayIn) -> dict[str, int]:
    """Given ids, or ``all`` (optionally for one destination): dead letters go back to pending."""
    require(request, "sync.change_outboxmessage")
    if payload.all:
        return {"replayed": outbox.replay_all_dead(payload.destination)}
    return {"replayed": outbox.replay(payload.ids)}
