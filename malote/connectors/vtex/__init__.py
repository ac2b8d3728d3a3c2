"""VTEX (OMS Orders API): a store as a storefront or marketplace channel. See docs/connectors/vtex.md."""

from malote.connectors.vtex.client import VtexClient
from malote.connectors.vtex.connector import VtexConnector
from malote.connectors.vtex.mapping import (
    SAO_PAULO,
    canonical_order,
    event_key,
    facts_of,
    from_cents,
    to_cents,
)

__all__ = [
    "SAO_PAULO",
    "VtexClient",
    "VtexConnector",
    "canonical_order",
    "event_key",
    "facts_of",
    "from_cents",
    "to_cents",
]
