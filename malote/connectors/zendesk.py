"""Connector for zendesk (being written; see issue 5)."""
