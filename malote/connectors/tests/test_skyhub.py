"""The ``skyhub`` connector against the SkyHub fake over HTTP: orders imported through the queue
and acknowledged only after the commit, every push as the fake recorded it, retried pushes
writing nothing, error classification (5xx/429/timeout retryable, 422 unknown status permanent
and named), status maps both ways, and the reads the reconciliation uses.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import httpx
import pytest
from django.utils import timezone

import malote.connectors.skyhub  # noqa: F401  (registers the connector)
from malote.channels.models import Channel, ChannelRole, OrderLink
from malote.conftest import SYSTEM
from malote.connectors.registry import connector_for
from malote.connectors.skyhub import SkyHubConnector
from malote.connectors.tests.helpers import channel_at, configure
from malote.orders import actions
from malote.orders.models import Order
from malote.relay import intake
from malote.relay.delivery import deliver_to_channel
from malote.relay.polling import poll_channel
from malote.relay.snapshots import order_snapshot
from malote.sync import outbox
from malote.sync.errors import DeliveryError
from malote.sync.models import InboxEvent, OutboxMessage, Schedule
from malote.sync.worker import drain
from malote_dev.sandbox import start_fake
from malote_dev.sandbox.server import RunningFake
from malote_dev.testing.fiscal import SAMPLE_NFE_KEY, build_nfe_xml
from malote_dev.testing.orders import valid_input

pytestmark = pytest.mark.django_db

Fake = RunningFake[Any]
BRASILIA = ZoneInfo("America/Sao_Paulo")
SKUS = ("CHINELO-42", "CANECA-CERAMICA", "MOCHILA-URBANA", "GARRAFA-TERMICA")
FAST = {"orders_get": 1000, "write": 1000}  # requests per second: never waits in these tests


@pytest.fixture
def fake() -> Iterator[Fake]:
    with start_fake("skyhub", seed=False) as running:
        yield running


@pytest.fixture
def skyhub(fake: Fake, stock: Callable[..., None]) -> Channel:
    for sku in SKUS:
        stock(sku, 50)
    name = "SkyHub (Americanas Marketplace)"
    # The order flow's calls are counted exactly: stock pushes (on by default) are tested apart.
    # SkyHub's own limits (1 order read/s) would make these tests sleep: a high explicit limit here,
    # the limits themselves in test_skyhub_rate_limits.py.
    options = {"push_stock": False, "rate_limits": FAST}
    return channel_at(
        fake, "skyhub", name, ChannelRole.MARKETPLACE, credentials=dict(fake.credentials), options=options
    )


def _poll(channel: Channel) -> str:
    schedule, _ = Schedule.objects.get_or_create(
        name=f"poll:{channel.code}", defaults={"job": "channel.poll", "channel": channel}
    )
    return poll_channel(schedule, timezone.now())


def _place(control: Callable[..., dict[str, Any]], **body: Any) -> str:
    order: dict[str, Any] = control("orders", {"status": "payment_received", **body})["order"]
    return str(order["code"])


def _imported(channel: Channel, code: str) -> Order:
    return Order.objects.get(channel=channel, external_id=code)


def _calls(fake: Fake) -> list[str]:
    return [f"{call.method} {call.path}" for call in fake.calls.all()]


def _writes(fake: Fake) -> list[tuple[str, Any]]:
    return [(call.path.rsplit("/", 1)[1], call.json) for call in fake.calls.filter("POST")]


def _run(order: Order, name: str, data: dict[str, Any] | None = None) -> None:
    actions.run_transition(order.pk, name, valid_input(order, name) if data is None else data, actor=SYSTEM)
    drain(prefix="channel:")


# ----------------------------------------------------------------- the queue


def test_poll_imports_each_queued_order_and_acknowledges_it_after_the_commit(
    fake: Fake, skyhub: Channel, control: Callable[..., dict[str, Any]]
) -> None:
    paid = _place(control, channel="Lojas Americanas", shipping_method="B2W Entregas")
    new = _place(
        control,
        channel="Magazine Luiza",
        shipping_method="Magalu Entregas",
        status="book_product",
        payment_method="BOLETO",
        items=[{"sku": "CANECA-CERAMICA", "qty": 3}],
    )
    assert " " in paid and paid.startswith("Lojas Americanas-")

    summary = _poll(skyhub)
    assert summary.startswith("2 change(s) in 3 page(s)"), summary
    # One GET per order, its DELETE right after it was taken in, a last GET finding the queue empty.
    assert _calls(fake) == [
        "GET /queues/orders",
        f"DELETE /queues/orders/{paid}",
        "GET /queues/orders",
        f"DELETE /queues/orders/{new}",
        "GET /queues/orders",
    ]
    assert fake.state.queue == []
    assert {order["sync_status"] for order in fake.state.orders.values()} == {"SYNCED"}

    first, second = _imported(skyhub, paid), _imported(skyhub, new)
    assert (first.status, first.marketplace, first.shipping_method) == (
        "paid",
        "Lojas Americanas",
        "B2W Entregas",
    )
    assert str(first.total) == "114.80" and first.customer_document == "52998224725"
    assert (second.status, second.marketplace, second.shipping_method) == (
        "pending_payment",
        "Magazine Luiza",
        "Magalu Entregas",
    )
    assert [(line.sku, line.quantity) for line in second.lines.all()] == [("CANECA-CERAMICA", 3)]
    assert OrderLink.objects.get(order=first, channel=skyhub).remote_status == "payment_received"
    assert InboxEvent.objects.filter(source="skyhub").count() == 2


def test_empty_queue_is_no_change(fake: Fake, skyhub: Channel) -> None:
    with connector_for(skyhub) as connector:
        for answer in ("204", "empty", "object"):
            fake.configure(empty_queue=answer)
            result = connector.pull_changes("kept")
            assert (result.changes, result.more, result.cursor) == ([], False, "kept"), answer
    assert not fake.calls.filter("DELETE")


def test_no_delete_when_the_commit_fails_and_the_order_comes_back_after_the_timeout(
    fake: Fake,
    skyhub: Channel,
    control: Callable[..., dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    control("clock", {"freeze": True})  # the five minutes pass only when the test says so
    code = _place(control)
    real_take_in = intake.take_in

    def failing(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("database went away")

    monkeypatch.setattr(intake, "take_in", failing)
    with pytest.raises(RuntimeError):
        _poll(skyhub)
    assert not fake.calls.filter("DELETE"), "nothing committed: the order must stay in SkyHub's queue"
    assert not Order.objects.exists()
    monkeypatch.setattr(intake, "take_in", real_take_in)

    # Still hidden: within its five minutes the served order is not handed out again.
    assert _poll(skyhub).startswith("0 change(s)")
    control("clock", {"advance": 299})
    assert _poll(skyhub).startswith("0 change(s)")

    control("clock", {"advance": 2})
    assert _poll(skyhub).startswith("1 change(s)")
    assert _imported(skyhub, code).status == "paid"
    assert [call.path for call in fake.calls.filter("DELETE")] == [f"/queues/orders/{code}"]
    assert fake.state.queue == []


def test_an_order_served_again_after_its_commit_is_a_duplicate_and_gets_acknowledged(
    fake: Fake, skyhub: Channel, control: Callable[..., dict[str, Any]]
) -> None:
    """The commit happened but the DELETE failed: the redelivery changes nothing and is acked."""
    control("clock", {"freeze": True})
    code = _place(control)
    fake.faults.set("error_5xx", method="DELETE", path_prefix="/queues/orders/", status=503)
    with pytest.raises(DeliveryError) as failed:
        _poll(skyhub)
    assert failed.value.retryable is True
    assert _imported(skyhub, code).status == "paid"
    assert len(fake.state.queue) == 1

    control("clock", {"advance": 301})
    assert _poll(skyhub).startswith("1 change(s)")
    assert Order.objects.count() == 1
    assert InboxEvent.objects.filter(source="skyhub").count() == 1, "the redelivery was a duplicate"
    assert fake.state.queue == []


def test_a_marketplace_update_arrives_through_the_queue(
    fake: Fake, skyhub: Channel, control: Callable[..., dict[str, Any]]
) -> None:
    code = _place(control, status="book_product")
    _poll(skyhub)
    order = _imported(skyhub, code)
    assert order.status == "pending_payment"

    control(f"orders/{quote(code, safe='')}/approve")
    assert _poll(skyhub).startswith("1 change(s)")
    order.refresh_from_db()
    assert order.status == "paid"
    assert order.payments.get().status == "approved"

    control(f"orders/{quote(code, safe='')}/status", {"status": "order_canceled", "queue": True})
    _poll(skyhub)
    order.refresh_from_db()
    assert (order.status, order.cancel_reason) == ("canceled", "channel")
    # The cancellation came from SkyHub: it is not sent back there.
    assert not OutboxMessage.objects.filter(destination="channel:skyhub", kind="order.cancellation").exists()


def test_an_order_whose_status_maps_to_nothing_is_not_imported_but_acknowledged(
    fake: Fake, skyhub: Channel, control: Callable[..., dict[str, Any]]
) -> None:
    configure(skyhub, status_map={"in": {"book_product": ""}})
    code = _place(control, status="book_product")
    assert _poll(skyhub).startswith("1 change(s)")
    assert not Order.objects.exists()
    assert InboxEvent.objects.get(source="skyhub").result == "unknown_order"
    assert [call.path for call in fake.calls.filter("DELETE")] == [f"/queues/orders/{code}"]


# ----------------------------------------------------------------- pushes


@pytest.fixture
def imported(
    fake: Fake, skyhub: Channel, control: Callable[..., dict[str, Any]]
) -> Callable[..., tuple[Order, str]]:
    """A paid SkyHub order taken into Malote; the fake's call log starts empty."""

    def make(**body: Any) -> tuple[Order, str]:
        code = _place(control, **{"channel": "Submarino", "shipping_method": "Correios SEDEX", **body})
        _poll(skyhub)
        fake.calls.clear()
        return _imported(skyhub, code), code

    return make


def test_invoice_shipment_and_delivery_reach_skyhub_with_the_real_bodies(
    fake: Fake, imported: Callable[..., tuple[Order, str]]
) -> None:
    order, code = imported()
    remote = fake.state.orders[code]

    _run(order, "invoice")
    invoice = order.invoices.get()
    assert _calls(fake) == [f"GET /orders/{code}", f"POST /orders/{code}/invoice"]
    assert _writes(fake) == [
        (
            "invoice",
            {
                "status": "order_invoiced",
                "invoice": {
                    "key": invoice.key,
                    "issue_date": invoice.issued_at.astimezone(BRASILIA).replace(microsecond=0).isoformat(),
                },
            },
        )
    ]
    assert remote["status"]["code"] == "order_invoiced" and remote["invoices"][0]["key"] == invoice.key

    fake.calls.clear()
    _run(order, "ship")
    [(endpoint, body)] = _writes(fake)
    assert endpoint == "shipments"
    assert body["status"] == "order_shipped"
    shipment = body["shipment"]
    assert shipment["code"] == code
    assert shipment["items"] == [{"sku": "CHINELO-42", "qty": 2}]
    assert shipment["track"]["code"] == "AA123456785BR"
    assert shipment["track"]["carrier"] == "Correios" and shipment["track"]["method"] == "SEDEX"
    assert shipment["track"]["url"].startswith("https://") and len(shipment["track"]["url"]) <= 200
    assert remote["status"]["type"] == "SHIPPED"
    assert remote["shipments"][0]["tracks"][0]["code"] == "AA123456785BR"

    fake.calls.clear()
    _run(order, "deliver")
    [(endpoint, body)] = _writes(fake)
    assert endpoint == "delivery" and body["status"] == "complete"
    assert body["delivered_date"].endswith("-03:00")
    assert remote["status"]["type"] == "DELIVERED"
    assert not OutboxMessage.objects.filter(destination="channel:skyhub").exclude(state="done").exists()
    assert OrderLink.objects.get(order=order, channel__code="skyhub").expected_status == "delivered"


def test_cancellation_and_shipment_exception_reach_skyhub(
    fake: Fake, imported: Callable[..., tuple[Order, str]]
) -> None:
    canceled, canceled_code = imported()
    _run(canceled, "cancel")
    assert _writes(fake) == [("cancel", {"status": "order_canceled"})]
    assert fake.state.orders[canceled_code]["status"]["type"] == "CANCELED"

    failed, failed_code = imported()
    _run(failed, "invoice")
    _run(failed, "ship")
    fake.calls.clear()
    _run(failed, "report_delivery_problem")
    [(endpoint, body)] = _writes(fake)
    assert endpoint == "shipment_exception" and body["status"] == "shipment_exception"
    assert failed.number in body["shipment_exception"]["observation"]
    assert body["shipment_exception"]["occurrence_date"].endswith("-03:00")
    assert fake.state.orders[failed_code]["status"]["type"] == "SHIPMENT_EXCEPTION"


def test_a_retried_push_reads_first_and_writes_nothing(
    fake: Fake, imported: Callable[..., tuple[Order, str]]
) -> None:
    """SkyHub documents no idempotency key: the push checks the order's state before writing."""
    order, code = imported()
    _run(order, "invoice")
    _run(order, "ship")
    for kind in ("order.invoice", "order.shipment"):
        fake.calls.clear()
        deliver_to_channel(OutboxMessage.objects.get(destination="channel:skyhub", kind=kind))
        assert _calls(fake) == [f"GET /orders/{code}"], kind
    assert len(fake.state.orders[code]["invoices"]) == 1
    assert len(fake.state.orders[code]["shipments"]) == 1


def test_a_late_push_never_moves_skyhub_back(
    fake: Fake, imported: Callable[..., tuple[Order, str]], control: Callable[..., dict[str, Any]]
) -> None:
    order, code = imported()
    control(f"orders/{quote(code, safe='')}/status", {"status": "order_canceled"})
    _run(order, "invoice")
    assert _calls(fake) == [f"GET /orders/{code}"]
    assert fake.state.orders[code]["status"]["code"] == "order_canceled"


def test_delivery_is_not_pushed_where_the_marketplace_reports_it(
    fake: Fake, imported: Callable[..., tuple[Order, str]]
) -> None:
    order, code = imported(channel="Lojas Americanas", shipping_method="B2W Entregas")
    _run(order, "invoice")
    _run(order, "ship")
    fake.calls.clear()
    _run(order, "deliver")
    assert fake.calls.all() == [], "B2W Entregas reports the delivery itself"
    assert fake.state.orders[code]["status"]["code"] == "order_shipped"


# ----------------------------------------------------------------- errors


def test_server_errors_rate_limits_and_timeouts_are_retryable(fake: Fake, skyhub: Channel) -> None:
    with connector_for(skyhub) as connector:
        fake.faults.set("error_5xx", path_prefix="/queues/orders", status=502)
        with pytest.raises(DeliveryError) as server_error:
            connector.pull_changes(None)
        assert (server_error.value.retryable, server_error.value.status) == (True, 502)

        fake.faults.set("rate_limit", path_prefix="/queues/orders", retry_after=7)
        with pytest.raises(DeliveryError) as limited:
            connector.pull_changes(None)
        assert (limited.value.retryable, limited.value.status, limited.value.retry_after) == (True, 429, 7.0)

    configure(skyhub, options={"timeout_seconds": 0.3})
    fake.faults.set("timeout", path_prefix="/queues/orders", seconds=2.0)
    with connector_for(skyhub) as connector, pytest.raises(DeliveryError) as timed_out:
        connector.pull_changes(None)
    assert timed_out.value.retryable is True and "Timeout" in timed_out.value.detail


@pytest.mark.parametrize("broken", ["api_key", "accountmanager_key"])
def test_bad_or_missing_credentials_are_permanent(fake: Fake, skyhub: Channel, broken: str) -> None:
    configure(skyhub, credentials={**skyhub.credentials, broken: "wrong"})
    with connector_for(skyhub) as connector, pytest.raises(DeliveryError) as refused:
        connector.pull_changes(None)
    assert (refused.value.retryable, refused.value.status) == (False, 401)

    configure(skyhub, credentials={k: v for k, v in fake.credentials.items() if k != broken})
    with connector_for(skyhub) as connector, pytest.raises(DeliveryError) as missing:
        connector.pull_changes(None)
    assert missing.value.retryable is False and broken in missing.value.detail
    assert fake.calls.filter("GET", "/queues/orders") and len(fake.calls.all()) == 1


def test_a_status_code_the_account_lacks_is_a_dead_letter_naming_it(
    fake: Fake, skyhub: Channel, imported: Callable[..., tuple[Order, str]]
) -> None:
    configure(skyhub, status_map={"out": {"invoiced": "nota_emitida_loja"}})
    order, code = imported()
    _run(order, "invoice")
    message = OutboxMessage.objects.get(destination="channel:skyhub", kind="order.invoice")
    assert message.state == "dead" and message.last_status == 422
    assert "nota_emitida_loja" in message.last_error
    link = OrderLink.objects.get(order=order, channel=skyhub)
    assert link.state == "error" and "nota_emitida_loja" in link.last_error
    assert fake.state.orders[code]["status"]["code"] == "payment_received"

    # The account creates the status; the replayed message now goes through with that code.
    with httpx.Client(trust_env=False) as http:
        headers = {
            "X-User-Email": fake.credentials["user_email"],
            "X-Api-Key": fake.credentials["api_key"],
            "X-Accountmanager-Key": fake.credentials["accountmanager_key"],
        }
        status = {"code": "nota_emitida_loja", "label": "NF emitida", "type": "INVOICED"}
        created = http.post(f"{fake.api_url}/statuses", json={"status": status}, headers=headers)
        assert created.status_code == 201, created.text
    outbox.retry_now(message.pk)
    drain(prefix="channel:")
    message.refresh_from_db()
    assert message.state == "done"
    assert fake.state.orders[code]["status"] == status


# ----------------------------------------------------------------- status maps


def _status(code: str, kind: str) -> dict[str, Any]:
    return {"code": "X-1", "status": {"code": code, "label": code, "type": kind}}


@pytest.mark.parametrize(
    ("code", "kind", "expected"),
    [
        ("book_product", "NEW", "pending_payment"),
        ("payment_overdue", "OVERDUE", "payment_overdue"),
        ("payment_received", "APPROVED", "paid"),
        ("order_invoiced", "INVOICED", "invoiced"),
        ("order_shipped", "SHIPPED", "shipped"),
        ("complete", "DELIVERED", "delivered"),
        ("shipment_exception", "SHIPMENT_EXCEPTION", "delivery_failed"),
        ("order_canceled", "CANCELED", "canceled"),
        ("cancelado_loja", "CANCELLED", "canceled"),
        ("faturado_custom", "INVOICED", "invoiced"),
        ("em_separacao", "APPROVED", "paid"),
        ("has_incident", "INCIDENT", ""),
    ],
)
def test_status_in_by_code_then_by_type(skyhub: Channel, code: str, kind: str, expected: str) -> None:
    with connector_for(skyhub) as connector:
        assert isinstance(connector, SkyHubConnector)
        assert connector.canonical_status(_status(code, kind)) == expected


def test_the_channel_map_overrides_codes_and_types_both_ways(skyhub: Channel) -> None:
    configure(
        skyhub,
        status_map={
            "in": {"em_separacao": "preparing", "INVOICED": "", "payment_received": "paid"},
            "out": {"invoiced": "faturado_loja", "canceled": "cancelado_loja"},
        },
    )
    with connector_for(skyhub) as connector:
        assert isinstance(connector, SkyHubConnector)
        assert connector.canonical_status(_status("em_separacao", "APPROVED")) == "preparing"
        assert connector.canonical_status(_status("faturado_x", "INVOICED")) == ""
        assert connector.canonical_status(_status("order_invoiced", "INVOICED")) == "invoiced"
        assert connector.status_out("invoiced") == "faturado_loja"
        assert connector.status_out("shipped") == "order_shipped"
        assert connector.status_out("in_transit") is None
    assert SkyHubConnector.maps_status(skyhub, "delivery_failed")
    assert not SkyHubConnector.maps_status(skyhub, "preparing")


# ----------------------------------------------------------------- reads for the reconciliation


def test_fetch_order_shows_a_cancel_made_by_hand_there(
    fake: Fake, skyhub: Channel, imported: Callable[..., tuple[Order, str]], control: Callable[..., Any]
) -> None:
    _order, code = imported()
    event = InboxEvent.objects.get(source="skyhub")
    with connector_for(skyhub) as connector:
        same = connector.fetch_order(code)
        assert same.event_id == event.event_id, "the queue and fetch_order name one state alike"
        control(f"orders/{quote(code, safe='')}/status", {"status": "order_canceled"})
        changed = connector.fetch_order(code)
    assert (changed.remote_status, changed.status) == ("order_canceled", "canceled")
    assert changed.facts["cancel_reason"] == "channel" and "Submarino" in changed.facts["note"]
    assert fake.state.queue == [], "a change by hand is not announced"
    assert [call.path for call in fake.calls.filter("GET")] == [f"/orders/{code}"] * 2

    with connector_for(skyhub) as connector, pytest.raises(DeliveryError) as missing:
        connector.fetch_order("Submarino-1")
    assert (missing.value.status, missing.value.retryable) == (404, False)


def test_list_orders_pages_with_the_real_parameters(
    fake: Fake, skyhub: Channel, control: Callable[..., dict[str, Any]]
) -> None:
    codes = [_place(control, channel="Carrefour") for _ in range(3)]
    _place(control, channel="Amazon")
    configure(skyhub, options={"per_page": 2, "sale_system": "Carrefour"})
    since = (timezone.now() - timedelta(hours=1)).isoformat()
    with connector_for(skyhub) as connector:
        first = connector.list_orders(since)
        assert first.more and first.cursor == "2" and len(first.orders) == 2
        second = connector.list_orders(since, first.cursor)
        assert not second.more and second.cursor is None and len(second.orders) == 1
        listed = first.orders + second.orders
        assert sorted(entry.external_id for entry in listed) == sorted(codes)
        assert {entry.remote_status for entry in listed} == {"payment_received"}
        assert {entry.status for entry in listed} == {"paid"}
        assert {entry.total for entry in listed} == {"114.80"}
        assert all(entry.reference and entry.placed_at.endswith("-03:00") for entry in listed)
        future = (timezone.now() + timedelta(hours=1)).isoformat()
        assert connector.list_orders(future).orders == []
    query = fake.calls.filter("GET", "/orders")[0].query
    assert query == {"page": ["1"], "per_page": ["2"], "filters[sale_system]": ["Carrefour"]}


# ----------------------------------------------------------------- the NF-e as XML


@pytest.mark.parametrize(
    ("marketplace", "method"),
    [("Mercado Livre", "Mercado Envios 2"), ("Lojas Americanas", "B2W Entregas Direct")],
)
def test_the_nfe_goes_as_xml_where_the_key_alone_is_not_taken(
    fake: Fake, skyhub: Channel, imported: Callable[..., tuple[Order, str]], marketplace: str, method: str
) -> None:
    order, code = imported(channel=marketplace, shipping_method=method)
    xml = build_nfe_xml(SAMPLE_NFE_KEY)
    snapshot = order_snapshot(order)
    snapshot["invoice"] = {"key": SAMPLE_NFE_KEY, "issued_at": "2025-03-15T10:30:00-03:00", "xml": xml}
    with connector_for(skyhub) as connector:
        connector.push_invoice(code, snapshot, idempotency_key="k")
        [call] = fake.calls.filter("POST")
        assert call.headers["content-type"].startswith("multipart/form-data")
        assert 'name="file"' in call.body and "<nfeProc" in call.body and "order_invoiced" in call.body
        remote = fake.state.orders[code]
        assert remote["invoices"][0]["key"] == SAMPLE_NFE_KEY and remote["_invoice_xml"] == xml
        assert remote["status"]["code"] == "order_invoiced"

        # Without the XML such an order cannot be invoiced there: permanent, said plainly.
        snapshot["invoice"] = {**snapshot["invoice"], "xml": ""}
        if marketplace == "Mercado Livre":
            remote["invoices"].clear()
            with pytest.raises(DeliveryError) as missing:
                connector.push_invoice(code, snapshot, idempotency_key="k")
            assert missing.value.retryable is False and "XML" in missing.value.detail


def test_other_orders_send_the_key_even_when_the_xml_is_at_hand(
    fake: Fake, skyhub: Channel, imported: Callable[..., tuple[Order, str]]
) -> None:
    order, code = imported()
    snapshot = order_snapshot(order)
    snapshot["invoice"] = {"key": SAMPLE_NFE_KEY, "issued_at": None, "xml": build_nfe_xml(SAMPLE_NFE_KEY)}
    with connector_for(skyhub) as connector:
        connector.push_invoice(code, snapshot, idempotency_key="k")
    [call] = fake.calls.filter("POST")
    assert call.json == {"status": "order_invoiced", "invoice": {"key": SAMPLE_NFE_KEY}}


def test_an_order_malote_refuses_is_recorded_and_does_not_block_the_queue(
    fake: Fake, skyhub: Channel, control: Callable[..., dict[str, Any]]
) -> None:
    bad = _place(control, customer={"name": "Sem Documento", "document": "111.111.111-11"})
    good = _place(control)
    assert _poll(skyhub).startswith("2 change(s)")
    refused = InboxEvent.objects.get(source="skyhub", event_id__startswith=f"{bad}:")
    assert refused.result == "refused:cpf_repeated_digits"
    assert list(Order.objects.values_list("external_id", flat=True)) == [good]
    assert fake.state.queue == []


# ----------------------------------------------------------------- invoice after the shipment


def test_a_key_sent_after_the_shipment_keeps_skyhub_shipped(
    fake: Fake, imported: Callable[..., tuple[Order, str]]
) -> None:
    """Magalu & co. get the key only after the shipment: it must not move SkyHub back to invoiced."""
    order, code = imported(channel="Magazine Luiza")
    _run(order, "invoice")
    assert _writes(fake) == [], "this sub-channel waits for the shipment"
    _run(order, "ship")
    assert [endpoint for endpoint, _ in _writes(fake)] == ["shipments", "invoice"]
    assert _writes(fake)[1][1]["status"] == "order_shipped"
    remote = fake.state.orders[code]
    assert remote["status"]["code"] == "order_shipped"
    assert [i["key"] for i in remote["invoices"]] == [order.invoices.get().key]


# ----------------------------------------------------------------- stock


def _api(fake: Fake, method: str, path: str, body: Any = None) -> httpx.Response:
    headers = {
        "X-User-Email": fake.credentials["user_email"],
        "X-Api-Key": fake.credentials["api_key"],
        "X-Accountmanager-Key": fake.credentials["accountmanager_key"],
    }
    return httpx.request(method, f"{fake.api_url}{path}", headers=headers, json=body, timeout=5)


@pytest.fixture
def catalogue(fake: Fake) -> None:
    product = {"sku": "CHINELO", "name": "Chinelo", "price": 49.9, "variations": [
        {"sku": "CHINELO-42", "qty": 5}, {"sku": "CHINELO-40", "qty": 3}]}  # fmt: skip
    assert _api(fake, "POST", "/products", {"product": product}).status_code == 201
    simple = {"sku": "CANECA-CERAMICA", "name": "Caneca", "qty": 7, "price": 39.9}
    assert _api(fake, "POST", "/products", {"product": simple}).status_code == 201
    fake.calls.clear()


def _push_stock(channel: Channel, sku: str, available: int) -> None:
    with connector_for(channel) as connector:
        connector.push_stock(sku, available, idempotency_key=f"stock:{sku}")


def test_stock_reaches_the_variation_and_the_simple_product(
    fake: Fake, skyhub: Channel, catalogue: None
) -> None:
    _push_stock(skyhub, "CHINELO-42", 0)
    assert _calls(fake) == ["GET /variations/CHINELO-42", "PUT /variations/CHINELO-42"]
    assert fake.calls.filter("PUT")[0].json == {"variation": {"qty": 0}}
    variations = {v["sku"]: v["qty"] for v in fake.state.products["CHINELO"]["variations"]}
    assert variations == {"CHINELO-42": 0, "CHINELO-40": 3}

    fake.calls.clear()
    _push_stock(skyhub, "CANECA-CERAMICA", 2)
    assert _calls(fake) == [
        "GET /variations/CANECA-CERAMICA",
        "GET /products/CANECA-CERAMICA",
        "PUT /products/CANECA-CERAMICA",
    ]
    assert fake.calls.filter("PUT")[0].json == {"product": {"qty": 2}}
    assert fake.state.products["CANECA-CERAMICA"]["qty"] == 2


def test_stock_already_there_or_a_sku_not_sold_writes_nothing(
    fake: Fake, skyhub: Channel, catalogue: None
) -> None:
    _push_stock(skyhub, "CHINELO-42", 5)
    _push_stock(skyhub, "MOCHILA-URBANA", 4)
    _push_stock(skyhub, "CHINELO", 4)  # a parent: its variations carry the stock
    assert fake.calls.filter("PUT") == []
    assert fake.state.products["CHINELO"]["variations"][0]["qty"] == 5


def test_stock_push_errors_are_classified(fake: Fake, skyhub: Channel, catalogue: None) -> None:
    fake.faults.set("error_5xx", method="PUT", path_prefix="/variations/", status=503)
    with pytest.raises(DeliveryError) as exc:
        _push_stock(skyhub, "CHINELO-42", 1)
    assert exc.value.retryable
    configure(skyhub, options={"stock_resources": ["warehouses"]})
    with pytest.raises(DeliveryError) as exc:
        _push_stock(skyhub, "CHINELO-42", 1)
    assert not exc.value.retryable


def test_stock_changes_reach_skyhub_unless_push_stock_is_off(
    fake: Fake, skyhub: Channel, catalogue: None, stock: Callable[..., None]
) -> None:
    configure(skyhub, options={"push_stock": False})
    stock("CHINELO-42", 9)
    drain(prefix="channel:")
    assert fake.calls.filter("PUT") == [], "push_stock off: nothing"
    configure(skyhub, options={})  # the default: on
    stock("CHINELO-42", 8)
    drain(prefix="channel:")
    assert fake.state.products["CHINELO"]["variations"][0]["qty"] == 8
