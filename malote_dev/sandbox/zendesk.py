"""Fake Zendesk Support (base path ``/api/v2``).

HTTP Basic ``{email}/token:{api_token}``. Groups, uploads, tickets (create with attachments,
``external_id`` and ``Idempotency-Key``: the same key and body replay the original answer, another
body is a 400 ``IdempotentRequestError``; list, read) and their comments. The groups are the
account's configuration and exist even without the seed.

Control: ``GET /_sandbox/tickets``, ``POST /_sandbox/tickets/{id}/status`` (an agent works the
ticket). ``GET /_sandbox`` lists the routes and the settings. The vendor's API:
docs/connectors/zendesk.md.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import random
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar

from malote_dev.sandbox.app import ControlError, FakeApp, Setting, control_body
from malote_dev.sandbox.clock import iso_utc, utc_now
from malote_dev.sandbox.faults import Fault
from malote_dev.sandbox.router import BadRequest, Request, Response

DEFAULT_GROUPS = ("Financeiro E-Commerce Integração de Pedidos", "Suporte", "Logística")
TICKET_STATUSES = ("new", "open", "pending", "hold", "solved", "closed")
MAX_PER_PAGE = 100
_TOKEN_ALPHABET = string.ascii_lowercase + string.digits


@dataclass
class Remembered:
    """The first answer to an idempotency key, with the body it answered and when."""

    body: Any
    response: Response
    at: datetime


@dataclass
class ZendeskState:
    groups: dict[int, dict[str, Any]] = field(default_factory=dict)
    users: dict[int, dict[str, Any]] = field(default_factory=dict)
    tickets: dict[int, dict[str, Any]] = field(default_factory=dict)
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    uploads: dict[str, dict[str, Any]] = field(default_factory=dict)
    idempotency: dict[str, Remembered] = field(default_factory=dict)
    rng: random.Random = field(default_factory=lambda: random.Random("malote-sandbox-zendesk"))
    next_ticket_id: int = 1001
    next_id: int = 360_000_000_001

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def new_token(self) -> str:
        return "".join(self.rng.choice(_TOKEN_ALPHABET) for _ in range(25))


class Invalid(Exception):
    """422 RecordInvalid with ``details``."""

    def __init__(self, name: str, description: str, error: str = "InvalidValue") -> None:
        super().__init__(description)
        self.details = {name: [{"description": description, "error": error}]}


class ZendeskApp(FakeApp[ZendeskState]):
    kind: ClassVar[str] = "zendesk"
    api_prefix: ClassVar[str] = "/api/v2/"
    settings: ClassVar[Mapping[str, Setting]] = {
        "subdomain": Setting("malote-demo", (str,), "the account's subdomain (ticket and agent URLs)"),
        "agent_email": Setting("integracao@malote-demo.example", (str,), "the API user's e-mail"),
        "api_token": Setting(
            hashlib.sha256(b"malote-demo zendesk").hexdigest()[:40], (str,), "the API token"
        ),
        "idempotency_ttl_seconds": Setting(7200.0, (float,), "how long an Idempotency-Key is remembered"),
    }

    # ----------------------------------------------------------------- framework hooks
    def credentials(self) -> dict[str, str]:
        return {"email": self.config.get_str("agent_email"), "api_token": self.config.get_str("api_token")}

    def authenticate(self, request: Request) -> Response | None:
        header = request.headers.get("authorization", "")
        given = ""
        if header[:6].lower() == "basic ":
            try:
                given = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                given = ""
        expected = f"{self.config.get_str('agent_email')}/token:{self.config.get_str('api_token')}"
        if given and hmac.compare_digest(given.encode(), expected.encode()):
            return None
        return Response.json({"error": "Couldn't authenticate you"}, 401)

    def error_response(self, request: Request, status: int) -> Response:
        return Response.text("Internal Server Error" if status == 500 else "Service Unavailable", status)

    def rate_limited_response(self, request: Request, fault: Fault) -> Response:
        retry_after = str(int(fault.params["retry_after"]))
        body = {"error": "APIRateLimitExceeded", "description": "Number of allowed API requests exceeded"}
        return Response.json(body, 429, [("Retry-After", retry_after)])

    def not_found_response(self, request: Request) -> Response:
        return Response.json({"error": "InvalidEndpoint", "description": "Not found"}, 404)

    def bad_request_response(self, request: Request, detail: str) -> Response:
        return Response.json({"error": "InvalidValue", "description": detail}, 400)

    def decorate(self, request: Request, response: Response) -> None:
        response.headers.append(("X-Rate-Limit", "700"))
        response.headers.append(("X-Rate-Limit-Remaining", "699"))

    def call_handler(self, request: Request, handler: Callable[[Request], Response]) -> Response:
        try:
            return handler(request)
        except Invalid as error:
            body = {
                "error": "RecordInvalid",
                "description": "Record validation errors",
                "details": error.details,
            }
            return Response.json(body, 422)

    def state_json(self) -> Any:
        return {
            "groups": [self._group_out(group) for group in self.state.groups.values()],
            "users": list(self.state.users.values()),
            "tickets": [self._ticket_out(ticket) for ticket in self.state.tickets.values()],
            "uploads": [
                {k: v for k, v in upload.items() if k != "_content"} for upload in self.state.uploads.values()
            ],
        }

    # ----------------------------------------------------------------- routes
    def add_routes(self) -> None:
        api = self.api.add
        api("GET", "/api/v2/groups.json", self._list_groups)
        api("POST", "/api/v2/uploads.json", self._upload)
        api("POST", "/api/v2/tickets.json", self._create_ticket)
        api("GET", "/api/v2/tickets.json", self._list_tickets)
        api("GET", "/api/v2/tickets/{id:int}.json", self._get_ticket)
        api("GET", "/api/v2/tickets/{id:int}/comments.json", self._list_comments)
        control = self.control.add
        control("GET", "/_sandbox/tickets", self._control_tickets)
        control("POST", "/_sandbox/tickets/{id:int}/status", self._control_status)

    # ----------------------------------------------------------------- helpers
    @property
    def site_url(self) -> str:
        return f"https://{self.config.get_str('subdomain')}.zendesk.com"

    def _now(self) -> str:
        return iso_utc(utc_now())

    def _user_by_email(self, email: str, name: str | None = None, role: str = "end-user") -> dict[str, Any]:
        for user in self.state.users.values():
            if user["email"] == email.lower():
                return user
        user_id = self.state.new_id()
        user = {
            "id": user_id,
            "name": name or email.split("@", 1)[0],
            "email": email.lower(),
            "role": role,
            "created_at": self._now(),
        }
        self.state.users[user_id] = user
        return user

    def _agent(self) -> dict[str, Any]:
        return self._user_by_email(self.config.get_str("agent_email"), "Integração Malote", "agent")

    def _ticket_out(self, ticket: dict[str, Any]) -> dict[str, Any]:
        # URLs are rendered at read time: the seed runs before the server knows its port.
        return {"url": f"{self.api_url}/tickets/{ticket['id']}.json", **ticket}

    def _group_out(self, group: dict[str, Any]) -> dict[str, Any]:
        return {"url": f"{self.api_url}/groups/{group['id']}.json", **group}

    def _paged(self, request: Request, name: str, items: list[dict[str, Any]]) -> Response:
        def number(arg: str, default: int) -> int:
            text = request.arg(arg)
            return int(text) if text and text.isdigit() and int(text) > 0 else default

        page, per_page = number("page", 1), min(number("per_page", MAX_PER_PAGE), MAX_PER_PAGE)
        chunk = items[(page - 1) * per_page : page * per_page]

        def link(target: int) -> str:
            query = {key: values[0] for key, values in request.query.items() if values}
            query.update(page=str(target), per_page=str(per_page))
            return f"{self.base_url}{request.path}?" + "&".join(f"{k}={v}" for k, v in query.items())

        return Response.json(
            {
                name: chunk,
                "next_page": link(page + 1) if page * per_page < len(items) else None,
                "previous_page": link(page - 1) if page > 1 else None,
                "count": len(items),
            }
        )

    # ----------------------------------------------------------------- groups and uploads
    def _list_groups(self, request: Request) -> Response:
        groups = [self._group_out(g) for g in sorted(self.state.groups.values(), key=lambda g: g["id"])]
        return self._paged(request, "groups", groups)

    def _upload(self, request: Request) -> Response:
        filename = (request.arg("filename") or "").strip()
        if not filename:
            raise Invalid("filename", "Filename: cannot be blank", "BlankValue")
        if not request.body:
            raise Invalid("file", "File: cannot be blank", "BlankValue")
        token = request.arg("token") or self.state.new_token()
        upload = self.state.uploads.get(token)
        if upload is None and request.arg("token"):
            raise Invalid("token", "Token: is invalid or expired")
        if upload is None:
            expires = iso_utc(utc_now() + timedelta(days=3))
            upload = {"token": token, "expires_at": expires, "attachments": [], "_used": False}
            self.state.uploads[token] = upload
        attachment_id = self.state.new_id()
        attachment = {
            "id": attachment_id,
            "url": f"{self.api_url}/attachments/{attachment_id}.json",
            "file_name": filename,
            "content_url": f"{self.site_url}/attachments/token/{token}/?name={filename}",
            "content_type": request.content_type or "application/binary",
            "size": len(request.body),
            "inline": False,
            "deleted": False,
            "_sha256": hashlib.sha256(request.body).hexdigest(),
        }
        upload["attachments"].append(attachment)
        public = [{k: v for k, v in a.items() if not k.startswith("_")} for a in upload["attachments"]]
        body = {
            "token": token,
            "expires_at": upload["expires_at"],
            "attachments": public,
            "attachment": public[-1],
        }
        return Response.json({"upload": body}, 201)

    # ----------------------------------------------------------------- tickets
    def _create_ticket(self, request: Request) -> Response:
        body = request.json()
        key = request.headers.get("idempotency-key", "").strip()
        if key:
            remembered = self.state.idempotency.get(key)
            ttl = timedelta(seconds=float(self.config["idempotency_ttl_seconds"]))
            if remembered is not None and utc_now() - remembered.at >= ttl:
                del self.state.idempotency[key]
                remembered = None
            if remembered is not None:
                if remembered.body != body:
                    description = (
                        "Request parameters do not match the original request for this Idempotency-Key"
                    )
                    return Response.json({"error": "IdempotentRequestError", "description": description}, 400)
                first = remembered.response
                replay = Response(first.status, first.body, list(first.headers))
                replay.set_header("x-idempotency-lookup", "hit")
                return replay
        response = self._new_ticket(body)
        if key:
            response.set_header("x-idempotency-lookup", "miss")
            if response.status < 500:
                self.state.idempotency[key] = Remembered(
                    body, Response(response.status, response.body, list(response.headers)), utc_now()
                )
        return response

    def _new_ticket(self, body: Any) -> Response:
        try:
            return self._open_ticket(body)
        except Invalid as error:
            payload = {
                "error": "RecordInvalid",
                "description": "Record validation errors",
                "details": error.details,
            }
            return Response.json(payload, 422)

    def _open_ticket(self, body: Any, *, created_at: datetime | None = None) -> Response:
        data = body.get("ticket") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            raise BadRequest('the body must be {"ticket": {...}}')
        comment = data.get("comment")
        if (
            not isinstance(comment, dict)
            or not str(comment.get("body") or comment.get("html_body") or "").strip()
        ):
            raise Invalid("description", "Description: cannot be blank", "BlankValue")
        group_id = data.get("group_id")
        if group_id is not None and group_id not in self.state.groups:
            raise Invalid("group", "Group: is invalid")
        tokens = comment.get("uploads") or []
        if not isinstance(tokens, list) or any(token not in self.state.uploads for token in tokens):
            raise Invalid("uploads", "Uploads: token is invalid or expired")
        agent = self._agent()
        requester = data.get("requester")
        if isinstance(requester, dict):
            if not requester.get("email"):
                raise Invalid("requester", "Requester: email is required")
            requester_user = self._user_by_email(str(requester["email"]), requester.get("name"))
        elif data.get("requester_id") is not None:
            requester_user = self.state.users.get(data["requester_id"]) or {}
            if not requester_user:
                raise Invalid("requester", "Requester: is invalid")
        else:
            requester_user = agent
        text = str(comment.get("body") or comment.get("html_body"))
        moment = iso_utc(created_at or utc_now())
        ticket_id = self.state.next_ticket_id
        self.state.next_ticket_id += 1
        subject = str(data.get("subject") or text.splitlines()[0][:80])
        raw_tags = data.get("tags")
        tags: list[Any] = raw_tags if isinstance(raw_tags, list) else []
        ticket: dict[str, Any] = {
            "id": ticket_id,
            "external_id": data.get("external_id"),
            "via": {"channel": "api", "source": {"from": {}, "to": {}, "rel": None}},
            "created_at": moment,
            "updated_at": moment,
            "type": data.get("type"),
            "subject": subject,
            "raw_subject": subject,
            "description": text,
            "priority": data.get("priority"),
            "status": "new",
            "recipient": None,
            "requester_id": requester_user["id"],
            "submitter_id": agent["id"],
            "assignee_id": None,
            "organization_id": None,
            "group_id": group_id,
            "collaborator_ids": [],
            "follower_ids": [],
            "tags": sorted({str(tag) for tag in tags}),
            "custom_fields": [],
            "has_incidents": False,
            "is_public": bool(comment.get("public", True)),
            "due_at": None,
        }
        attachments: list[dict[str, Any]] = []
        for token in tokens:
            upload = self.state.uploads[token]
            upload["_used"] = True
            attachments.extend(
                {k: v for k, v in attachment.items() if not k.startswith("_")}
                for attachment in upload["attachments"]
            )
        first_comment = {
            "id": self.state.new_id(),
            "type": "Comment",
            "author_id": agent["id"],
            "body": text,
            "html_body": f'<div class="zd-comment"><p>{text}</p></div>',
            "plain_body": text,
            "public": ticket["is_public"],
            "attachments": attachments,
            "created_at": moment,
        }
        self.state.tickets[ticket_id] = ticket
        self.state.comments[ticket_id] = [first_comment]
        audit = {
            "id": self.state.new_id(),
            "ticket_id": ticket_id,
            "created_at": moment,
            "author_id": agent["id"],
            "events": [
                {"id": first_comment["id"], "type": "Comment", "body": text, "attachments": attachments}
            ],
        }
        out = self._ticket_out(ticket)
        return Response.json({"ticket": out, "audit": audit}, 201, [("Location", out["url"])])

    def _list_tickets(self, request: Request) -> Response:
        external_id = request.arg("external_id")
        tickets = [
            self._ticket_out(ticket)
            for ticket in sorted(self.state.tickets.values(), key=lambda ticket: ticket["id"])
            if external_id is None or ticket["external_id"] == external_id
        ]
        return self._paged(request, "tickets", tickets)

    def _found(self, request: Request) -> dict[str, Any] | None:
        return self.state.tickets.get(int(request.params["id"]))

    def _get_ticket(self, request: Request) -> Response:
        ticket = self._found(request)
        if ticket is None:
            return Response.json({"error": "RecordNotFound", "description": "Not found"}, 404)
        return Response.json({"ticket": self._ticket_out(ticket)})

    def _list_comments(self, request: Request) -> Response:
        ticket = self._found(request)
        if ticket is None:
            return Response.json({"error": "RecordNotFound", "description": "Not found"}, 404)
        return self._paged(request, "comments", self.state.comments[ticket["id"]])

    # ----------------------------------------------------------------- seed
    def new_state(self, seed: bool) -> ZendeskState:
        state = ZendeskState()
        self.state = state
        for name in DEFAULT_GROUPS:
            group_id = state.new_id()
            moment = self._now()
            state.groups[group_id] = {
                "id": group_id,
                "name": name,
                "description": "",
                "default": name == DEFAULT_GROUPS[1],
                "deleted": False,
                "is_public": True,
                "created_at": moment,
                "updated_at": moment,
            }
        self._agent()
        return self.seed_through_live_paths(state, self._seed) if seed else state

    def _seed(self) -> None:
        """One "conversa paralela": finance asked about the unpaid boleto of order 10005."""
        finance = next(gid for gid, group in self.state.groups.items() if group["name"] == DEFAULT_GROUPS[0])
        body = {
            "ticket": {
                "subject": "Pedido 10005: boleto pendente há 2 dias",
                "comment": {"body": "O boleto do pedido 10005 ainda não foi compensado. Podem verificar?"},
                "group_id": finance,
                "external_id": "malote:seed-10005",
                "tags": ["malote"],
            }
        }
        self._open_ticket(body, created_at=utc_now() - timedelta(days=1))

    # ----------------------------------------------------------------- control
    def _control_tickets(self, request: Request) -> Response:
        tickets = [
            {**self._ticket_out(ticket), "comments": self.state.comments[ticket["id"]]}
            for ticket in self.state.tickets.values()
        ]
        return Response.json({"tickets": tickets})

    def _control_status(self, request: Request) -> Response:
        ticket = self._found(request)
        if ticket is None:
            raise ControlError(404, "not_found", f"no ticket {request.params['id']}")
        status = control_body(request).get("status")
        if status not in TICKET_STATUSES:
            raise ControlError(400, "invalid", f"status must be one of {', '.join(TICKET_STATUSES)}")
        if ticket["status"] == "closed":
            raise ControlError(409, "conflict", "a closed ticket cannot change")
        ticket.update(status=status, updated_at=self._now())
        return Response.json({"ticket": self._ticket_out(ticket)})
