"""Jumpseller (API v1): a store as a storefront channel. See docs/connectors/jumpseller.md."""

from malote.connectors.jumpseller.client import RESET_HEADER, JumpsellerClient
from malote.connectors.jumpseller.connector import JumpsellerConnector
from malote.connectors.jumpseller.mapping import canonical_order, payment_method, remote_status

__all__ = [
    "RESET_HEADER",
    "JumpsellerClient",
    "JumpsellerConnector",
    "canonical_order",
    "payment_method",
    "remote_status",
]
