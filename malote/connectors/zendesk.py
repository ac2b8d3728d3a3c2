"""``zendesk``: Zendesk Support — the help desk where Malote opens the seeds' "conversa paralela"
(a ticket to the finance team about an order) and later reads its status back (reconciliation).

Channel
-------
``base_url`` = ``https://{subdomain}.zendesk.com/api/v2`` (a fake's ``api_url`` in tests);
``credentials = {"email": "agent@shop", "api_token": "…"}`` — HTTP Basic
``{email}/token:{api_token}``; ``options``: ``group`` (the group's name, default
``DEFAULT_GROUP``), ``group_id`` (skip the lookup: the id of that group), ``tags`` (default
``["malote"]``), ``timeout_seconds``.

``create_ticket``
-----------------
1. A retried call must never open a second ticket. Each ticket carries ``external_id`` =
   ``malote:<idempotency key>``; the call first lists ``GET /tickets.json?external_id=…`` and
   returns the ticket it finds. This covers the case Zendesk's own idempotency cannot: a retry
   re-uploads the attachments, gets new upload tokens, so its body differs from the first and
   Zendesk would refuse the key (400 ``IdempotentRequestError``).
2. Each attachment: ``POST /uploads.json?filename=<name>`` with the raw bytes and its content
   type → ``{"upload": {"token"}}``.
3. The group: ``group`` (a name, or digits = an id) else the ``group`` option, resolved through
   ``GET /groups.json`` (every page, cached per connector) unless ``group_id`` is set for that
   name. An unknown name is a permanent ``DeliveryError``.
4. ``POST /tickets.json`` ``{"ticket": {subject, comment: {body, uploads: [tokens]}, group_id,
   requester: {email, name}?, external_id, tags}}`` with ``Idempotency-Key`` = the key, so a
   request whose answer was lost is replayed by Zendesk (``x-idempotency-lookup: hit``) rather
   than run twice. Zendesk keeps keys 2 hours; the external-id lookup has no such limit.
   Without a requester e-mail the authenticated agent is the requester (Zendesk's default).

Returns ``Ticket(id, status, url, group)`` where ``url`` is the agent's page
``https://{subdomain}.zendesk.com/agent/tickets/{id}`` and ``group`` the group's name.

``fetch_ticket(id)``: ``GET /tickets/{id}.json`` → the same ``Ticket``; status is Zendesk's word
(``new, open, pending, hold, solved, closed``). An unknown id is a permanent ``DeliveryError``
with status 404; 5xx, 429 and timeouts are retryable (``Connector.request``).

Confirmed vs assumed (``channel-apis.md`` §6): endpoint, Basic token auth, body, 201 answer and
the ``Idempotency-Key``/``x-idempotency-lookup`` headers are ✅; uploads, groups and the
``external_id`` filter are Zendesk's public API reference (not in §6: 🟡); the status enum is ❓
(reported as received, never mapped).
"""

from __future__ import annotations

from typing import Any

import httpx

from malote.connectors.base import Attachment, Connector, Ticket
from malote.connectors.registry import register
from malote.sync.errors import DeliveryError

DEFAULT_GROUP = "Financeiro E-Commerce Integração de Pedidos"
EXTERNAL_ID_PREFIX = "malote:"
MAX_GROUP_PAGES = 50


@register
class ZendeskConnector(Connector):
    kind = "zendesk"

    def __init__(self, channel: Any, *, http: httpx.Client | None = None) -> None:
        super().__init__(channel, http=http)
        self._group_ids: dict[str, int] | None = None

    # --- the API -------------------------------------------------------------------------------

    def _auth(self) -> httpx.BasicAuth:
        return httpx.BasicAuth(f"{self.credential('email')}/token", self.credential("api_token"))

    def _api(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        url = path if path.startswith("http") else f"{self.base_url}{path}"
        headers = {"Accept": "application/json", **kwargs.pop("headers", {})}
        what = f"zendesk {method} {path.split('?', 1)[0]}"
        response = self.request(method, url, what=what, auth=self._auth(), headers=headers, **kwargs)
        try:
            body = response.json()
        except ValueError:
            raise DeliveryError(f"{what}: answer is not JSON", retryable=True) from None
        if not isinstance(body, dict):
            raise DeliveryError(f"{what}: answer is not an object", retryable=True)
        return body

    # --- groups --------------------------------------------------------------------------------

    def _groups(self) -> dict[str, int]:
        """Every group's id by name (all pages), fetched once per connector."""
        if self._group_ids is None:
            found: dict[str, int] = {}
            url: str | None = "/groups.json"
            for _ in range(MAX_GROUP_PAGES):
                if not url:
                    break
                page = self._api("GET", url)
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
        ticket_id = str(data["id"])
        site = self.base_url.removesuffix("/api/v2")
        return Ticket(
            id=ticket_id,
            status=str(data.get("status") or ""),
            url=f"{site}/agent/tickets/{ticket_id}",
            group=group_name or self._group_name(data.get("group_id")),
        )

    def _existing(self, external_id: str) -> dict[str, Any] | None:
        found = self._api("GET", "/tickets.json", params={"external_id": external_id})
        tickets = [t for t in found.get("tickets") or [] if isinstance(t, dict) and t.get("id")]
        return min(tickets, key=lambda t: int(t["id"])) if tickets else None

    def _upload(self, attachment: Attachment) -> str:
        answer = self._api(
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
        ticket: dict[str, Any] = {
            "subject": subject,
            "comment": comment,
            "group_id": group_id,
            "external_id": external_id,
            "tags": list(self.option("tags", ["malote"])),
        }
        if requester_email:
            ticket["requester"] = {"email": requester_email, "name": requester_email.split("@", 1)[0]}
        answer = self._api(
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
        answer = self._api("GET", f"/tickets/{ticket_id}.json")
        ticket = answer.get("ticket")
        if not isinstance(ticket, dict) or not ticket.get("id"):
            raise DeliveryError(f"zendesk GET /tickets/{ticket_id}.json: no ticket", retryable=True)
        return self._ticket(ticket)
