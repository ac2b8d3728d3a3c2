"""Zendesk Support: the help desk for follow-up tickets. See docs/connectors/zendesk.md."""

from malote.connectors.zendesk.client import ZendeskClient
from malote.connectors.zendesk.connector import ZendeskConnector
from malote.connectors.zendesk.mapping import DEFAULT_GROUP

__all__ = ["DEFAULT_GROUP", "ZendeskClient", "ZendeskConnector"]
