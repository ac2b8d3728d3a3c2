"""Bling ERP (API v3): the ERP that receives Malote's orders. See docs/connectors/bling.md."""

from malote.connectors.bling.client import BlingClient, BlingError
from malote.connectors.bling.connector import BlingConnector

__all__ = ["BlingClient", "BlingConnector", "BlingError"]
