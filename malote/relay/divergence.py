"""Commands on order links: recording a divergence and resolving it.

A divergence (docs/channel-rules.md, "manual change in a marketplace breaks the flow") is a status a
channel reports that Malote cannot reach from the order's own through the lifecycle, or an
earlier status the channel went back to. It is never silently overwritten in either direction:
the link turns ``divergent`` with what the channel said and what Malote expects there, the
order's timeline says so, the channel's further reports about the order are recorded but not
applied, and the pushes to that channel for that order are held (dead letters with
``last_error`` ``divergent: …``, see ``malote.relay.delivery``) until an operator resolves it:

- ``push_again``: Malote is right; the held messages are replayed in their order (or, when none
  was held, Malote's latest status the channel has a word for is pushed), so the channel is
  brought back in line;
- ``accept_remote``: the channel is right; the order is moved to the channel's status through
  the lifecycle, as the channel's own change (refused with ``Conflict``
  ``accept_remote_not_allowed`` when the table has no way there, e.g. back to an earlier status);
  the held messages stay dead;
- ``dismiss``: the operator settled it by hand; nothing is sent or changed, the held messages
  stay dead (replayable from the outbox).
Each resolution is recorded on the order's timeline.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from malote.channels.models import Channel, LinkState, OrderLink
from malote.channels.status_maps import StatusMap
from malote.connectors.registry import provider
from malote.core.actors import Actor
from malote.core.errors import Conflict, InvalidInput, NotFound
from malote.orders import events
from malote.orders.advance import advance
from malote.orders.models import Order
from malote.relay.delivery import HELD_PREFIX
from malote.relay.errors import RelayErrorCode
from malote.sync import outbox
from malote.sync.models import MessageState, OutboxMessage

RESOLUTIONS = ("push_again", "accept_remote", "dismiss")


def expected_statuses(channel: Channel, order: Order) -> tuple[str, str]:
    """(canonical, remote) status Malote expects the channel to show: what it told it
    (``StatusMap.told``); ``("", "")`` when the channel has a word for none of the order's statuses."""
    cls = provider(channel.kind)
    if cls is None:
        status_map = StatusMap.of(channel.status_map, default_out={}, default_in={})
    else:
        status_map = cls.status_map_of(channel)
    return status_map.told(order.status_path, order.status)


def expected_remote_status(channel: Channel, order: Order) -> str:
    """Malote's status in the channel's words (see ``expected_statuses``)."""
    return expected_statuses(channel, order)[1]


def record_divergence(
    order: Order,
    channel: Channel,
    *,
    remote_status: str,
    remote_canonical_status: str,
    reason: str,
    event_id: str = "",
    seen_at: datetime | None = None,
    actor: Actor,
) -> dict[str, Any]:
    """Turn the order's link to ``channel`` divergent and write the timeline event; runs inside
    the caller's transaction (the intake's). Returns the recorded divergence."""
    expected, expected_remote = expected_statuses(channel, order)
    divergence = {
        "remote_status": remote_status,
        "remote_canonical_status": remote_canonical_status,
        "malote_status": order.status,
        "expected_status": expected,
        "expected_remote_status": expected_remote,
        "reason": reason,
        "event_id": event_id,
    }
    now = timezone.now()
    link, _ = OrderLink.objects.get_or_create(order=order, channel=channel)
    OrderLink.objects.filter(pk=link.pk).update(
        state=LinkState.DIVERGENT,
        divergence=divergence,
        divergent_since=link.divergent_since or now,
        remote_status=remote_status[:60],
        remote_canonical_status=remote_canonical_status,
        remote_status_at=seen_at or now,
        last_error=f"Divergent: {reason}"[:2000],
    )
    events.divergence_detected(order, actor, channel=channel.code, divergence=divergence)
    return divergence


def held_messages(link: OrderLink) -> list[int]:
    """Ids of the messages to this link's channel about its order held by the divergence."""
    return list(
        OutboxMessage.objects.filter(
            destination=f"channel:{link.channel.code}",
            order_id=link.order_id,
            state=MessageState.DEAD,
            last_error__startswith=HELD_PREFIX,
        )
        .order_by("id")
        .values_list("id", flat=True)
    )


def resolve_divergence(link_id: int, action: str, *, actor: Actor, reason: str = "") -> OrderLink:
    """Resolve a divergent link with ``action`` (``push_again``, ``accept_remote``, ``dismiss``;
    see the module docstring). Raises ``NotFound``, ``InvalidInput`` ``unknown_resolution``,
    ``Conflict`` ``link_not_divergent`` and, for ``accept_remote``, ``accept_remote_not_allowed``
    or the transition's own error. Permissions are the caller's business."""

    if action not in RESOLUTIONS:
        raise InvalidInput(
            f"Unknown resolution {action!r}; use one of: {', '.join(RESOLUTIONS)}.",
            code=RelayErrorCode.UNKNOWN_RESOLUTION,
            field="action",
        )
    with transaction.atomic():
        link = OrderLink.objects.select_for_update().select_related("channel").filter(pk=link_id).first()
        if link is None:
            raise NotFound(f"No order link with id {link_id}.", code=RelayErrorCode.LINK_NOT_FOUND)
        if link.state != LinkState.DIVERGENT:
            raise Conflict(
                "This link is not divergent.",
                code=RelayErrorCode.LINK_NOT_DIVERGENT,
                extra={"state": link.state},
            )
        detail: dict[str, Any] = {"divergence": dict(link.divergence)}
        if action == "push_again":
            held = held_messages(link)
            _clear(link)
            if held:
                outbox.replay(held)
            else:
                order = Order.objects.get(pk=link.order_id)
                status, _ = expected_statuses(link.channel, order)
                if status:
                    outbox.enqueue(
                        f"channel:{link.channel.code}",
                        "order.status",
                        {"op": "status", "status": status},
                        order_id=order.pk,
                    )
            detail["replayed"] = held
        elif action == "accept_remote":
            target = link.remote_canonical_status
            if not target:
                raise Conflict(
                    "The channel's status has no canonical meaning to accept.",
                    code=RelayErrorCode.ACCEPT_REMOTE_NOT_ALLOWED,
                )
            _clear(link)
            facts = {"cancel_reason": "channel", "note": reason or f"Status aceito de {link.channel.code}"}
            # Taken in as the channel's own change (so it is not echoed back to it); the operator
            # who decided is on the resolution event.
            result = advance(link.order_id, target, facts, actor=Actor.channel(link.channel.code))
            if result != "applied":
                raise Conflict(  # rolls the clearing back: the link stays divergent
                    f"The lifecycle has no way to {target} from here ({result}).",
                    code=RelayErrorCode.ACCEPT_REMOTE_NOT_ALLOWED,
                    extra={"result": result},
                )
            detail["result"] = result
        else:
            _clear(link)
        order = Order.objects.get(pk=link.order_id)
        events.divergence_resolved(
            order, actor, channel=link.channel.code, action=action, reason=reason, detail=detail
        )
    link.refresh_from_db()
    return link


def _clear(link: OrderLink) -> None:
    OrderLink.objects.filter(pk=link.pk).update(
        state=LinkState.LINKED, divergence={}, divergent_since=None, last_error=""
    )
