"""Mercado Livre Brasil: a seller account as a marketplace channel. See docs/connectors/mercadolivre.md."""

from malote.connectors.mercadolivre.client import MercadoLivreClient, clear_token_cache
from malote.connectors.mercadolivre.connector import MercadoLivreConnector
from malote.connectors.mercadolivre.mapping import parse_time, remote_status, shipping_method

__all__ = [
    "MercadoLivreClient",
    "MercadoLivreConnector",
    "clear_token_cache",
    "parse_time",
    "remote_status",
    "shipping_method",
]
