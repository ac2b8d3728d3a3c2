"""The Zendesk Support provider: the help desk where Malote opens tickets for people to follow up
(one ticket per idempotency key, found again by its ``external_id``). See docs/connectors/zendesk.md.
"""

from __future__ import annotations

from typing import Any

import httpx

from malote.connectors.base import Attachment, Capability, Connector, Ticket
from malote.connectors.registry import register
from malote.connectors.zendesk.client import ZendeskClient
from malote.connectors.zendesk.mapping import DEFAULT_GROUP, EXTERNAL_ID_PREFIX, ticket_body, ticket_of
from malote.sync.errors import DeliveryError

MAX_GROUP_PAGES = 50


@register
class ZendeskConnector(Connector):
    kind = "zendesk"
    capabilities = frozenset({Capability.CREATE_TICKET, Capability.FETCH_TICKET})

    def __init__(self, channel: Any, *, http: httpx.Client | None = None) -> None:
        super().__init__(channel, http=http)
        self._group_ids: dict[str, int] | None = None

    @property
    def api(self) -> ZendeskClient:
        return ZendeskClient(
            self.http, self.base_url, email=self.credential("email"), api_token=self.credential("api_token")
        )

    # --- groups --------------------------------------------------------------------------------

    def _groups(self) -> dict[str, int]:
        """Every group's id by name (all pages), fetched once per connector."""
        if self._group_ids is None:
            found: dict[str, int] = {}
            url: str | None = "/groups.json"
            for _ in range(MAX_GROUP_PAGES):
                if not url:
                    break
                page = self.api.object("GET", url)
                for group in page.get("groups") or []:
                    if isinstance(group, dict) and group.get("name") and not group.get("deleted"):
                        found[str(group["name"])] = int(group["id"])
                url = page.get("next_page") or None
            self._group_ids = found
        return self._group_ids

    def _group(self, group: str) -> tuple[int, str]:
        """The id (and name, when known) of the group a ticket goes to."""
        wanted = group.strip() or str(self.option("group", DEFAULT_GROUP))
        if wanted.isdigit():
            return int(wanted), ""
        explicit = self.option("group_id", None)
        if explicit and wanted == str(self.option("group", DEFAULT_GROUP)):
            return int(explicit), wanted
        group_id = self._groups().get(wanted)
        if group_id is None:
            raise DeliveryError(f"Zendesk has no group named {wanted!r}.", retryable=False)
        return group_id, wanted

    def _group_name(self, group_id: Any) -> str:
        if group_id in (None, ""):
            return ""
        try:
            groups = self._groups()
        except DeliveryError:
            return str(group_id)  # a name is a nicety: never fail a created ticket over it
        names = {number: name for name, number in groups.items()}
        return names.get(int(group_id), str(group_id))

    # --- tickets -------------------------------------------------------------------------------

    def _ticket(self, data: dict[str, Any], group_name: str = "") -> Ticket:
        site = self.base_url.removesuffix("/api/v2")
        return ticket_of(data, site=site, group_name=group_name or self._group_name(data.get("group_id")))

    def _existing(self, external_id: str) -> dict[str, Any] | None:
        found = self.api.object("GET", "/tickets.json", params={"external_id": external_id})
        tickets = [t for t in found.get("tickets") or [] if isinstance(t, dict) and t.get("id")]
        return min(tickets, key=lambda t: int(t["id"])) if tickets else None

    def _upload(self, attachment: Attachment) -> str:
        answer = self.api.object(
            "POST",
            "/uploads.json",
            params={"filename": attachment.filename},
            content=attachment.content,
            headers={"Content-Type": attachment.content_type or "application/binary"},
        )
        token = (answer.get("upload") or {}).get("token") if isinstance(answer.get("upload"), dict) else None
        if not token:
            raise DeliveryError("zendesk POST /uploads.json: answer has no upload token", retryable=True)
        return str(token)

    def create_ticket(
        self,
        *,
        subject: str,
        body: str,
        group: str,
        requester_email: str = "",
        attachments: tuple[Attachment, ...] = (),
        idempotency_key: str,
    ) -> Ticket:
        external_id = f"{EXTERNAL_ID_PREFIX}{idempotency_key}"
        existing = self._existing(external_id)
        if existing is not None:
            return self._ticket(existing)  # an earlier attempt opened it; its answer was lost
        group_id, group_name = self._group(group)
        comment: dict[str, Any] = {"body": body}
        tokens = [self._upload(attachment) for attachment in attachments]
        if tokens:
            comment["uploads"] = tokens
        ticket = ticket_body(
            subject=subject,
            comment=comment,
            group_id=group_id,
            external_id=external_id,
            tags=list(self.option("tags", ["malote"])),
            requester_email=requester_email,
        )
        answer = self.api.object(
            "POST",
            "/tickets.json",
            json={"ticket": ticket},
            headers={"Idempotency-Key": idempotency_key},
        )
        created = answer.get("ticket")
        if not isinstance(created, dict) or not created.get("id"):
            raise DeliveryError("zendesk POST /tickets.json: answer has no ticket", retryable=True)
        return self._ticket(created, group_name if created.get("group_id") == group_id else "")

    def fetch_ticket(self, ticket_id: str) -> Ticket:
        answer = self.api.object("GET", f"/tickets/{ticket_id}.json")
        ticket = answer.get("ticket")
        if not isinstance(ticket, dict) or not ticket.get("id"):
            raise DeliveryError(f"zendesk GET /tickets/{ticket_id}.json: no ticket", retryable=True)
        return self._ticket(ticket)
