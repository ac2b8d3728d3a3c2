"""Connector for skyhub (being written; see issue 5)."""
