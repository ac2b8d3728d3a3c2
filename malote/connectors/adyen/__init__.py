"""Adyen: the payment gateway's standard webhooks. See docs/connectors/adyen.md."""

from malote.connectors.adyen.client import AdyenClient
from malote.connectors.adyen.connector import AdyenConnector
from malote.connectors.adyen.mapping import hmac_signature, signing_string

__all__ = ["AdyenClient", "AdyenConnector", "hmac_signature", "signing_string"]
