"""The Jumpseller connector against the Jumpseller fake over real HTTP.

Inbound: the hooks the fake signed and recorded are replayed into ``POST /hooks/jumpseller``
(the fake's hook thread cannot reach Django's test client). Outbound: Malote's changes go through
the outbox (``drain``) and the connector to the fake; its state, call log and hooks show each step
exactly once, also when a message is delivered twice.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from django.utils import timezone

import malote.connectors.jumpseller  # noqa: F401  (registers the connector)
from malote.channels.models import Channel, OrderLink
from malote.conftest import SYSTEM
from malote.connectors.jumpseller import (
    RESET_HEADER,
    JumpsellerConnector,
    canonical_order,
    payment_method,
    remote_status,
)
from malote.connectors.registry import connector_for
from malote.connectors.tests.jumpseller_helpers import (
    CODE,
    DESTINATION,
    UNREACHABLE_HOOK_URL,
    Fake,
    admin_edit,
    api,
    events_of,
    hooks,
    make_channel,
    make_due,
    place_order,
    redeliver_done,
    replay,
    the_hook,
    writes,
)
from malote.connectors.values import balance_totals
from malote.orders import actions
from malote.orders.actions import _check_totals
from malote.orders.models import Order
from malote.orders.schemas import OrderIn
from malote.relay.polling import poll_channel, sync_poll_schedule
from malote.stock.actions import set_physical
from malote.sync.errors import DeliveryError
from malote.sync.models import InboxEvent, OutboxMessage
from malote.sync.worker import drain
from malote_dev.sandbox.seed import PRODUCTS, correios_code
from malote_dev.sandbox.server import start_fake
from malote_dev.testing.fiscal import SAMPLE_NFE_KEY

pytestmark = pytest.mark.django_db

INVOICE = {"key": SAMPLE_NFE_KEY, "number": "1234", "series": "1", "issued_at": "2025-03-10T10:00:00-03:00"}


@pytest.fixture
def fake() -> Iterator[Fake]:
    with start_fake("jumpseller", webhook_url=UNREACHABLE_HOOK_URL) as running:
        yield running


@pytest.fixture
def channel(fake: Fake) -> Channel:
    # The routing cache may still hold a channel of an earlier test (rolled back, never "saved").
    for product in PRODUCTS:
        set_physical(product.sku, 50, actor=SYSTEM)
    # Stock pushes (on by default) are tested apart, with ``stock_channel``.
    return make_channel(fake, options={"push_stock": False})


def _import(fake: Fake, **body: Any) -> tuple[dict[str, Any], Order]:
    """A shopper checks out; the store's hook reaches Malote; returns (store order, Malote order)."""
    placed = place_order(fake, **body)
    event = "order_paid" if body.get("status") == "paid" else "order_pending_payment"
    response = replay(the_hook(fake, event, placed["id"]))
    assert response.status_code == 200, response.content
    return placed, Order.objects.get(channel__code=CODE, external_id=str(placed["id"]))


def _store_order(fake: Fake, order_id: int) -> dict[str, Any]:
    with fake.app.lock:
        return dict(fake.state.orders[order_id])


# --- inbound: signatures ----------------------------------------------------------------------


def test_a_signed_hook_is_allowed(fake: Fake, channel: Channel) -> None:
    placed = place_order(fake)
    response = replay(the_hook(fake, "order_pending_payment", placed["id"]))
    assert response.status_code == 200 and response.json() == {"received": 1, "results": ["already"]}
    assert InboxEvent.objects.get().event_id.startswith("hook:")


@pytest.mark.parametrize(
    ("tamper", "code"),
    [
        ({"signature": "d3Jvbmc="}, "webhook_signature_invalid"),
        ({"drop": ("Jumpseller-Hmac-Sha256",)}, "webhook_signature_missing"),
        ({"body": b'{"order":{"id":1}}'}, "webhook_signature_invalid"),
    ],
)
def test_a_wrong_or_missing_signature_is_401_and_stored_nowhere(
    fake: Fake, channel: Channel, tamper: dict[str, Any], code: str
) -> None:
    placed = place_order(fake)
    response = replay(the_hook(fake, "order_pending_payment", placed["id"]), **tamper)
    assert response.status_code == 401 and response.json()["code"] == code
    assert not InboxEvent.objects.exists() and not Order.objects.exists()


def test_a_hook_signed_with_another_stores_token_is_refused(fake: Fake, channel: Channel) -> None:
    placed = place_order(fake)
    record = the_hook(fake, "order_pending_payment", placed["id"])
    forged = base64.b64encode(hmac.new(b"another store", record.body, hashlib.sha256).digest()).decode()
    assert replay(record, signature=forged).status_code == 401
    channel.credentials = {**channel.credentials, "hooks_token": ""}
    channel.save()
    unconfigured = replay(record)
    assert unconfigured.status_code == 401 and unconfigured.json()["code"] == "webhook_secret_missing"
    assert not Order.objects.exists()


# --- inbound: import and updates ----------------------------------------------------------------


def test_a_placed_order_is_imported_with_its_canonical_fields(fake: Fake, channel: Channel) -> None:
    placed, order = _import(
        fake,
        customer="ana",
        items=[{"sku": "MOCHILA-URBANA", "qty": 2}, {"sku": "CAFE-MOIDO-500G", "qty": 1}],
        payment_method="boleto",
        shipping=20,
        discount=10,
        shipping_method="Correios PAC",
    )
    assert placed["total"] == 419.7  # 2 × 189.90 + 29.90 + 20 − 10
    assert (order.status, order.external_id, order.currency) == ("pending_payment", str(placed["id"]), "BRL")
    assert (order.subtotal, order.shipping_price, order.discount, order.tax, order.total) == (
        Decimal("409.70"),
        Decimal("20.00"),
        Decimal("10.00"),
        Decimal("0.00"),
        Decimal("419.70"),
    )
    assert (order.customer_name, order.customer_email, order.customer_phone, order.customer_document) == (
        "Ana Costa",
        "ana.costa@example.com",
        "+5551977770003",
        "12345678909",
    )
    expected_address = {
        "street": "Rua dos Andradas",
        "number": "1000",
        "complement": "",
        "district": "Centro Histórico",
        "city": "Porto Alegre",
        "state": "RS",
        "postal_code": "90020008",
        "country": "BR",
    }
    assert order.billing_address == expected_address and order.shipping_address == expected_address
    assert order.shipping_method == "Correios PAC" and order.payment_method == "boleto"
    assert [(line.sku, line.quantity, line.unit_price, line.discount) for line in order.lines.all()] == [
        ("MOCHILA-URBANA", 2, Decimal("189.90"), Decimal("0.00")),
        ("CAFE-MOIDO-500G", 1, Decimal("29.90"), Decimal("0.00")),
    ]
    assert order.placed_at.strftime("%Y-%m-%d %H:%M:%S UTC") == placed["created_at"]
    link = OrderLink.objects.get(order=order, channel=channel)
    assert (link.external_id, link.state, link.remote_status) == (
        str(placed["id"]),
        "linked",
        "pending_payment",
    )
    assert order.stock_state == "reserved"


def test_the_duplicate_hook_is_a_duplicate_and_the_paid_hook_pays(fake: Fake, channel: Channel) -> None:
    placed, order = _import(fake, payment_method="pix")
    again = replay(the_hook(fake, "order_pending_payment", placed["id"]))
    assert again.status_code == 200 and again.json()["results"] == ["duplicate"]

    assert admin_edit(fake, placed["id"], status="paid") == ["order_paid", "order_updated"]
    paid = replay(the_hook(fake, "order_paid", placed["id"]))
    assert paid.json()["results"] == ["applied"]
    # The same signed body as order_paid's: the unsigned Jumpseller-Event header makes no new event.
    assert replay(the_hook(fake, "order_updated", placed["id"])).json()["results"] == ["duplicate"]
    assert replay(the_hook(fake, "order_paid", placed["id"])).json()["results"] == ["duplicate"]

    order.refresh_from_db()
    assert order.status == "paid"
    assert order.events.filter(transition="approve_payment").count() == 1
    payment = order.payments.get()
    assert (payment.status, payment.method, payment.amount) == ("approved", "pix", Decimal("64.90"))
    assert payment.paid_at is not None
    assert OrderLink.objects.get(order=order).remote_status == "paid"
    # A change the store reported is not sent back to it.
    assert not OutboxMessage.objects.filter(destination=DESTINATION).exists()


def test_an_order_already_paid_and_shipped_in_the_store_waits_for_its_invoice(
    fake: Fake, channel: Channel
) -> None:
    placed, order = _import(fake, status="paid", payment_method="credit_card")
    assert order.status == "paid" and order.payments.get().status == "approved"
    code = correios_code(424242)
    admin_edit(
        fake, placed["id"], shipment_status="in_transit", tracking_number=code, tracking_company="Correios"
    )
    shipped = replay(the_hook(fake, "order_shipped", placed["id"]))
    # Malote's lifecycle needs the NF-e before a shipment; the store has none to give.
    assert shipped.json()["results"] == ["waiting:invoice"]
    assert OrderLink.objects.get(order=order).remote_status == "in_transit"


def test_a_canceled_order_in_the_store_cancels_it_and_releases_stock(fake: Fake, channel: Channel) -> None:
    placed, order = _import(fake, items=[{"sku": "BONE-AZUL", "qty": 3}])
    admin_edit(fake, placed["id"], status="Canceled")
    assert replay(the_hook(fake, "order_canceled", placed["id"])).json()["results"] == ["applied"]
    order.refresh_from_db()
    assert (order.status, order.cancel_reason, order.stock_state) == ("canceled", "channel", "released")
    assert not OutboxMessage.objects.filter(destination=DESTINATION).exists()


def test_product_hooks_are_acknowledged_and_ignored(fake: Fake, channel: Channel) -> None:
    api(fake, "PUT", "/products/3001.json", json={"product": {"stock": 3}})
    [record] = hooks(fake, "product_stock_updated")
    response = replay(record)
    assert response.status_code == 200 and response.json() == {"received": 0, "results": []}
    assert not InboxEvent.objects.exists()


def test_an_abandoned_checkout_is_not_imported(fake: Fake, channel: Channel) -> None:
    placed = place_order(fake)
    admin_edit(fake, placed["id"], status="abandoned")
    response = replay(the_hook(fake, "order_abandoned", placed["id"]))
    assert response.json()["results"] == ["unknown_order"]
    assert not Order.objects.exists()


def test_a_signed_but_unreadable_hook_is_422(fake: Fake, channel: Channel) -> None:
    placed = place_order(fake)
    record = the_hook(fake, "order_pending_payment", placed["id"])
    body = b'{"order": {"total": 1}}'
    token = fake.credentials["hooks_token"].encode()
    signature = base64.b64encode(hmac.new(token, body, hashlib.sha256).digest()).decode()
    response = replay(record, body=body, signature=signature)
    assert response.status_code == 422 and response.json()["code"] == "malformed_webhook"


# --- outbound: each step once -----------------------------------------------------------------


def test_malote_changes_reach_the_store_once_each_even_when_delivered_twice(
    fake: Fake, channel: Channel
) -> None:
    placed, order = _import(fake, items=[{"sku": "CHINELO-42", "qty": 2}])
    store_id = placed["id"]
    code = correios_code(777)
    steps: list[tuple[str, Callable[[], dict[str, Any]]]] = [
        ("approve_payment", lambda: {"gateway": "pagarme", "transaction_id": "ch_1"}),
        ("invoice", lambda: INVOICE),
        ("ship", lambda: {"carrier": "correios", "method": "SEDEX", "tracking_code": code}),
        ("deliver", lambda: {"delivered_at": timezone.now().isoformat()}),
    ]
    for name, data in steps:
        actions.run_transition(order.pk, name, data(), actor=SYSTEM)
        assert drain(prefix="channel:") == 1

    store = _store_order(fake, store_id)
    assert (store["status_enum"], store["shipment_status_enum"]) == ("paid", "delivered")
    assert (store["tracking_number"], store["tracking_company"]) == (code, "Correios")
    assert store["tracking_url"] == f"https://rastreamento.correios.com.br/app/index.php?objetos={code}"
    [document] = fake.state.documents[store_id]
    assert document == {
        "document_type": 1,
        "external_id": SAMPLE_NFE_KEY,
        "public_id": "1234-1",
        "url": f"https://malote.invalid/nfe/{SAMPLE_NFE_KEY}",
        "order_id": store_id,
        "app_code": None,
    }
    expected_writes = [
        ("PUT", f"/v1/orders/{store_id}.json", {"order": {"status": "Paid"}}),
        ("POST", f"/v1/orders/{store_id}/documents.json", {"document": {k: document[k] for k in
                                                                         ("document_type", "external_id",
                                                                          "public_id", "url")}}),
        ("PUT", f"/v1/orders/{store_id}.json", {"order": {
            "shipment_status": "in_transit", "tracking_number": code, "tracking_company": "Correios",
            "tracking_url": store["tracking_url"]}}),
        ("PUT", f"/v1/orders/{store_id}.json", {"order": {"shipment_status": "delivered"}}),
    ]  # fmt: skip
    assert writes(fake) == expected_writes
    for call in fake.calls:
        assert call.headers["authorization"] == f"Basic {fake.credentials['login']}:***"
        assert call.headers["content-type"] == "application/json"

    # Every message delivered a second time: the store is read, never written again.
    assert redeliver_done() == 4
    assert drain(prefix="channel:") == 4
    assert writes(fake) == expected_writes
    assert len(fake.state.documents[store_id]) == 1
    assert Counter(events_of(fake, store_id)) == {
        "order_pending_payment": 1,
        "order_paid": 1,
        "order_shipped": 1,
        "order_updated": 3,  # paid, shipped, delivered
    }
    assert set(OutboxMessage.objects.filter(destination=DESTINATION).values_list("state", flat=True)) == {
        "done"
    }
    link = OrderLink.objects.get(order=order, channel=channel)
    assert (link.state, link.expected_status) == ("linked", "delivered")

    # The store's hooks about Malote's own changes come back and change nothing.
    before = order.events.count()
    results = [replay(record).json()["results"] for record in hooks(fake, order_id=store_id)[1:]]
    # A hook repeating another's body (order_updated after order_paid) is a duplicate of it.
    assert len(results) == 5 and all(result in (["already"], ["duplicate"]) for result in results)
    assert order.events.count() == before


def test_a_cancellation_reaches_the_store_once(fake: Fake, channel: Channel) -> None:
    placed, order = _import(fake)
    actions.run_transition(order.pk, "cancel", {"reason": "customer_gave_up"}, actor=SYSTEM)
    assert drain(prefix="channel:") == 1
    assert _store_order(fake, placed["id"])["status"] == "Canceled"
    redeliver_done()
    drain(prefix="channel:")
    assert writes(fake) == [("PUT", f"/v1/orders/{placed['id']}.json", {"order": {"status": "Canceled"}})]
    assert Counter(events_of(fake, placed["id"]))["order_canceled"] == 1


def test_statuses_without_a_store_word_send_nothing(fake: Fake, channel: Channel) -> None:
    _placed, order = _import(fake, status="paid")
    actions.run_transition(order.pk, "start_preparing", {}, actor=SYSTEM)
    assert not OutboxMessage.objects.filter(destination=DESTINATION).exists(), (
        "routing knows the store has no word"
    )
    assert drain(prefix="channel:") == 0
    assert writes(fake) == []


def test_the_invoice_is_posted_once_even_if_the_first_answer_was_lost(fake: Fake, channel: Channel) -> None:
    placed, order = _import(fake, status="paid")
    fake.faults.set("drop", method="POST", effect=True)  # the document is stored, the answer lost
    actions.run_transition(order.pk, "invoice", INVOICE, actor=SYSTEM)
    drain(prefix="channel:")
    message = OutboxMessage.objects.get(destination=DESTINATION)
    assert message.state == "pending" and message.last_status is None
    make_due()
    drain(prefix="channel:")
    message.refresh_from_db()
    assert message.state == "done"
    assert len(fake.state.documents[placed["id"]]) == 1
    assert [method for method, _path, _body in writes(fake)] == ["POST"]


# --- outbound: failures ------------------------------------------------------------------------


def _paid_in_malote(fake: Fake) -> tuple[dict[str, Any], Order]:
    placed, order = _import(fake)
    actions.run_transition(order.pk, "approve_payment", {}, actor=SYSTEM)
    return placed, order


def test_a_429_leaves_the_message_pending_until_retry_after(fake: Fake, channel: Channel) -> None:
    placed, _order = _paid_in_malote(fake)
    fake.faults.set("rate_limit", method="PUT", retry_after=120)
    before = timezone.now()
    assert drain(prefix="channel:") == 1
    message = OutboxMessage.objects.get(destination=DESTINATION)
    assert (message.state, message.last_status, message.attempts) == ("pending", 429, 1)
    assert (
        before + timedelta(seconds=115) <= message.next_attempt_at <= timezone.now() + timedelta(seconds=121)
    )
    assert drain(prefix="channel:") == 0, "not due before Retry-After"
    assert _store_order(fake, placed["id"])["status"] == "Pending Payment"
    make_due()
    assert drain(prefix="channel:") == 1
    assert _store_order(fake, placed["id"])["status"] == "Paid"


def test_a_ban_reset_header_stands_in_for_a_missing_retry_after(channel: Channel) -> None:
    # The fake always sends Retry-After; a store that only names its ban's end is served here.
    reset = (timezone.now() + timedelta(seconds=300)).isoformat()

    def banned(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, json={"message": "Rate Limit Exceeded"}, headers={RESET_HEADER: reset})

    with (
        httpx.Client(transport=httpx.MockTransport(banned)) as client,
        JumpsellerConnector(channel, http=client) as connector,
        pytest.raises(DeliveryError) as refused,
    ):
        connector.fetch_order("10001")
    assert refused.value.retryable and refused.value.status == 429
    assert refused.value.retry_after is not None and 290 <= refused.value.retry_after <= 300


@pytest.mark.parametrize("status", [500, 503])
def test_a_server_error_is_retried(fake: Fake, channel: Channel, status: int) -> None:
    placed, _order = _paid_in_malote(fake)
    fake.faults.set("error_5xx", method="PUT", status=status)
    drain(prefix="channel:")
    message = OutboxMessage.objects.get(destination=DESTINATION)
    assert (message.state, message.last_status) == ("pending", status)
    make_due()
    assert drain(prefix="channel:") == 1
    message.refresh_from_db()
    assert message.state == "done" and message.attempts == 2
    assert _store_order(fake, placed["id"])["status"] == "Paid"
    assert [call.status for call in fake.calls if call.method == "PUT"] == [status, 200]


def test_a_422_is_a_dead_letter(fake: Fake, channel: Channel) -> None:
    channel.status_map = {"out": {"paid": "Pago"}}  # not a label the store takes
    channel.save()
    placed, order = _paid_in_malote(fake)
    drain(prefix="channel:")
    message = OutboxMessage.objects.get(destination=DESTINATION)
    assert (message.state, message.last_status) == ("dead", 422)
    assert "Invalid status" in message.last_error
    assert OrderLink.objects.get(order=order, channel=channel).state == "error"
    assert _store_order(fake, placed["id"])["status"] == "Pending Payment"


# --- stock ------------------------------------------------------------------------------------


@pytest.fixture
def stock_channel(channel: Channel) -> Channel:
    # Turned on without a save: the alignment a save queues (every SKU) is tested in the relay.
    Channel.objects.filter(pk=channel.pk).update(options={"push_stock": True})
    channel.refresh_from_db()
    return channel


def test_push_stock_sets_the_products_stock_once(fake: Fake, stock_channel: Channel) -> None:
    set_physical("CHINELO-42", 37, actor=SYSTEM)
    assert drain(prefix="channel:") == 1
    assert fake.state.products[3001]["stock"] == 37
    redeliver_done()
    drain(prefix="channel:")
    assert writes(fake) == [("PUT", "/v1/products/3001.json", {"product": {"stock": 37}})]
    assert [record.event for record in hooks(fake)] == ["product_stock_updated"]


def test_push_stock_reaches_a_variant_and_skips_skus_the_store_does_not_sell(
    fake: Fake, stock_channel: Channel
) -> None:
    api(
        fake,
        "POST",
        "/products/3002/variants.json",
        json={"variant": {"sku": "camiseta-branca-g", "stock": 4}},
    )
    set_physical("CAMISETA-BRANCA-G", 12, actor=SYSTEM)
    set_physical("SO-NO-ERP", 5, actor=SYSTEM)
    assert drain(prefix="channel:") == 2
    assert fake.state.products[3002]["variants"][0]["stock"] == 12
    assert fake.state.products[3002]["stock"] == 100
    assert [path for _method, path, _body in writes(fake)][1:] == ["/v1/products/3002/variants/5001.json"]
    assert set(OutboxMessage.objects.filter(destination=DESTINATION).values_list("state", flat=True)) == {
        "done"
    }


def test_available_stock_is_what_is_pushed(fake: Fake, stock_channel: Channel) -> None:
    drain(prefix="channel:")  # the fixture's stock counts
    _import(fake, items=[{"sku": "OCULOS-SOL", "qty": 3}])
    drain(prefix="channel:")
    assert fake.state.products[3008]["stock"] == 47  # 50 physical − 3 reserved


# Committed for real: inside one test transaction PostgreSQL keeps every version of the row updated
# 10,000 times, and each update walks them all (quadratic); production commits each change.
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_ten_thousand_stock_changes_make_a_handful_of_calls(fake: Fake, stock_channel: Channel) -> None:
    drain(prefix="channel:")
    fake.calls.clear()
    before = OutboxMessage.objects.filter(destination=DESTINATION).count()
    for change in range(1, 10_001):
        set_physical("CHINELO-42", 1000 + change % 97, actor=SYSTEM)
        if change % 2500 == 0:  # a worker passing by now and then
            drain(prefix="channel:")
    set_physical("CHINELO-42", 321, actor=SYSTEM)
    drain(prefix="channel:")
    messages = OutboxMessage.objects.filter(destination=DESTINATION).count() - before
    puts = [call for call in fake.calls if call.method == "PUT"]
    assert messages <= 5 and len(puts) <= 5, (messages, len(puts))
    assert len(fake.calls) <= 2 * messages
    assert fake.state.products[3001]["stock"] == 321


# --- polling and fetching ------------------------------------------------------------------------


def test_pull_changes_imports_an_order_whose_hook_was_lost(fake: Fake, channel: Channel) -> None:
    fake.faults.set("webhook_off")
    placed = place_order(fake, customer="joao", items=[{"sku": "TOALHA-PRAIA", "qty": 1}])
    assert [record.suppressed for record in hooks(fake, order_id=placed["id"])] == [True]
    schedule = sync_poll_schedule(channel)
    assert schedule is not None
    # The first poll passes over the store's history (the six seeded orders, days old).
    assert poll_channel(schedule, timezone.now()) == "1 change(s) in 1 page(s); cursor 10007"
    order = Order.objects.get()
    assert (order.external_id, order.customer_name, order.total) == (
        "10007",
        "João Pereira",
        Decimal("84.90"),
    )
    assert OrderLink.objects.get(order=order, channel=channel).remote_status == "pending_payment"
    assert poll_channel(schedule, timezone.now()) == "0 change(s) in 1 page(s); cursor 10007"
    assert [(call.path, call.query) for call in fake.calls] == [
        ("/v1/orders/after/0.json", {"limit": ["50"]}),
        ("/v1/orders/after/10007.json", {"limit": ["50"]}),
    ]


def test_the_first_poll_starts_at_the_configured_id_and_pages(fake: Fake, channel: Channel) -> None:
    channel.options = {"pull_after_id": 10002}
    channel.save()
    with connector_for(channel) as connector:
        first = connector.pull_changes(None)
    assert [change.external_id for change in first.changes] == ["10003", "10004", "10005", "10006"]
    assert (first.cursor, first.more) == ("10006", False)
    assert [change.order is None for change in first.changes] == [
        False,
        True,
        False,
        False,
    ]  # 10004 abandoned
    for _ in range(50):
        place_order(fake)
    with connector_for(channel) as connector:
        page = connector.pull_changes(first.cursor)
        rest = connector.pull_changes(page.cursor)
    assert (len(page.changes), page.cursor, page.more) == (50, "10056", True)
    assert (rest.changes, rest.cursor, rest.more) == ([], "10056", False)


def test_fetch_order_reads_one_order(fake: Fake, channel: Channel) -> None:
    with connector_for(channel) as connector:
        shipped = connector.fetch_order("10003")
        again = connector.fetch_order("10003")
        with pytest.raises(DeliveryError) as missing:
            connector.fetch_order("424242")
    assert (shipped.external_id, shipped.remote_status, shipped.status) == ("10003", "in_transit", "shipped")
    assert shipped.event_id == again.event_id, "the same state is the same event"
    assert shipped.facts["shipment"] == {
        "carrier": "correios",
        "method": "Correios SEDEX",
        "tracking_code": correios_code(10_010_003),
        "tracking_url": fake.state.orders[10003]["tracking_url"],
    }
    assert shipped.facts["payment"]["method"] == "pix" and shipped.facts["payment"]["amount"] == "149.70"
    assert (missing.value.status, missing.value.retryable) == (404, False)


@pytest.mark.parametrize("store_id", [10001, 10002, 10003, 10005, 10006])
def test_every_seeded_order_maps_to_a_valid_canonical_order(
    fake: Fake, channel: Channel, store_id: int
) -> None:
    with connector_for(channel) as connector:
        change = connector.fetch_order(str(store_id))
    assert change.order is not None
    data = OrderIn.model_validate(change.order)
    _check_totals(data)  # Malote's totals rule, to the cent
    assert data.total == Decimal(str(fake.state.orders[store_id]["total"])).quantize(Decimal("0.01"))


def test_fetched_orders_go_through_the_inbox_like_hooks(fake: Fake, channel: Channel) -> None:
    from malote.relay import intake

    # A seeded order placed days ago: the store went live with Malote before it (else it is history).
    Channel.objects.filter(pk=channel.pk).update(go_live_at=timezone.now() - timedelta(days=60))
    channel.refresh_from_db()
    with connector_for(channel) as connector:
        change = connector.fetch_order("10006")
    first = intake.take_in(channel, change, headers={}, body="")
    assert first.result == "already"
    assert intake.take_in(channel, change, headers={}, body="").duplicate
    assert Order.objects.get(external_id="10006").status == "paid"


# --- the mapping, without a store -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("lines", "shipping", "tax", "discount", "total", "expected"),
    [
        ("100.00", "10.00", "0.00", "5.00", "105.00", ("0.00", "5.00")),  # consistent
        ("100.00", "10.00", "19.00", "0.00", "110.00", ("0.00", "0.00")),  # tax inside the prices
        ("90.00", "10.00", "0.00", "10.00", "100.00", ("0.00", "0.00")),  # discount counted twice
        ("100.00", "10.00", "0.00", "0.00", "112.50", ("2.50", "0.00")),  # a fee: booked as tax
        ("100.00", "10.00", "5.00", "0.00", "100.00", ("0.00", "10.00")),  # more off than the tax
    ],
)
def test_totals_are_balanced_on_the_stores_total(
    lines: str, shipping: str, tax: str, discount: str, total: str, expected: tuple[str, str]
) -> None:
    new_tax, new_discount = balance_totals(
        Decimal(lines), Decimal(shipping), Decimal(tax), Decimal(discount), Decimal(total)
    )
    assert (str(new_tax), str(new_discount)) == expected
    assert Decimal(lines) + Decimal(shipping) + new_tax - new_discount == Decimal(total)


def test_a_store_order_with_line_discounts_and_inclusive_tax_still_adds_up(fake: Fake) -> None:
    order = dict(fake.state.orders[10001])
    # 3 × 79.90 − 3 × 5.00 + 59.90 = 284.60; shipping 15; the store says total 299.60, tax 45.00 inside.
    order["products"] = [dict(order["products"][0], discount=5.0), order["products"][1]]
    order.update(subtotal=284.6, tax=45.0, total=299.6, discount=0.0)
    data = OrderIn.model_validate(canonical_order(order, "loja"))
    assert (data.tax, data.discount, data.items[0].discount) == (
        Decimal("0.00"),
        Decimal("0.00"),
        Decimal("15.00"),
    )
    _check_totals(data)


@pytest.mark.parametrize(
    ("kind", "name", "expected"),
    [
        ("pix", "Pix", "pix"),
        ("boleto", "Boleto Bancário", "boleto"),
        ("credit_card", "Cartão de Crédito", "credit_card"),
        ("mercadopago", "Tarjeta de crédito", "credit_card"),
        ("pagseguro", "PIX PagSeguro", "pix"),
        ("manual", "Transferência", "other"),
        (None, None, "other"),
    ],
)
def test_payment_methods(kind: str | None, name: str | None, expected: str) -> None:
    assert payment_method({"payment_method_type": kind, "payment_method_name": name}) == expected


@pytest.mark.parametrize(
    ("status", "shipment", "expected"),
    [
        ("paid", "unfulfilled", "paid"),
        ("paid", "requested", "paid"),
        ("paid", "in_transit", "in_transit"),
        ("paid", "delivered", "delivered"),
        ("paid", "failed", "failed"),
        ("canceled", "in_transit", "canceled"),
        ("pending_payment", None, "pending_payment"),
    ],
)
def test_the_remote_status_combines_payment_and_shipment(
    status: str, shipment: str | None, expected: str
) -> None:
    assert remote_status({"status_enum": status, "shipment_status_enum": shipment}) == expected
    assert JumpsellerConnector.default_status_in[expected] in (
        "paid", "pending_payment", "canceled", "shipped", "delivered", "delivery_failed",
    )  # fmt: skip


def test_jumpseller_calls_take_the_vendors_published_limit(channel: Channel) -> None:
    with connector_for(channel) as connector:
        limits = connector.rate_limits
        assert limits is not None and limits.rates == {"calls": pytest.approx(800 / 60)}
        assert isinstance(connector, JumpsellerConnector)
        assert connector.api.rate_class("GET", "/orders.json") == "calls"
        assert connector.api.rate_class("PUT", "/orders/1.json") == "calls"
    # The channel's own option replaces the default; 0 turns the limit off.
    Channel.objects.filter(pk=channel.pk).update(options={"rate_limits": {"calls": 0}})
    channel.refresh_from_db()
    with connector_for(channel) as connector:
        assert connector.rate_limits is None
