"""Import every connector module so each registers itself."""

from malote.connectors import manual, webhook  # noqa: F401
