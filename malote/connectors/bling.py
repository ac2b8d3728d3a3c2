"""Connector for bling (being written; see issue 5)."""
