"""The VTEX connector against the VTEX fake over real HTTP.

Inbound: the feed is polled through the real poll job (``poll_channel``) and its handles are
committed only after Malote committed each change; hooks the fake recorded are replayed into
``POST /hooks/vtex``. Outbound: Malote's changes go through the outbox (``drain``) and the
connector to the fake; its state and call log show each step exactly once, also on redelivery.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from malote.channels.models import Channel, OrderLink
from malote.channels.status_maps import preset
from malote.conftest import SYSTEM
from malote.connectors.registry import connector_for
from malote.connectors.tests.vtex_helpers import (
    CODE,
    DESTINATION,
    UNREACHABLE_HOOK_URL,
    Fake,
    advance_clock,
    commits,
    hooks,
    make_channel,
    make_due,
    place_order,
    redeliver_done,
    remote_order,
    replay,
    set_status,
    writes,
)
from malote.connectors.tests.vtex_helpers import http as vtex_client
from malote.connectors.vtex import (
    SAO_PAULO,
    VtexConnector,
    canonical_order,
    event_key,
    facts_of,
    from_cents,
    to_cents,
)
from malote.orders import actions
from malote.orders.actions import _check_totals
from malote.orders.models import Order
from malote.orders.schemas import OrderIn
from malote.relay import intake
from malote.relay.polling import poll_channel, sync_poll_schedule
from malote.relay.snapshots import order_snapshot
from malote.stock.actions import set_physical
from malote.sync.errors import DeliveryError
from malote.sync.models import InboxEvent, OutboxMessage, Schedule
from malote_dev.sandbox.seed import PRODUCTS, correios_code
from malote_dev.sandbox.server import start_fake
from malote_dev.sandbox.tests.vtex_openapi import validate_request
from malote_dev.testing.fiscal import SAMPLE_NFE_KEY

pytestmark = pytest.mark.django_db

INVOICE = {"key": SAMPLE_NFE_KEY, "number": "1234", "series": "1", "issued_at": "2025-03-10T10:00:00-03:00"}
OMS = "/api/oms/pvt/orders"


@pytest.fixture
def fake() -> Iterator[Fake]:
    with start_fake("vtex", webhook_url=UNREACHABLE_HOOK_URL) as running:
        yield running


@pytest.fixture
def channel(fake: Fake) -> Channel:
    for product in PRODUCTS:
        set_physical(product.sku, 50, actor=SYSTEM)
    return make_channel(fake)


def _poll(channel: Channel) -> str:
    schedule = sync_poll_schedule(channel)
    assert schedule is not None
    return poll_channel(Schedule.objects.get(pk=schedule.pk), timezone.now())


def _drain_feed(fake: Fake) -> None:
    """Commit whatever the seed or earlier steps left in the feed (a clean start)."""
    with fake.app.lock:
        fake.state.feed.clear()


def _imported(fake: Fake, channel: Channel, **body: Any) -> tuple[dict[str, Any], Order]:
    placed = place_order(fake, **body)
    _poll(channel)
    return placed, Order.objects.get(channel__code=CODE, external_id=placed["orderId"])


# --- money -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cents", "reais"),
    [(11480, "114.80"), (1, "0.01"), (0, "0.00"), (None, "0.00"), ("4990", "49.90"), (-500, "-5.00")],
)
def test_cents_become_decimal_reais(cents: Any, reais: str) -> None:
    assert from_cents(cents) == Decimal(reais)
    assert str(from_cents(cents)) == reais


@pytest.mark.parametrize(
    ("reais", "cents"), [("114.80", 11480), ("0.1", 10), ("49.905", 4991), (Decimal("15"), 1500)]
)
def test_reais_become_integer_cents(reais: Any, cents: int) -> None:
    assert to_cents(reais) == cents


def test_an_amount_that_is_no_number_is_refused() -> None:
    with pytest.raises(ValueError, match="cents"):
        from_cents("R$ 10")


# --- status maps -------------------------------------------------------------------------------


def test_the_default_maps_agree_with_the_vtex_preset() -> None:
    vtex = preset("vtex")
    for remote, canonical in vtex["in"].items():
        assert VtexConnector.default_status_in[remote] == canonical
    assert dict(VtexConnector.default_status_out) == vtex["out"]


@pytest.mark.parametrize(
    ("remote", "canonical"),
    [("window-to-cancel", "paid"), ("start-handling", "preparing"), ("invoice", ""), ("request-cancel", "")],
)
def test_words_beyond_the_preset(channel: Channel, remote: str, canonical: str) -> None:
    with connector_for(channel) as connector:
        assert connector.status_in(remote) == canonical


# --- the canonical order ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "order_id",
    ["1500000010001-01", "1500000010002-01", "1500000010003-01", "1500000010005-01", "1500000010006-01"],
)
def test_every_seeded_order_maps_to_a_valid_canonical_order(fake: Fake, order_id: str) -> None:
    data = OrderIn.model_validate(canonical_order(remote_order(fake, order_id), CODE))
    _check_totals(data)


def test_a_placed_order_maps_field_by_field_with_cents_as_reais(fake: Fake) -> None:
    placed = place_order(
        fake,
        customer="comercial",
        items=[{"sku": "CHINELO-42", "qty": 2}, {"sku": "MEIAS-KIT-3", "qty": 1, "price": "30.05"}],
        payment_method="boleto",
        shipping="12.34",
        discount="5.00",
        affiliate_id="MGZ",
        sla="SEDEX",
    )
    order = canonical_order(placed, CODE, {"MGZ": "Magazine Luiza"})
    assert order["items"] == [
        {
            "sku": "CHINELO-42",
            "name": "Chinelo de praia 42",
            "quantity": 2,
            "unit_price": "49.90",
            "discount": "0.00",
        },
        {
            "sku": "MEIAS-KIT-3",
            "name": "Kit 3 pares de meias",
            "quantity": 1,
            "unit_price": "30.05",
            "discount": "0.00",
        },
    ]
    assert (order["shipping"], order["discount"], order["tax"], order["total"]) == (
        {"method": "SEDEX", "price": "12.34"},
        "5.00",
        "0.00",
        "137.19",  # 99.80 + 30.05 + 12.34 − 5.00
    )
    assert placed["value"] == 13719
    assert order["customer"] == {
        "name": "Comercial Exemplo Ltda",
        "email": "compras@comercial-exemplo.example.com",
        "phone": "+5531966660004",
        "document": "12.345.678/0001-95",
    }
    assert order["shipping_address"]["postal_code"] == "30130-005"
    assert order["shipping_address"]["country"] == "BR"
    assert order["billing_address"] == order["shipping_address"]
    assert order["payment"]["method"] == "boleto"
    assert order["marketplace"] == "Magazine Luiza"
    assert order["status"] == "paid"
    _check_totals(OrderIn.model_validate(order))


def test_item_discounts_and_a_rounding_gap_still_add_up() -> None:
    vtex_order = {
        "orderId": "1-01",
        "creationDate": "2025-03-10T13:00:00.1234567+00:00",
        "value": 9001,  # one cent more than the parts: VTEX's roundingError
        "totals": [
            {"id": "Items", "value": 10000},
            {"id": "Discounts", "value": -2000},
            {"id": "Shipping", "value": 1000},
            {"id": "Tax", "value": 0},
        ],
        "items": [
            {"id": "7", "refId": "X-1", "name": "X", "quantity": 2, "price": 5000, "sellingPrice": 4500}
        ],
        "clientProfileData": {"firstName": "Ana", "lastName": "Costa", "document": "123.456.789-09"},
        "shippingData": {
            "address": {"street": "Rua A", "city": "Porto Alegre", "state": "RS", "postalCode": "90020-008"}
        },
        "paymentData": {"transactions": [{"transactionId": "T1", "payments": [{"group": "instantPayment"}]}]},
    }
    order = canonical_order(vtex_order, CODE)
    assert order["items"][0]["discount"] == "10.00"  # (50.00 − 45.00) × 2
    assert (order["discount"], order["tax"], order["total"]) == ("9.99", "0.00", "90.01")
    assert order["payment"] == {"method": "pix", "gateway": "", "transaction_id": "T1", "installments": 1}
    assert order["placed_at"] == "2025-03-10T13:00:00.123456+00:00"
    _check_totals(OrderIn.model_validate(order))


# --- inbound: the feed through the poll job ----------------------------------------------------


def test_a_poll_imports_the_order_and_commits_each_handle_after_its_change(
    fake: Fake, channel: Channel
) -> None:
    placed = place_order(fake, items=[{"sku": "CHINELO-42", "qty": 2}])
    result = _poll(channel)
    assert result.startswith("3 change(s) in 1 page(s)")
    order = Order.objects.get(channel__code=CODE, external_id=placed["orderId"])
    assert order.status == "paid" and order.total == Decimal("114.80")
    assert OrderLink.objects.get(order=order, channel=channel).remote_status == "ready-for-handling"
    events = list(
        InboxEvent.objects.filter(source=CODE).order_by("id").values_list("event_id", "kind", "result")
    )
    # One inbox row per feed item (keyed by the item's state), each reporting the order as it is now.
    assert [key.split(":")[1] for key, _kind, _result in events] == [
        "payment-pending",
        "payment-approved",
        "ready-for-handling",
    ]
    assert [(kind, result) for _key, kind, result in events] == [("ready-for-handling", "already")] * 3
    assert len(commits(fake)) == 3 and all(len(handles) == 1 for handles in commits(fake))
    assert fake.state.feed == []  # everything committed
    # Each commit came after its change was taken in: the i-th commit follows the i-th order read.
    sequence = [(call.method, call.path) for call in fake.calls]
    first_commit = sequence.index(("POST", "/api/orders/feed"))
    assert sequence[:first_commit] == [("GET", "/api/orders/feed"), ("GET", f"{OMS}/{placed['orderId']}")]


def test_a_change_that_fails_is_not_committed_and_comes_back(
    fake: Fake, channel: Channel, monkeypatch: pytest.MonkeyPatch
) -> None:
    placed = place_order(fake, status="payment-pending")  # one item
    original = intake.take_in

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("database went away")

    monkeypatch.setattr(intake, "take_in", broken)
    with pytest.raises(RuntimeError):
        _poll(channel)
    assert commits(fake) == [] and len(fake.state.feed) == 1
    monkeypatch.setattr(intake, "take_in", original)
    assert _poll(channel).startswith("0 change(s)")  # still invisible: nothing to take
    advance_clock(fake, 251)  # the queue's visibility timeout (250 s) passes
    assert _poll(channel).startswith("1 change(s)")
    assert Order.objects.filter(external_id=placed["orderId"]).exists()
    assert len(commits(fake)) == 1 and fake.state.feed == []


def test_a_lost_commit_is_redelivered_and_taken_as_a_duplicate(fake: Fake, channel: Channel) -> None:
    place_order(fake, status="payment-pending")
    fake.faults.set("error_5xx", status=503, method="POST", path_prefix="/api/orders/feed")
    assert _poll(channel).startswith("1 change(s)")  # taken in; the commit failed (logged)
    assert len(fake.state.feed) == 1
    advance_clock(fake, 251)
    assert _poll(channel).startswith("1 change(s)")
    [event] = InboxEvent.objects.filter(source=CODE)  # the repeat was a duplicate, not a new event
    assert (event.kind, event.result) == ("payment-pending", "already")
    assert fake.state.feed == []


def test_more_items_than_a_lot_are_read_in_several_pages(fake: Fake, channel: Channel) -> None:
    for _ in range(4):
        place_order(fake)  # 3 items each
    assert _poll(channel).startswith("12 change(s) in 2 page(s)")
    assert Order.objects.filter(channel=channel).count() == 4
    assert fake.state.feed == []


def test_without_a_feed_config_the_poll_stops_with_a_clear_error(fake: Fake, channel: Channel) -> None:
    with fake.app.lock:
        fake.state.feed_config = None
    with pytest.raises(DeliveryError) as raised, connector_for(channel) as connector:
        connector.pull_changes(None)
    assert not raised.value.retryable and "POST /api/orders/feed/config" in raised.value.detail


def test_a_feed_item_of_an_order_vtex_no_longer_has_is_recorded_and_committed(
    fake: Fake, channel: Channel
) -> None:
    placed = place_order(fake, status="payment-pending")
    with fake.app.lock:
        del fake.state.orders[placed["orderId"]]
    assert _poll(channel).startswith("1 change(s)")
    assert InboxEvent.objects.get(source=CODE).result == "unknown_order"
    assert fake.state.feed == []


# --- inbound: the hook -------------------------------------------------------------------------


def test_the_configuration_ping_is_answered_200_and_records_nothing(fake: Fake, channel: Channel) -> None:
    from django.test import Client

    for headers in ({}, {"X-Malote-Hook-Secret": "wrong"}):
        response = Client().post(
            f"/hooks/{CODE}", data=b'{"hookConfig":"ping"}', content_type="application/json", headers=headers
        )
        assert response.status_code == 200
        assert response.json() == {"received": 0, "results": []}
    assert not InboxEvent.objects.exists()
    assert fake.calls.filter() == []  # nothing was asked of VTEX either


def test_a_hook_with_the_shared_secret_imports_the_order(fake: Fake, channel: Channel) -> None:
    placed = place_order(fake)
    records = hooks(fake, placed["orderId"])
    assert [record.json["State"] for record in records] == [
        "payment-pending",
        "payment-approved",
        "ready-for-handling",
    ]
    response = replay(records[-1])
    assert response.status_code == 200, response.content
    assert response.json() == {"received": 1, "results": ["already"]}  # imported as paid
    order = Order.objects.get(external_id=placed["orderId"])
    assert order.status == "paid"
    # The same change polled from the feed is a duplicate of the hook's.
    _poll(channel)
    assert InboxEvent.objects.filter(source=CODE).count() == 3
    assert event_key(placed["orderId"], "ready-for-handling", records[-1].json["CurrentChange"]) in set(
        InboxEvent.objects.values_list("event_id", flat=True)
    )


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "webhook_signature_missing"),
        ({"X-Malote-Hook-Secret": "not-the-secret"}, "webhook_signature_invalid"),
    ],
)
def test_a_hook_without_the_right_secret_is_401_and_stored_nowhere(
    fake: Fake, channel: Channel, headers: dict[str, str], code: str
) -> None:
    placed = place_order(fake)
    response = replay(hooks(fake, placed["orderId"])[-1], headers=headers)
    assert response.status_code == 401 and response.json()["code"] == code
    assert not InboxEvent.objects.exists() and not Order.objects.exists()


def test_a_hook_from_another_account_is_refused(fake: Fake, channel: Channel) -> None:
    placed = place_order(fake)
    record = hooks(fake, placed["orderId"])[-1]
    body = record.body.replace(b'"Account":"malotedemo"', b'"Account":"otherstore"')
    response = replay(record, body=body)
    assert response.status_code == 401 and response.json()["code"] == "webhook_origin_mismatch"


def test_a_hook_without_an_order_id_is_422(fake: Fake, channel: Channel) -> None:
    placed = place_order(fake)
    record = hooks(fake, placed["orderId"])[-1]
    response = replay(record, body=b'{"Domain":"Fulfillment","State":"handling"}')
    assert response.status_code == 422 and response.json()["code"] == "malformed_webhook"


def test_a_hook_while_vtex_is_down_is_503_so_vtex_retries(fake: Fake, channel: Channel) -> None:
    placed = place_order(fake)
    fake.faults.set("error_5xx", status=500, method="GET")
    response = replay(hooks(fake, placed["orderId"])[-1])
    assert response.status_code == 503 and not InboxEvent.objects.exists()


# --- outbound ----------------------------------------------------------------------------------


def test_preparing_invoice_shipment_and_delivery_reach_vtex_once_each(fake: Fake, channel: Channel) -> None:
    placed, order = _imported(fake, channel, items=[{"sku": "CHINELO-42", "qty": 2}])
    order_id = placed["orderId"]
    code = correios_code(777)
    delivered_at = timezone.now() + timedelta(minutes=5)
    steps: list[tuple[str, dict[str, Any]]] = [
        ("start_preparing", {}),
        ("invoice", INVOICE),
        ("ship", {"carrier": "correios", "method": "SEDEX", "tracking_code": code}),
        ("deliver", {"delivered_at": delivered_at.isoformat()}),
    ]
    for name, data in steps:
        actions.run_transition(order.pk, name, data, actor=SYSTEM)
        assert drain_vtex() == 1
    assert set(OutboxMessage.objects.filter(destination=DESTINATION).values_list("state", flat=True)) == {
        "done"
    }

    stored = remote_order(fake, order_id)
    assert stored["status"] == "invoiced"
    [package] = stored["packageAttachment"]["packages"]
    assert (package["invoiceNumber"], package["invoiceKey"], package["invoiceValue"]) == (
        "1234",
        SAMPLE_NFE_KEY,
        11480,
    )
    assert (package["trackingNumber"], package["courier"]) == (code, "Correios")
    assert package["trackingUrl"] == f"https://rastreamento.correios.com.br/app/index.php?objetos={code}"
    assert package["courierStatus"]["finished"] is True
    # São Paulo time, yyyy-mm-dd hh:mm
    assert package["courierStatus"]["deliveredDate"] == f"{delivered_at.astimezone(SAO_PAULO):%Y-%m-%d %H:%M}"

    invoice_body = {
        "type": "Output",
        "issuanceDate": "2025-03-10T13:00:00+00:00",
        "invoiceNumber": "1234",
        "invoiceValue": "11480",
        "invoiceKey": SAMPLE_NFE_KEY,
        "invoiceUrl": None,
        "embeddedInvoice": None,
        "courier": "",
        "trackingNumber": "",
        "trackingUrl": "",
        "dispatchedDate": None,
        "items": [{"id": "3001", "price": 4990, "quantity": 2, "description": "Chinelo de praia 42"}],
    }
    done = writes(fake)
    assert [(method, path) for method, path, _body in done] == [
        ("POST", f"{OMS}/{order_id}/start-handling"),
        ("POST", f"{OMS}/{order_id}/invoice"),
        ("PATCH", f"{OMS}/{order_id}/invoice/1234"),
        ("PUT", f"{OMS}/{order_id}/invoice/1234/tracking"),
    ]
    assert done[1][2] == invoice_body
    validate_request(done[1][2], f"{OMS}/{{orderId}}/invoice", "post")
    validate_request(done[2][2], f"{OMS}/{{orderId}}/invoice/{{invoiceNumber}}", "patch")
    validate_request(done[3][2], f"{OMS}/{{orderId}}/invoice/{{invoiceNumber}}/tracking", "put")
    for call in fake.calls:  # the fake answers 401 without the account's AppKey/AppToken headers
        assert call.status != 401
        assert call.headers["content-type"] == "application/json"
        assert call.headers["accept"] == "application/json"

    # Every message delivered a second time: VTEX is read; only start-handling is tried (and
    # answers OMS003, which the read shows to be a repeat). Nothing changes there.
    assert redeliver_done() == 4
    assert drain_vtex() == 4
    assert [(method, path) for method, path, _body in writes(fake)[4:]] == [
        ("POST", f"{OMS}/{order_id}/start-handling")
    ]
    assert (
        remote_order(fake, order_id)["packageAttachment"]["packages"]
        == stored["packageAttachment"]["packages"]
    )
    assert set(OutboxMessage.objects.filter(destination=DESTINATION).values_list("state", flat=True)) == {
        "done"
    }


def test_start_handling_waits_while_vtex_says_oms003(fake: Fake, channel: Channel) -> None:
    placed, order = _imported(fake, channel, status="window-to-cancel")
    assert order.status == "paid"
    actions.run_transition(order.pk, "start_preparing", {}, actor=SYSTEM)
    drain_vtex()
    message = OutboxMessage.objects.get(destination=DESTINATION)
    assert message.state == "pending"
    assert "OMS003" in message.last_error and "window-to-cancel" in message.last_error
    assert OrderLink.objects.get(order=order, channel=channel).state == "error"
    set_status(fake, placed["orderId"], "ready-for-handling")  # VTEX's cancellation window closes
    make_due()
    assert drain_vtex() == 1
    message.refresh_from_db()
    assert message.state == "done"
    assert remote_order(fake, placed["orderId"])["status"] == "handling"


def test_an_invoice_straight_from_paid_starts_handling_first(fake: Fake, channel: Channel) -> None:
    placed, order = _imported(fake, channel)
    actions.run_transition(order.pk, "invoice", INVOICE, actor=SYSTEM)
    assert drain_vtex() == 1
    assert [path.rsplit("/", 1)[1] for _method, path, _body in writes(fake)] == ["start-handling", "invoice"]
    assert remote_order(fake, placed["orderId"])["status"] == "invoiced"


def test_the_invoice_is_sent_once_even_if_the_first_answer_was_lost(fake: Fake, channel: Channel) -> None:
    placed, order = _imported(fake, channel)
    actions.run_transition(order.pk, "start_preparing", {}, actor=SYSTEM)
    drain_vtex()
    fake.faults.set("drop", method="POST", path_prefix=f"{OMS}/{placed['orderId']}/invoice", effect=True)
    actions.run_transition(order.pk, "invoice", INVOICE, actor=SYSTEM)
    drain_vtex()
    message = OutboxMessage.objects.filter(destination=DESTINATION).order_by("-id").first()
    assert message is not None and message.state == "pending"
    make_due()
    drain_vtex()
    message.refresh_from_db()
    assert message.state == "done"
    assert len(remote_order(fake, placed["orderId"])["packageAttachment"]["packages"]) == 1
    assert [path.rsplit("/", 1)[1] for _m, path, _b in writes(fake)] == ["start-handling", "invoice"]


def test_the_nfe_xml_is_embedded_unless_switched_off(fake: Fake, channel: Channel) -> None:
    placed, order = _imported(fake, channel)
    snapshot = {**order_snapshot(order), "invoice": {**INVOICE, "xml": '<nfeProc versao="4.00"/>'}}
    with connector_for(channel) as connector:
        connector.push_invoice(placed["orderId"], snapshot, idempotency_key="k1")
    [package] = remote_order(fake, placed["orderId"])["packageAttachment"]["packages"]
    assert package["embeddedInvoice"] == '<nfeProc versao="4.00"/>'
    channel.options = {**channel.options, "send_invoice_xml": False}
    second = {**snapshot, "invoice": {**snapshot["invoice"], "number": "1235"}}
    with connector_for(channel) as connector:
        connector.push_invoice(placed["orderId"], second, idempotency_key="k2")
    assert writes(fake)[-1][2]["embeddedInvoice"] is None


def test_tracking_needs_the_invoice_in_vtex(fake: Fake, channel: Channel) -> None:
    placed, order = _imported(fake, channel)
    snapshot = {
        **order_snapshot(order),
        "invoice": INVOICE,
        "shipment": {"carrier": "correios", "tracking_code": "AA123456785BR"},
    }
    with connector_for(channel) as connector, pytest.raises(DeliveryError) as raised:
        connector.push_shipment(placed["orderId"], snapshot, idempotency_key="k")
    assert raised.value.retryable and "not in VTEX" in raised.value.detail
    without_invoice = {**snapshot, "invoice": None}
    with connector_for(channel) as connector, pytest.raises(DeliveryError) as raised:
        connector.push_shipment(placed["orderId"], without_invoice, idempotency_key="k")
    assert not raised.value.retryable


def test_a_cancellation_reaches_vtex_once(fake: Fake, channel: Channel) -> None:
    placed, order = _imported(fake, channel)
    actions.run_transition(order.pk, "cancel", {"reason": "out_of_stock"}, actor=SYSTEM)
    assert drain_vtex() == 1
    stored = remote_order(fake, placed["orderId"])
    assert (stored["status"], stored["cancelReason"]) == ("canceled", "Sem estoque")
    redeliver_done()
    drain_vtex()
    assert [(m, p.rsplit("/", 1)[1], b) for m, p, b in writes(fake)] == [
        ("POST", "cancel", {"reason": "Sem estoque"}),
        ("POST", "cancel", {"reason": "Sem estoque"}),  # a repeat: VTEX answers a new receipt
    ]


def test_an_order_invoiced_in_vtex_cannot_be_canceled_there(fake: Fake, channel: Channel) -> None:
    placed, order = _imported(fake, channel)
    actions.run_transition(order.pk, "invoice", INVOICE, actor=SYSTEM)
    drain_vtex()
    actions.run_transition(order.pk, "cancel", {"reason": "customer_gave_up"}, actor=SYSTEM)
    drain_vtex()
    message = OutboxMessage.objects.filter(destination=DESTINATION).order_by("-id").first()
    assert message is not None and message.state == "dead"
    assert "return invoice" in message.last_error
    assert remote_order(fake, placed["orderId"])["status"] == "invoiced"


def test_a_server_error_is_retried(fake: Fake, channel: Channel) -> None:
    _placed, order = _imported(fake, channel)
    fake.faults.set("error_5xx", status=503, method="POST")
    actions.run_transition(order.pk, "start_preparing", {}, actor=SYSTEM)
    drain_vtex()
    message = OutboxMessage.objects.get(destination=DESTINATION)
    assert message.state == "pending" and message.last_status == 503
    make_due()
    drain_vtex()
    message.refresh_from_db()
    assert message.state == "done"


# --- reconciliation reads ----------------------------------------------------------------------


def test_fetch_order_reads_one_order(fake: Fake, channel: Channel) -> None:
    with connector_for(channel) as connector:
        change = connector.fetch_order("1500000010003-01")
        with pytest.raises(DeliveryError) as raised:
            connector.fetch_order("999-01")
    assert (change.remote_status, change.status) == ("invoiced", "shipped")  # tracking, not delivered
    assert change.order is not None and change.order["total"] == "149.70"
    assert change.facts["shipment"]["carrier"] == "correios"
    assert change.facts["payment"]["amount"] == "149.70"
    assert "invoice" not in change.facts  # the demo invoice has no NF-e key
    assert raised.value.status == 404 and not raised.value.retryable


@pytest.mark.parametrize(
    ("order_id", "status"),
    [("1500000010001-01", "delivered"), ("1500000010003-01", "shipped"), ("1500000010002-01", "canceled")],
)
def test_an_invoiced_order_reports_its_tracking_progress(
    fake: Fake, channel: Channel, order_id: str, status: str
) -> None:
    with connector_for(channel) as connector:
        change = connector.fetch_order(order_id)
    assert change.status == status
    if status == "delivered":
        assert change.facts["delivered_at"] and change.facts["shipment"]["tracking_code"].endswith("BR")


def test_a_delivery_recorded_in_vtex_reaches_malote_through_the_hook(fake: Fake, channel: Channel) -> None:
    placed, order = _imported(fake, channel)
    actions.run_transition(order.pk, "invoice", INVOICE, actor=SYSTEM)
    drain_vtex()
    order_id = placed["orderId"]
    code = correios_code(4242)
    with vtex_client() as client:  # a carrier integration writes tracking and delivery in VTEX
        headers = {
            "X-VTEX-API-AppKey": fake.credentials["app_key"],
            "X-VTEX-API-AppToken": fake.credentials["app_token"],
        }
        tracking = {
            "trackingNumber": code,
            "trackingUrl": None,
            "courier": "Correios",
            "dispatchedDate": None,
        }
        assert client.patch(
            f"{fake.url}{OMS}/{order_id}/invoice/1234", json=tracking, headers=headers
        ).is_success
        delivered: dict[str, Any] = {"isDelivered": True, "deliveredDate": None, "events": []}
        assert client.put(
            f"{fake.url}{OMS}/{order_id}/invoice/1234/tracking", json=delivered, headers=headers
        ).is_success
        assert client.post(f"{fake.url}/_sandbox/orders/{order_id}/hook").is_success
    response = replay(hooks(fake, order_id)[-1])
    assert response.status_code == 200 and response.json()["results"] == ["applied"]
    order.refresh_from_db()
    assert order.status == "delivered"
    shipment = order.shipments.get()
    assert (shipment.carrier, shipment.tracking_code) == ("correios", code)


def test_fetched_and_hooked_invoices_carry_the_nfe(fake: Fake, channel: Channel) -> None:
    placed, order = _imported(fake, channel)
    actions.run_transition(order.pk, "invoice", INVOICE, actor=SYSTEM)
    drain_vtex()
    with connector_for(channel) as connector:
        change = connector.fetch_order(placed["orderId"])
    assert change.facts["invoice"] == {
        "key": SAMPLE_NFE_KEY,
        "number": "1234",
        "series": "1",
        "issued_at": "2025-03-10T13:00:00+00:00",  # INVOICE's time, as VTEX keeps it
        "xml": None,
    }


def test_list_orders_pages_oldest_first_since_a_date(
    fake: Fake, channel: Channel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("malote.connectors.vtex.connector.LIST_PAGE_SIZE", 2)
    since = datetime(2000, 1, 1, tzinfo=UTC).isoformat()
    seen: list[str] = []
    cursor = None
    with connector_for(channel) as connector:
        while True:
            page = connector.list_orders(since, cursor)
            seen += [listed.external_id for listed in page.orders]
            if not page.more:
                break
            cursor = page.cursor
        recent = connector.list_orders(timezone.now().isoformat())
    assert seen == [f"15000000{n}-01" for n in (10001, 10002, 10003, 10005, 10006)]
    assert recent.orders == [] and recent.cursor is None
    call = next(c for c in fake.calls if c.path == OMS)
    assert call.query["orderBy"] == ["creationDate,asc"] and call.query["per_page"] == ["2"]
    assert call.query["f_creationDate"][0].startswith("creationDate:[2000-01-01T00:00:00.000Z TO ")


def test_a_listed_order_has_its_status_and_total_in_reais(fake: Fake, channel: Channel) -> None:
    with connector_for(channel) as connector:
        listing = connector.list_orders("2000-01-01T00:00:00+00:00")
    shipped = next(listed for listed in listing.orders if listed.external_id == "1500000010003-01")
    assert (shipped.remote_status, shipped.status, shipped.total) == ("invoiced", "invoiced", "149.70")
    assert shipped.placed_at.endswith("+00:00")


def test_the_base_url_comes_from_the_account_when_not_configured(fake: Fake) -> None:
    channel = Channel(code="v2", kind="vtex", base_url="", options={"account": "minhaloja"})
    assert VtexConnector(channel).base_url == "https://minhaloja.vtexcommercestable.com.br"
    with pytest.raises(DeliveryError):
        _ = VtexConnector(Channel(code="v3", kind="vtex", base_url="")).base_url


def drain_vtex() -> int:
    from malote.sync.worker import drain

    return drain(prefix="channel:")


def test_wrong_app_credentials_are_a_non_retryable_401(fake: Fake, channel: Channel) -> None:
    channel.credentials = {**channel.credentials, "app_token": "NOT-THE-TOKEN"}
    with connector_for(channel) as connector, pytest.raises(DeliveryError) as raised:
        connector.fetch_order("1500000010003-01")
    assert raised.value.status == 401 and not raised.value.retryable


def test_a_delivery_time_written_without_zone_is_sao_paulo_time() -> None:
    package = {
        "type": "Output",
        "invoiceNumber": "1",
        "trackingNumber": "AA123456785BR",
        "courier": "PAC Correios",
        "courierStatus": {"finished": True, "deliveredDate": "2025-03-13 14:05"},
    }
    facts = facts_of({"packageAttachment": {"packages": [package]}}, "invoiced")
    assert facts["delivered_at"] == "2025-03-13T14:05:00-03:00"
    assert facts["shipment"]["shipped_at"] == facts["delivered_at"]  # no dispatchedDate: not later
    assert facts["shipment"]["carrier"] == "correios"
    assert facts["shipment"]["tracking_url"].endswith("AA123456785BR")
