"""Who delivers an outbox message: a handler per destination prefix (``channel:…``, ``email:…``).

Apps register their handler in ``AppConfig.ready``. A handler performs the remote effect for one
message (with a timeout, carrying ``message.idempotency_key`` where the remote supports it) and
raises ``DeliveryError`` on failure. It runs outside any transaction.
"""

from __future__ import annotations

from collections.abc import Callable

from malote.sync.errors import DeliveryError
from malote.sync.models import OutboxMessage

Handler = Callable[[OutboxMessage], None]

_HANDLERS: dict[str, Handler] = {}


def register_handler(prefix: str, handler: Handler) -> None:
    _HANDLERS[prefix] = handler


def handler_for(destination: str) -> Handler:
    prefix = destination.split(":", 1)[0]
    handler = _HANDLERS.get(prefix)
    if handler is None:
        raise DeliveryError(f"No handler for destination {destination!r}.", retryable=False)
    return handler
