"""Tiny ERP (API 2.0): the ERP that receives Malote's orders. See docs/connectors/tiny.md."""

from malote.connectors.tiny.client import TinyClient, TinyError
from malote.connectors.tiny.connector import TinyConnector
from malote.connectors.tiny.mapping import situacao_code

__all__ = ["TinyClient", "TinyConnector", "TinyError", "situacao_code"]
