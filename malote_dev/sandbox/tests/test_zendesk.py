"""Zendesk fake: token auth, groups, uploads, tickets with idempotency keys, control API, base faults."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from malote_dev.sandbox import start_fake
from malote_dev.sandbox.server import RunningFake
from malote_dev.sandbox.zendesk import DEFAULT_GROUPS, ZendeskState

Fake = RunningFake[ZendeskState]
FINANCE = DEFAULT_GROUPS[0]


@pytest.fixture
def zendesk() -> Iterator[Fake]:
    with start_fake("zendesk", seed=False) as fake:
        yield fake


@pytest.fixture
def http(zendesk: Fake) -> Iterator[httpx.Client]:
    auth = (f"{zendesk.credentials['email']}/token", zendesk.credentials["api_token"])
    with httpx.Client(timeout=5.0, trust_env=False, auth=auth, base_url=zendesk.api_url) as client:
        yield client


def _finance(zendesk: Fake) -> int:
    return next(gid for gid, group in zendesk.state.groups.items() if group["name"] == FINANCE)


def _ticket_body(zendesk: Fake, **overrides: Any) -> dict[str, Any]:
    ticket = {
        "subject": "Pedido 10005",
        "comment": {"body": "Boleto pago e não baixado."},
        "group_id": _finance(zendesk),
        **overrides,
    }
    return {"ticket": ticket}


def _create(http: httpx.Client, body: dict[str, Any], key: str | None = None) -> httpx.Response:
    return http.post("/tickets.json", json=body, headers={"Idempotency-Key": key} if key else {})


# ----------------------------------------------------------------- auth
@pytest.mark.parametrize(
    "credentials",
    [None, "password", "wrong-token", "other-user"],
)
def test_only_the_api_token_gets_in(zendesk: Fake, credentials: str | None) -> None:
    email, token = zendesk.credentials["email"], zendesk.credentials["api_token"]
    auth = {
        None: None,
        "password": (email, token),  # password-style Basic, not {email}/token
        "wrong-token": (f"{email}/token", "nope"),
        "other-user": ("someone@example.com/token", token),
    }[credentials]
    response = httpx.get(f"{zendesk.api_url}/groups.json", auth=auth, trust_env=False)
    assert response.status_code == 401
    assert response.json() == {"error": "Couldn't authenticate you"}


# ----------------------------------------------------------------- groups and uploads
def test_groups_exist_without_the_seed_and_are_paged(zendesk: Fake, http: httpx.Client) -> None:
    answer = http.get("/groups.json").json()
    assert [group["name"] for group in answer["groups"]] == list(DEFAULT_GROUPS)
    assert answer["count"] == 3 and answer["next_page"] is None
    assert answer["groups"][0]["url"] == f"{zendesk.api_url}/groups/{answer['groups'][0]['id']}.json"
    first = http.get("/groups.json", params={"per_page": 2}).json()
    assert len(first["groups"]) == 2 and first["next_page"].endswith("per_page=2&page=2")
    second = httpx.get(first["next_page"], auth=http.auth, trust_env=False).json()
    assert [group["name"] for group in second["groups"]] == [DEFAULT_GROUPS[2]] and second[
        "next_page"
    ] is None


def test_an_upload_gives_a_token_the_ticket_attaches(zendesk: Fake, http: httpx.Client) -> None:
    pdf = b"%PDF-1.4 boleto"
    upload = http.post(
        "/uploads.json",
        params={"filename": "boleto.pdf"},
        content=pdf,
        headers={"Content-Type": "application/pdf"},
    )
    assert upload.status_code == 201
    token = upload.json()["upload"]["token"]
    attachment = upload.json()["upload"]["attachment"]
    assert (attachment["file_name"], attachment["content_type"], attachment["size"]) == (
        "boleto.pdf",
        "application/pdf",
        len(pdf),
    )
    created = _create(http, _ticket_body(zendesk, comment={"body": "Segue o boleto.", "uploads": [token]}))
    assert created.status_code == 201
    ticket = created.json()["ticket"]
    comments = http.get(f"/tickets/{ticket['id']}/comments.json").json()["comments"]
    assert [a["file_name"] for a in comments[0]["attachments"]] == ["boleto.pdf"]
    assert http.post("/uploads.json", content=pdf).status_code == 422  # no filename
    # A second file joins an upload through its token; an unknown token is refused.
    more = http.post("/uploads.json", params={"filename": "nfe.xml", "token": token}, content=b"<nfeProc/>")
    assert more.json()["upload"]["token"] == token and len(more.json()["upload"]["attachments"]) == 2
    unknown = http.post("/uploads.json", params={"filename": "x.pdf", "token": "nope"}, content=pdf)
    assert unknown.status_code == 422


# ----------------------------------------------------------------- tickets
def test_create_answers_201_with_location_and_a_new_ticket(zendesk: Fake, http: httpx.Client) -> None:
    response = _create(
        http,
        _ticket_body(zendesk, requester={"email": "Cliente@Example.com", "name": "Cliente"}, tags=["malote"]),
    )
    assert response.status_code == 201
    ticket = response.json()["ticket"]
    assert response.headers["Location"] == ticket["url"] == f"{zendesk.api_url}/tickets/{ticket['id']}.json"
    assert (ticket["status"], ticket["group_id"], ticket["tags"]) == ("new", _finance(zendesk), ["malote"])
    assert ticket["description"] == "Boleto pago e não baixado." and ticket["via"]["channel"] == "api"
    assert zendesk.state.users[ticket["requester_id"]]["email"] == "cliente@example.com"
    assert ticket["submitter_id"] != ticket["requester_id"]
    assert response.json()["audit"]["ticket_id"] == ticket["id"]
    assert "x-idempotency-lookup" not in response.headers
    assert http.get(f"/tickets/{ticket['id']}.json").json() == {"ticket": ticket}
    assert response.headers["X-Rate-Limit"] == "700"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"comment": {"body": "  "}}, "description"),
        ({"comment": None}, "description"),
        ({"group_id": 1}, "group"),
        ({"comment": {"body": "x", "uploads": ["nope"]}}, "uploads"),
        ({"requester": {"name": "sem e-mail"}}, "requester"),
    ],
)
def test_invalid_tickets_get_422(
    zendesk: Fake, http: httpx.Client, overrides: dict[str, Any], field: str
) -> None:
    response = _create(http, _ticket_body(zendesk, **overrides))
    assert response.status_code == 422
    assert response.json()["error"] == "RecordInvalid" and field in response.json()["details"]
    assert zendesk.state.tickets == {}


def test_unknown_ticket_and_route(zendesk: Fake, http: httpx.Client) -> None:
    assert http.get("/tickets/424242.json").json() == {"error": "RecordNotFound", "description": "Not found"}
    assert http.get("/tickets/424242.json").status_code == 404
    assert http.get("/nothing.json").status_code == 404


def test_the_idempotency_key_hit_miss_mismatch_and_expiry(zendesk: Fake, http: httpx.Client) -> None:
    body = _ticket_body(zendesk)
    first = _create(http, body, key="k-1")
    assert first.status_code == 201 and first.headers["x-idempotency-lookup"] == "miss"
    again = _create(http, body, key="k-1")
    assert again.status_code == 201 and again.headers["x-idempotency-lookup"] == "hit"
    assert again.json() == first.json() and again.headers["Location"] == first.headers["Location"]
    assert len(zendesk.state.tickets) == 1

    other = _create(http, _ticket_body(zendesk, subject="Outro"), key="k-1")
    assert other.status_code == 400 and other.json()["error"] == "IdempotentRequestError"
    assert len(zendesk.state.tickets) == 1

    # Two hours later the key is forgotten: the same request opens a new ticket.
    with zendesk.app.lock:
        zendesk.state.idempotency["k-1"].at -= timedelta(hours=2)
    later = _create(http, body, key="k-1")
    assert (
        later.headers["x-idempotency-lookup"] == "miss"
        and later.json()["ticket"]["id"] != first.json()["ticket"]["id"]
    )


def test_list_by_external_id(zendesk: Fake, http: httpx.Client) -> None:
    _create(http, _ticket_body(zendesk, external_id="malote:a"))
    _create(http, _ticket_body(zendesk, external_id="malote:b"))
    found = http.get("/tickets.json", params={"external_id": "malote:b"}).json()
    assert [t["external_id"] for t in found["tickets"]] == ["malote:b"] and found["count"] == 1
    assert http.get("/tickets.json").json()["count"] == 2


# ----------------------------------------------------------------- faults
def test_a_dropped_create_with_effect_creates_and_loses_the_answer(zendesk: Fake, http: httpx.Client) -> None:
    zendesk.faults.set("drop", method="POST", path_prefix="/api/v2/tickets", effect=True)
    with pytest.raises(httpx.RemoteProtocolError):
        _create(http, _ticket_body(zendesk), key="k-2")
    assert len(zendesk.state.tickets) == 1
    replay = _create(http, _ticket_body(zendesk), key="k-2")
    assert replay.headers["x-idempotency-lookup"] == "hit" and len(zendesk.state.tickets) == 1


def test_5xx_and_429_have_no_effect(zendesk: Fake, http: httpx.Client) -> None:
    zendesk.faults.set("error_5xx", status=503)
    failed = _create(http, _ticket_body(zendesk), key="k-3")
    assert failed.status_code == 503 and failed.headers["content-type"].startswith("text/plain")
    zendesk.faults.set("rate_limit", retry_after=9)
    throttled = _create(http, _ticket_body(zendesk), key="k-3")
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "9"
    assert zendesk.state.tickets == {}
    assert _create(http, _ticket_body(zendesk), key="k-3").headers["x-idempotency-lookup"] == "miss"


# ----------------------------------------------------------------- control and seed
def test_control_changes_a_ticket_status_and_lists_tickets(zendesk: Fake, http: httpx.Client) -> None:
    ticket_id = _create(http, _ticket_body(zendesk)).json()["ticket"]["id"]
    control = f"{zendesk.url}/_sandbox/tickets"
    solved = httpx.post(f"{control}/{ticket_id}/status", json={"status": "solved"}, trust_env=False)
    assert solved.status_code == 200 and solved.json()["ticket"]["status"] == "solved"
    assert http.get(f"/tickets/{ticket_id}.json").json()["ticket"]["status"] == "solved"
    listed = httpx.get(control, trust_env=False).json()["tickets"]
    assert [t["id"] for t in listed] == [ticket_id] and listed[0]["comments"][0]["body"]
    assert (
        httpx.post(f"{control}/{ticket_id}/status", json={"status": "done"}, trust_env=False).status_code
        == 400
    )
    assert httpx.post(f"{control}/999/status", json={"status": "open"}, trust_env=False).status_code == 404
    httpx.post(f"{control}/{ticket_id}/status", json={"status": "closed"}, trust_env=False)
    assert (
        httpx.post(f"{control}/{ticket_id}/status", json={"status": "open"}, trust_env=False).status_code
        == 409
    )


def test_the_seed_has_one_conversation_with_finance() -> None:
    with start_fake("zendesk") as fake:
        [ticket] = fake.state.tickets.values()
        assert ticket["group_id"] == _finance(fake) and ticket["external_id"] == "malote:seed-10005"
        auth = base64.b64encode(f"{fake.credentials['email']}/token:{fake.credentials['api_token']}".encode())
        answer = httpx.get(
            f"{fake.api_url}/tickets/{ticket['id']}.json",
            headers={"Authorization": f"Basic {auth.decode()}"},
            trust_env=False,
        ).json()
        assert answer["ticket"]["url"].startswith(fake.api_url)
        assert fake.state.comments[ticket["id"]][0]["body"].startswith("O boleto do pedido 10005")


def test_latency_and_a_drop_without_effect(zendesk: Fake, http: httpx.Client) -> None:
    zendesk.faults.set("latency_ms", ms=10)
    assert http.get("/groups.json").status_code == 200
    zendesk.faults.set("drop", method="POST")
    with pytest.raises(httpx.RemoteProtocolError):
        _create(http, _ticket_body(zendesk), key="k-4")
    assert zendesk.state.tickets == {}, "dropped before handling: nothing was created"
    assert [call.faults for call in zendesk.calls.all()] == [["latency_ms"], ["drop"]]
    assert _create(http, _ticket_body(zendesk), key="k-4").headers["x-idempotency-lookup"] == "miss"
