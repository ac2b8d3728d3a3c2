"""The ``bling`` connector against the Bling fake over HTTP: orders pushed exactly once, situações by
id per account, NF-e issued in Bling and read back as an invoice, signed webhooks through the real
``POST /hooks/bling`` view, OAuth renewal, listings, polling and error classification.

The fake's webhook thread cannot reach Django's test client, so tests take the webhook the fake
recorded (body and signature header) and POST it to ``/hooks/bling`` themselves, as Bling would.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

import malote.connectors.bling  # noqa: F401  (registers the connector)
from malote.channels.models import Channel, ChannelRole, OrderLink
from malote.conftest import SYSTEM
from malote.connectors.bling import BlingConnector, BlingError
from malote.connectors.registry import connector_for
from malote.connectors.tests.helpers import Control, channel_at, configure, linked, order_message
from malote.fiscal import check_nfe_xml_against_key, parse_nfe_key, parse_nfe_xml
from malote.orders import actions
from malote.orders.models import Order
from malote.relay.delivery import deliver_to_channel
from malote.relay.polling import poll_channel
from malote.sync import outbox
from malote.sync.errors import DeliveryError
from malote.sync.models import InboxEvent, OutboxMessage, Schedule
from malote.sync.worker import drain
from malote_dev.sandbox import start_fake
from malote_dev.sandbox.bling import BlingState
from malote_dev.sandbox.server import RunningFake
from malote_dev.testing.orders import bring_to, valid_input
from malote_dev.testing.sync import HttpSink, Reply

pytestmark = pytest.mark.django_db

Fake = RunningFake[BlingState]
SIGNATURE = "X-Bling-Signature-256"


@pytest.fixture
def fake() -> Iterator[Fake]:
    with start_fake("bling", seed=False) as running:
        yield running


@pytest.fixture
def bling(fake: Fake, channel: Channel) -> Iterator[Channel]:
    """The ERP channel (the storefront ``site`` comes from ``channel``)."""
    yield channel_at(fake, "bling", "Bling ERP", ChannelRole.ERP, credentials=dict(fake.credentials))


def _pedido(fake: Fake, order: Order) -> dict[str, Any]:
    [pedido] = [p for p in fake.state.pedidos.values() if p["numeroLoja"] == order.number]
    return pedido


def _calls(fake: Fake) -> list[str]:
    return [f"{call.method} {call.path.removeprefix('/Api/v3')}" for call in fake.calls.all()]


def _sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _post_hook(body: bytes, signature: str | None) -> Any:
    headers = {SIGNATURE: signature} if signature is not None else {}
    return Client().post("/hooks/bling", data=body, content_type="application/json", headers=headers)


def _deliver_hooks(fake: Fake, since: int = 0) -> list[Any]:
    """POST every webhook the fake sent (from ``since``) to Malote, as signed; returns the answers."""
    assert fake.wait_for_webhooks()
    return [
        _post_hook(record.body, record.headers[SIGNATURE]).json()["results"]
        for record in fake.webhooks.all()[since:]
        if not record.suppressed
    ]


# ----------------------------------------------------------------- creating orders exactly once


def test_order_is_created_once_even_when_delivered_twice(
    fake: Fake, bling: Channel, make_order: Callable[..., Order]
) -> None:
    order = make_order()
    assert drain(prefix="channel:") == 1
    pedido = _pedido(fake, order)
    link = OrderLink.objects.get(order=order, channel=bling)
    assert link.external_id == str(pedido["id"]) and link.state == "linked"
    # The order as Bling got it: totals agree with Malote's, so will the NF-e.
    assert pedido["total"] == Decimal("114.80") == order.total
    assert pedido["transporte"]["frete"] == Decimal("15.00")
    assert pedido["contato"]["numeroDocumento"] == "52998224725"
    assert [item["codigo"] for item in pedido["itens"]] == ["CHINELO-42"]
    assert pedido["situacao"]["id"] == 6, "pending_payment → Em aberto"
    assert pedido["numeroPedidoCompra"] == order.external_id
    assert pedido["parcelas"][0]["valor"] == Decimal("114.80")
    assert pedido["transporte"]["etiqueta"]["cep"] == order.shipping_address["postal_code"]
    assert _calls(fake) == [
        "GET /pedidos/vendas",
        "GET /contatos",
        "POST /contatos",
        "POST /pedidos/vendas",
    ]

    # A second delivery of the same message (a worker's lease expired, a replay…): found, not copied.
    fake.calls.clear()
    deliver_to_channel(order_message(order, "bling"))
    assert len(fake.state.pedidos) == 1
    assert _calls(fake) == ["GET /pedidos/vendas", f"GET /pedidos/vendas/{pedido['id']}"]
    assert OrderLink.objects.get(order=order, channel=bling).external_id == link.external_id


def test_the_customer_is_one_contato(fake: Fake, bling: Channel, make_order: Callable[..., Order]) -> None:
    first, second = make_order(), make_order()
    linked(first, "bling"), linked(second, "bling")
    assert len(fake.state.contatos) == 1
    assert _pedido(fake, first)["contato"]["id"] == _pedido(fake, second)["contato"]["id"]


@pytest.mark.parametrize(
    ("fault", "params"),
    [("drop", {"effect": True}), ("timeout", {"seconds": 3.0})],
    ids=["answer-dropped", "answer-too-late"],
)
def test_a_lost_answer_is_retried_without_a_duplicate(
    fake: Fake, bling: Channel, make_order: Callable[..., Order], fault: str, params: dict[str, Any]
) -> None:
    """The fake accepts a repeated numeroLoja, so only the look-up before creating keeps the retry
    from making a second copy."""
    assert fake.config["reject_duplicate_numero_loja"] is False
    configure(bling, options={"timeout_seconds": 0.5})
    fake.faults.set(fault, method="POST", path_prefix="/Api/v3/pedidos/vendas", **params)
    order = make_order()
    drain(prefix="channel:")
    message = order_message(order, "bling")
    assert message.state == "pending" and message.attempts == 1
    assert len(fake.state.pedidos) == 1, "the write landed; only its answer was lost"

    outbox.retry_now(message.pk)
    drain(prefix="channel:")
    message.refresh_from_db()
    assert message.state == "done"
    assert len(fake.state.pedidos) == 1
    assert len(fake.calls.filter("POST", "/Api/v3/pedidos/vendas")) == 1
    link = OrderLink.objects.get(order=order, channel=bling)
    assert link.state == "linked" and link.external_id == str(_pedido(fake, order)["id"])


def test_a_paid_order_is_created_in_the_mapped_situacao(
    fake: Fake, bling: Channel, make_order: Callable[..., Order]
) -> None:
    order = make_order(status="paid")
    linked(order, "bling")
    assert _pedido(fake, order)["situacao"]["id"] == 15


def test_numero_loja_can_be_the_sales_channels_id(
    fake: Fake, bling: Channel, make_order: Callable[..., Order]
) -> None:
    configure(bling, options={"numero_loja": "external_id"})
    order = make_order()
    linked(order, "bling")
    [pedido] = fake.state.pedidos.values()
    assert pedido["numeroLoja"] == order.external_id != order.number


# ----------------------------------------------------------------- a sale Bling already has


def _typed_in(control: Control, numero_loja: str, document: str = "529.982.247-25") -> int:
    """A pedido the ERP already holds for the sale (typed in by hand, or by a previous integration)."""
    customer = {"name": "Maria Silva", "document": document}
    return int(control("orders", {"numeroLoja": numero_loja, "customer": customer})["pedido"]["id"])


def test_a_new_sale_is_created_once_next_to_the_customers_other_orders(
    fake: Fake, bling: Channel, make_order: Callable[..., Order], control: Control
) -> None:
    _typed_in(control, "704319999")
    fake.calls.clear()
    order = make_order()
    pedido_id = linked(order, "bling")
    assert len(fake.state.pedidos) == 2 and _pedido(fake, order)["id"] == int(pedido_id)
    assert _calls(fake) == [
        "GET /pedidos/vendas",  # numerosLojas[]: Malote's number and the store's spellings
        "GET /contatos",
        "GET /pedidos/vendas",  # idContato: the customer's orders
        "POST /pedidos/vendas",
    ]


@pytest.mark.parametrize(
    ("numero_loja", "searches"),
    [("02-704319101", 1), ("704319101", 1), ("02704319101", 1), ("704319101-1", 2)],
)
def test_a_sale_bling_already_has_under_the_store_number_is_linked_not_copied(
    fake: Fake,
    bling: Channel,
    make_order: Callable[..., Order],
    control: Control,
    numero_loja: str,
    searches: int,
) -> None:
    existing = _typed_in(control, numero_loja)
    fake.calls.clear()
    order = make_order()
    assert order.external_id == "02-704319101"
    assert linked(order, "bling") == str(existing)
    assert len(fake.state.pedidos) == 1
    assert _calls(fake).count("GET /pedidos/vendas") == searches
    assert "POST /pedidos/vendas" not in _calls(fake)


def test_a_sale_numbered_with_the_store_number_in_numero_is_linked(
    fake: Fake, bling: Channel, make_order: Callable[..., Order], control: Control
) -> None:
    existing = _typed_in(control, "")
    fake.state.pedidos[existing]["numero"] = 704319101  # a previous integration used Bling's own number
    order = make_order()
    assert linked(order, "bling") == str(existing)
    assert len(fake.state.pedidos) == 1


def test_another_customers_order_with_that_numero_is_not_the_sale(
    fake: Fake, bling: Channel, make_order: Callable[..., Order], control: Control
) -> None:
    other = _typed_in(control, "", document="111.444.777-35")
    fake.state.pedidos[other]["numero"] = 704319101
    order = make_order()
    assert linked(order, "bling") != str(other)
    assert len(fake.state.pedidos) == 2


# ----------------------------------------------------------------- situações by id


def test_status_pushes_move_the_situacao_by_id(
    fake: Fake, bling: Channel, make_order: Callable[..., Order]
) -> None:
    order = make_order()
    pedido_id = linked(order, "bling")
    pedido = fake.state.pedidos[int(pedido_id)]
    for name, situacao in [("approve_payment", 15), ("start_preparing", 15), ("invoice", 9)]:
        actions.run_transition(order.pk, name, valid_input(order, name), actor=SYSTEM)
        drain(prefix="channel:")
        assert pedido["situacao"]["id"] == situacao, name
    # shipped has no situação in a stock account: nothing is called at all.
    fake.calls.clear()
    actions.run_transition(order.pk, "ship", valid_input(order, "ship"), actor=SYSTEM)
    drain(prefix="channel:")
    assert fake.calls.all() == []
    assert not OutboxMessage.objects.filter(destination="channel:bling").exclude(state="done").exists()


def test_repeated_or_stale_pushes_never_write_or_move_bling_back(
    fake: Fake, bling: Channel, make_order: Callable[..., Order], control: Callable[..., dict[str, Any]]
) -> None:
    order = bring_to(make_order(), "paid")
    pedido_id = linked(order, "bling")
    pedido = fake.state.pedidos[int(pedido_id)]
    assert pedido["situacao"]["id"] == 15

    fake.calls.clear()
    message = OutboxMessage.objects.filter(destination="channel:bling", order=order).order_by("-id").first()
    assert message is not None
    deliver_to_channel(message)
    assert _calls(fake) == [f"GET /pedidos/vendas/{pedido_id}"], "a repeat costs one read"

    control(f"orders/{pedido_id}/situacao", {"nome": "Atendido"})
    fake.calls.clear()
    actions.run_transition(order.pk, "start_preparing", {}, actor=SYSTEM)
    drain(prefix="channel:")
    assert pedido["situacao"]["id"] == 9 and not fake.calls.filter("PATCH")

    control(f"orders/{pedido_id}/cancel")
    actions.run_transition(order.pk, "invoice", valid_input(order, "invoice"), actor=SYSTEM)
    drain(prefix="channel:")
    assert pedido["situacao"]["id"] == 12, "a canceled order is never revived"
    assert not fake.calls.filter("PATCH")


def test_cancellation_reaches_bling(fake: Fake, bling: Channel, make_order: Callable[..., Order]) -> None:
    order = bring_to(make_order(), "paid")
    pedido_id = linked(order, "bling")
    actions.run_transition(order.pk, "cancel", valid_input(order, "cancel"), actor=SYSTEM)
    drain(prefix="channel:")
    assert fake.state.pedidos[int(pedido_id)]["situacao"] == {"id": 12, "valor": 2}


def test_a_cancellation_for_an_order_bling_never_kept_is_owed_nothing(
    fake: Fake, bling: Channel, make_order: Callable[..., Order]
) -> None:
    fake.faults.set("drop_order_creation", 1)  # 201 with an id, nothing stored
    order = bring_to(make_order(), "paid")
    drain(prefix="channel:")
    assert OrderLink.objects.get(order=order, channel=bling).external_id
    actions.run_transition(order.pk, "cancel", valid_input(order, "cancel"), actor=SYSTEM)
    drain(prefix="channel:")
    # Allowed: Bling has no such sale under any reference; nothing to cancel, no dead letter.
    cancellation = OutboxMessage.objects.get(destination="channel:bling", kind="order.cancellation")
    assert cancellation.state == "done"
    assert not OrderLink.objects.filter(order=order, channel=bling).exists()
    assert order.events.filter(type="integration_link", data__external_id="").exists()
    assert not fake.state.pedidos


def test_a_cancellation_answered_404_reaches_the_sale_under_its_real_id(
    fake: Fake, bling: Channel, make_order: Callable[..., Order]
) -> None:
    order = bring_to(make_order(), "paid")
    drain(prefix="channel:")
    real = OrderLink.objects.get(order=order, channel=bling).external_id
    OrderLink.objects.filter(order=order, channel=bling).update(external_id="99999999")  # a wrong id
    actions.run_transition(order.pk, "cancel", valid_input(order, "cancel"), actor=SYSTEM)
    drain(prefix="channel:")
    assert fake.state.pedidos[int(real)]["situacao"]["id"] == 12
    assert OrderLink.objects.get(order=order, channel=bling).external_id == real


def test_a_404_on_another_push_is_not_taken_for_an_absent_order(
    fake: Fake, bling: Channel, make_order: Callable[..., Order]
) -> None:
    order = make_order()
    linked(order, "bling")
    OrderLink.objects.filter(order=order, channel=bling).update(external_id="99999999")
    actions.run_transition(order.pk, "approve_payment", {}, actor=SYSTEM)
    drain(prefix="channel:")
    # Forbidden: only a cancellation is owed nothing by a system without the order.
    status = OutboxMessage.objects.get(destination="channel:bling", kind="order.status")
    assert status.state == "dead"
    assert OrderLink.objects.filter(order=order, channel=bling, external_id="99999999").exists()


def test_an_unknown_situacao_id_is_a_clear_dead_letter(
    fake: Fake, bling: Channel, make_order: Callable[..., Order]
) -> None:
    order = make_order()
    pedido_id = linked(order, "bling")
    configure(bling, status_map={"out": {"paid": "77"}})
    actions.run_transition(order.pk, "approve_payment", {}, actor=SYSTEM)
    drain(prefix="channel:")
    message = OutboxMessage.objects.filter(destination="channel:bling", order=order).order_by("-id").first()
    assert message is not None and message.state == "dead"
    assert "situação 77" in message.last_error and "not a Vendas situação" in message.last_error
    assert "9 Atendido" in message.last_error and "status map" in message.last_error
    assert fake.state.pedidos[int(pedido_id)]["situacao"]["id"] == 6


def test_another_accounts_ids_come_from_the_status_map(
    make_order: Callable[..., Order], channel: Channel
) -> None:
    with start_fake(
        "bling", seed=False, situacoes={"Em aberto": 101, "Pago": 140, "Cancelado": 190}
    ) as other:
        erp = Channel.objects.create(
            code="bling",
            name="Bling",
            role=ChannelRole.ERP,
            kind="bling",
            base_url=other.api_url,
            credentials=dict(other.credentials),
            status_map={"out": {"pending_payment": "101", "paid": "140", "canceled": "190"}},
        )
        order = make_order()
        pedido_id = linked(order, "bling")
        assert other.state.pedidos[int(pedido_id)]["situacao"]["id"] == 101
        bring_to(order, "paid")
        drain(prefix="channel:")
        assert other.state.pedidos[int(pedido_id)]["situacao"]["id"] == 140
        with connector_for(erp) as connector:
            assert isinstance(connector, BlingConnector)
            assert connector.situacoes() == {"101": "Em aberto", "140": "Pago", "190": "Cancelado"}


# ----------------------------------------------------------------- NF-e issued in Bling


def test_nfe_generated_on_paid_comes_back_as_a_valid_invoice(
    fake: Fake, bling: Channel, make_order: Callable[..., Order]
) -> None:
    configure(bling, options={"generate_nfe_on": "paid"})
    order = make_order()
    pedido_id = linked(order, "bling")
    fake.webhooks.clear()
    bring_to(order, "paid")
    drain(prefix="channel:")
    assert len(fake.calls.filter("POST", f"/Api/v3/pedidos/vendas/{pedido_id}/gerar-nfe")) == 1
    pedido = fake.state.pedidos[int(pedido_id)]
    nfe = fake.state.nfes[pedido["notaFiscal"]["id"]]

    results = _deliver_hooks(fake)
    # order.updated (15), invoice.created, order.updated (9), each read back as the pedido is now:
    # one event, applied once.
    assert [record.event for record in fake.webhooks.all()] == [
        "order.updated",
        "invoice.created",
        "order.updated",
    ]
    assert results == [["applied"], ["duplicate"], ["duplicate"]]
    order.refresh_from_db()
    assert order.status == "invoiced"
    invoice = order.invoices.get()
    key = parse_nfe_key(invoice.key)
    assert invoice.key == nfe["chaveAcesso"] and key.number == int(nfe["numero"])
    assert (str(invoice.number), str(invoice.series)) == (str(int(nfe["numero"])), "1")
    check_nfe_xml_against_key(parse_nfe_xml(invoice.xml), invoice.key)
    assert invoice.authorization_protocol, "the authorized XML came along"
    # The invoice came from Bling: it is not sent back there, and the NF-e is not asked for twice.
    drain(prefix="channel:")
    assert not OutboxMessage.objects.filter(destination="channel:bling", kind="order.invoice").exists()
    assert len(fake.calls.filter("POST", f"/Api/v3/pedidos/vendas/{pedido_id}/gerar-nfe")) == 1
    assert OrderLink.objects.get(order=order, channel=bling).remote_status == "9"


def test_an_order_created_already_paid_gets_its_nfe_once(
    fake: Fake, bling: Channel, make_order: Callable[..., Order]
) -> None:
    configure(bling, options={"generate_nfe_on": "paid"})
    order = make_order(status="paid")
    pedido_id = linked(order, "bling")
    message = order_message(order, "bling")
    deliver_to_channel(message)  # a repeat finds the copy and its NF-e: nothing more is issued
    assert len(fake.state.nfes) == 1
    assert fake.state.pedidos[int(pedido_id)]["notaFiscal"]["id"] in fake.state.nfes
    assert len(fake.calls.filter("POST", f"/Api/v3/pedidos/vendas/{pedido_id}/gerar-nfe")) == 1


def test_the_invoice_webhook_alone_invoices_the_order(
    fake: Fake, bling: Channel, make_order: Callable[..., Order], control: Callable[..., dict[str, Any]]
) -> None:
    fake.configure(nfe_sets_situacao=None)  # the NF-e leaves the situação alone: only invoice.created
    order = bring_to(make_order(), "paid")
    pedido_id = linked(order, "bling")
    fake.webhooks.clear()
    control(f"orders/{pedido_id}/invoice")
    assert [record.event for record in fake.webhooks.wait_for(1)] == ["invoice.created"]
    assert _deliver_hooks(fake) == [["applied"]]
    order.refresh_from_db()
    assert order.status == "invoiced" and order.invoices.get().key


def test_nfe_generation_refused_by_bling_is_a_dead_letter(
    fake: Fake, bling: Channel, make_order: Callable[..., Order]
) -> None:
    configure(bling, options={"generate_nfe_on": "paid"})
    fake.configure(nfe_generation_error="Certificado digital A1 vencido")
    order = make_order()
    pedido_id = linked(order, "bling")
    bring_to(order, "paid")
    drain(prefix="channel:")
    message = OutboxMessage.objects.filter(destination="channel:bling", order=order).order_by("-id").first()
    assert message is not None and message.state == "dead"
    assert "Certificado digital A1 vencido" in message.last_error and "HTTP 400" in message.last_error
    assert not fake.state.nfes
    assert fake.state.pedidos[int(pedido_id)]["situacao"]["id"] == 15, "the situação moved before"


def test_request_invoice_reads_both_answer_shapes(
    fake: Fake, bling: Channel, make_order: Callable[..., Order]
) -> None:
    first, second = bring_to(make_order(), "paid"), bring_to(make_order(), "paid")
    first_id, second_id = linked(first, "bling"), linked(second, "bling")
    with connector_for(bling) as connector:
        assert isinstance(connector, BlingConnector)
        assert connector.request_invoice(first_id) == str(
            fake.state.pedidos[int(first_id)]["notaFiscal"]["id"]
        )
        fake.configure(generate_nfe_wrapped=False)
        assert connector.request_invoice(second_id) == str(
            fake.state.pedidos[int(second_id)]["notaFiscal"]["id"]
        )


# ----------------------------------------------------------------- webhooks


def _canceled_in_bling(
    fake: Fake, make_order: Callable[..., Order], control: Callable[..., dict[str, Any]]
) -> tuple[Order, str, Any]:
    """A paid order linked in Bling that the operator then cancels there: ``(order, pedido id, the
    one webhook Bling sent about it)``."""
    order = bring_to(make_order(), "paid")
    pedido_id = linked(order, "bling")
    fake.webhooks.clear()
    control(f"orders/{pedido_id}/cancel")
    (record,) = fake.webhooks.wait_for(1)
    return order, pedido_id, record


def test_signed_webhooks_are_accepted_and_cancel_reaches_malote(
    fake: Fake, bling: Channel, make_order: Callable[..., Order], control: Callable[..., dict[str, Any]]
) -> None:
    order, _, record = _canceled_in_bling(fake, make_order, control)
    response = _post_hook(record.body, record.headers[SIGNATURE])
    assert response.status_code == 200 and response.json()["results"] == ["applied"], response.content
    order.refresh_from_db()
    assert (order.status, order.cancel_reason) == ("canceled", "channel")


@pytest.mark.parametrize(
    ("signature", "code"),
    [
        (None, "webhook_signature_missing"),
        ("sha256=" + "0" * 64, "webhook_signature_invalid"),
        ("signed-with-another-secret", "webhook_signature_invalid"),
        ("tampered-body", "webhook_signature_invalid"),
        ("bare-hex-without-prefix", "webhook_signature_invalid"),
    ],
)
def test_a_webhook_without_the_right_signature_is_401_and_stored_nowhere(
    fake: Fake,
    bling: Channel,
    make_order: Callable[..., Order],
    control: Callable[..., dict[str, Any]],
    signature: str | None,
    code: str,
) -> None:
    order, _, record = _canceled_in_bling(fake, make_order, control)
    body, good = record.body, record.headers[SIGNATURE]
    if signature == "signed-with-another-secret":
        signature = _sign(body, "another-secret")
    elif signature == "tampered-body":
        body = body.replace(b'"valor":2', b'"valor":1')
        assert body != record.body
        signature = good
    elif signature == "bare-hex-without-prefix":
        signature = good.removeprefix("sha256=")
    response = _post_hook(body, signature)
    assert response.status_code == 401 and response.json()["code"] == code
    assert not InboxEvent.objects.exists()
    order.refresh_from_db()
    assert order.status == "paid"


def test_a_channel_without_a_secret_refuses_webhooks(fake: Fake, bling: Channel) -> None:
    configure(bling, credentials={"access_token": "x"})
    body = b'{"event": "order.updated", "data": {"id": 1}}'
    response = _post_hook(body, _sign(body, ""))
    assert response.status_code == 401 and response.json()["code"] == "webhook_secret_not_configured"


def test_a_duplicate_webhook_changes_nothing(
    fake: Fake, bling: Channel, make_order: Callable[..., Order], control: Callable[..., dict[str, Any]]
) -> None:
    order = bring_to(make_order(), "paid")
    pedido_id = linked(order, "bling")
    fake.webhooks.clear()
    fake.faults.set("webhook_duplicate")
    control(f"orders/{pedido_id}/cancel")
    first, second = fake.webhooks.wait_for(2)
    assert first.body == second.body and second.copy == 2
    assert _post_hook(first.body, first.headers[SIGNATURE]).json()["results"] == ["applied"]
    assert _post_hook(second.body, second.headers[SIGNATURE]).json()["results"] == ["duplicate"]
    assert order.events.filter(transition="cancel").count() == 1


def test_other_resources_are_acknowledged_and_ignored(fake: Fake, bling: Channel) -> None:
    body = b'{"eventId": "e1", "event": "stock.updated", "version": "v1", "data": {"produto": {"id": 1}}}'
    secret = fake.credentials["client_secret"]
    response = _post_hook(body, _sign(body, secret))
    assert response.status_code == 200 and response.json()["results"] == []
    malformed = b'{"event": "order.updated"}'
    response = _post_hook(malformed, _sign(malformed, secret))
    assert response.status_code == 422 and response.json()["code"] == "malformed_webhook"


def test_an_order_deleted_in_bling_is_recorded_on_its_link(
    fake: Fake, bling: Channel, make_order: Callable[..., Order]
) -> None:
    order = bring_to(make_order(), "paid")
    pedido_id = linked(order, "bling")
    body = f'{{"eventId": "e2", "event": "order.deleted", "data": {{"id": {pedido_id}}}}}'.encode()
    response = _post_hook(body, _sign(body, fake.credentials["client_secret"]))
    assert response.json()["results"] == ["recorded"], response.content
    assert OrderLink.objects.get(order=order, channel=bling).remote_status == "deleted"
    order.refresh_from_db()
    assert order.status == "paid"


def test_a_webhook_when_bling_cannot_be_read_is_503_and_can_be_retried(
    fake: Fake, bling: Channel, make_order: Callable[..., Order], control: Callable[..., dict[str, Any]]
) -> None:
    _, pedido_id, record = _canceled_in_bling(fake, make_order, control)
    fake.faults.set("error_5xx", path_prefix=f"/Api/v3/pedidos/vendas/{pedido_id}")
    failed = _post_hook(record.body, record.headers[SIGNATURE])
    assert failed.status_code == 503 and failed.json()["code"] == "upstream_unavailable"
    assert not InboxEvent.objects.exists()
    assert _post_hook(record.body, record.headers[SIGNATURE]).json()["results"] == ["applied"]


# ----------------------------------------------------------------- OAuth


def test_an_expired_token_is_renewed_and_stored(
    fake: Fake, bling: Channel, make_order: Callable[..., Order], control: Callable[..., dict[str, Any]]
) -> None:
    old = dict(bling.credentials)
    control("oauth/expire")
    order = make_order()
    linked(order, "bling")
    bling.refresh_from_db()
    assert bling.credentials["access_token"] != old["access_token"]
    assert bling.credentials["refresh_token"] != old["refresh_token"], "the rotated refresh token is kept"
    assert bling.credentials["client_secret"] == old["client_secret"]
    assert [call.status for call in fake.calls.filter("GET", "/Api/v3/pedidos/vendas")][:2] == [401, 200]
    # The stored pair keeps working: a second expiry renews again with the rotated refresh token.
    control("oauth/expire")
    second = make_order()
    linked(second, "bling")


def test_a_token_another_worker_renewed_is_adopted(
    fake: Fake, bling: Channel, control: Callable[..., dict[str, Any]]
) -> None:
    """Two workers, each with its own copy of the channel: the second one to see the 401 finds the
    pair the first one stored instead of spending the (single-use) refresh token again."""
    with connector_for(Channel.objects.get(pk=bling.pk)) as stale:  # loaded before the renewal
        control("oauth/expire")
        with connector_for(Channel.objects.get(pk=bling.pk)) as other, pytest.raises(BlingError):
            other.fetch_order("1")  # 401 → renewed → 404
        assert len(fake.calls.filter("POST", "/Api/v3/oauth/token")) == 1
        with pytest.raises(BlingError) as missing:
            stale.fetch_order("1")  # 401 → adopts the stored token → 404
        assert missing.value.status == 404
        assert len(fake.calls.filter("POST", "/Api/v3/oauth/token")) == 1
    bling.refresh_from_db()
    assert stale.channel.credentials["access_token"] == bling.credentials["access_token"]


@pytest.mark.parametrize(
    "credentials",
    [{"refresh_token": "revoked"}, {"refresh_token": ""}],
    ids=["refused-refresh", "no-refresh-token"],
)
def test_a_refresh_that_fails_is_a_dead_letter_asking_to_authorize_again(
    fake: Fake,
    bling: Channel,
    make_order: Callable[..., Order],
    control: Callable[..., dict[str, Any]],
    credentials: dict[str, str],
) -> None:
    configure(bling, credentials={**bling.credentials, **credentials})
    control("oauth/expire")
    order = make_order()
    drain(prefix="channel:")
    message = order_message(order, "bling")
    assert message.state == "dead" and "authorize the app again" in message.last_error
    assert not fake.state.pedidos


# ----------------------------------------------------------------- error classification


def test_http_429_and_5xx_are_retried(fake: Fake, bling: Channel, make_order: Callable[..., Order]) -> None:
    fake.faults.set("rate_limit", method="GET", path_prefix="/Api/v3/pedidos/vendas", retry_after=7)
    order = make_order()
    drain(prefix="channel:")
    message = order_message(order, "bling")
    assert (message.state, message.last_status) == ("pending", 429)
    assert "TOO_MANY_REQUESTS" in message.last_error
    assert message.next_attempt_at <= timezone.now() + timedelta(seconds=8)

    fake.faults.set("error_5xx", method="POST", path_prefix="/Api/v3/pedidos/vendas", status=503)
    outbox.retry_now(message.pk)
    drain(prefix="channel:")
    message.refresh_from_db()
    assert (message.state, message.last_status) == ("pending", 503)
    assert not fake.state.pedidos

    outbox.retry_now(message.pk)
    drain(prefix="channel:")
    message.refresh_from_db()
    assert message.state == "done" and len(fake.state.pedidos) == 1


def test_a_validation_error_is_permanent_and_says_what_is_wrong(fake: Fake, bling: Channel) -> None:
    connector = BlingConnector(bling)
    with connector, pytest.raises(BlingError) as refused:
        connector.api.call("POST", "/pedidos/vendas", body={"contato": {"id": 1}, "itens": []})
    assert refused.value.retryable is False and refused.value.status == 400
    assert refused.value.kind == "VALIDATION_ERROR" and "contato" in refused.value.detail


@pytest.mark.parametrize(
    "reply",
    [Reply(body=b"<html>Em manutencao</html>"), Reply(body=b'{"erro": "sem envelope"}')],
    ids=["html-200", "no-data"],
)
def test_an_answer_that_is_not_blings_envelope_is_retryable(bling: Channel, reply: Reply) -> None:
    with HttpSink(lambda request: reply) as sink:
        configure(bling, base_url=sink.url + "/Api/v3")
        with connector_for(bling) as connector, pytest.raises(DeliveryError) as raised:
            connector.fetch_order("1")
    assert raised.value.retryable is True
    assert sink.requests[0].path == "/Api/v3/pedidos/vendas/1"
    assert sink.requests[0].headers["Authorization"].startswith("Bearer ")


# ----------------------------------------------------------------- listings, polling, reads


def test_list_orders_pages_through_blings_listing(
    fake: Fake, bling: Channel, control: Callable[..., dict[str, Any]]
) -> None:
    for number in range(5):
        control("orders", {"numeroLoja": f"R{number}"})
    control("orders/20000000002/cancel")
    configure(bling, options={"page_size": 2})
    since = (timezone.now() - timedelta(hours=1)).isoformat()
    seen = []
    cursor: str | None = None
    with connector_for(bling) as connector:
        for _ in range(5):
            listing = connector.list_orders(since, cursor)
            seen.extend(listing.orders)
            cursor = listing.cursor
            if not listing.more:
                break
    assert [listed.reference for listed in seen] == ["R0", "R1", "R2", "R3", "R4"]
    assert cursor is None
    canceled = seen[1]
    assert (canceled.external_id, canceled.remote_status, canceled.status) == (
        "20000000002",
        "12",
        "canceled",
    )
    assert seen[0].status == "" and seen[0].total == "64.90" and seen[0].placed_at.endswith("-03:00")
    with connector_for(bling) as connector:
        assert connector.list_orders((timezone.now() + timedelta(hours=1)).isoformat()).orders == []


def test_polling_finds_an_invoice_whose_webhook_was_lost(
    fake: Fake, bling: Channel, make_order: Callable[..., Order], control: Callable[..., dict[str, Any]]
) -> None:
    order = bring_to(make_order(), "paid")
    pedido_id = linked(order, "bling")
    fake.faults.set("webhook_off", count=3)
    control(f"orders/{pedido_id}/invoice")

    schedule = Schedule.objects.create(name="poll:bling", job="channel.poll", channel=bling)
    summary = poll_channel(schedule, timezone.now())
    assert summary.startswith("1 change(s) in 1 page(s)"), summary
    order.refresh_from_db()
    assert order.status == "invoiced" and order.invoices.get().key
    event = InboxEvent.objects.get(source="bling")
    nota = fake.state.pedidos[int(pedido_id)]["notaFiscal"]["id"]
    assert event.result == "applied" and event.event_id == f"{pedido_id}:9:{nota}"

    # The webhook, late, shares the event id: a duplicate; the next poll re-reads the overlap.
    record = fake.webhooks.all()[-1]
    assert record.suppressed and record.event == "order.updated"
    assert _post_hook(record.body, record.headers[SIGNATURE]).json()["results"] == ["duplicate"]
    schedule.refresh_from_db()
    poll_channel(schedule, timezone.now())
    assert InboxEvent.objects.filter(source="bling").count() == 1


def test_polling_reads_every_page(fake: Fake, bling: Channel, control: Callable[..., dict[str, Any]]) -> None:
    configure(bling, options={"page_size": 2})
    for _ in range(3):
        control("orders")
    with connector_for(bling) as connector:
        first = connector.pull_changes(None)
        assert len(first.changes) == 2 and first.more and first.cursor and ";page=2;" in first.cursor
        second = connector.pull_changes(first.cursor)
        assert len(second.changes) == 1 and not second.more
        assert second.cursor and ";" not in second.cursor
        assert {c.external_id for c in first.changes + second.changes} == {str(i) for i in fake.state.pedidos}
        assert all(c.status == "" and c.remote_status == "6" for c in first.changes)


def test_fetch_order_returns_the_order_as_bling_has_it(
    fake: Fake, bling: Channel, make_order: Callable[..., Order], control: Callable[..., dict[str, Any]]
) -> None:
    order = bring_to(make_order(), "paid")
    pedido_id = linked(order, "bling")
    control(f"orders/{pedido_id}/invoice")
    with connector_for(bling) as connector:
        change = connector.fetch_order(pedido_id)
        assert (change.external_id, change.remote_status, change.status) == (pedido_id, "9", "invoiced")
        invoice = change.facts["invoice"]
        assert parse_nfe_key(invoice["key"]).emitter_document == "11222333000181"
        assert invoice["issued_at"].endswith("-03:00") and invoice["xml"].startswith("<nfeProc")
        with pytest.raises(BlingError) as missing:
            connector.fetch_order("1")
        assert missing.value.status == 404 and missing.value.retryable is False
