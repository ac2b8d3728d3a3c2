"""Connector providers by ``Channel.kind``. No ``if kind == …`` anywhere else."""

from __future__ import annotations

from typing import Any, TypeVar

from malote.connectors.base import Connector

C = TypeVar("C", bound=type[Connector])
_PROVIDERS: dict[str, type[Connector]] = {}


def register(cls: C) -> C:
    """Class decorator: make a connector available under its ``kind``."""
    if not cls.kind:
        raise ValueError(f"{cls.__name__} has no kind")
    _PROVIDERS[cls.kind] = cls
    return cls


def kinds() -> list[str]:
    return sorted(_PROVIDERS)


def provider(kind: str) -> type[Connector] | None:
    return _PROVIDERS.get(kind)


def connector_for(channel: Any, **kwargs: Any) -> Connector:
    cls = _PROVIDERS.get(channel.kind)
    if cls is None:
        raise LookupError(f"No connector of kind {channel.kind!r} (known: {', '.join(kinds())}).")
    return cls(channel, **kwargs)
