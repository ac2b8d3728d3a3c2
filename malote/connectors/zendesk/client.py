"""Zendesk Support's API v2: JSON objects under ``base_url``, HTTP Basic ``<email>/token:<api token>``."""

from __future__ import annotations

import httpx

from malote.connectors.http import JsonHttp


class ZendeskClient(JsonHttp):
    """A Zendesk account's API; read every answer with ``object``."""

    def __init__(self, http: httpx.Client, base_url: str, *, email: str, api_token: str) -> None:
        auth = httpx.BasicAuth(f"{email}/token", api_token)
        super().__init__(http, base_url, label="zendesk", headers={"Accept": "application/json"}, auth=auth)
