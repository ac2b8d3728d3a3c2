"""The ``tiny`` connector against the Tiny fake over HTTP: orders pushed exactly once, error
classification, status pushes, webhooks (token, NF-e, shipment, delivery) and polling.

The fake's webhook thread cannot reach Django's test client, so tests take the webhook the fake
recorded and POST it to ``/hooks/tiny?token=…`` themselves, as Tiny would.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

import malote.connectors.tiny  # noqa: F401  (registers the connector)
from malote.channels.models import Channel, ChannelRole, OrderLink
from malote.conftest import SYSTEM
from malote.connectors.registry import connector_for
from malote.connectors.tests.helpers import Control, channel_at, configure, linked, order_message
from malote.connectors.tiny import TinyConnector, TinyError, situacao_code
from malote.fiscal import parse_nfe_key, validate_tracking_code
from malote.orders import actions
from malote.orders.models import Order
from malote.relay.delivery import deliver_to_channel
from malote.relay.polling import poll_channel
from malote.relay.snapshots import order_snapshot
from malote.sync import outbox
from malote.sync.errors import DeliveryError
from malote.sync.models import InboxEvent, OutboxMessage, Schedule
from malote.sync.worker import drain
from malote_dev.sandbox import start_fake
from malote_dev.sandbox.server import RunningFake
from malote_dev.sandbox.tiny import TinyState
from malote_dev.testing.orders import bring_to, valid_input
from malote_dev.testing.sync import HttpSink, Reply

pytestmark = pytest.mark.django_db

Fake = RunningFake[TinyState]
WEBHOOK_TOKEN = "tiny-hook-7f3a"


@pytest.fixture
def fake() -> Iterator[Fake]:
    with start_fake("tiny", seed=False) as running:
        yield running


@pytest.fixture
def tiny(fake: Fake, channel: Channel) -> Iterator[Channel]:
    """The ERP channel (the storefront ``site`` comes from ``channel``)."""
    credentials = {"token": fake.credentials["token"], "webhook_token": WEBHOOK_TOKEN}
    yield channel_at(fake, "tiny", "Tiny ERP", ChannelRole.ERP, credentials=credentials)


def _pedido(fake: Fake, order: Order) -> dict[str, Any]:
    [pedido] = [p for p in fake.state.pedidos.values() if p["numero_ecommerce"] == order.number]
    return pedido


def _last_webhook(fake: Fake) -> Any:
    assert fake.wait_for_webhooks()
    return fake.webhooks.all()[-1]


def _post_hook(body: bytes, token: str | None = WEBHOOK_TOKEN) -> Any:
    path = "/hooks/tiny" if token is None else f"/hooks/tiny?token={token}"
    return Client().post(path, data=body, content_type="application/json")


def _services(fake: Fake) -> list[str]:
    return [call.path.rsplit("/", 1)[1].removesuffix(".php") for call in fake.calls.all()]


# ----------------------------------------------------------------- creating orders exactly once


@pytest.mark.parametrize("numbers_as_strings", [True, False])
def test_order_is_created_once_even_when_delivered_twice(
    fake: Fake, tiny: Channel, make_order: Callable[..., Order], numbers_as_strings: bool
) -> None:
    fake.configure(numbers_as_strings=numbers_as_strings)
    order = make_order()
    assert drain(prefix="channel:") == 1
    pedido = _pedido(fake, order)
    link = OrderLink.objects.get(order=order, channel=tiny)
    assert link.external_id == str(pedido["id"]) and link.state == "linked"
    # The order as Tiny got it: totals agree with Malote's, so will the NF-e.
    assert pedido["total_pedido"] == Decimal("114.80") == order.total
    assert pedido["valor_frete"] == Decimal("15.00")
    assert pedido["cliente"]["_document_digits"] == "52998224725"
    assert pedido["cliente"]["tipo_pessoa"] == "F"
    assert [item["item"]["codigo"] for item in pedido["itens"]] == ["CHINELO-42"]
    assert pedido["_situacao"] == "aberto" and pedido["forma_pagamento"] == "boleto"
    # Looked up by Malote's number, then among the customer's orders by the store's number.
    assert _services(fake) == ["pedidos.pesquisa", "pedidos.pesquisa", "pedido.incluir"]

    # A second delivery of the same message (a worker's lease expired, a replay…): found, not copied.
    fake.calls.clear()
    deliver_to_channel(order_message(order, "tiny"))
    assert len(fake.state.pedidos) == 1
    assert _services(fake) == ["pedidos.pesquisa"]
    assert OrderLink.objects.get(order=order, channel=tiny).external_id == link.external_id


def test_a_paid_order_is_created_with_situacao_aprovado(
    fake: Fake, tiny: Channel, make_order: Callable[..., Order]
) -> None:
    order = make_order(status="paid")
    linked(order, "tiny")
    assert _pedido(fake, order)["_situacao"] == "aprovado"


@pytest.mark.parametrize(
    ("fault", "params"),
    [("drop", {"effect": True}), ("timeout", {"seconds": 3.0})],
    ids=["answer-dropped", "answer-too-late"],
)
def test_a_lost_answer_is_retried_without_a_duplicate(
    fake: Fake,
    tiny: Channel,
    make_order: Callable[..., Order],
    fault: str,
    params: dict[str, Any],
) -> None:
    """The fake accepts a repeated e-commerce number (reject_duplicate_ecommerce_number is off),
    so only the look-up before creating keeps the retry from making a second copy."""
    assert fake.config["reject_duplicate_ecommerce_number"] is False
    configure(tiny, options={"timeout_seconds": 0.5})
    fake.faults.set(fault, method="POST", path_prefix="/api2/pedido.incluir", **params)
    order = make_order()
    drain(prefix="channel:")
    message = order_message(order, "tiny")
    assert message.state == "pending" and message.attempts == 1
    assert len(fake.state.pedidos) == 1, "the write landed; only its answer was lost"
    assert OrderLink.objects.get(order=order, channel=tiny).state == "error"

    outbox.retry_now(message.pk)
    drain(prefix="channel:")
    message.refresh_from_db()
    assert message.state == "done"
    assert len(fake.state.pedidos) == 1
    assert len(fake.calls.filter("POST", "/api2/pedido.incluir")) == 1
    link = OrderLink.objects.get(order=order, channel=tiny)
    assert link.state == "linked" and link.external_id == str(_pedido(fake, order)["id"])


def test_an_account_refusing_repeated_numbers_answers_with_the_existing_copy(
    fake: Fake, tiny: Channel, make_order: Callable[..., Order], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Were the look-up to miss the copy (a lagging search), a Tiny account that refuses repeated
    numbers (codigo_erro 30) still resolves to the existing order instead of a dead letter."""
    fake.configure(reject_duplicate_ecommerce_number=True)
    order = make_order()
    linked(order, "tiny")
    pedido_id = str(_pedido(fake, order)["id"])
    connector = connector_for(tiny)
    assert isinstance(connector, TinyConnector)
    real = connector._find_by_ecommerce_number
    lookups: list[str] = []

    def lagging(number: str) -> str | None:
        lookups.append(number)
        return None if len(lookups) == 1 else real(number)

    monkeypatch.setattr(connector, "_find_by_ecommerce_number", lagging)
    with connector:
        assert connector.push_order(order_snapshot(order), idempotency_key="k") == pedido_id
    assert len(fake.state.pedidos) == 1 and lookups == [order.number, order.number]


# ----------------------------------------------------------------- a sale Tiny already has


def _typed_in(control: Control, numero_ecommerce: str, document: str = "529.982.247-25") -> str:
    """A pedido the ERP already holds for the sale (typed in by hand, or by a previous integration)."""
    customer = {"name": "Maria Silva", "document": document}
    answer = control("orders", {"numero_ecommerce": numero_ecommerce, "customer": customer})
    return str(answer["pedido"]["id"])


def test_a_new_sale_is_created_once(
    fake: Fake, tiny: Channel, make_order: Callable[..., Order], control: Control
) -> None:
    _typed_in(control, "704319999")  # another sale of the same customer
    order = make_order()
    pedido_id = linked(order, "tiny")
    assert len(fake.state.pedidos) == 2
    assert _pedido(fake, order)["id"] == int(pedido_id)


@pytest.mark.parametrize("numero_ecommerce", ["02-704319101", "704319101", "02704319101", "704319101-1"])
def test_a_sale_tiny_already_has_under_the_store_number_is_linked_not_copied(
    fake: Fake, tiny: Channel, make_order: Callable[..., Order], control: Control, numero_ecommerce: str
) -> None:
    existing = _typed_in(control, numero_ecommerce)
    fake.calls.clear()
    order = make_order()
    assert order.external_id == "02-704319101"
    assert linked(order, "tiny") == existing
    assert len(fake.state.pedidos) == 1
    assert "pedido.incluir" not in _services(fake)


@pytest.mark.parametrize("numero_ecommerce", ["704319101", "02704319101", "704319101-1"])
def test_without_the_customer_document_each_spelling_is_searched(
    fake: Fake, tiny: Channel, make_order: Callable[..., Order], control: Control, numero_ecommerce: str
) -> None:
    """The document search needs a CPF/CNPJ; without one every exact spelling is looked up. Typed
    in under a suffix the bare number is not among them, so only suffixed spellings of ours match."""
    existing = _typed_in(control, numero_ecommerce)
    snapshot = order_snapshot(make_order())
    snapshot["customer"]["document"] = ""
    fake.calls.clear()
    connector = TinyConnector(tiny)
    with connector:
        found = connector._find_existing(snapshot)
    assert found == (None if numero_ecommerce == "704319101-1" else existing)
    # Malote's number, then "02-704319101", "02704319101", "704319101" until one is found.
    assert 2 <= len(_services(fake)) <= 4


# ----------------------------------------------------------------- error classification


def test_tiny_throttle_codigo_erro_6_is_retried_after_a_minute(
    fake: Fake, tiny: Channel, make_order: Callable[..., Order]
) -> None:
    fake.faults.set("rate_limit", method="POST", path_prefix="/api2/pedidos.pesquisa")
    order = make_order()
    drain(prefix="channel:")
    message = order_message(order, "tiny")
    assert message.state == "pending" and "codigo_erro 6" in message.last_error
    assert message.next_attempt_at >= timezone.now() + timedelta(seconds=50)
    assert not fake.state.pedidos

    outbox.retry_now(message.pk)
    drain(prefix="channel:")
    message.refresh_from_db()
    assert message.state == "done" and len(fake.state.pedidos) == 1


def test_http_429_and_5xx_are_retried(fake: Fake, tiny: Channel, make_order: Callable[..., Order]) -> None:
    fake.faults.set(
        "rate_limit", method="POST", path_prefix="/api2/pedidos.pesquisa", http=True, retry_after=7
    )
    first = make_order()
    drain(prefix="channel:")
    message = order_message(first, "tiny")
    assert (message.state, message.last_status) == ("pending", 429)
    assert message.next_attempt_at <= timezone.now() + timedelta(seconds=8)

    fake.faults.set("error_5xx", method="POST", path_prefix="/api2/pedido.incluir", status=503)
    outbox.retry_now(message.pk)
    drain(prefix="channel:")
    message.refresh_from_db()
    assert (message.state, message.last_status, message.attempts) == ("pending", 503, 1)
    assert not fake.state.pedidos

    outbox.retry_now(message.pk)
    drain(prefix="channel:")
    message.refresh_from_db()
    assert message.state == "done" and len(fake.state.pedidos) == 1


@pytest.mark.parametrize("credentials", [{"token": "0" * 64}, {}], ids=["wrong-token", "no-token"])
def test_token_errors_go_to_the_dead_letters(
    fake: Fake, tiny: Channel, make_order: Callable[..., Order], credentials: dict[str, str]
) -> None:
    configure(tiny, credentials=credentials)
    order = make_order()
    drain(prefix="channel:")
    message = order_message(order, "tiny")
    assert message.state == "dead"
    assert ("codigo_erro 2" in message.last_error) if credentials else ("credential" in message.last_error)
    assert not fake.state.pedidos


def test_a_validation_error_goes_to_the_dead_letters(
    fake: Fake, tiny: Channel, make_order: Callable[..., Order]
) -> None:
    configure(tiny, status_map={"out": {"pending_payment": "bogus"}})
    order = make_order()
    drain(prefix="channel:")
    message = order_message(order, "tiny")
    assert message.state == "dead" and "codigo_erro 31" in message.last_error
    assert not fake.state.pedidos


@pytest.mark.parametrize(
    "reply",
    [Reply(body=b"<html>Em manutencao</html>"), Reply(body=b'{"erro": "sem envelope"}')],
    ids=["html-200", "no-retorno"],
)
def test_an_answer_that_is_not_tinys_envelope_is_retryable(tiny: Channel, reply: Reply) -> None:
    with HttpSink(lambda request: reply) as sink:
        configure(tiny, base_url=sink.url + "/api2")
        with connector_for(tiny) as connector, pytest.raises(DeliveryError) as raised:
            connector.fetch_order("1")
    assert raised.value.retryable is True
    assert sink.requests[0].path == "/api2/pedido.obter.php"


# ----------------------------------------------------------------- status pushes


def test_status_pushes_reach_tiny(fake: Fake, tiny: Channel, make_order: Callable[..., Order]) -> None:
    order = make_order()
    pedido_id = linked(order, "tiny")
    steps = [
        ("approve_payment", "aprovado"),
        ("start_preparing", "preparando_envio"),
        ("invoice", "faturado"),
        ("ready_to_ship", "pronto_envio"),
        ("ship", "enviado"),
        ("mark_in_transit", "enviado"),
        ("deliver", "entregue"),
    ]
    for name, situacao in steps:
        fake.calls.clear()
        actions.run_transition(order.pk, name, valid_input(order, name), actor=SYSTEM)
        drain(prefix="channel:")
        pedido = fake.state.pedidos[int(pedido_id)]
        assert pedido["_situacao"] == situacao, name
        if name == "mark_in_transit":
            assert fake.calls.all() == [], "Tiny has no word for in_transit: no call at all"
    assert pedido["codigo_rastreamento"] == "AA123456785BR"
    assert pedido["url_rastreamento"].startswith("https://")
    assert not OutboxMessage.objects.filter(destination="channel:tiny").exclude(state="done").exists()


def test_cancellation_reaches_tiny(fake: Fake, tiny: Channel, make_order: Callable[..., Order]) -> None:
    order = bring_to(make_order(), "paid")
    pedido_id = linked(order, "tiny")
    actions.run_transition(order.pk, "cancel", valid_input(order, "cancel"), actor=SYSTEM)
    drain(prefix="channel:")
    assert fake.state.pedidos[int(pedido_id)]["_situacao"] == "cancelado"


def test_a_cancellation_for_an_order_tiny_never_kept_is_owed_nothing(
    fake: Fake, tiny: Channel, make_order: Callable[..., Order]
) -> None:
    fake.faults.set("drop_order_creation", 1)  # "OK" with an id, nothing stored
    order = bring_to(make_order(), "paid")
    drain(prefix="channel:")
    assert OrderLink.objects.get(order=order, channel=tiny).external_id
    actions.run_transition(order.pk, "cancel", valid_input(order, "cancel"), actor=SYSTEM)
    drain(prefix="channel:")
    cancellation = OutboxMessage.objects.get(destination="channel:tiny", kind="order.cancellation")
    assert cancellation.state == "done"
    assert not OrderLink.objects.filter(order=order, channel=tiny).exists()
    assert not fake.state.pedidos


def test_repeated_or_stale_pushes_never_write_or_move_tiny_back(
    fake: Fake, tiny: Channel, make_order: Callable[..., Order], control: Callable[..., dict[str, Any]]
) -> None:
    order = bring_to(make_order(), "paid")
    pedido_id = linked(order, "tiny")
    pedido = fake.state.pedidos[int(pedido_id)]
    assert pedido["_situacao"] == "aprovado"

    # A repeat of the same push: one read, no write.
    fake.calls.clear()
    message = OutboxMessage.objects.filter(destination="channel:tiny", order=order).order_by("-id").first()
    assert message is not None
    deliver_to_channel(message)
    assert _services(fake) == ["pedido.obter"]

    # The ERP's operator already shipped; Malote's late "preparing" must not pull it back.
    control(f"orders/{pedido_id}/situacao", {"situacao": "enviado"})
    fake.calls.clear()
    actions.run_transition(order.pk, "start_preparing", {}, actor=SYSTEM)
    drain(prefix="channel:")
    assert pedido["_situacao"] == "enviado"
    assert _services(fake) == ["pedido.obter"]

    # A canceled Tiny order is never revived by a push.
    control(f"orders/{pedido_id}/cancel")
    actions.run_transition(order.pk, "invoice", valid_input(order, "invoice"), actor=SYSTEM)
    drain(prefix="channel:")
    assert pedido["_situacao"] == "cancelado"
    assert not fake.calls.filter("POST", "/api2/pedido.alterar.situacao")


# ----------------------------------------------------------------- webhooks


def test_tiny_invoice_ship_and_deliver_move_the_malote_order(
    fake: Fake, tiny: Channel, make_order: Callable[..., Order], control: Callable[..., dict[str, Any]]
) -> None:
    order = bring_to(make_order(), "paid")
    pedido_id = linked(order, "tiny")

    answer = control(f"orders/{pedido_id}/invoice")
    nota = answer["nota_fiscal"]
    hook = _last_webhook(fake)
    assert hook.json["dados"]["codigoSituacao"] == "faturado"
    response = _post_hook(hook.body)
    assert response.status_code == 200 and response.json()["results"] == ["applied"], response.content
    order.refresh_from_db()
    assert order.status == "invoiced"
    invoice = order.invoices.get()
    assert invoice.key == nota["chave_acesso"] and parse_nfe_key(invoice.key).number == int(nota["numero"])
    assert invoice.xml.startswith("<") and invoice.authorization_protocol, "the authorized XML came along"
    # The invoice came from Tiny: it is not sent back there.
    assert not OutboxMessage.objects.filter(destination="channel:tiny", kind="order.invoice").exists()

    control(f"orders/{pedido_id}/ship")
    response = _post_hook(_last_webhook(fake).body)
    assert response.json()["results"] == ["applied"], response.content
    order.refresh_from_db()
    shipment = order.shipments.get()
    code = fake.state.pedidos[int(pedido_id)]["codigo_rastreamento"]
    assert order.status == "shipped"
    assert (shipment.carrier, shipment.tracking_code) == ("correios", code)
    assert validate_tracking_code("correios", shipment.tracking_code) == code

    control(f"orders/{pedido_id}/deliver")
    response = _post_hook(_last_webhook(fake).body)
    assert response.json()["results"] == ["applied"], response.content
    order.refresh_from_db()
    assert order.status == "delivered"
    assert order.shipments.get().delivered_at is not None
    assert OrderLink.objects.get(order=order, channel=tiny).remote_status == "entregue"


def test_a_delivered_webhook_alone_walks_invoice_and_ship_with_tiny_facts(
    fake: Fake, tiny: Channel, make_order: Callable[..., Order], control: Callable[..., dict[str, Any]]
) -> None:
    order = bring_to(make_order(), "paid")
    pedido_id = linked(order, "tiny")
    fake.faults.set("webhook_off", count=2)
    control(f"orders/{pedido_id}/invoice")
    control(f"orders/{pedido_id}/ship")
    control(f"orders/{pedido_id}/deliver")
    response = _post_hook(_last_webhook(fake).body)
    assert response.json()["results"] == ["applied"], response.content
    order.refresh_from_db()
    assert order.status_path == ["pending_payment", "paid", "invoiced", "shipped", "delivered"]


def test_tiny_cancel_and_non_delivery_reach_malote(
    fake: Fake, tiny: Channel, make_order: Callable[..., Order], control: Callable[..., dict[str, Any]]
) -> None:
    canceled = bring_to(make_order(), "paid")
    failed = bring_to(make_order(), "shipped")
    canceled_id, failed_id = linked(canceled, "tiny"), linked(failed, "tiny")

    control(f"orders/{canceled_id}/cancel")
    assert _post_hook(_last_webhook(fake).body).json()["results"] == ["applied"]
    canceled.refresh_from_db()
    assert (canceled.status, canceled.cancel_reason) == ("canceled", "channel")

    control(f"orders/{failed_id}/situacao", {"situacao": "nao_entregue"})
    assert _post_hook(_last_webhook(fake).body).json()["results"] == ["applied"]
    failed.refresh_from_db()
    assert failed.status == "delivery_failed"


def test_aberto_and_aprovado_are_recorded_without_a_transition(
    fake: Fake, tiny: Channel, make_order: Callable[..., Order], control: Callable[..., dict[str, Any]]
) -> None:
    order = make_order()
    pedido_id = linked(order, "tiny")
    control(f"orders/{pedido_id}/situacao", {"situacao": "aprovado"})
    response = _post_hook(_last_webhook(fake).body)
    assert response.json()["results"] == ["recorded"]
    order.refresh_from_db()
    assert order.status == "pending_payment", "an ERP's approval is not a payment"
    assert OrderLink.objects.get(order=order, channel=tiny).remote_status == "aprovado"


def test_a_late_aprovado_after_cancelado_keeps_the_link_at_cancelado(
    fake: Fake, tiny: Channel, make_order: Callable[..., Order], control: Callable[..., dict[str, Any]]
) -> None:
    order = bring_to(make_order(), "paid")
    pedido_id = linked(order, "tiny")
    control(f"orders/{pedido_id}/situacao", {"situacao": "aprovado"})
    aprovado = _last_webhook(fake).body
    control(f"orders/{pedido_id}/cancel")
    cancelado = _last_webhook(fake).body
    # Tiny's notifications came in reverse order (they carry no time).
    assert _post_hook(cancelado).json()["results"] == ["applied"]
    assert _post_hook(aprovado).json()["results"] == ["late_update"]
    link = OrderLink.objects.get(order=order, channel=tiny)
    assert (link.remote_status, link.remote_canonical_status) == ("cancelado", "canceled")


def test_an_unmapped_status_before_any_final_one_is_still_recorded(
    fake: Fake, tiny: Channel, make_order: Callable[..., Order], control: Callable[..., dict[str, Any]]
) -> None:
    order = bring_to(make_order(), "paid")
    pedido_id = linked(order, "tiny")
    control(f"orders/{pedido_id}/situacao", {"situacao": "preparando_envio"})
    assert _post_hook(_last_webhook(fake).body).json()["results"] == ["applied"]
    control(f"orders/{pedido_id}/situacao", {"situacao": "aprovado"})  # no meaning, no final status before
    assert _post_hook(_last_webhook(fake).body).json()["results"] == ["recorded"]
    assert OrderLink.objects.get(order=order, channel=tiny).remote_status == "aprovado"


@pytest.mark.parametrize(
    ("token", "code"),
    [(None, "webhook_token_missing"), ("wrong", "webhook_token_invalid"), ("", "webhook_token_missing")],
)
def test_webhook_without_the_right_token_is_401_and_stored_nowhere(
    fake: Fake,
    tiny: Channel,
    make_order: Callable[..., Order],
    control: Callable[..., dict[str, Any]],
    token: str | None,
    code: str,
) -> None:
    order = bring_to(make_order(), "paid")
    pedido_id = linked(order, "tiny")
    control(f"orders/{pedido_id}/invoice")
    response = _post_hook(_last_webhook(fake).body, token=token)
    assert response.status_code == 401 and response.json()["code"] == code
    assert not InboxEvent.objects.exists()
    order.refresh_from_db()
    assert order.status == "paid"


def test_webhook_on_a_channel_without_webhook_token_is_refused(fake: Fake, tiny: Channel) -> None:
    configure(tiny, credentials={"token": fake.credentials["token"]})
    response = _post_hook(b'{"dados": {"id": 1}}', token="anything")
    assert response.status_code == 401 and response.json()["code"] == "webhook_token_not_configured"
    assert not InboxEvent.objects.exists()


def test_a_duplicate_webhook_changes_nothing(
    fake: Fake, tiny: Channel, make_order: Callable[..., Order], control: Callable[..., dict[str, Any]]
) -> None:
    order = bring_to(make_order(), "paid")
    pedido_id = linked(order, "tiny")
    fake.faults.set("webhook_duplicate")
    control(f"orders/{pedido_id}/invoice")
    assert fake.wait_for_webhooks()
    first, second = fake.webhooks.all()[-2:]
    assert first.body == second.body and second.copy == 2
    assert _post_hook(first.body).json()["results"] == ["applied"]
    assert _post_hook(second.body).json()["results"] == ["duplicate"]
    order.refresh_from_db()
    assert order.invoices.count() == 1
    assert order.events.filter(transition="invoice").count() == 1


def test_webhook_when_tiny_cannot_be_read_is_503_and_can_be_retried(
    fake: Fake, tiny: Channel, make_order: Callable[..., Order], control: Callable[..., dict[str, Any]]
) -> None:
    order = bring_to(make_order(), "paid")
    pedido_id = linked(order, "tiny")
    control(f"orders/{pedido_id}/invoice")
    body = _last_webhook(fake).body
    fake.faults.set("error_5xx", path_prefix="/api2/pedido.obter")
    failed = _post_hook(body)
    assert failed.status_code == 503 and failed.json()["code"] == "upstream_unavailable"
    assert not InboxEvent.objects.exists()
    assert _post_hook(body).json()["results"] == ["applied"]


def test_a_webhook_for_an_order_malote_does_not_know_is_recorded(
    fake: Fake, tiny: Channel, control: Callable[..., dict[str, Any]]
) -> None:
    pedido = control("orders", {"situacao": "faturado"})["pedido"]
    response = _post_hook(_last_webhook(fake).body)
    assert response.json()["results"] == ["unknown_order"]
    event = InboxEvent.objects.get()
    assert event.event_id == f"{pedido['id']}:faturado:0"


def test_malformed_webhook_is_422(fake: Fake, tiny: Channel) -> None:
    response = _post_hook(b'{"versao": "1.0.0", "dados": {}}')
    assert response.status_code == 422 and response.json()["code"] == "malformed_webhook"


# ----------------------------------------------------------------- polling and reads


@pytest.mark.parametrize("situacao_as_label", [True, False])
def test_polling_finds_an_invoice_whose_webhook_was_lost(
    fake: Fake,
    tiny: Channel,
    make_order: Callable[..., Order],
    control: Callable[..., dict[str, Any]],
    situacao_as_label: bool,
) -> None:
    fake.configure(situacao_as_label=situacao_as_label)
    order = bring_to(make_order(), "paid")
    pedido_id = linked(order, "tiny")
    fake.faults.set("webhook_off")
    control(f"orders/{pedido_id}/invoice")
    assert _last_webhook(fake).suppressed

    schedule = Schedule.objects.create(name="poll:tiny", job="channel.poll", channel=tiny)
    summary = poll_channel(schedule, timezone.now())
    assert summary.startswith("1 change(s) in 1 page(s)"), summary
    order.refresh_from_db()
    assert order.status == "invoiced" and order.invoices.get().key
    event = InboxEvent.objects.get(source="tiny")
    assert event.result == "applied" and event.event_id.startswith(f"{pedido_id}:faturado:")

    # The next poll re-reads the overlap: the same event again is a duplicate, nothing moves.
    schedule.refresh_from_db()
    poll_channel(schedule, timezone.now())
    assert InboxEvent.objects.filter(source="tiny").count() == 1


def test_polling_and_the_webhook_share_event_ids(
    fake: Fake, tiny: Channel, make_order: Callable[..., Order], control: Callable[..., dict[str, Any]]
) -> None:
    order = bring_to(make_order(), "paid")
    pedido_id = linked(order, "tiny")
    control(f"orders/{pedido_id}/invoice")
    assert _post_hook(_last_webhook(fake).body).json()["results"] == ["applied"]
    with connector_for(tiny) as connector:
        [change] = connector.pull_changes(None).changes
    event = InboxEvent.objects.get()
    assert change.event_id == event.event_id


def test_polling_reads_every_page_and_nothing_is_an_empty_result(
    fake: Fake, tiny: Channel, control: Callable[..., dict[str, Any]]
) -> None:
    with connector_for(tiny) as connector:
        empty = connector.pull_changes(None)
        assert empty.changes == [] and empty.more is False and empty.cursor
        for _ in range(51):
            control("orders")
        first = connector.pull_changes(None)
        assert len(first.changes) == 50 and first.more and first.cursor and ";page=2;" in first.cursor
        second = connector.pull_changes(first.cursor)
        assert len(second.changes) == 1 and not second.more
        assert second.cursor and ";" not in second.cursor
        ids = {c.external_id for c in first.changes + second.changes}
        assert ids == {str(pedido_id) for pedido_id in fake.state.pedidos}
        assert all(c.status == "" and c.remote_status == "aberto" for c in first.changes)


def test_fetch_order_returns_the_order_as_tiny_has_it(
    fake: Fake, tiny: Channel, make_order: Callable[..., Order], control: Callable[..., dict[str, Any]]
) -> None:
    order = bring_to(make_order(), "paid")
    pedido_id = linked(order, "tiny")
    control(f"orders/{pedido_id}/invoice")
    control(f"orders/{pedido_id}/ship")
    with connector_for(tiny) as connector:
        change = connector.fetch_order(pedido_id)
        assert (change.external_id, change.remote_status, change.status) == (pedido_id, "enviado", "shipped")
        assert change.order is None
        assert set(change.facts) == {"invoice", "shipment"}
        assert change.facts["shipment"]["carrier"] == "correios"
        assert change.facts["invoice"]["issued_at"].endswith("-03:00")
        with pytest.raises(TinyError) as missing:
            connector.fetch_order("1")
        assert missing.value.code == 32 and missing.value.retryable is False


def test_request_invoice_uses_the_configured_nfe_service(
    fake: Fake, tiny: Channel, make_order: Callable[..., Order]
) -> None:
    order = bring_to(make_order(), "paid")
    pedido_id = linked(order, "tiny")
    with connector_for(tiny) as connector:
        assert isinstance(connector, TinyConnector)
        registro = connector.request_invoice(pedido_id)
    assert str(registro["idNotaFiscal"]) == str(fake.state.pedidos[int(pedido_id)]["id_nota_fiscal"])


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("faturado", "faturado"),
        ("Faturado (atendido)", "faturado"),
        ("Não Entregue", "nao_entregue"),
        ("nao_entregue", "nao_entregue"),
        ("PRONTO PARA ENVIO", "pronto_envio"),
        ("Em aberto", "aberto"),
        ("Situação Nova", "situacao_nova"),
    ],
)
def test_situacao_codes_and_labels(text: str, code: str) -> None:
    assert situacao_code(text) == code
