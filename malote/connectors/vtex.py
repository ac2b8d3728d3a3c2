"""Connector for vtex (being written; see issue 5)."""
