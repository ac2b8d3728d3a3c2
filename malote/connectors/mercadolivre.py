"""Connector for mercadolivre (being written; see issue 5)."""
