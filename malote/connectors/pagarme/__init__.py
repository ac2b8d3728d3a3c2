"""Pagar.me (core API v5): the payment gateway. See docs/connectors/pagarme.md."""

from malote.connectors.pagarme.client import PagarmeClient, clear_jwks_cache
from malote.connectors.pagarme.connector import PagarmeConnector

__all__ = ["PagarmeClient", "PagarmeConnector", "clear_jwks_cache"]
