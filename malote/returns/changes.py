"""Return changes, published inside the transaction that makes them (the contract of
``malote.orders.changes``): listeners may only write rows (outbox messages), never call out.
The relay routes a requested refund to the order's payment gateway; notify queues e-mails."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from malote.core.actors import Actor

if TYPE_CHECKING:
    from malote.returns.models import Return

# Not a transition: a return was opened (``from_status`` is "").
CREATED = "created"


@dataclass(frozen=True)
class ReturnChange:
    """What just happened to a return; listeners that send something append the destination to
    ``told``."""

    ret: Return
    transition: str
    from_status: str
    to_status: str
    actor: Actor
    data: dict[str, Any] = field(default_factory=dict)
    told: list[str] = field(default_factory=list)


Listener = Callable[[ReturnChange], None]
_LISTENERS: list[Listener] = []


def register_listener(listener: Listener) -> None:
    if listener not in _LISTENERS:
        _LISTENERS.append(listener)


def publish(change: ReturnChange) -> None:
    for listener in _LISTENERS:
        listener(change)
