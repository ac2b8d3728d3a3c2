"""The ``zendesk`` connector against the Zendesk fake over HTTP: opening the "conversa paralela" with
its attachments in the finance group, never twice for one key, and reading its status back."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from malote.channels.models import Channel, ChannelRole
from malote.connectors.base import Attachment, Ticket
from malote.connectors.registry import connector_for
from malote.connectors.zendesk import DEFAULT_GROUP, ZendeskConnector
from malote.sync.errors import DeliveryError
from malote_dev.sandbox import start_fake
from malote_dev.sandbox.server import RunningFake
from malote_dev.sandbox.zendesk import ZendeskState

pytestmark = pytest.mark.django_db

Fake = RunningFake[ZendeskState]
BOLETO_PDF = b"%PDF-1.4\n% boleto do pedido 10005\n%%EOF\n"


@pytest.fixture
def fake() -> Iterator[Fake]:
    with start_fake("zendesk", seed=False) as running:
        yield running


@pytest.fixture
def zendesk(fake: Fake) -> Channel:
    return Channel.objects.create(
        code="zendesk",
        name="Zendesk",
        role=ChannelRole.HELPDESK,
        kind="zendesk",
        base_url=fake.api_url,
        credentials=fake.credentials,
    )


@pytest.fixture
def open_ticket(zendesk: Channel) -> Callable[..., Ticket]:
    def create(key: str = "outbox-1", **overrides: Any) -> Ticket:
        arguments: dict[str, Any] = {
            "subject": "Pedido 10005: boleto pago e não baixado",
            "body": "O cliente enviou o comprovante; o boleto segue em aberto no gateway.",
            "group": "",
            "requester_email": "",
            "attachments": (),
            **overrides,
        }
        with connector_for(Channel.objects.get(pk=zendesk.pk)) as connector:  # the channel as saved now
            return connector.create_ticket(idempotency_key=key, **arguments)

    return create


def _group_id(fake: Fake, name: str) -> int:
    return next(gid for gid, group in fake.state.groups.items() if group["name"] == name)


def _solve(fake: Fake, ticket_id: str, status: str = "solved") -> None:
    response = httpx.post(
        f"{fake.url}/_sandbox/tickets/{ticket_id}/status", json={"status": status}, trust_env=False
    )
    assert response.status_code == 200, response.text


def test_a_ticket_with_its_attachment_lands_in_the_finance_group(
    fake: Fake, open_ticket: Callable[..., Ticket]
) -> None:
    ticket = open_ticket(
        attachments=(Attachment("boleto-10005.pdf", BOLETO_PDF),),
        requester_email="financeiro@loja.example",
    )
    stored = fake.state.tickets[int(ticket.id)]
    assert (ticket.status, ticket.group) == ("new", DEFAULT_GROUP)
    assert ticket.url == f"{fake.url}/agent/tickets/{ticket.id}"
    assert stored["group_id"] == _group_id(fake, DEFAULT_GROUP)
    assert stored["external_id"] == "malote:outbox-1" and stored["tags"] == ["malote"]
    requester = fake.state.users[stored["requester_id"]]
    assert requester["email"] == "financeiro@loja.example"

    [upload] = fake.calls.filter("POST", "/api/v2/uploads.json")
    assert upload.query["filename"] == ["boleto-10005.pdf"]
    assert upload.headers["content-type"] == "application/pdf"
    [attachment] = fake.state.comments[int(ticket.id)][0]["attachments"]
    assert (attachment["file_name"], attachment["size"]) == ("boleto-10005.pdf", len(BOLETO_PDF))
    [create] = fake.calls.filter("POST", "/api/v2/tickets.json")
    assert create.headers["idempotency-key"] == "outbox-1"
    assert create.headers["authorization"] == f"Basic {fake.credentials['email']}/token:***"
    sent = create.json["ticket"]
    assert sent["comment"]["uploads"] == [next(iter(fake.state.uploads))]
    assert sent["requester"] == {"email": "financeiro@loja.example", "name": "financeiro"}


def test_a_retry_after_a_lost_answer_opens_one_ticket_and_uploads_once(
    fake: Fake, open_ticket: Callable[..., Ticket]
) -> None:
    attachments = (Attachment("boleto-10005.pdf", BOLETO_PDF),)
    fake.faults.set("drop", method="POST", path_prefix="/api/v2/tickets.json", effect=True)
    with pytest.raises(DeliveryError) as lost:
        open_ticket(attachments=attachments)
    assert lost.value.retryable is True
    assert len(fake.state.tickets) == 1, "the ticket was created; only the answer was lost"

    ticket = open_ticket(attachments=attachments)
    assert len(fake.state.tickets) == 1 and ticket.id == str(next(iter(fake.state.tickets)))
    assert len(fake.calls.filter("POST", "/api/v2/uploads.json")) == 1
    assert len(fake.calls.filter("POST", "/api/v2/tickets.json")) == 1
    # Another key is another ticket.
    assert open_ticket("outbox-2").id != ticket.id
    assert len(fake.state.tickets) == 2


def test_the_idempotency_key_alone_prevents_a_second_ticket(
    fake: Fake, open_ticket: Callable[..., Ticket], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the external-id lookup (say the list lags), Zendesk's key replay still holds."""
    monkeypatch.setattr(ZendeskConnector, "_existing", lambda self, external_id: None)
    fake.faults.set("timeout", method="POST", path_prefix="/api/v2/tickets.json", seconds=2.0)
    Channel.objects.filter(code="zendesk").update(options={"timeout_seconds": 0.5})
    with pytest.raises(DeliveryError) as timed_out:
        open_ticket()
    assert timed_out.value.retryable is True
    Channel.objects.filter(code="zendesk").update(options={})
    ticket = open_ticket()
    assert len(fake.state.tickets) == 1 and ticket.id == str(next(iter(fake.state.tickets)))
    assert len(fake.calls.filter("POST", "/api/v2/tickets.json")) == 2


def test_a_reused_key_with_another_body_is_refused(fake: Fake, open_ticket: Callable[..., Ticket]) -> None:
    open_ticket()
    # What Zendesk would answer a retry whose body changed (were the lookup to miss).
    with (
        ZendeskConnector(Channel.objects.get(code="zendesk")) as connector_base,
        pytest.raises(DeliveryError) as reused,
    ):
        assert isinstance(connector_base, ZendeskConnector)
        connector_base.api.object(
            "POST",
            "/tickets.json",
            json={"ticket": {"subject": "outro", "comment": {"body": "outro"}}},
            headers={"Idempotency-Key": "outbox-1"},
        )
    assert (reused.value.status, reused.value.retryable) == (400, False)
    assert "IdempotentRequestError" in reused.value.detail
    assert len(fake.state.tickets) == 1


def test_fetch_ticket_reports_the_status_after_the_agent_solves_it(
    fake: Fake, zendesk: Channel, open_ticket: Callable[..., Ticket]
) -> None:
    ticket = open_ticket()
    with connector_for(zendesk) as connector:
        assert connector.fetch_ticket(ticket.id) == ticket
        _solve(fake, ticket.id, "open")
        assert connector.fetch_ticket(ticket.id).status == "open"
        _solve(fake, ticket.id)
        solved = connector.fetch_ticket(ticket.id)
    assert (solved.id, solved.status, solved.group, solved.url) == (
        ticket.id,
        "solved",
        DEFAULT_GROUP,
        ticket.url,
    )


def test_fetching_an_unknown_ticket_or_a_failing_help_desk(fake: Fake, zendesk: Channel) -> None:
    with connector_for(zendesk) as connector:
        with pytest.raises(DeliveryError) as missing:
            connector.fetch_ticket("999999")
        assert (missing.value.status, missing.value.retryable) == (404, False)
        fake.faults.set("error_5xx", status=503)
        with pytest.raises(DeliveryError) as down:
            connector.fetch_ticket("1001")
        assert down.value.retryable is True
        fake.faults.set("rate_limit", retry_after=30)
        with pytest.raises(DeliveryError) as throttled:
            connector.fetch_ticket("1001")
        assert (throttled.value.retryable, throttled.value.retry_after) == (True, 30.0)


def test_groups_by_name_explicit_id_or_number_and_the_cache(
    fake: Fake, zendesk: Channel, open_ticket: Callable[..., Ticket]
) -> None:
    with connector_for(zendesk) as connector:
        for key, group in (("k1", ""), ("k2", "Logística"), ("k3", DEFAULT_GROUP)):
            connector.create_ticket(subject="s", body="b", group=group, idempotency_key=key)
    assert len(fake.calls.filter("GET", "/api/v2/groups.json")) == 1, "groups are fetched once per client"
    groups = [fake.state.tickets[tid]["group_id"] for tid in sorted(fake.state.tickets)]
    assert groups == [_group_id(fake, name) for name in (DEFAULT_GROUP, "Logística", DEFAULT_GROUP)]

    fake.calls.clear()
    support = _group_id(fake, "Suporte")
    Channel.objects.filter(pk=zendesk.pk).update(options={"group": "Suporte", "group_id": support})
    ticket = open_ticket("k4")
    assert ticket.group == "Suporte" and fake.state.tickets[int(ticket.id)]["group_id"] == support
    assert not fake.calls.filter("GET", "/api/v2/groups.json"), "an explicit group_id needs no lookup"
    by_number = open_ticket("k5", group=str(_group_id(fake, "Logística")))
    assert by_number.group == "Logística"


def test_groups_are_read_across_pages(fake: Fake, open_ticket: Callable[..., Ticket]) -> None:
    with fake.app.lock:
        for number in range(150):
            group_id = fake.state.new_id()
            fake.state.groups[group_id] = {"id": group_id, "name": f"Fila {number:03d}", "deleted": False}
    ticket = open_ticket(group="Fila 140")
    assert ticket.group == "Fila 140"
    assert len(fake.calls.filter("GET", "/api/v2/groups.json")) == 2


def test_an_unknown_group_or_bad_credentials_are_permanent_and_open_nothing(
    fake: Fake, zendesk: Channel, open_ticket: Callable[..., Ticket]
) -> None:
    with pytest.raises(DeliveryError) as unknown:
        open_ticket(group="Jurídico", attachments=(Attachment("a.pdf", BOLETO_PDF),))
    assert unknown.value.retryable is False and "Jurídico" in unknown.value.detail
    assert not fake.state.tickets and not fake.state.uploads

    Channel.objects.filter(pk=zendesk.pk).update(credentials={**fake.credentials, "api_token": "wrong"})
    with pytest.raises(DeliveryError) as refused:
        open_ticket()
    assert (refused.value.status, refused.value.retryable) == (401, False)
    Channel.objects.filter(pk=zendesk.pk).update(credentials={"email": fake.credentials["email"]})
    with pytest.raises(DeliveryError) as missing:
        open_ticket()
    assert missing.value.retryable is False and "api_token" in missing.value.detail
