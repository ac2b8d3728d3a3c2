"""The Mercado Livre connector against the Mercado Livre fake over real HTTP.

Inbound: the notifications the fake recorded are replayed into ``POST /hooks/mercadolivre`` (the
fake's sender thread cannot reach Django's test client); the connector then reads the order from
the fake. Outbound: Malote's changes go through the outbox (``drain``) and the connector to the
fake; its store and call log show each upload exactly once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from django.utils import timezone

import malote.connectors.mercadolivre as ml
from malote.channels.models import Channel, OrderLink
from malote.conftest import SYSTEM
from malote.connectors.base import Unsupported
from malote.connectors.registry import connector_for
from malote.connectors.tests.mercadolivre_helpers import (
    CODE,
    DESTINATION,
    UNREACHABLE_HOOK_URL,
    Fake,
    buy,
    control,
    last_notification,
    make_channel,
    make_due,
    move_shipment,
    nfe_for,
    redeliver_done,
    replay,
)
from malote.orders import actions
from malote.orders.models import Order
from malote.relay.polling import poll_channel, sync_poll_schedule
from malote.stock.actions import set_physical
from malote.sync.errors import DeliveryError
from malote.sync.models import InboxEvent, OutboxMessage
from malote.sync.worker import drain
from malote_dev.sandbox.seed import PRODUCTS
from malote_dev.sandbox.server import start_fake

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake() -> Iterator[Fake]:
    ml.clear_token_cache()
    with start_fake("mercadolivre", seed=False, webhook_url=UNREACHABLE_HOOK_URL) as running:
        yield running
    ml.clear_token_cache()


@pytest.fixture
def channel(fake: Fake) -> Channel:
    for product in PRODUCTS:
        set_physical(product.sku, 50, actor=SYSTEM)
    # Stock pushes (on by default) are tested apart: the order flow's calls are counted exactly.
    return make_channel(fake, options={"push_stock": False})


def _import(fake: Fake, **body: Any) -> tuple[dict[str, Any], dict[str, Any], Order]:
    """A buyer buys and pays; ML's notification reaches Malote; (ML order, shipment, Malote order)."""
    order, shipment = buy(fake, **body)
    response = replay(last_notification(fake, "orders_v2", f"/orders/{order['id']}"))
    assert response.status_code == 200, response.content
    return order, shipment, Order.objects.get(channel__code=CODE, external_id=str(order["id"]))


def _uploads(fake: Fake) -> list[Any]:
    return [call for call in fake.calls if call.method == "POST" and call.path.endswith("/invoice_data/")]


# --- auth -------------------------------------------------------------------------------------


def test_an_expired_token_is_refreshed_once_and_kept(fake: Fake, channel: Channel) -> None:
    order, _shipment = buy(fake)
    control(fake, "tokens/expire")
    with connector_for(channel) as connector:
        assert connector.fetch_order(str(order["id"])).status == "paid"
        connector.fetch_order(str(order["id"]))
    assert [(call.method, call.path, call.status) for call in fake.calls][:3] == [
        ("GET", f"/orders/{order['id']}", 401),
        ("POST", "/oauth/token", 200),
        ("GET", f"/orders/{order['id']}", 200),
    ]
    form = fake.calls.filter("POST", "/oauth/token")[0].body
    assert "grant_type=refresh_token" in form and f"client_id={channel.credentials['client_id']}" in form
    # A later connector of this process uses the refreshed pair: no second refresh (ML's refresh
    # tokens are single-use, the stored one is spent).
    with connector_for(channel) as later:
        later.fetch_order(str(order["id"]))
    assert len(fake.calls.filter("POST", "/oauth/token")) == 1
    assert [call.status for call in fake.calls if call.status == 401] == [401]
    channel.refresh_from_db()
    assert channel.credentials["access_token"] != fake.credentials["access_token"], "stored in the channel"


def test_a_refreshed_token_is_stored_and_reused_after_a_restart(fake: Fake, channel: Channel) -> None:
    order, _shipment = buy(fake)
    control(fake, "tokens/expire")
    with connector_for(channel) as connector:
        connector.fetch_order(str(order["id"]))
    stored = Channel.objects.get(pk=channel.pk).credentials
    assert stored["access_token"] != fake.credentials["access_token"]
    assert stored["client_secret"] == fake.credentials["client_secret"], "other credentials kept"
    ml.clear_token_cache()  # a restarted worker: nothing in memory, the channel read again
    with connector_for(Channel.objects.get(pk=channel.pk)) as restarted:
        assert restarted.fetch_order(str(order["id"])).status == "paid"
    assert len(fake.calls.filter("POST", "/oauth/token")) == 1, "the stored pair works: no second refresh"
    assert [call.status for call in fake.calls.filter("GET", "/orders/")][-1] == 200


def test_a_stale_worker_adopts_the_stored_token_instead_of_refreshing(fake: Fake, channel: Channel) -> None:
    order, _shipment = buy(fake)
    stale = Channel.objects.get(pk=channel.pk)  # read before the refresh
    control(fake, "tokens/expire")
    with connector_for(channel) as connector:
        connector.fetch_order(str(order["id"]))
    ml.clear_token_cache()  # another process: only the database knows the new pair
    with connector_for(stale) as other:
        other.fetch_order(str(order["id"]))  # 401 with the old token, then the stored one
    assert len(fake.calls.filter("POST", "/oauth/token")) == 1


def test_two_connectors_holding_the_expired_token_refresh_it_once(fake: Fake, channel: Channel) -> None:
    order, _shipment = buy(fake)
    with connector_for(channel) as first, connector_for(channel) as second:
        first.fetch_order(str(order["id"]))
        second.fetch_order(str(order["id"]))  # both hold the stored token now
        control(fake, "tokens/expire")
        first.fetch_order(str(order["id"]))
        second.fetch_order(str(order["id"]))  # 401, then adopts the pair the first one got
    assert len(fake.calls.filter("POST", "/oauth/token")) == 1
    assert [call.status for call in fake.calls.filter("GET", "/orders/")][-2:] == [401, 200]


def test_a_refused_refresh_token_is_a_permanent_error(fake: Fake, channel: Channel) -> None:
    channel.credentials = {**channel.credentials, "client_secret": "not-the-secret"}
    channel.save()
    control(fake, "tokens/expire")
    with connector_for(channel) as connector, pytest.raises(DeliveryError) as refused:
        connector.fetch_order("2000010000001")
    assert not refused.value.retryable and "invalid_grant" in refused.value.detail
    channel.refresh_from_db()
    assert channel.credentials["access_token"] == fake.credentials["access_token"], "nothing stored"
    assert channel.credentials["refresh_token"] == fake.credentials["refresh_token"]


# --- inbound: notifications -------------------------------------------------------------------


def test_a_paid_sale_is_imported_from_its_notification(fake: Fake, channel: Channel) -> None:
    placed, shipment, order = _import(
        fake, customer="ana", items=[{"sku": "MOCHILA-URBANA", "qty": 2}], payment_method="boleto"
    )
    assert placed["paid_amount"] == 394.8  # 2 × 189.90 + 15.00
    assert (order.status, order.marketplace, order.shipping_method) == (
        "paid",
        "Mercado Livre",
        "Mercado Envios 2",
    )
    assert (order.subtotal, order.shipping_price, order.total) == (
        Decimal("379.80"),
        Decimal("15.00"),
        Decimal("394.80"),
    )
    assert (order.customer_name, order.customer_document, order.customer_email) == (
        "Ana Costa",
        "12345678909",
        "",
    )
    assert order.shipping_address == {
        "street": "Rua dos Andradas",
        "number": "1000",
        "complement": "",
        "district": "Centro Histórico",
        "city": "Porto Alegre",
        "state": "RS",
        "postal_code": "90020008",
        "country": "BR",
    }
    payment = order.payments.get()
    assert (payment.method, payment.gateway, payment.transaction_id, payment.status) == (
        "boleto",
        "mercadopago",
        str(placed["payments"][0]["id"]),
        "approved",
    )
    link = OrderLink.objects.get(order=order, channel=channel)
    assert (link.external_id, link.remote_status) == (str(placed["id"]), "invoice_pending")
    assert shipment["substatus"] == "invoice_pending"
    # The notification was only a hint: the connector read the order, its shipment and billing info.
    assert {call.path for call in fake.calls} == {
        f"/orders/{placed['id']}",
        f"/shipments/{shipment['id']}",
        f"/shipments/{shipment['id']}/billing_info",
    }


def test_the_same_state_notified_twice_is_a_duplicate(fake: Fake, channel: Channel) -> None:
    placed, shipment, _order = _import(fake)
    again = replay(last_notification(fake, "orders_v2", f"/orders/{placed['id']}"))
    assert again.status_code == 200 and again.json()["results"] == ["duplicate"]
    via_shipment = replay(last_notification(fake, "shipments", f"/shipments/{shipment['id']}"))
    assert via_shipment.json()["results"] == ["duplicate"]
    # One change taken in; the two notifications (the repeated one stored once) only point to it.
    assert InboxEvent.objects.exclude(kind="notification").count() == 1
    assert InboxEvent.objects.filter(kind="notification").count() == 2


def test_an_unpaid_sale_waits_and_is_imported_once_paid(fake: Fake, channel: Channel) -> None:
    placed, _shipment = buy(fake, paid=False)
    first = replay(last_notification(fake, "orders_v2", f"/orders/{placed['id']}"))
    assert first.json()["results"] == ["unknown_order"]  # ML hides the address until paid
    assert not Order.objects.exists()
    control(fake, f"orders/{placed['id']}/pay")
    paid = replay(last_notification(fake, "orders_v2", f"/orders/{placed['id']}"))
    assert paid.json()["results"] == ["already"]
    assert Order.objects.get().status == "paid"


@pytest.mark.parametrize(
    "tamper",
    [{"application_id": 1}, {"user_id": 999}, {"application_id": None}],
)
def test_a_notification_for_another_app_or_seller_is_401(
    fake: Fake, channel: Channel, tamper: dict[str, Any]
) -> None:
    placed, _shipment = buy(fake)
    record = last_notification(fake, "orders_v2", f"/orders/{placed['id']}")
    body = json.dumps({**record.json, **tamper}).encode()
    response = replay(body=body)
    assert response.status_code == 401 and response.json()["code"] in ("webhook_not_ours",)
    assert not InboxEvent.objects.exists() and fake.calls.filter("GET") == []


def test_other_topics_are_acknowledged_and_ignored(fake: Fake, channel: Channel) -> None:
    record = {
        "resource": "/collections/123",
        "user_id": int(channel.credentials["user_id"]),
        "topic": "payments",
        "application_id": int(channel.credentials["client_id"]),
        "attempts": 1,
    }
    response = replay(body=json.dumps(record).encode())
    assert response.status_code == 200 and response.json() == {"received": 0, "results": []}


@pytest.mark.parametrize("resource", ["/orders/2000099999999", "/shipments/44099999999", "/orders/abc"])
def test_a_notified_resource_ml_does_not_have_is_acknowledged(
    fake: Fake, channel: Channel, resource: str
) -> None:
    notification = {
        "resource": resource,
        "user_id": int(channel.credentials["user_id"]),
        "topic": "shipments" if "shipments" in resource else "orders_v2",
        "application_id": int(channel.credentials["client_id"]),
        "attempts": 3,
    }
    response = replay(body=json.dumps(notification).encode())
    assert response.status_code == 200 and response.json() == {"received": 0, "results": []}


def test_an_unreachable_api_answers_503_so_ml_retries(fake: Fake, channel: Channel) -> None:
    placed, _shipment = buy(fake)
    fake.faults.set("error_5xx", status=503)
    response = replay(last_notification(fake, "orders_v2", f"/orders/{placed['id']}"))
    assert response.status_code == 503 and response.json()["code"] == "upstream_unavailable"
    assert not Order.objects.exists()


def test_a_sale_cancelled_on_ml_cancels_the_order(fake: Fake, channel: Channel) -> None:
    placed, _shipment, order = _import(fake, items=[{"sku": "BONE-AZUL", "qty": 3}])
    control(fake, f"orders/{placed['id']}/cancel")
    response = replay(last_notification(fake, "orders_v2", f"/orders/{placed['id']}"))
    assert response.json()["results"] == ["applied"]
    order.refresh_from_db()
    assert (order.status, order.cancel_reason, order.stock_state) == ("canceled", "channel", "released")
    assert not OutboxMessage.objects.filter(destination=DESTINATION).exists(), "not sent back to ML"


# --- NF-e upload ------------------------------------------------------------------------------


def test_the_nfe_xml_is_uploaded_once_while_the_shipment_waits(fake: Fake, channel: Channel) -> None:
    placed, shipment, order = _import(fake)
    invoice = nfe_for(placed, recipient_cpf=order.customer_document)
    actions.run_transition(order.pk, "invoice", invoice, actor=SYSTEM)
    assert drain(prefix="channel:") == 1
    stored = fake.state.invoices[shipment["id"]]
    assert (stored["fiscal_key"], stored["status"], stored["_xml"]) == (
        invoice["key"],
        "approved",
        invoice["xml"],
    )
    assert fake.state.shipments[shipment["id"]]["substatus"] == "ready_to_print"
    [upload] = _uploads(fake)
    assert upload.query == {"siteId": ["MLB"]} and upload.headers["content-type"] == "application/xml"
    assert upload.headers["authorization"] == "Bearer ***"
    # Delivered again (a lost answer): the invoice is read back, never uploaded twice.
    assert redeliver_done() == 1
    assert drain(prefix="channel:") == 1
    assert len(_uploads(fake)) == 1
    assert OutboxMessage.objects.get(destination=DESTINATION).state == "done"


def test_an_upload_whose_answer_was_lost_is_not_repeated(fake: Fake, channel: Channel) -> None:
    placed, shipment, order = _import(fake)
    fake.faults.set("drop", method="POST", path_prefix="/shipments/", effect=True)
    actions.run_transition(
        order.pk, "invoice", nfe_for(placed, recipient_cpf=order.customer_document), actor=SYSTEM
    )
    drain(prefix="channel:")
    message = OutboxMessage.objects.get(destination=DESTINATION)
    assert message.state == "pending"
    make_due()
    drain(prefix="channel:")
    message.refresh_from_db()
    assert message.state == "done" and len(_uploads(fake)) == 1
    assert shipment["id"] in fake.state.invoices


def test_an_invoice_without_xml_is_refused_before_any_call(fake: Fake, channel: Channel) -> None:
    placed, _shipment = buy(fake)
    snapshot = {"invoice": {"key": "35250311222333000181550010000012341123456783", "xml": None}}
    with connector_for(channel) as connector, pytest.raises(DeliveryError) as refused:
        connector.push_invoice(str(placed["id"]), snapshot, idempotency_key="k1")
    assert not refused.value.retryable and "XML" in refused.value.detail
    assert len(fake.calls) == 0


def test_a_bare_nfe_without_protocol_is_refused(fake: Fake, channel: Channel) -> None:
    placed, _shipment = buy(fake)
    invoice = nfe_for(placed, proc=False)
    with connector_for(channel) as connector, pytest.raises(DeliveryError) as refused:
        connector.push_invoice(str(placed["id"]), {"invoice": invoice}, idempotency_key="k1")
    assert not refused.value.retryable and "nfeProc" in refused.value.detail


def test_a_shipment_not_waiting_for_an_invoice_is_a_permanent_error(fake: Fake, channel: Channel) -> None:
    placed, shipment = buy(fake, logistic_type="self_service")  # Flex: no NF-e step at ML
    assert (shipment["status"], shipment["substatus"]) == ("ready_to_ship", "ready_to_print")
    with connector_for(channel) as connector, pytest.raises(DeliveryError) as refused:
        connector.push_invoice(str(placed["id"]), {"invoice": nfe_for(placed)}, idempotency_key="k1")
    assert not refused.value.retryable and "ready_to_ship/ready_to_print" in refused.value.detail
    assert _uploads(fake) == []


def test_an_unpaid_sales_shipment_takes_the_invoice_later(fake: Fake, channel: Channel) -> None:
    placed, _shipment = buy(fake, paid=False)
    with connector_for(channel) as connector, pytest.raises(DeliveryError) as later:
        connector.push_invoice(str(placed["id"]), {"invoice": nfe_for(placed)}, idempotency_key="k1")
    assert later.value.retryable and "pending" in later.value.detail


def test_mls_refusal_is_permanent_and_quotes_its_code(fake: Fake, channel: Channel) -> None:
    placed, shipment = buy(fake, customer="joao")  # CPF 111.444.777-35
    invoice = nfe_for(placed, recipient_cpf="52998224725")  # another person's CPF
    with connector_for(channel) as connector, pytest.raises(DeliveryError) as refused:
        connector.push_invoice(str(placed["id"]), {"invoice": invoice}, idempotency_key="k1")
    assert not refused.value.retryable and refused.value.status == 400
    assert "wrong_receiver_cpf" in refused.value.detail
    assert shipment["id"] not in fake.state.invoices


def test_another_nfe_already_on_the_shipment_is_not_replaced(fake: Fake, channel: Channel) -> None:
    placed, _shipment = buy(fake, customer="joao")
    with connector_for(channel) as connector:
        connector.push_invoice(
            str(placed["id"]), {"invoice": nfe_for(placed, number=1)}, idempotency_key="k1"
        )
        with pytest.raises(DeliveryError) as refused:
            connector.push_invoice(
                str(placed["id"]), {"invoice": nfe_for(placed, number=2)}, idempotency_key="k2"
            )
    assert not refused.value.retryable and "already has NF-e" in refused.value.detail
    assert len(_uploads(fake)) == 1


# --- delivery from ML -------------------------------------------------------------------------


def test_ml_reports_the_shipment_and_its_delivery(fake: Fake, channel: Channel) -> None:
    placed, shipment, order = _import(fake)
    actions.run_transition(
        order.pk, "invoice", nfe_for(placed, recipient_cpf=order.customer_document), actor=SYSTEM
    )
    drain(prefix="channel:")
    printed = replay(last_notification(fake, "shipments", f"/shipments/{shipment['id']}"))
    assert printed.json()["results"] == ["applied"]  # invoiced → ready_to_ship (the label is out)

    move_shipment(fake, shipment["id"], "shipped")
    shipped = replay(last_notification(fake, "shipments", f"/shipments/{shipment['id']}"))
    assert shipped.json()["results"] == ["applied"]
    order.refresh_from_db()
    sent = order.shipments.get()
    code = fake.state.shipments[shipment["id"]]["tracking_number"]
    assert (order.status, sent.carrier, sent.method, sent.tracking_code) == (
        "shipped",
        "correios",
        "Mercado Envios 2",
        code,
    )
    assert sent.tracking_url == f"https://rastreamento.correios.com.br/app/index.php?objetos={code}"

    move_shipment(fake, shipment["id"], "delivered")
    delivered = replay(last_notification(fake, "shipments", f"/shipments/{shipment['id']}"))
    assert delivered.json()["results"] == ["applied"]
    order.refresh_from_db()
    assert order.status == "delivered"
    when = fake.state.shipments[shipment["id"]]["status_history"]["date_delivered"]
    assert order.shipments.get().delivered_at == ml.parse_time(when)
    assert OrderLink.objects.get(order=order, channel=channel).remote_status == "delivered"
    # Nothing of this goes back to ML (delivery comes from the channel).
    assert [m.payload["op"] for m in OutboxMessage.objects.filter(destination=DESTINATION)] == ["invoice"]


def test_a_delivery_without_malotes_invoice_waits_for_it(fake: Fake, channel: Channel) -> None:
    _placed, shipment, order = _import(fake, logistic_type="self_service")
    move_shipment(fake, shipment["id"], "shipped")
    move_shipment(fake, shipment["id"], "delivered")
    response = replay(last_notification(fake, "shipments", f"/shipments/{shipment['id']}"))
    assert response.json()["results"] == ["waiting:invoice"]
    assert OrderLink.objects.get(order=order).remote_status == "delivered"


# --- ME1: the seller ships and reports --------------------------------------------------------


def test_me1_shipment_and_delivery_are_reported_once(fake: Fake, channel: Channel) -> None:
    placed, shipment = buy(fake, mode="me1")
    assert shipment["status"] == "handling"
    snapshot = {"shipment": {"carrier": "correios", "method": "SEDEX", "tracking_code": "AA123456785BR"}}
    with connector_for(channel) as connector:
        connector.push_shipment(str(placed["id"]), snapshot, idempotency_key="k1")
        connector.push_shipment(str(placed["id"]), snapshot, idempotency_key="k1")
        connector.push_delivery(str(placed["id"]), snapshot, idempotency_key="k2")
        connector.push_delivery(str(placed["id"]), snapshot, idempotency_key="k2")
    writes = [(call.method, call.path, call.json) for call in fake.calls if call.method in ("PUT", "POST")]
    base = f"/shipments/{shipment['id']}"
    assert [(method, path) for method, path, _ in writes] == [
        ("PUT", base),
        ("POST", f"{base}/seller_notifications"),
        ("POST", f"{base}/seller_notifications"),
    ]
    assert writes[0][2] == {"service_id": 11, "tracking_number": "AA123456785BR"}
    assert (writes[1][2]["status"], writes[2][2]["status"]) == ("shipped", "delivered")
    assert fake.state.shipments[shipment["id"]]["status"] == "delivered"


def test_me2_shipments_are_never_written(fake: Fake, channel: Channel) -> None:
    placed, _shipment = buy(fake)
    snapshot = {"shipment": {"carrier": "correios", "method": "SEDEX", "tracking_code": "AA123456785BR"}}
    with connector_for(channel) as connector:
        connector.push_shipment(str(placed["id"]), snapshot, idempotency_key="k1")
        connector.push_delivery(str(placed["id"]), snapshot, idempotency_key="k2")
    assert [call.method for call in fake.calls] == ["GET"] * 4


def test_ml_takes_no_status_writes_and_no_seller_cancellation(fake: Fake, channel: Channel) -> None:
    assert not ml.MercadoLivreConnector.maps_status(channel, "paid")
    with connector_for(channel) as connector, pytest.raises(Unsupported):
        connector.push_cancellation("2000010000001", {}, idempotency_key="k")


# --- polling and listing ----------------------------------------------------------------------


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("malote.connectors.mercadolivre.connector.PAGE_SIZE", 4)
    monkeypatch.setattr("malote.connectors.mercadolivre.connector.PAGE_OVERLAP", 1)


def test_pull_pages_through_every_change_and_restarts_from_the_newest(
    fake: Fake, channel: Channel, small_pages: None
) -> None:
    bought = [buy(fake, items=[{"sku": "CHINELO-42", "qty": n}])[0]["id"] for n in range(1, 10)]
    seen: list[str] = []
    event_ids: set[str] = set()
    cursor: str | None = None
    pages = 0
    with connector_for(channel) as connector:
        while True:
            result = connector.pull_changes(cursor)
            seen += [change.external_id for change in result.changes]
            event_ids.update(change.event_id for change in result.changes)
            cursor, pages = result.cursor, pages + 1
            if not result.more:
                break
        again = connector.pull_changes(cursor)
    assert pages == 3  # 4 + 3 (+1 overlap) + 2 (+1 overlap)
    assert sorted(set(seen)) == sorted(str(order_id) for order_id in bought)
    assert len(seen) == 11
    newest = max(fake.state.orders.values(), key=lambda order: order["last_updated"])
    newest_at = ml.parse_time(newest["last_updated"])
    assert newest_at is not None and json.loads(cursor or "{}")["from"] == newest_at.isoformat()
    # The next sweep re-reads only what changed at or after the newest time: the same state.
    at_newest = [
        str(o["id"]) for o in fake.state.orders.values() if o["last_updated"] == newest["last_updated"]
    ]
    assert [change.external_id for change in again.changes] == at_newest
    assert {change.event_id for change in again.changes} <= event_ids
    queries = [call.query for call in fake.calls.filter("GET", "/orders/search")]
    assert queries[0]["sort"] == ["date_asc"] and queries[0]["seller"] == [channel.credentials["user_id"]]
    assert [query["offset"] for query in queries] == [["0"], ["3"], ["6"], ["0"]]
    # Times go out in ML's own form: milliseconds and an offset.
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d", queries[3]["order.date_last_updated.from"][0]
    )


def test_the_poll_imports_paid_sales_and_skips_the_history(fake: Fake, channel: Channel) -> None:
    fake.reset(seed=True)  # the demo's sales, days old
    fake.faults.set("webhook_off", count=10)
    placed, _shipment = buy(fake, customer="joao", items=[{"sku": "TOALHA-PRAIA", "qty": 1}])
    schedule = sync_poll_schedule(channel)
    assert schedule is not None
    assert poll_channel(schedule, timezone.now()).startswith("1 change(s) in 1 page(s)")
    order = Order.objects.get()
    assert (order.external_id, order.customer_name, order.total) == (
        str(placed["id"]),
        "João Pereira",
        Decimal("84.90"),
    )
    assert poll_channel(schedule, timezone.now()).startswith("1 change(s) in 1 page(s)")
    assert InboxEvent.objects.count() == 1, "the re-read is a duplicate"


def test_list_orders_pages_with_order_statuses(fake: Fake, channel: Channel, small_pages: None) -> None:
    fake.reset(seed=True)
    since = (timezone.now() - timedelta(days=30)).isoformat()
    listed = []
    cursor = None
    with connector_for(channel) as connector:
        while True:
            page = connector.list_orders(since, cursor)
            listed += page.orders
            cursor = page.cursor
            if not page.more:
                break
    # Five demo sales reached ML; seller searches leave the cancelled one out.
    assert [(o.remote_status, o.status) for o in listed] == [
        ("paid", "paid"),
        ("paid", "paid"),
        ("payment_required", "pending_payment"),
        ("paid", "paid"),
    ]
    # 3 × 79.90 + 59.90: total_amount leaves the shipping out
    assert listed[0].total == "299.60"


# --- faults -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "params", "status", "retry_after"),
    [
        ("error_5xx", {"status": 500}, 500, None),
        ("error_5xx", {"status": 503}, 503, None),
        ("rate_limit", {"retry_after": 7}, 429, 7.0),
        ("drop", {}, None, None),
        ("timeout", {"seconds": 3.0}, None, None),
    ],
)
def test_faults_are_retryable(
    fake: Fake,
    channel: Channel,
    fault: str,
    params: dict[str, Any],
    status: int | None,
    retry_after: float | None,
) -> None:
    placed, _shipment = buy(fake)
    channel.options = {"timeout_seconds": 1}
    fake.faults.set(fault, **params)
    with connector_for(channel) as connector, pytest.raises(DeliveryError) as failed:
        connector.fetch_order(str(placed["id"]))
    assert failed.value.retryable
    assert (failed.value.status, failed.value.retry_after) == (status, retry_after)


@pytest.mark.parametrize(("external_id", "status"), [("2000099999999", 404), ("abc", None)])
def test_unknown_orders_are_permanent_errors(
    fake: Fake, channel: Channel, external_id: str, status: int | None
) -> None:
    with connector_for(channel) as connector, pytest.raises(DeliveryError) as failed:
        connector.fetch_order(external_id)
    assert not failed.value.retryable and failed.value.status == status


def test_another_sellers_search_is_forbidden(fake: Fake, channel: Channel) -> None:
    channel.credentials = {**channel.credentials, "user_id": "123"}
    with connector_for(channel) as connector, pytest.raises(DeliveryError) as failed:
        connector.list_orders(timezone.now().isoformat())
    assert not failed.value.retryable and failed.value.status == 403


# --- status words and names -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("order_status", "shipment", "remote", "canonical"),
    [
        ("confirmed", None, "confirmed", "pending_payment"),
        ("payment_required", {"status": "pending"}, "payment_required", "pending_payment"),
        ("payment_in_process", {"status": "pending"}, "payment_in_process", "payment_review"),
        ("partially_paid", {"status": "pending"}, "partially_paid", "payment_review"),
        ("paid", None, "paid", "paid"),
        ("paid", {"status": "handling"}, "paid", "paid"),
        ("paid", {"status": "ready_to_ship", "substatus": "invoice_pending"}, "invoice_pending", "paid"),
        (
            "paid",
            {"status": "ready_to_ship", "substatus": "ready_to_print"},
            "ready_to_ship",
            "ready_to_ship",
        ),
        ("paid", {"status": "shipped"}, "shipped", "shipped"),
        ("paid", {"status": "delivered"}, "delivered", "delivered"),
        (
            "paid",
            {"status": "not_delivered", "substatus": "returning_to_sender"},
            "not_delivered",
            "delivery_failed",
        ),
        ("paid", {"status": "cancelled"}, "shipment_cancelled", ""),
        ("partially_refunded", {"status": "shipped"}, "partially_refunded", ""),
        ("pending_cancel", {"status": "ready_to_ship"}, "pending_cancel", ""),
        ("cancelled", {"status": "cancelled"}, "cancelled", "canceled"),
        ("invalid", {"status": "cancelled"}, "invalid", "canceled"),
    ],
)
def test_ml_words_map_to_canonical_statuses(
    channel: Channel, order_status: str, shipment: dict[str, Any] | None, remote: str, canonical: str
) -> None:
    word = ml.remote_status({"status": order_status}, shipment)
    with connector_for(channel) as connector:
        assert (word, connector.status_in(word)) == (remote, canonical)


def test_a_channels_own_map_overrides_the_default(channel: Channel) -> None:
    channel.status_map = {"in": {"partially_refunded": "canceled"}}
    with connector_for(channel) as connector:
        assert connector.status_in("partially_refunded") == "canceled"
        assert connector.status_in("paid") == "paid"


@pytest.mark.parametrize(
    ("mode", "logistic_type", "name"),
    [
        ("me2", "drop_off", "Mercado Envios 2"),
        ("me2", "xd_drop_off", "Mercado Envios 2"),
        ("me2", "cross_docking", "Mercado Envios Coleta"),
        ("me2", "self_service", "Mercado Envios Flex"),
        ("me2", "fulfillment", "Mercado Envios Full"),
        ("me1", "drop_off", "Mercado Envios 1"),
        ("custom", "drop_off", "Envio próprio"),
    ],
)
def test_shipping_method_names(mode: str, logistic_type: str, name: str) -> None:
    assert ml.shipping_method({"logistic": {"mode": mode, "type": logistic_type}}) == name


def test_a_shipping_method_name_can_be_renamed_per_channel(fake: Fake, channel: Channel) -> None:
    channel.options = {"shipping_method_names": {"me2": "ME2"}}
    channel.save()
    _placed, _shipment, order = _import(fake)
    assert order.shipping_method == "ME2"


def test_a_payment_refunded_in_part_is_recorded_without_a_transition(fake: Fake, channel: Channel) -> None:
    placed, _shipment, order = _import(fake)
    control(fake, f"orders/{placed['id']}/status", {"status": "partially_refunded"})
    response = replay(last_notification(fake, "orders_v2", f"/orders/{placed['id']}"))
    assert response.json()["results"] == ["recorded"]
    order.refresh_from_db()
    assert order.status == "paid"
    assert OrderLink.objects.get(order=order).remote_status == "partially_refunded"


def test_ml_reporting_a_failed_delivery(fake: Fake, channel: Channel) -> None:
    placed, shipment, order = _import(fake)
    invoice = nfe_for(placed, recipient_cpf=order.customer_document)
    actions.run_transition(order.pk, "invoice", invoice, actor=SYSTEM)
    drain(prefix="channel:")
    move_shipment(fake, shipment["id"], "shipped")
    move_shipment(fake, shipment["id"], "not_delivered", "returning_to_sender")
    response = replay(last_notification(fake, "shipments", f"/shipments/{shipment['id']}"))
    assert response.json()["results"] == ["applied"]
    order.refresh_from_db()
    assert order.status == "delivery_failed"
    problem = order.events.get(transition="report_delivery_problem")
    assert "returning_to_sender" in json.dumps(problem.data)


# --- stock ------------------------------------------------------------------------------------


def _listing(fake: Fake, body: dict[str, Any]) -> dict[str, Any]:
    with httpx.Client(timeout=10, trust_env=False) as client:
        answer = client.post(
            f"{fake.api_url}/items",
            json={"title": "Chinelo de praia", "price": 49.9, **body},
            headers={"Authorization": f"Bearer {fake.credentials['access_token']}"},
        )
    assert answer.status_code == 201, answer.text
    fake.calls.clear()
    item: dict[str, Any] = answer.json()
    return item


def _push_stock(channel: Channel, sku: str, available: int) -> None:
    with connector_for(channel) as connector:
        connector.push_stock(sku, available, idempotency_key=f"stock:{sku}")


def _puts(fake: Fake) -> list[Any]:
    return [call.json for call in fake.calls.filter("PUT", "/items/")]


def test_stock_reaches_the_listing_of_the_sku(fake: Fake, channel: Channel) -> None:
    item = _listing(fake, {"available_quantity": 5, "seller_custom_field": "CHINELO-42"})
    other = _listing(fake, {"available_quantity": 2, "seller_custom_field": "CANECA-CERAMICA"})
    _push_stock(channel, "CHINELO-42", 0)
    user = fake.credentials["user_id"]
    paths = [f"{c.method} {c.path}" for c in fake.calls.all()]
    assert paths == [
        f"GET /users/{user}/items/search",
        f"GET /items/{item['id']}",
        f"PUT /items/{item['id']}",
    ]
    assert _puts(fake) == [{"available_quantity": 0}]
    assert (fake.state.items[item["id"]]["available_quantity"], fake.state.items[item["id"]]["status"]) == (
        0,
        "paused",
    )
    assert fake.state.items[other["id"]]["available_quantity"] == 2, "another SKU's listing is untouched"


def test_stock_of_a_variation_names_every_variation_so_none_is_deleted(fake: Fake, channel: Channel) -> None:
    item = _listing(
        fake,
        {
            "variations": [
                {"available_quantity": 4, "attributes": [{"id": "SELLER_SKU", "value_name": "CHINELO-42"}]},
                {"available_quantity": 3, "seller_custom_field": "CHINELO-40"},
            ]
        },
    )
    first, second = (v["id"] for v in item["variations"])
    _push_stock(channel, "CHINELO-42", 1)
    assert _puts(fake) == [{"variations": [{"id": first, "available_quantity": 1}, {"id": second}]}]
    stored = fake.state.items[item["id"]]
    assert [v["available_quantity"] for v in stored["variations"]] == [1, 3]
    assert stored["available_quantity"] == 4


def test_stock_already_there_or_a_sku_not_listed_writes_nothing(fake: Fake, channel: Channel) -> None:
    _listing(fake, {"available_quantity": 5, "seller_custom_field": "CHINELO-42"})
    _push_stock(channel, "CHINELO-42", 5)
    _push_stock(channel, "MOCHILA-URBANA", 3)
    assert _puts(fake) == []


def test_stock_changes_reach_ml_unless_push_stock_is_off(fake: Fake, channel: Channel) -> None:
    item = _listing(fake, {"available_quantity": 5, "seller_custom_field": "CHINELO-42"})
    Channel.objects.filter(pk=channel.pk).update(options={"push_stock": False})
    set_physical("CHINELO-42", 9, actor=SYSTEM)
    drain(prefix="channel:")
    assert _puts(fake) == [], "push_stock off: nothing"
    Channel.objects.filter(pk=channel.pk).update(options={})  # the default: on
    set_physical("CHINELO-42", 8, actor=SYSTEM)
    drain(prefix="channel:")
    assert fake.state.items[item["id"]]["available_quantity"] == 8


def test_a_refused_stock_write_is_permanent_and_a_5xx_is_retried(fake: Fake, channel: Channel) -> None:
    item = _listing(fake, {"available_quantity": 5, "seller_custom_field": "CHINELO-42"})
    fake.faults.set("error_5xx", method="PUT", path_prefix="/items/", status=503)
    with pytest.raises(DeliveryError) as exc:
        _push_stock(channel, "CHINELO-42", 1)
    assert exc.value.retryable
    with pytest.raises(DeliveryError) as exc:
        _push_stock(channel, "CHINELO-42", -1)
    assert (exc.value.retryable, exc.value.status) == (False, 400)
    assert fake.state.items[item["id"]]["available_quantity"] == 5
