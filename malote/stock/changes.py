"""Stock changes, published inside the transaction that moves stock (same contract as
``malote.orders.changes``): listeners may only write rows, e.g. coalesced stock pushes."""

from __future__ import annotations

from collections.abc import Callable

Listener = Callable[[list[str]], None]
_LISTENERS: list[Listener] = []


def register_listener(listener: Listener) -> None:
    if listener not in _LISTENERS:
        _LISTENERS.append(listener)


def publish(skus: list[str]) -> None:
    """``skus`` whose available quantity may have changed."""
    for listener in _LISTENERS:
        listener(skus)
