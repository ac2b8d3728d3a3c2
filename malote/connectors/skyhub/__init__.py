"""SkyHub / B2W (Americanas Marketplace): a marketplace hub. See docs/connectors/skyhub.md."""

from malote.connectors.skyhub.client import SkyHubClient
from malote.connectors.skyhub.connector import SkyHubConnector

__all__ = ["SkyHubClient", "SkyHubConnector"]
