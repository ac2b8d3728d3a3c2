"""Connector for adyen (being written; see issue 5)."""
