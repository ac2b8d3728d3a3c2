"""Import every connector module so each registers itself."""

from malote.connectors import jumpseller, manual, pagarme, tiny, webhook  # noqa: F401
