"""Zendesk values: the ticket Malote opens and the ``Ticket`` it reads back."""

from __future__ import annotations

from typing import Any

from malote.connectors.base import Ticket

DEFAULT_GROUP = "Financeiro E-Commerce Integração de Pedidos"
EXTERNAL_ID_PREFIX = "malote:"


def ticket_body(
    *,
    subject: str,
    comment: dict[str, Any],
    group_id: int,
    external_id: str,
    tags: list[str],
    requester_email: str,
) -> dict[str, Any]:
    """The ``ticket`` of ``POST /tickets.json``; the requester's name is their e-mail's local part."""
    ticket: dict[str, Any] = {
        "subject": subject,
        "comment": comment,
        "group_id": group_id,
        "external_id": external_id,
        "tags": tags,
    }
    if requester_email:
        ticket["requester"] = {"email": requester_email, "name": requester_email.split("@", 1)[0]}
    return ticket


def ticket_of(data: dict[str, Any], *, site: str, group_name: str) -> Ticket:
    ticket_id = str(data["id"])
    return Ticket(
        id=ticket_id,
        status=str(data.get("status") or ""),
        url=f"{site}/agent/tickets/{ticket_id}",
        group=group_name,
    )
