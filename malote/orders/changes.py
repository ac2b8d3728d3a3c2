"""Order changes, published to listeners inside the transaction that makes them.

Every committed status change must reach other systems exactly once, so listeners run in the
change's own transaction and may only write rows (outbox messages), never call out. Apps register
their listener in ``AppConfig.ready``: channels route changes to connected systems, notify queues
customer e-mails. A listener that raises aborts the change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from malote.core.actors import Actor

if TYPE_CHECKING:
    from malote.orders.models import Order


@dataclass(frozen=True)
class OrderChange:
    """What just happened to an order.

    ``transition`` is the lifecycle transition's name, ``"created"``, or a fact that changes no
    status (``INVOICE_XML_ATTACHED``: ``from_status == to_status``); ``to_status`` is the status
    entered (for ``created``, the initial one). ``data`` is the transition's input as given.
    Listeners that send something append the destinations they told to ``told``.
    """

    order: Order
    transition: str
    from_status: str
    to_status: str
    actor: Actor
    data: dict[str, Any] = field(default_factory=dict)
    told: list[str] = field(default_factory=list)

    @property
    def is_fact(self) -> bool:
        """A fact recorded on the order that enters no status (listeners of statuses ignore it)."""
        return self.transition in FACTS


# The NF-e XML was stored on the order's invoice (channels waiting only for it may now be told).
INVOICE_XML_ATTACHED = "invoice_xml_attached"
# SEFAZ registered an event on the order's NF-e (cancellation or CC-e); ``data`` is the event.
INVOICE_EVENT_RECORDED = "invoice_event_recorded"
FACTS = frozenset({INVOICE_XML_ATTACHED, INVOICE_EVENT_RECORDED})


Listener = Callable[[OrderChange], None]
_LISTENERS: list[Listener] = []


def register_listener(listener: Listener) -> None:
    if listener not in _LISTENERS:
        _LISTENERS.append(listener)


def publish(change: OrderChange) -> None:
    for listener in _LISTENERS:
        listener(change)
