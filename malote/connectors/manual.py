"""``manual``: a channel Malote does not talk to (orders entered through the API or by hand)."""

from __future__ import annotations

from malote.connectors.base import Connector
from malote.connectors.registry import register


@register
class ManualConnector(Connector):
    kind = "manual"
    capabilities = frozenset()
